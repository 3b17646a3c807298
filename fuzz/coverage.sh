#!/bin/sh
# fuzz/coverage.sh [BUILD_DIR] — line coverage of src/ reached by the checked-in corpora alone
# (no fuzzing): builds the replay drivers with clang source-based coverage (no sanitizer,
# HAK_DEBUG=2 as in every fuzz build), replays corpus/<target>/ for every target, merges the
# profiles and prints llvm-cov's report for the library sources (src/shim.c and src/cxx.c, the
# drop-in's libc names and C++ operators, are not linked into the fuzzers and are left out). HTML: llvm-cov-14 show ... -format=html -output-dir=DIR.
set -eu
cd "$(dirname "$0")/.."
root=$PWD
b=${1:-$root/build/fuzz-coverage}
ver=${LLVM_VERSION:-14}
flags="-fprofile-instr-generate -fcoverage-mapping"
cmake -S . -B "$b" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DHAK_DEBUG=2 \
  "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_EXE_LINKER_FLAGS=$flags" -DHAK_SANITIZER=none \
  -DHAK_BUILD_TESTS=OFF -DHAK_BUILD_BENCH=OFF -DHAK_BUILD_PROPS=OFF >/dev/null
targets="fuzz_ops fuzz_ops_mt fuzz_env fuzz_classes"
cmake --build "$b" --target $(for t in $targets; do printf '%s_replay ' "$t"; done) >/dev/null
rm -rf "$b/profiles"
mkdir -p "$b/profiles"
objs=""
for t in $targets; do
  LLVM_PROFILE_FILE="$b/profiles/$t-%p.profraw" "$b/fuzz/${t}_replay" "corpus/$t" 2>/dev/null
  if [ -z "$objs" ]; then objs="$b/fuzz/${t}_replay"; else objs="$objs -object $b/fuzz/${t}_replay"; fi
done
llvm-profdata-$ver merge -sparse "$b"/profiles/*.profraw -o "$b/corpus.profdata"
# shellcheck disable=SC2086
llvm-cov-$ver report -instr-profile="$b/corpus.profdata" $objs $(ls src/*.c | grep -v -e src/shim.c -e src/cxx.c) src/*.h
