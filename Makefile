# Thin wrapper over CMake presets. On a fresh machine:
#   make run    build the release library and run the main job (random-mixed benchmark table)
#   make test   build and pass every test (all presets), the coverage gate (make coverage), then
#               the fixed sample of planted bugs (ci/mutants.sh --sample)
#   make coverage   line/branch coverage of src/ from the whole suite, against ci/coverage-floor.txt
#   make mutants    every planted bug of ci/mutants.txt against the suite (overnight), score >= 95 %
#   make fuzz   the overnight fuzzer (FUZZ_TIME seconds, default 8 hours)
#   make bench / make bench-instr   peers side by side (bench/RESULTS.md) / callgrind instructions
#   make props-long                 a long property-test run
#   make test-long                  the long stress runs (ctest label long, release build)
SHELL := /bin/bash
PRESETS ?= release debug asan ubsan tsan msan valgrind
FUZZ_TIME ?= 28800

.PHONY: all deps build run test coverage mutants test-long fuzz bench bench-instr props-long clean $(addprefix test-,$(PRESETS))

all: build

deps:
	@ci/install-deps.sh

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release

run: build
	bench/run_main.sh build/release

test: deps
	ci/test-matrix.sh $(PRESETS)
	ci/coverage.sh
	ci/mutants.sh --sample

coverage: deps
	ci/coverage.sh

mutants: deps
	ci/mutants.sh

test-long: build
	ctest --test-dir build/release -L long --output-on-failure

test-%: deps
	ci/test-matrix.sh $*

fuzz: deps
	@if [ -x ci/fuzz.sh ]; then FUZZ_TIME=$(FUZZ_TIME) ci/fuzz.sh; else echo "fuzzing not set up yet"; exit 1; fi

bench: deps
	bench/run_all.sh build/release

bench-instr: deps
	bench/instr.sh build/release

props-long: deps
	props/run_long.sh

clean:
	rm -rf build
