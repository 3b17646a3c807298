#!/bin/sh
# smoke.sh BINARY TARGET SOURCE_DIR WORK_DIR SECONDS — the CI fuzz smoke of one libFuzzer target
# (ctest label fuzz). Fuzzes for SECONDS with the target's .options and .dict, writing new inputs
# and crash files only under WORK_DIR; the checked-in corpus/<target>/ is a read-only second
# corpus dir. Fails (non-zero) on any crash, leak, timeout or out-of-memory.
set -u
bin=$1 target=$2 src=$3 work=$4 secs=$5
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
# [libfuzzer] section of fuzz/<target>.options -> -key=value flags
opts=$(sed -n '/^\[libfuzzer\]/,/^\[/{/=/p}' "$src/fuzz/$target.options" 2>/dev/null |
       sed 's/[[:space:]]*=[[:space:]]*/=/; s/^[[:space:]]*/-/')
dict=""
[ -f "$src/fuzz/$target.dict" ] && dict="-dict=$src/fuzz/$target.dict"
# shellcheck disable=SC2086
"$bin" $opts $dict -max_total_time="$secs" -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" "$src/corpus/$target"
rc=$?
found=$(ls "$work/artifacts" 2>/dev/null)
if [ -n "$found" ] || [ $rc -ne 0 ]; then
  echo "smoke: $target failed (rc $rc); artifacts in $work/artifacts:"
  for f in $found; do
    echo "  reproduce: $bin $work/artifacts/$f"
  done
  exit 1
fi
echo "smoke: $target ok, corpus grew to $(ls "$work/corpus" | wc -l) new inputs"
