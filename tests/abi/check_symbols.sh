#!/bin/sh
# check_symbols.sh <libhakmem.so> <libhakmem.a> <expected_symbols.txt>
# The exported ABI: the dynamic symbols libhakmem.so defines, and the global symbols of
# libhakmem.a's shim objects (shim.c, cxx.c), against the checked-in list (the shim objects: the
# list's names without the hak_ prefix; their hidden hm_* link-time names are left out). Prints a diff and fails on any difference.
set -eu
so=$1 ar=$2 expected=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
LC_ALL=C
export LC_ALL
nm -D --defined-only "$so" | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/so"
sort -u "$expected" >"$tmp/want_so"
grep -v '^hak_' "$tmp/want_so" >"$tmp/want_shim" || true
nm -g --defined-only -A "$ar" | awk -F: '$2 ~ /shim|cxx/ { split($3, f, " "); if (f[3] !~ /^hm_/) print f[3] }' \
  | sort -u >"$tmp/shim"
rc=0
if ! diff -u "$tmp/want_so" "$tmp/so"; then
  echo "check_symbols: $so exports differ from $expected (- expected, + exported)"
  rc=1
fi
if [ ! -s "$tmp/shim" ]; then
  echo "check_symbols: no shim object in $ar"
  rc=1
elif ! diff -u "$tmp/want_shim" "$tmp/shim"; then
  echo "check_symbols: the shim object of $ar differs from $expected (- expected, + defined)"
  rc=1
fi
[ $rc -eq 0 ] && echo "check_symbols: $(wc -l <"$tmp/so") exported names as listed"
exit $rc
