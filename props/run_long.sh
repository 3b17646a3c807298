#!/bin/sh
# run_long.sh — a big property-test run: many more cases and longer programs than CI, with a
# random seed that is printed first (and again on failure) so any run can be replayed.
#
#   props/run_long.sh [build-dir] [property...]      e.g. props/run_long.sh build/debug lru threads
#
# Environment: PROPS_LONG_SEED (default: random), PROPS_LONG_CASES (default 100000),
# PROPS_LONG_SIZE (max_size, default 200), PROPS_LONG_LEVELS (the api_model's hardening levels,
# default all four; the other properties run at fast), PROPS_LONG_EXTRA (more RC_PARAMS, e.g. "noshrink=1").
# A failing property prints its shrunk counterexample and a RC_PARAMS="reproduce=..." string;
# rerunning with the printed seed gives the same cases.
# The debug or asan build is the most useful: hak_check() validates nothing in release builds.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/debug}
[ $# -gt 0 ] && shift
props=${*:-"classes registry api_model lru threads"}
if [ ! -d "$build/props" ]; then
  echo "run_long.sh: no property tests in $build (configure with HAK_BUILD_PROPS=ON and build)" >&2
  exit 2
fi
seed=${PROPS_LONG_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
cases=${PROPS_LONG_CASES:-100000}
size=${PROPS_LONG_SIZE:-200}
params="seed=$seed max_success=$cases max_size=$size ${PROPS_LONG_EXTRA:-}"
echo "props-long: RC_PARAMS=\"$params\" (build $build)"
failed=""
for p in $props; do
  exe=$build/props/prop_$p
  if [ ! -x "$exe" ]; then
    echo "props-long: $exe missing" >&2
    failed="$failed $p"
    continue
  fi
  levels=fast
  [ "$p" = api_model ] && levels=${PROPS_LONG_LEVELS:-"off fast strict paranoid"}
  for level in $levels; do
    start=$(date +%s)
    if HAKMEM_HARDEN=$level RC_PARAMS="$params" "$exe"; then
      echo "props-long: $p ($level) passed in $(( $(date +%s) - start )) s"
    else
      echo "props-long: $p ($level) FAILED; replay: HAKMEM_HARDEN=$level RC_PARAMS=\"$params\" $exe"
      failed="$failed $p($level)"
    fi
  done
done
if [ -n "$failed" ]; then
  echo "props-long: FAILED:$failed (seed $seed)"
  exit 1
fi
echo "props-long: all passed (seed $seed, $cases cases each)"
