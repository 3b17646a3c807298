#!/bin/sh
# cflite_check.sh SOURCE_DIR WORK_DIR — runs .clusterfuzzlite/build.sh as the OSS-Fuzz builder
# image would for the address sanitizer with libFuzzer (no Docker here: the environment is
# simulated), checks that every target, seed corpus, dict and options file was written, and runs
# each binary over its unzipped seed corpus (-runs=0: replay, no mutation). ctest: cflite_build.
set -eu
src=$1 work=$2
rm -rf "$work"
mkdir -p "$work/src" "$work/work" "$work/out"
export SRC="$work/src" WORK="$work/work" OUT="$work/out" HAK_SOURCE_DIR="$src"
export CC=clang CXX=clang++ SANITIZER=address FUZZING_ENGINE=libfuzzer ARCHITECTURE=x86_64
export CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link"
export CXXFLAGS="$CFLAGS"
export LIB_FUZZING_ENGINE=-fsanitize=fuzzer
(cd "$src" && bash .clusterfuzzlite/build.sh)
failed=""
for t in fuzz_ops fuzz_ops_mt fuzz_env fuzz_classes; do
  for f in "$t" "${t}_seed_corpus.zip" "$t.dict" "$t.options"; do
    [ -s "$OUT/$f" ] || { echo "cflite: $OUT/$f missing"; exit 1; }
  done
  mkdir -p "$work/seeds/$t"
  (cd "$work/seeds/$t" && unzip -q -o "$OUT/${t}_seed_corpus.zip")
  echo "cflite: $t: $(ls "$work/seeds/$t" | wc -l) seeds"
  # the known-bug reproducers in regress/ are part of the seed corpus: a crash here is reported
  "$OUT/$t" -runs=0 -dict="$OUT/$t.dict" "$work/seeds/$t" || failed="$failed $t"
done
if [ -n "$failed" ]; then
  echo "cflite: build.sh ok, but seed replay failed for:$failed"
  exit 1
fi
echo "cflite: build.sh ok, every seed corpus replays"
