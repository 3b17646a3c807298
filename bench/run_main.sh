#!/bin/sh
# The main job behind `make run`: bench_random_mixed with the system allocator and with hakmem
# (LD_PRELOAD=BUILD_DIR/libhakmem.so), plus hakmem with HAKMEM_PREWARM_SUPERSLABS=0 and =8.
# Each configuration runs RUNS times (default 5), interleaved, and the table shows the median.
#   usage: bench/run_main.sh BUILD_DIR        env: RUNS (default 5)
set -eu
BUILD=${1:?usage: run_main.sh BUILD_DIR}
RUNS=${RUNS:-5}
BENCH=$BUILD/bench/bench_random_mixed
LIB=$BUILD/libhakmem.so
case $LIB in /*) ;; *) LIB=$(pwd)/$LIB ;; esac
[ -x "$BENCH" ] || { echo "run_main.sh: $BENCH not built (cmake --build $BUILD)" >&2; exit 1; }
[ -f "$LIB" ] || { echo "run_main.sh: $LIB not built" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
unset HAKMEM_PREWARM_SUPERSLABS HAKMEM_SUPERSLAB_MAX_CACHED HAKMEM_SUPERSLAB_MAX_MEMORY_MB \
      HAKMEM_SUPERSLAB_TTL_SEC 2>/dev/null || true

# configuration: id|allocator label|args|environment for the run (none = system malloc)
CONFIGS="sys_small|system|100000 256 42|none
hak_small|hakmem|100000 256 42|
sys_big|system|10000000 8192 42|none
hak_big|hakmem|10000000 8192 42|
pw0_small|hakmem prewarm=0|100000 256 42|HAKMEM_PREWARM_SUPERSLABS=0
pw8_small|hakmem prewarm=8|100000 256 42|HAKMEM_PREWARM_SUPERSLABS=8"

run_one() { # id args env
  if [ "$3" = none ]; then
    # shellcheck disable=SC2086
    "$BENCH" $2
  else
    # shellcheck disable=SC2086
    env $3 LD_PRELOAD="$LIB" "$BENCH" $2
  fi
}

field() { # line key
  printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

i=1
while [ "$i" -le "$RUNS" ]; do
  printf '%s\n' "$CONFIGS" | while IFS='|' read -r id label args envs; do
    out=$(run_one "$id" "$args" "$envs") || { echo "run_main.sh: $label $args failed" >&2; exit 1; }
    printf '%s\n' "$out" >>"$TMP/$id"
  done
  i=$((i + 1))
done

median() { # file key -> median of that field over the runs
  while read -r line; do field "$line" "$2"; done <"$1" | sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# the checksum depends only on (cycles, slots, seed): every allocator must produce the same one
for pair in "sys_small hak_small pw0_small pw8_small" "sys_big hak_big"; do
  ref=""
  for id in $pair; do
    for c in $(while read -r line; do field "$line" checksum; done <"$TMP/$id"); do
      [ -z "$ref" ] && ref=$c
      [ "$c" = "$ref" ] || { echo "run_main.sh: checksum mismatch in $id ($c vs $ref)" >&2; exit 1; }
    done
  done
done

printf 'bench_random_mixed, median of %s interleaved runs (%s)\n\n' "$RUNS" "$LIB"
printf '%-18s %-18s %14s %9s %11s %11s %11s\n' allocator args "ops/s" "vs system" "SS mapped" "cache hits" "mmap calls"
printf '%-18s %-18s %14s %9s %11s %11s %11s\n' ------------------ ------------------ -------------- \
  --------- ----------- ----------- -----------
printf '%s\n' "$CONFIGS" | while IFS='|' read -r id label args envs; do
  ops=$(median "$TMP/$id" ops_per_sec)
  case $args in 100000\ *) sys=sys_small ;; *) sys=sys_big ;; esac
  sysops=$(median "$TMP/$sys" ops_per_sec)
  ratio=$(awk -v a="$ops" -v b="$sysops" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
  if [ "$envs" = none ]; then
    ssm=- hits=- mm=-
  else
    ssm=$(median "$TMP/$id" ss_map_calls); hits=$(median "$TMP/$id" cache_hits); mm=$(median "$TMP/$id" mmap_calls)
  fi
  printf '%-18s %-18s %14.0f %9s %11s %11s %11s\n' "$label" "$args" "$ops" "$ratio" "$ssm" "$hits" "$mm"
done
