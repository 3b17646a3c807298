#!/bin/sh
# cflite_check.sh SOURCE_DIR WORK_DIR [SANITIZER...] — runs .clusterfuzzlite/build.sh as the
# OSS-Fuzz base builder would, for each sanitizer (default: address undefined memory) with
# libFuzzer (no Docker here: the environment is simulated with the builder's flags), checks that
# every target, seed corpus, dict and options file was written, and runs each binary over its
# unzipped seed corpus (-runs=0: replay, no mutation). ctest: cflite_build.
set -eu
src=$1 work=$2
shift 2
sans=${*:-address undefined memory}
rm -rf "$work"
# the builder's SANITIZER_FLAGS_* (base-builder Dockerfile), minus unsigned-integer-overflow
# (recoverable there, and hakmem's hashes wrap on purpose) and vptr/function (C++ only)
ub=array-bounds,bool,builtin,enum,float-divide-by-zero,integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,signed-integer-overflow,unreachable,vla-bound
failed=""
for san in $sans; do
  case $san in
    address)   sflags="-fsanitize=address -fsanitize-address-use-after-scope" ;;
    undefined) sflags="-fsanitize=$ub -fno-sanitize-recover=$ub" ;;
    memory)    sflags="-fsanitize=memory -fsanitize-memory-track-origins" ;;
    *) echo "cflite: unknown sanitizer $san"; exit 2 ;;
  esac
  w=$work/$san
  mkdir -p "$w/src" "$w/work" "$w/out"
  export SRC="$w/src" WORK="$w/work" OUT="$w/out" HAK_SOURCE_DIR="$src"
  export CC=clang CXX=clang++ SANITIZER=$san FUZZING_ENGINE=libfuzzer ARCHITECTURE=x86_64
  export CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION $sflags -fsanitize=fuzzer-no-link"
  export CXXFLAGS="$CFLAGS"
  export LIB_FUZZING_ENGINE=-fsanitize=fuzzer
  (cd "$src" && bash .clusterfuzzlite/build.sh)
  for t in fuzz_ops fuzz_ops_mt fuzz_env fuzz_classes; do
    for f in "$t" "${t}_seed_corpus.zip" "$t.dict" "$t.options"; do
      [ -s "$OUT/$f" ] || { echo "cflite[$san]: $OUT/$f missing"; exit 1; }
    done
    grep -q '^\[libfuzzer\]' "$OUT/$t.options" || { echo "cflite[$san]: $t.options has no [libfuzzer]"; exit 1; }
    mkdir -p "$w/seeds/$t"
    (cd "$w/seeds/$t" && unzip -q -o "$OUT/${t}_seed_corpus.zip")
    echo "cflite[$san]: $t: $(ls "$w/seeds/$t" | wc -l) seeds"
    # the known-bug reproducers in regress/ are part of the seed corpus: a crash here is reported
    "$OUT/$t" -runs=0 -dict="$OUT/$t.dict" "$w/seeds/$t" || failed="$failed $san/$t"
  done
done
if [ -n "$failed" ]; then
  echo "cflite: build.sh ok, but seed replay failed for:$failed"
  exit 1
fi
echo "cflite: build.sh ok for $sans, every seed corpus replays"
