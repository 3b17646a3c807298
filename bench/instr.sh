#!/bin/sh
# make bench-instr: allocator instructions per malloc/free call, counted by callgrind, for glibc,
# jemalloc, mimalloc, tcmalloc, scudo (Debian's packages, LD_PRELOAD) and hakmem at every hardening
# level (hakmem = fast, the default; hakmem-off, hakmem-strict, hakmem-paranoid = HAKMEM_HARDEN=
# off/strict/paranoid), on `bench_random_mixed 100000 256 42`; then where hakmem's instructions go.
#   usage: bench/instr.sh [BUILD_DIR]        (default build/release; builds what it needs)
#   env:   ARGS (default "100000 256 42"), ALLOCATORS (names to run, default all found),
#          LIBDIR (peer libraries, default /usr/lib/x86_64-linux-gnu), KEEP=1 keeps callgrind files,
#          SCUDO (Scudo's library; default as in bench/run_all.sh)
# Writes bench/INSTR.md, updates its section in bench/RESULTS.md if that exists, prints the table.
#
# Method. callgrind records every call arc with the inclusive cost of the calls made through it.
# For each arc whose callee is named malloc or free (every allocator exports those names; callgrind
# names a function by its entry address, so aliases such as __libc_malloc or mi_malloc collapse
# into it) we add the call count and the inclusive instructions; arcs from malloc/free into
# malloc/free are skipped so nothing counts twice. Instructions per call = inclusive Ir / calls.
# This counts only code run inside the allocator, slow paths, initialisation and system-call
# wrappers included (kernel work is invisible to valgrind); the benchmark's own loop and the PLT
# jump are outside it. Valgrind's malloc replacement is not involved: callgrind does not replace
# malloc, and --soname-synonyms=somalloc=nouserintercepts makes sure no tool would touch a
# preloaded allocator.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${1:-build/release}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
ARGS=${ARGS:-100000 256 42}
LIBDIR=${LIBDIR:-/usr/lib/x86_64-linux-gnu}
OUT=$HERE/INSTR.md
command -v valgrind >/dev/null || { echo "instr.sh: valgrind not installed" >&2; exit 1; }

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  [ "$BUILD" = "$ROOT/build/release" ] || { echo "instr.sh: $BUILD is not a configured build" >&2; exit 1; }
  (cd "$ROOT" && cmake --preset release >/dev/null)
fi
cmake --build "$BUILD" --target hakmem bench_random_mixed >/dev/null
BENCH=$BUILD/bench/bench_random_mixed
LIB=$BUILD/libhakmem.so
if [ -z "${SCUDO:-}" ]; then   # the newest LLVM's standalone Scudo (Debian package libclang-rt-NN-dev)
  SCUDO=$(for f in /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.scudo_standalone-x86_64.so; do
    [ -f "$f" ] && printf '%s\n' "$f"; done | sort -V | tail -1)
  SCUDO=${SCUDO:-/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.scudo_standalone-x86_64.so}
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-instr.XXXXXX")
[ "${KEEP:-0}" = 1 ] && echo "instr.sh: callgrind files kept in $TMP" >&2 || trap 'rm -rf "$TMP"' EXIT INT TERM
unset LD_PRELOAD HAKMEM_PREWARM_SUPERSLABS HAKMEM_SUPERSLAB_MAX_CACHED HAKMEM_SUPERSLAB_MAX_MEMORY_MB \
      HAKMEM_SUPERSLAB_TTL_SEC HAKMEM_HARDEN SCUDO_OPTIONS 2>/dev/null || true

# name|library to preload (empty: glibc)|extra environment
ALL="glibc||
jemalloc|$LIBDIR/libjemalloc.so.2|
mimalloc|$LIBDIR/libmimalloc.so.2|
tcmalloc|$LIBDIR/libtcmalloc_minimal.so.4|
scudo|$SCUDO|
hakmem|$LIB|
hakmem-off|$LIB|HAKMEM_HARDEN=off
hakmem-strict|$LIB|HAKMEM_HARDEN=strict
hakmem-paranoid|$LIB|HAKMEM_HARDEN=paranoid"

# sum calls and inclusive Ir of the arcs into malloc and free in one callgrind output file
arcs() {
  awk '
    function name(s,   id, rest) {   # "(id) name" defines id, "(id)" refers to it
      if (match(s, /^\([0-9]+\)/)) {
        id = substr(s, 2, RLENGTH - 2); rest = substr(s, RLENGTH + 2)
        if (rest != "") names[id] = rest
        return names[id]
      }
      return s
    }
    /^fn=/  { fn = name(substr($0, 4)); next }
    /^cfn=/ { cfn = name(substr($0, 5)); next }
    /^calls=/ { split(substr($0, 7), c, " "); pending = c[1]; next }
    pending != "" {
      if ((cfn == "malloc" || cfn == "free") && fn != "malloc" && fn != "free") {
        n[cfn] += pending; ir[cfn] += $2
      }
      pending = ""
    }
    END { printf "%d %d %d %d\n", n["malloc"], ir["malloc"], n["free"], ir["free"] }
  ' "$1"
}

# ARGS with the cycle count doubled: the difference between the two runs is the steady-state cost,
# free of one-time initialisation
set -- $ARGS
ARGS2="$(($1 * 2)) ${2:-256} ${3:-42}"

{
  printf '## Instructions per malloc/free call (callgrind)\n\n'
  printf 'bench/instr.sh, %s, `bench_random_mixed %s`. *Ir/call*: inclusive instructions of every\n' \
    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$ARGS"
  printf 'call into malloc/free over the number of calls (initialisation included). *steady*: the same\n'
  printf 'for the extra calls of a second run with twice the cycles (`%s`), i.e. without one-time\n' "$ARGS2"
  printf 'costs. Method in bench/instr.sh. Target for hakmem: <= 40 Ir/call.\n\n'
  printf '| allocator | malloc calls | Ir/malloc | free calls | Ir/free | **Ir/call** | steady Ir/call | program Ir |\n'
  printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
} >"$TMP/table"

run_cg() { # name lib envs args -> callgrind file $TMP/cg.NAME[.2]
  # shellcheck disable=SC2086
  (cd "$TMP" && env ${2:+LD_PRELOAD=$2} $3 valgrind --tool=callgrind --soname-synonyms=somalloc=nouserintercepts \
    --callgrind-out-file="$5" "$BENCH" $4 >"$5.out" 2>"$5.err") || {
    echo "instr.sh: $1 failed:" >&2; tail -5 "$5.err" >&2; return 1; }
  grep -v '^==' "$5.err" | sort -u | sed "s/^/instr.sh: $1: stderr: /" >&2 || true
}

printf '%s\n' "$ALL" | while IFS='|' read -r name lib envs; do
  if [ -n "${ALLOCATORS:-}" ]; then
    case " $ALLOCATORS " in *" $name "*) ;; *) continue ;; esac
  fi
  if [ -n "$lib" ] && [ ! -f "$lib" ]; then
    echo "instr.sh: $name: $lib not found, skipped" >&2
    printf '| %s | not installed | | | | | | |\n' "$name" >>"$TMP/table"
    continue
  fi
  cg=$TMP/cg.$name
  if ! run_cg "$name" "$lib" "$envs" "$ARGS" "$cg" || ! run_cg "$name" "$lib" "$envs" "$ARGS2" "$cg.2"; then
    # the allocator's own message, e.g. Scudo (LLVM 14) under valgrind: "Scudo ERROR: internal map
    # or unmap failure" (valgrind refuses its large address-space reservation)
    why=$(cat "$cg.err" "$cg.2.err" 2>/dev/null | grep -v '^==' | grep -i -m1 'error' | tr -d '|`' | cut -c1-80 || true)
    printf '| %s | failed%s | | | | | | |\n' "$name" "${why:+: $why}" >>"$TMP/table"
    continue
  fi
  total=$(sed -n 's/^==[0-9]*== Collected : //p' "$cg.err")
  printf '%s %s\n' "$(arcs "$cg")" "$(arcs "$cg.2")" | awk -v name="$name" -v total="$total" '{
      per = ($1 + $3) ? ($2 + $4) / ($1 + $3) : 0
      dc = ($5 + $7) - ($1 + $3); steady = dc > 0 ? (($6 + $8) - ($2 + $4)) / dc : 0
      printf "| %s | %d | %.1f | %d | %.1f | **%.1f** | %.1f | %d |\n", name, $1, $1 ? $2 / $1 : 0, $3,
        $3 ? $4 / $3 : 0, per, steady, total
    }' >>"$TMP/table"
done

# where hakmem's instructions go: self cost by file:function, and the costliest source lines
hk=$TMP/cg.hakmem
if [ -f "$hk" ]; then
  calls=$(arcs "$hk" | awk '{ print $1 + $3 }')
  {
    printf '\n### Where hakmem spends them\n\n'
    printf 'Self instructions per malloc/free call by function (inlined code is split by source file;\n'
    printf 'libhakmem only, callgrind_annotate):\n\n```\n'
    (cd "$TMP" && callgrind_annotate --auto=no "$hk") 2>/dev/null | grep -F "$ROOT/src/" | sed "s|$ROOT/||; s| \[.*\]||" |
      awk -v calls="$calls" '{ c = $1; gsub(",", "", c); printf "%8.2f  %s\n", c / calls, $NF }' | head -15
    printf '```\n\nCostliest source lines (instructions per malloc/free call, line, code):\n\n```\n'
    (cd "$TMP" && callgrind_annotate --auto=yes "$hk") 2>/dev/null | awk -v root="$ROOT/" -v calls="$calls" '
      /^-- Auto-annotated source: / { file = $4; ln = 0; next }
      /^-- line [0-9]+ / { ln = $3; next }
      /^-- / { next }
      file != "" && match($0, /^ *([0-9,]+( \( *[0-9.]+%\))?|\.)  /) {
        cost = substr($0, 1, RLENGTH); rest = substr($0, RLENGTH + 1)
        if (rest ~ /^ *=>/) next
        f = index(file, root) == 1 ? substr(file, length(root) + 1) : file
        if (f ~ /^src\// && cost !~ /^ *\.  $/ && rest !~ /events annotated/) {
          sub(/ *\(.*/, "", cost); gsub(/[ ,]/, "", cost)
          gsub(/^[ \t]+/, "", rest)
          printf "%8.2f  %-22s %s\n", cost / calls, f ":" ln, substr(rest, 1, 90)
        }
        ln++
      }' | sort -rn | head -25
    printf '```\n'
  } >>"$TMP/table"
fi

cp "$TMP/table" "$OUT"
cat "$OUT"
# refresh the section in RESULTS.md, between its markers
RES=$HERE/RESULTS.md
if [ -f "$RES" ] && grep -q '^<!-- instr:begin -->' "$RES"; then
  awk -v f="$OUT" '
    /^<!-- instr:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
    /^<!-- instr:end -->/ { skip = 0 }
    !skip' "$RES" >"$TMP/res" && cp "$TMP/res" "$RES"
fi
