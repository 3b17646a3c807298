#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build script for hakmem's fuzz targets.
# Honours $CC $CXX $CFLAGS $CXXFLAGS $LIB_FUZZING_ENGINE $OUT (and $WORK for intermediates);
# never hard-codes -fsanitize=fuzzer, so the same script serves libFuzzer, AFL++ and honggfuzz.
# Writes to $OUT: <target>, <target>_seed_corpus.zip, <target>.dict, <target>.options.
# Runs from the repository root (the Dockerfile's WORKDIR) or from anywhere inside the repo.
cd "${HAK_SOURCE_DIR:-$(git rev-parse --show-toplevel 2>/dev/null || pwd)}"
[ -f include/hakmem.h ] || cd "$SRC/hakmem"
: "${WORK:=$(mktemp -d)}"
obj="$WORK/hakmem-fuzz-obj"
rm -rf "$obj"
mkdir -p "$obj" "$OUT"

# The library as the fuzzers see it: every core source (not the drop-in's libc names and C++
# operators, shim.c and cxx.c), invariants on.
defs="-DHAK_DEBUG=2 -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION=1 -DHAK_TEST_HOOKS=1"
flags="-std=gnu11 -Iinclude -Isrc -fvisibility=hidden -fno-builtin-malloc -fno-builtin-calloc \
-fno-builtin-realloc -fno-builtin-free -ftls-model=initial-exec"
objs=()
for src in src/*.c; do
  case $src in src/shim.c | src/cxx.c) continue ;; esac
  o="$obj/$(basename "$src" .c).o"
  $CC $CFLAGS $flags $defs -c "$src" -o "$o"
  objs+=("$o")
done

for target in fuzz_ops fuzz_ops_mt fuzz_env fuzz_classes; do
  $CC $CFLAGS $flags $defs -c "fuzz/$target.c" -o "$obj/$target.o"
  # link with $CXX: the fuzzing engines are C++
  $CXX $CXXFLAGS "$obj/$target.o" "${objs[@]}" $LIB_FUZZING_ENGINE -lpthread -o "$OUT/$target"
  rm -f "$OUT/${target}_seed_corpus.zip"
  find "corpus/$target" -type f ! -name 'README*' -print0 | xargs -0 -r zip -q -j "$OUT/${target}_seed_corpus.zip"
  # fuzz/<t>.options plus the sanitizer settings of sanitizers/*.options as [asan] [ubsan] [msan]
  # sections (ClusterFuzz's format); suppressions= stays out: the runner has no source tree.
  {
    cat "fuzz/$target.options"
    for tool in asan ubsan msan; do
      [ -f "sanitizers/$tool.options" ] || continue
      echo "[$tool]"
      sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' -e '/^suppressions=/d' -e 's/=/ = /' "sanitizers/$tool.options"
    done
  } >"$OUT/$target.options"
  cp "fuzz/$target.dict" "$OUT/$target.dict"
done
