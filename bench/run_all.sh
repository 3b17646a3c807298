#!/bin/sh
# make bench: every benchmark under every allocator, side by side.
#   usage: bench/run_all.sh [BUILD_DIR]          (default build/release; builds what it needs)
#   env:   REPS        interleaved repetitions per (bench, allocator), default 5; the tables show medians
#          BENCHES     names to run (default: random_mixed larson prodcons size_sweep churn frag xfer)
#          ALLOCATORS  names to run (default: glibc jemalloc mimalloc tcmalloc scudo hakmem hakmem-off
#                      hakmem-strict hakmem-paranoid)
#          PREWARM=0   skip the prewarm section;  LIBDIR peer libraries (/usr/lib/x86_64-linux-gnu)
#          SCUDO       Scudo's library (default: the newest
#                      /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.scudo_standalone-x86_64.so)
#          TIMEOUT     seconds allowed per run (default 120)
# Allocators are chosen with LD_PRELOAD: glibc (none), Debian's libjemalloc2, libmimalloc2.0,
# libtcmalloc-minimal4, Scudo (the hardened allocator of LLVM's compiler-rt, Debian package
# libclang-rt-14-dev), and BUILD_DIR/libhakmem.so at every hardening level: hakmem (fast, the
# default), hakmem-off, hakmem-strict and hakmem-paranoid (HAKMEM_HARDEN=off/strict/paranoid; a
# build that does not know the variable warns and runs at the default level, which the report
# notes). A missing peer is skipped and reported; a run that fails is recorded as FAILED.
# Every run goes through bench_rss (peak RSS and times of the process, like /usr/bin/time).
# Repetitions are interleaved (rep 1 of every bench and allocator, then rep 2, ...), so slow drift
# of the machine hits every allocator alike. Every allocator must give the same checksum per bench.
# Writes bench/RESULTS.md (machine, tables, targets, prewarm section, the callgrind section that
# bench/instr.sh maintains) and bench/results.png (gnuplot, if installed); prints the tables.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${1:-build/release}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
REPS=${REPS:-5}
TIMEOUT=${TIMEOUT:-120}
LIBDIR=${LIBDIR:-/usr/lib/x86_64-linux-gnu}
RESULTS=$HERE/RESULTS.md
CHART=$HERE/results.png

# name|threads|arguments  (sizes chosen so one run takes about 0.2-1 s with glibc)
ALL_BENCHES="random_mixed|1|10000000 8192 42
larson|2|2 10 200000 2000 10 42
prodcons|2|3000000 42
size_sweep|1|150 42
churn|1|12 32 42
frag|1|10 32 42
xfer|2|300 10000 2 42"
# Scudo: the standalone (not the older sanitizer-based) runtime, newest LLVM installed
if [ -z "${SCUDO:-}" ]; then
  SCUDO=$(for f in /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.scudo_standalone-x86_64.so; do
    [ -f "$f" ] && printf '%s\n' "$f"; done | sort -V | tail -1)
  SCUDO=${SCUDO:-/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.scudo_standalone-x86_64.so}
fi
SCUDO_PKG=$(dpkg-query -S "$SCUDO" 2>/dev/null | head -1 | cut -d: -f1)
SCUDO_PKG=${SCUDO_PKG:-libclang-rt-14-dev}
# name|library to preload (empty: glibc)|extra environment|Debian package
ALL_ALLOCS="glibc|||libc6
jemalloc|$LIBDIR/libjemalloc.so.2||libjemalloc2
mimalloc|$LIBDIR/libmimalloc.so.2||libmimalloc2.0
tcmalloc|$LIBDIR/libtcmalloc_minimal.so.4||libtcmalloc-minimal4
scudo|$SCUDO||$SCUDO_PKG
hakmem|$BUILD/libhakmem.so||
hakmem-off|$BUILD/libhakmem.so|HAKMEM_HARDEN=off|
hakmem-strict|$BUILD/libhakmem.so|HAKMEM_HARDEN=strict|
hakmem-paranoid|$BUILD/libhakmem.so|HAKMEM_HARDEN=paranoid|"

selected() { # list name -> true if name is in the (space-separated) selection, or no selection
  [ -z "$1" ] && return 0
  case " $1 " in *" $2 "*) return 0 ;; esac
  return 1
}

# ---- build -------------------------------------------------------------------------------------
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  [ "$BUILD" = "$ROOT/build/release" ] || { echo "run_all.sh: $BUILD is not a configured build" >&2; exit 1; }
  (cd "$ROOT" && cmake --preset release >/dev/null)
fi
targets="hakmem bench_rss"
for b in $(printf '%s\n' "$ALL_BENCHES" | cut -d'|' -f1); do targets="$targets bench_$b"; done
# shellcheck disable=SC2086
cmake --build "$BUILD" --target $targets >/dev/null
RSS=$BUILD/bench/bench_rss

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
unset LD_PRELOAD HAKMEM_PREWARM_SUPERSLABS HAKMEM_SUPERSLAB_MAX_CACHED HAKMEM_SUPERSLAB_MAX_MEMORY_MB \
      HAKMEM_SUPERSLAB_TTL_SEC HAKMEM_HARDEN MALLOC_ARENA_MAX MIMALLOC_SECURE SCUDO_OPTIONS 2>/dev/null || true

BENCHES=$(printf '%s\n' "$ALL_BENCHES" | while IFS='|' read -r b t a; do
  selected "${BENCHES:-}" "$b" && printf '%s|%s|%s\n' "$b" "$t" "$a"; done)
ALLOCS=""
NOTES=""
while IFS='|' read -r name lib envs pkg; do
  selected "${ALLOCATORS:-}" "$name" || continue
  if [ -n "$lib" ] && [ ! -f "$lib" ]; then
    echo "run_all.sh: $name: $lib not found (package ${pkg:-hakmem}), skipped" >&2
    if [ -n "$pkg" ]; then why="Debian package $pkg"; else why="not built"; fi
    NOTES="$NOTES- $name: \`$lib\` not found ($why), skipped.
"
    continue
  fi
  ALLOCS="$ALLOCS$name|$lib|$envs|$pkg
"
done <<EOF
$ALL_ALLOCS
EOF
[ -n "$BENCHES" ] && [ -n "$ALLOCS" ] || { echo "run_all.sh: nothing selected" >&2; exit 1; }
NAMES=$(printf '%s' "$ALLOCS" | cut -d'|' -f1 | tr '\n' ' ')

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
run() { # name lib envs bench args -> one line "key=value ..." on stdout; status of the run
  # shellcheck disable=SC2086
  timeout "$TIMEOUT" "$RSS" ${2:+LD_PRELOAD=$2} $3 "$BUILD/bench/bench_$4" $5 >"$TMP/out" 2>"$TMP/err"
  st=$?
  sed -n 's/^bench=/bench=/p' "$TMP/out" | head -1 | tr '\n' ' '
  sed -n 's/^rss_peak_kb=/proc_rss_peak_kb=/p' "$TMP/out" | sed 's/ \([a-z]*_sec=\)/ proc_\1/g'
  return $st
}

# ---- the interleaved runs ----------------------------------------------------------------------
rep=1
nb=$(printf '%s\n' "$BENCHES" | wc -l)
na=$(printf '%s' "$ALLOCS" | wc -l)
echo "run_all.sh: $nb benches x $na allocators x $REPS repetitions (load average $LOAD_BEFORE)" >&2
while [ "$rep" -le "$REPS" ]; do
  printf '%s\n' "$BENCHES" | while IFS='|' read -r b _threads args; do
    printf '%s' "$ALLOCS" | while IFS='|' read -r name lib envs pkg; do
      if line=$(run "$name" "$lib" "$envs" "$b" "$args"); then
        printf '%s|%s|%s|%s\n' "$b" "$name" "$rep" "$line" >>"$TMP/raw"
      else
        st=$?
        echo "run_all.sh: $b under $name failed (status $st):" >&2
        tail -3 "$TMP/err" | sed 's/^/    /' >&2
        printf '%s|%s|%s|FAILED status=%s\n' "$b" "$name" "$rep" "$st" >>"$TMP/raw"
      fi
      # stderr worth reporting once (e.g. a warning about HAKMEM_HARDEN)
      if [ -s "$TMP/err" ]; then
        sort -u "$TMP/err" | head -3 | sed "s/^/$name|/" >>"$TMP/stderr"
      fi
    done
  done
  printf 'run_all.sh: repetition %s of %s done\n' "$rep" "$REPS" >&2
  rep=$((rep + 1))
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- prewarm: cold start of bench_random_mixed 100000 256 42 --------------------------------------
PW_ARGS="100000 256 42"
prewarm_section() {
  lib=$BUILD/libhakmem.so
  bin=$BUILD/bench/bench_random_mixed
  cfgs="glibc||
hakmem prewarm=0|$lib|HAKMEM_PREWARM_SUPERSLABS=0
hakmem prewarm=8|$lib|HAKMEM_PREWARM_SUPERSLABS=8
hakmem prewarm=32|$lib|HAKMEM_PREWARM_SUPERSLABS=32"
  i=1
  while [ "$i" -le "$REPS" ]; do
    printf '%s\n' "$cfgs" | while IFS='|' read -r label l envs; do
      # shellcheck disable=SC2086
      timeout "$TIMEOUT" "$RSS" ${l:+LD_PRELOAD=$l} $envs "$bin" $PW_ARGS 2>/dev/null | tr '\n' ' ' |
        sed "s/^/$label|/; s/ rss_peak_kb=/ proc_rss_peak_kb=/; s/ wall_sec=/ proc_wall_sec=/" >>"$TMP/pw"
      echo >>"$TMP/pw"
    done
    i=$((i + 1))
  done
  have_strace=0
  command -v strace >/dev/null && strace -f -c -o /dev/null true 2>/dev/null && have_strace=1
  printf '%s\n' "$cfgs" | while IFS='|' read -r label l envs; do
    mm=- mu=-
    if [ "$have_strace" = 1 ]; then
      set --
      [ -n "$l" ] && set -- -E "LD_PRELOAD=$l"
      [ -n "$envs" ] && set -- "$@" -E "$envs"
      # shellcheck disable=SC2086
      if strace -f -c -e trace=mmap,munmap -o "$TMP/strace" "$@" "$bin" $PW_ARGS >/dev/null 2>&1; then
        mm=$(awk '$NF == "mmap" { print $4 }' "$TMP/strace"); mu=$(awk '$NF == "munmap" { print $4 }' "$TMP/strace")
      fi
    fi
    printf '%s|%s|%s\n' "$label" "${mm:-0}" "${mu:-0}" >>"$TMP/pw_strace"
  done
}
[ "${PREWARM:-1}" = 0 ] || [ ! -f "$BUILD/libhakmem.so" ] || prewarm_section

# ---- report ------------------------------------------------------------------------------------
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "?"; }
COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo "?")
DIRTY=$(cd "$ROOT" && git status --porcelain --untracked-files=no src include 2>/dev/null | grep -q . && echo " + uncommitted changes in src/include" || true)
STRICT_NOTE=""
for lvl in hakmem-off hakmem-strict hakmem-paranoid; do
  if [ -f "$TMP/stderr" ] && grep -q "^$lvl|.*HAKMEM_HARDEN" "$TMP/stderr"; then
    STRICT_NOTE="$STRICT_NOTE- $lvl: this build does not know \`HAKMEM_HARDEN\` ($(grep "^$lvl|.*HAKMEM_HARDEN" "$TMP/stderr" | head -1 | cut -d'|' -f2-)), so it ran at the default level.
"
  fi
done

tables() { # the markdown tables (also printed on stdout)
  awk -F'|' -v names="$NAMES" -v benches="$(printf '%s\n' "$BENCHES" | cut -d'|' -f1,2 | tr '\n' ' ')" '
    function median(key,   n, i, j, t, v) {
      n = split(vals[key], v, " ")
      if (n == 0) return ""
      for (i = 2; i <= n; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
      return n % 2 ? v[(n + 1) / 2] + 0 : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    function gm_add(g, x) { if (x > 0) { gsum[g] += log(x); gcnt[g]++ } }
    function gm(g) { return gcnt[g] ? sprintf("%.2f", exp(gsum[g] / gcnt[g])) : "-" }
    function fmt(x, f) { return x == "" ? "-" : sprintf(f, x) }
    function thdr(   k, s, d) {   # header of a targets table: one column per hakmem level
      s = "| target |"; d = "|---|"
      for (k = 1; k <= nh; k++) { s = s " " hk[k] " |"; d = d "---|" }
      print s; print d
    }
    # "RATIO met" when x = v / ref is >= lim (ge) or <= lim (!ge); FAIL or - when a side is missing
    function cell(b, a, r, v, ref, lim, ge,   x) {
      if (failed[b, a] || failed[b, r]) return "FAIL"
      if (!(v > 0 && ref > 0)) return "-"
      x = v / ref
      return sprintf("%.2f %s", x, (ge ? x >= lim : x <= lim) ? "met" : "**missed**")
    }
    # throughput of a vs r on two benches, met when both ratios are >= lim
    function cell2(b1, b2, a, r, lim,   x1, x2) {
      if (failed[b1, a] || failed[b1, r] || failed[b2, a] || failed[b2, r]) return "FAIL"
      x1 = (ops[b1, a] > 0 && ops[b1, r] > 0) ? ops[b1, a] / ops[b1, r] : ""
      x2 = (ops[b2, a] > 0 && ops[b2, r] > 0) ? ops[b2, a] / ops[b2, r] : ""
      if (x1 == "" && x2 == "") return "-"
      return b1 " " fmt(x1, "%.2f") ", " b2 " " fmt(x2, "%.2f") \
        (x1 == "" || x2 == "" ? "" : (x1 >= lim && x2 >= lim ? " met" : " **missed**"))
    }
    function hdr(first,   i, s, d) {
      s = "| " first " | thr |"; d = "|---|---:|"
      for (i = 1; i <= na; i++) { s = s " " al[i] " |"; d = d "---:|" }
      print s; print d
    }
    BEGIN {
      na = split(names, al, " "); nb2 = split(benches, bt, " ")
      for (i = 1; i <= nb2; i++) { split(bt[i], p, "|"); bn[i] = p[1]; thr[p[1]] = p[2] }
      nb = nb2
    }
    {
      b = $1; a = $2
      if ($4 ~ /^FAILED/) { failed[b, a]++; next }
      n = split($4, kv, " ")
      for (i = 1; i <= n; i++) {
        e = index(kv[i], "="); if (!e) continue
        k = substr(kv[i], 1, e - 1); v = substr(kv[i], e + 1)
        if (k == "checksum") { if (!((b, v) in seen)) { seen[b, v] = 1; ncs[b]++ } ; cs[b, a] = v; continue }
        vals[b SUBSEP a SUBSEP k] = vals[b SUBSEP a SUBSEP k] " " v
      }
    }
    END {
      for (i = 1; i <= nb; i++) for (j = 1; j <= na; j++) {
        b = bn[i]; a = al[j]
        ops[b, a] = median(b SUBSEP a SUBSEP "ops_per_sec")
        rss[b, a] = median(b SUBSEP a SUBSEP "proc_rss_peak_kb")
      }
      print "### Throughput (median ops/s, millions)\n"
      hdr("bench")
      for (i = 1; i <= nb; i++) {
        b = bn[i]; s = "| " b " | " thr[b] " |"
        for (j = 1; j <= na; j++) { a = al[j]; s = s " " (failed[b, a] ? "FAIL" : fmt(ops[b, a] / 1e6, "%.2f")) " |" }
        print s
      }
      for (r = 1; r <= 2; r++) {
        ref = r == 1 ? "glibc" : "mimalloc"
        if (!index(" " names " ", " " ref " ")) continue
        print "\n### Throughput relative to " ref " (x " ref "; higher is better)\n"
        hdr("bench")
        for (i = 1; i <= nb; i++) {
          b = bn[i]; s = "| " b " | " thr[b] " |"
          for (j = 1; j <= na; j++) {
            a = al[j]; x = (ops[b, ref] > 0 && ops[b, a] > 0) ? ops[b, a] / ops[b, ref] : ""
            s = s " " fmt(x, "%.2f") " |"
            if (x != "") { gm_add(ref SUBSEP a SUBSEP "all", x); gm_add(ref SUBSEP a SUBSEP thr[b], x) }
          }
          print s
        }
        for (t = 0; t <= 2; t++) {
          tag = t == 0 ? "all" : t; label = t == 0 ? "**geometric mean**" : "geomean, " t "-thread"
          s = "| " label " | " (t ? t : "") " |"
          for (j = 1; j <= na; j++) s = s " " (t ? "" : "**") gm(ref SUBSEP al[j] SUBSEP tag) (t ? "" : "**") " |"
          print s
        }
      }
      print "\n### Peak RSS of the process (median MiB; last row: geometric mean of the ratio to glibc)\n"
      hdr("bench")
      for (i = 1; i <= nb; i++) {
        b = bn[i]; s = "| " b " | " thr[b] " |"
        for (j = 1; j <= na; j++) {
          a = al[j]; s = s " " fmt(rss[b, a] / 1024, "%.1f") " |"
          if (rss[b, "glibc"] > 0 && rss[b, a] > 0) gm_add("rss" SUBSEP a, rss[b, a] / rss[b, "glibc"])
        }
        print s
      }
      s = "| **peak RSS x glibc** | |"
      for (j = 1; j <= na; j++) s = s " **" gm("rss" SUBSEP al[j]) "** |"
      print s
      print "\n### Memory given back and fragmentation (medians)\n"
      hdr("metric")
      s = "| churn: RSS held after the last free-all, KiB | 1 |"
      for (j = 1; j <= na; j++) s = s " " fmt(median("churn" SUBSEP al[j] SUBSEP "held_kb_last"), "%d") " |"
      print s
      s = "| churn: most RSS held after a free-all, KiB | 1 |"
      for (j = 1; j <= na; j++) s = s " " fmt(median("churn" SUBSEP al[j] SUBSEP "held_kb_max"), "%d") " |"
      print s
      s = "| frag: peak RSS / peak live bytes | 1 |"
      for (j = 1; j <= na; j++) s = s " " fmt(median("frag" SUBSEP al[j] SUBSEP "frag"), "%.2f") " |"
      print s
      s = "| xfer: RSS at the end, everything freed, KiB | 2 |"
      for (j = 1; j <= na; j++) s = s " " fmt(median("xfer" SUBSEP al[j] SUBSEP "rss_end_kb"), "%d") " |"
      print s
      bad = 0
      for (i = 1; i <= nb; i++) if (ncs[bn[i]] > 1) { bad = 1; printf "\n**checksum mismatch in %s:**", bn[i]
        for (j = 1; j <= na; j++) printf " %s=%s", al[j], cs[bn[i], al[j]]; print "" }
      if (!bad) print "\nEvery allocator produced the same checksum for each bench."
      # targets of issue 7, for hakmem at each hardening level that ran
      nh = 0; split("hakmem hakmem-off hakmem-strict hakmem-paranoid", hc, " ")
      for (k = 1; k <= 4; k++) if (index(" " names " ", " " hc[k] " ")) hk[++nh] = hc[k]
      if (nh) {
        print "\n### Targets (issue 7) for hakmem\n"
        thdr()
        for (i = 1; i <= nb; i++) {
          b = bn[i]; lim = thr[b] == 1 ? 0.9 : 0.8
          s = "| " b ": >= " lim " x mimalloc ops/s |"
          for (k = 1; k <= nh; k++) s = s " " cell(b, hk[k], "mimalloc", ops[b, hk[k]], ops[b, "mimalloc"], lim, 1) " |"
          print s
        }
        s = "| geometric mean >= 1.0 x mimalloc |"
        for (k = 1; k <= nh; k++) { g = gm("mimalloc" SUBSEP hk[k] SUBSEP "all")
          s = s " " (g == "-" ? "-" : g " " (g + 0 >= 1.0 ? "met" : "**missed**")) " |" }
        print s
        s = "| peak RSS geometric mean <= 1.3 x glibc |"
        for (k = 1; k <= nh; k++) { g = gm("rss" SUBSEP hk[k])
          s = s " " (g == "-" ? "-" : g " " (g + 0 <= 1.3 ? "met" : "**missed**")) " |" }
        print s
        s = "| churn: RSS held after free-all <= glibc |"
        gl = median("churn" SUBSEP "glibc" SUBSEP "held_kb_last")
        for (k = 1; k <= nh; k++) { h = median("churn" SUBSEP hk[k] SUBSEP "held_kb_last")
          s = s " " (h == "" || gl == "" ? "-" : sprintf("%d vs %d KiB %s", h, gl, h <= gl ? "met" : "**missed**")) " |" }
        print s
        s = "| frag: peak RSS / live <= 2.5 |"
        for (k = 1; k <= nh; k++) { f = median("frag" SUBSEP hk[k] SUBSEP "frag")
          s = s " " (f == "" ? "-" : sprintf("%.2f %s", f, f <= 2.5 ? "met" : "**missed**")) " |" }
        print s
        # thread churn: threads that exit while their blocks live on in other threads
        print "\n### Targets (thread churn) for hakmem\n"
        thdr()
        for (i = 1; i <= 2; i++) {
          b = i == 1 ? "xfer" : "larson"
          s = "| " b ": peak RSS <= 1.2 x mimalloc |"
          for (k = 1; k <= nh; k++) s = s " " cell(b, hk[k], "mimalloc", rss[b, hk[k]], rss[b, "mimalloc"], 1.2, 0) " |"
          print s
        }
        s = "| xfer and larson: ops/s >= 0.9 x mimalloc |"
        for (k = 1; k <= nh; k++) s = s " " cell2("xfer", "larson", hk[k], "mimalloc", 0.9) " |"
        print s
        # the strict levels against the hardened peer
        print "\n### Targets (hardened peer): hakmem strict levels vs scudo\n"
        print "| target | ops/s x scudo (random_mixed, larson) |"
        print "|---|---|"
        print "| hakmem-strict: >= 1.5 x scudo ops/s on random_mixed and larson | " cell2("random_mixed", "larson", "hakmem-strict", "scudo", 1.5) " |"
        print "| hakmem-paranoid: >= 1.0 x scudo ops/s on random_mixed and larson | " cell2("random_mixed", "larson", "hakmem-paranoid", "scudo", 1.0) " |"
      }
      # chart data: one row per bench plus the geometric mean, one column per allocator
      for (i = 1; i <= nb; i++) {
        b = bn[i]; s = b; r = b
        for (j = 1; j <= na; j++) {
          a = al[j]
          s = s " " ((ops[b, "glibc"] > 0 && ops[b, a] > 0) ? ops[b, a] / ops[b, "glibc"] : "NaN")
          r = r " " ((rss[b, "glibc"] > 0 && rss[b, a] > 0) ? rss[b, a] / rss[b, "glibc"] : "NaN")
        }
        print s > (ENVIRON["TMP"] "/chart_ops"); print r > (ENVIRON["TMP"] "/chart_rss")
      }
      s = "geomean"; r = "geomean"
      for (j = 1; j <= na; j++) {
        g = gm("glibc" SUBSEP al[j] SUBSEP "all"); s = s " " (g == "-" ? "NaN" : g)
        g = gm("rss" SUBSEP al[j]); r = r " " (g == "-" ? "NaN" : g)
      }
      print s > (ENVIRON["TMP"] "/chart_ops"); print r > (ENVIRON["TMP"] "/chart_rss")
    }' "$TMP/raw"
}

prewarm_tables() {
  [ -f "$TMP/pw" ] || return 0
  printf '## Prewarm: cold start of `bench_random_mixed %s`\n\n' "$PW_ARGS"
  printf 'Each run is a fresh process. ops/s is timed by the benchmark (its loop only); *process* is\n'
  printf 'the wall time of the whole process, start-up prewarm included (bench_rss). mmap/munmap: system\n'
  printf 'calls of the whole process, the dynamic loader'"'"'s included (see the glibc row), counted with\n'
  printf '`strace -f -c -e trace=mmap,munmap`. Medians of %s runs; hakmem'"'"'s own counters from the bench line.\n\n' "$REPS"
  printf '| configuration | ops/s | process ms | peak RSS MiB | mmap | munmap | SuperSlabs mapped | cache hits | hakmem mmap calls |\n'
  printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
  awk -F'|' -v strace="$TMP/pw_strace" '
    function median(s,   n, i, j, t, v) {
      n = split(s, v, " "); if (n == 0) return ""
      for (i = 2; i <= n; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
      return n % 2 ? v[(n + 1) / 2] + 0 : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    BEGIN { while ((getline l < strace) > 0) { split(l, p, "|"); mm[p[1]] = p[2]; mu[p[1]] = p[3] } }
    NF >= 2 {
      if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
      m = split($2, kv, " ")
      for (i = 1; i <= m; i++) { e = index(kv[i], "="); if (e) v[$1, substr(kv[i], 1, e - 1)] = v[$1, substr(kv[i], 1, e - 1)] " " substr(kv[i], e + 1) }
    }
    END {
      for (i = 1; i <= n; i++) {
        c = order[i]
        ss = median(v[c, "ss_map_calls"]); ch = median(v[c, "cache_hits"]); mc = median(v[c, "mmap_calls"])
        printf "| %s | %.0f | %.1f | %.1f | %s | %s | %s | %s | %s |\n", c, median(v[c, "ops_per_sec"]),
          1000 * median(v[c, "proc_wall_sec"]), median(v[c, "proc_rss_peak_kb"]) / 1024, mm[c], mu[c],
          ss == "" ? "-" : ss, ch == "" ? "-" : ch, mc == "" ? "-" : mc
      }
    }' "$TMP/pw"
  printf '\n'
}

chart() {
  command -v gnuplot >/dev/null || { echo "run_all.sh: gnuplot not installed, no chart (Debian package gnuplot-nox)" >&2; return 0; }
  term="pngcairo size 1200,900 font 'sans,10'"
  gnuplot -e "set terminal $term" >/dev/null 2>&1 || term="png size 1200,900"
  cols=$(printf '%s' "$NAMES" | wc -w)
  {
    printf 'set terminal %s\nset termoption noenhanced\nset output "%s"\n' "$term" "$CHART"
    printf 'set multiplot layout 2,1 title "hakmem vs peers, %s (median of %s runs, LD_PRELOAD)"\n' "$(date -u +%Y-%m-%d)" "$REPS"
    printf 'set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.85 border -1\n'
    printf 'set boxwidth 0.9\nset grid ytics\nset key outside right top vertical\nset xtics nomirror\n'
    printf 'set logscale y 2\nset datafile missing "NaN"\n'
    printf 'set title "Throughput relative to glibc (higher is better, log scale)"\nset ylabel "x glibc"\n'
    printf 'plot for [i=2:%s] "%s" using i:xtic(1) title word("%s", i-1)\n' "$((cols + 1))" "$TMP/chart_ops" "$NAMES"
    printf 'set title "Peak RSS relative to glibc (lower is better, log scale)"\nset ylabel "x glibc"\n'
    printf 'plot for [i=2:%s] "%s" using i:xtic(1) title word("%s", i-1)\n' "$((cols + 1))" "$TMP/chart_rss" "$NAMES"
    printf 'unset multiplot\n'
  } >"$TMP/chart.gp"
  gnuplot "$TMP/chart.gp" 2>"$TMP/gnuplot.err" || { echo "run_all.sh: gnuplot failed:" >&2; cat "$TMP/gnuplot.err" >&2; }
}

export TMP
tables >"$TMP/tables"
prewarm_tables >"$TMP/prewarm"
chart
INSTR=""
[ -f "$HERE/INSTR.md" ] && INSTR=$(cat "$HERE/INSTR.md")
{
  printf '# hakmem benchmark results\n\n'
  printf 'Written by `make bench` (bench/run_all.sh) on %s.\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf -- '- Machine: %s CPUs (nproc), %s, Linux %s, glibc %s.\n' "$(nproc)" "$CPU" "$(uname -r)" "$(version libc6)"
  printf -- '- Load average (1/5/15 min) before: %s, after: %s. Two-core machine: other work running at the\n' "$LOAD_BEFORE" "$LOAD_AFTER"
  printf '  same time makes wall-clock numbers noisy, two-thread ones most; the callgrind section is exact.\n'
  printf -- '- hakmem %s%s (`%s`); peers: jemalloc %s, mimalloc %s, tcmalloc %s, scudo %s (`%s`, %s) (Debian packages, LD_PRELOAD).\n' \
    "$COMMIT" "$DIRTY" "${BUILD#"$ROOT"/}/libhakmem.so" "$(version libjemalloc2)" "$(version libmimalloc2.0)" "$(version libtcmalloc-minimal4)" \
    "$(version "$SCUDO_PKG")" "$(basename "$SCUDO")" "$SCUDO_PKG"
  printf -- '- %s interleaved repetitions per bench and allocator; medians. hakmem = the default level (`fast`);\n' "$REPS"
  printf '  hakmem-off, hakmem-strict, hakmem-paranoid = `HAKMEM_HARDEN=off`, `strict`, `paranoid`.\n'
  printf '%s%s' "$NOTES" "$STRICT_NOTE"
  printf '\n![throughput and peak RSS relative to glibc](results.png)\n\n'
  printf '## Workloads\n\n| bench | threads | arguments | what |\n|---|---:|---|---|\n'
  printf '%s\n' "$BENCHES" | while IFS='|' read -r b t a; do
    case $b in
      random_mixed) w="the seed's random malloc/free mix, 16-1039 B, 8192 slots" ;;
      larson) w="Larson-style server: replace random blocks, 10 % freed by the other thread, threads re-created every round" ;;
      prodcons) w="one thread mallocs 16-512 B, the other frees every block" ;;
      size_sweep) w="bursts per power of two 8 B-64 KiB, realloc chains by small steps to 64 KiB and by doubling to 4 MiB" ;;
      churn) w="fill 32 MiB of small blocks, free all shuffled, size band shifts each round; RSS held after each free-all" ;;
      frag) w="fill to 32 MiB live, free a random half, shift band; peak RSS / peak live bytes" ;;
      xfer) w="threads re-created every round, 8-128 B: 2/3 freed by their thread, 1/4 swapped through 1000 shared slots (freed by another thread, often after the allocating one exited)" ;;
      *) w="" ;;
    esac
    printf '| %s | %s | `%s` | %s |\n' "$b" "$t" "$a" "$w"
  done
  printf '\nops/s counts malloc, free and realloc calls (larson: one free + one malloc per operation; xfer: one malloc and its free).\n'
  printf 'Peak RSS is the whole process (bench_rss, like `/usr/bin/time -f %%M`).\n\n'
  printf '## Results\n\n'
  cat "$TMP/tables"
  printf '\n'
  cat "$TMP/prewarm"
  printf '<!-- instr:begin -->\n'
  if [ -n "$INSTR" ]; then printf '%s\n' "$INSTR"; else printf '## Instructions per malloc/free call\n\nNot measured yet: run `make bench-instr` (bench/instr.sh).\n'; fi
  printf '<!-- instr:end -->\n'
} >"$RESULTS"
cat "$TMP/tables"
printf '\n'
cat "$TMP/prewarm"
echo "run_all.sh: wrote $RESULTS${CHART:+ and $CHART}" >&2
if grep -q 'checksum mismatch' "$TMP/tables" || grep -q 'FAILED' "$TMP/raw"; then
  echo "run_all.sh: some runs failed or disagreed (see above)" >&2
  exit 1
fi
