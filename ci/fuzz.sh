#!/bin/bash
# ci/fuzz.sh — the overnight fuzzer behind `make fuzz` (docs/fuzzing.md).
#   FUZZ_TIME     total wall-clock seconds for everything (builds, fuzzing, merges; default 28800 = 8 h)
#   FUZZ_TARGETS  targets to run (default: fuzz_ops fuzz_ops_mt fuzz_env fuzz_classes)
#   FUZZ_ENGINES  "libfuzzer afl" (default), or one of them
#   FUZZ_OUT      where logs, work corpora and crashes go (default build/fuzz-out)
# Per target: libFuzzer with -fork=2 -ignore_crashes=1 (both cores) for 2/3 of its slice, then
# AFL++ -M/-S (both cores) for 1/3, both ASan builds of the same sources, both with the target's
# fuzz/<t>.options and the settings in sanitizers/*.options. The measured build time is taken off
# the budget, and each target's post-processing (crash replay, merge, coverage) is capped, so the
# whole run ends within about 10 % of FUZZ_TIME. New coverage from both engines is merged into
# corpus/<target>/ (-set_cover_merge=1 of the old merged inputs and the new ones; seed-* and
# regress/ are never touched; an input that crashes is never dropped from corpus/ by the merge).
# Every crash is replayed with the ASan libFuzzer binary and deduplicated by the top frames of its
# stack: one file per distinct crash in $FUZZ_OUT/crashes/, one line each in REPRODUCE.txt with
# commands that work as printed. Exits 1 if anything crashed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
t0=$(date +%s)
FUZZ_TIME=${FUZZ_TIME:-28800}
FUZZ_TARGETS=${FUZZ_TARGETS:-fuzz_ops fuzz_ops_mt fuzz_env fuzz_classes}
FUZZ_ENGINES=${FUZZ_ENGINES:-libfuzzer afl}
out=${FUZZ_OUT:-$root/build/fuzz-out}
lf_build=$root/build/fuzz-libfuzzer
afl_build=$root/build/fuzz-afl
crashes=$out/crashes
rm -rf "$crashes"
mkdir -p "$out" "$crashes"
log() { printf '[fuzz %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
now() { date +%s; }

# Sanitizer settings shared with the presets' tests (sanitizers/*.options, one option per line).
san_opts() { [ -f "$root/sanitizers/$1.options" ] &&
  sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' -e "s|=sanitizers/|=$root/sanitizers/|" \
      "$root/sanitizers/$1.options" | paste -sd: -; }
for tool in asan ubsan lsan; do
  var=$(tr a-z A-Z <<<"$tool")_OPTIONS
  [ -z "${!var:-}" ] && [ -n "$(san_opts $tool)" ] && export "$var=$(san_opts $tool)"
done
# afl-fuzz refuses custom settings without these (TOOLCHAIN.md 2.3)
afl_asan="${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=1:symbolize=0"
afl_ubsan="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:abort_on_error=1"
afl_lsan="${LSAN_OPTIONS:+$LSAN_OPTIONS:}symbolize=0"

# ---- builds -------------------------------------------------------------------------------------
common=(-G Ninja -DCMAKE_BUILD_TYPE=Debug -DHAK_DEBUG=2 "-DCMAKE_C_FLAGS_DEBUG=-O1 -g"
        -DHAK_BUILD_TESTS=OFF -DHAK_BUILD_BENCH=OFF -DHAK_BUILD_PROPS=OFF -DHAK_FUZZ_SMOKE=OFF)
replays=()
for t in $FUZZ_TARGETS; do replays+=("${t}_replay"); done
log "building libFuzzer targets and replay drivers (clang, ASan + UBSan) in $lf_build"
cmake -S . -B "$lf_build" "${common[@]}" -DCMAKE_C_COMPILER=clang -DHAK_SANITIZER=asan >"$out/build-libfuzzer.log" 2>&1 &&
  cmake --build "$lf_build" --target $FUZZ_TARGETS "${replays[@]}" >>"$out/build-libfuzzer.log" 2>&1 ||
  { log "libFuzzer build failed, see $out/build-libfuzzer.log"; exit 2; }
use_afl=0
if [[ " $FUZZ_ENGINES " == *" afl "* ]]; then
  if command -v afl-clang-fast >/dev/null && command -v afl-fuzz >/dev/null; then
    log "building AFL++ targets (afl-clang-fast, AFL_USE_ASAN=1) in $afl_build"
    if AFL_USE_ASAN=1 AFL_QUIET=1 cmake -S . -B "$afl_build" "${common[@]}" -DCMAKE_C_COMPILER=afl-clang-fast \
         -DHAK_SANITIZER=none >"$out/build-afl.log" 2>&1 &&
       AFL_USE_ASAN=1 AFL_QUIET=1 cmake --build "$afl_build" --target $FUZZ_TARGETS >>"$out/build-afl.log" 2>&1; then
      use_afl=1
    else
      log "AFL++ build failed (see $out/build-afl.log); libFuzzer only"
    fi
  else
    log "afl++ not installed; libFuzzer only"
  fi
fi
use_lf=0
[[ " $FUZZ_ENGINES " == *" libfuzzer "* ]] && use_lf=1
build_s=$(( $(now) - t0 ))
log "builds took ${build_s}s; $((FUZZ_TIME - build_s))s left of FUZZ_TIME=${FUZZ_TIME}s"

weight() { case $1 in fuzz_ops) echo 40 ;; fuzz_ops_mt) echo 30 ;; *) echo 15 ;; esac; }
optfile() { echo "$root/fuzz/$1.options"; }
lf_opts() {   # [libfuzzer] section of fuzz/<t>.options as flags (absolute path: read after cd)
  sed -n '/^\[libfuzzer\]/,/^\[/{/=/p}' "$(optfile "$1")" 2>/dev/null | sed 's/[[:space:]]*=[[:space:]]*/=/; s/^[[:space:]]*/-/'
}
opt_value() { sed -n "s/^$2[[:space:]]*=[[:space:]]*//p" "$(optfile "$1")" 2>/dev/null | head -1; }
rate() { [ "${2:-0}" -gt 0 ] && echo $(( $1 / $2 )) || echo 0; }

# dedup_crash TARGET FILE SOURCE: replay FILE with the ASan libFuzzer binary, hash the top 5 frames
# of the report that are not in libc or the sanitizer runtime (function names only: the same bug
# reached from another input has the same signature); keep one file per signature.
declare -A seen_sig
dedup_crash() {
  local t=$1 f=$2 from=$3 bin=$lf_build/fuzz/$1 rep sig title name
  rep=$(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}symbolize=1" timeout 60 "$bin" $(lf_opts "$t") "$f" 2>&1)
  sig=$(printf '%s\n' "$rep" | grep -E '^ *#[0-9]+ 0x' |
        grep -vE ' in (__sanitizer|__asan|__ubsan|__interceptor|__pthread_kill|pthread_kill|abort|raise|gsignal|__libc|_start|fuzzer::)|libc\.so|libclang_rt|compiler-rt' |
        head -5 | sed -E 's/^ *#[0-9]+ 0x[0-9a-f]+ in ([^ ]+).*/\1/' | paste -sd' ' -)
  title=$(printf '%s\n' "$rep" | grep -m1 -E '^SUMMARY:')
  [ -n "$title" ] || title=$(printf '%s\n' "$rep" | grep -m1 -E '^hakmem|ERROR: [A-Za-z]+Sanitizer|runtime error')
  title=$(cut -c1-160 <<<"$title")
  [ -n "$sig" ] || sig=${title:-unknown}
  [ -n "$title" ] || title="(no report on replay: flaky or timeout; see $from)"
  local h
  h=$(printf '%s' "$t $sig" | sha1sum | cut -c1-12)
  if [ -n "${seen_sig[$h]:-}" ]; then
    seen_sig[$h]=$(( ${seen_sig[$h]} + 1 ))
    return 1
  fi
  seen_sig[$h]=1
  name=$t-crash-$h
  cp "$f" "$crashes/$name"
  printf '%s\n' "$rep" >"$crashes/$name.report"
  {
    echo "$name  stack: $sig  |  $title  (first from ${from#$out/})"
    echo "  $bin $crashes/$name"
    echo "  $lf_build/fuzz/${t}_replay -v $crashes/$name"
    echo "  $bin -minimize_crash=1 -runs=20000 -exact_artifact_path=$crashes/$name.min $crashes/$name"
  } >>"$crashes/REPRODUCE.txt"
  return 0
}

total_w=0
for t in $FUZZ_TARGETS; do total_w=$((total_w + $(weight "$t"))); done
summary=()
any_crash=0 any_fail=0
for t in $FUZZ_TARGETS; do
  # this target's share of what is left, minus its post-processing cap (10 %, 5..600 s)
  left=$(( FUZZ_TIME - ($(now) - t0) ))
  slice=$(( left * $(weight "$t") / total_w ))
  total_w=$(( total_w - $(weight "$t") ))
  tdl=$(( $(now) + slice ))   # this target's deadline
  # post-processing reserve: the merge replays every corpus file once (fuzz_ops: about 25 exec/s,
  # restarts after crashing inputs), plus the crash replays; at least 10 %, at most half the slice
  nfiles=$(find "$root/corpus/$t" -maxdepth 1 -type f | wc -l)
  post=$(( 5 + nfiles / 15 )); [ $post -lt $((slice / 10)) ] && post=$((slice / 10))
  [ $post -gt $((slice / 2)) ] && post=$((slice / 2))
  fuzz_s=$(( slice - post )); [ $fuzz_s -lt 10 ] && fuzz_s=10
  lf_time=$fuzz_s afl_time=0
  if [ $use_afl = 1 ] && [ $use_lf = 1 ]; then afl_time=$((fuzz_s / 3)); lf_time=$((fuzz_s - afl_time)); fi
  [ $use_lf = 0 ] && { lf_time=0; afl_time=$fuzz_s; }
  w=$out/$t
  rm -rf "$w"
  mkdir -p "$w/corpus" "$w/artifacts" "$w/afl-in" "$w/merge-crashes"
  bin=$lf_build/fuzz/$t
  lf_execs=0 afl_execs=0 lf_secs=0 afl_secs=0 crashed=0 distinct=0

  # ---- libFuzzer, fork mode over both cores; crashes do not stop it (deduplicated below) ----
  if [ $lf_time -gt 0 ]; then
    log "$t: libFuzzer -fork=2 for ${lf_time}s (log $w/libfuzzer.log)"
    s0=$(now)
    # shellcheck disable=SC2046
    # fork mode overruns -max_total_time while its children finish: timeout stops it on time
    (cd "$w" && exec timeout -s INT -k 5 $((lf_time + 1)) "$bin" $(lf_opts "$t") -dict="$root/fuzz/$t.dict" -fork=2 -ignore_crashes=1 \
        -max_total_time="$lf_time" -artifact_prefix="$w/artifacts/" -print_final_stats=1 \
        "$w/corpus" "$root/corpus/$t") >"$w/libfuzzer.log" 2>&1 &
    pid=$!
    while kill -0 $pid 2>/dev/null; do
      for _ in 1 2 3 4 5 6 7 8 9 10; do sleep 1; kill -0 $pid 2>/dev/null || break; done
      line=$(grep -E '^#[0-9]+' "$w/libfuzzer.log" | tail -1)
      e=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$line")
      cov=$(sed -nE 's/.* cov: ([0-9]+) ft: ([0-9]+).*/cov \1 ft \2/p' <<<"$line")
      [ -n "$line" ] && log "$t: libFuzzer $e execs, $(rate "$e" $(( $(now) - s0 ))) exec/s, $cov, crash files $(ls "$w/artifacts" | wc -l)"
    done
    wait $pid
    rc=$?
    # 124: our timeout stopped it at its time (fork mode overran -max_total_time)
    if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ -z "$(ls "$w/artifacts")" ]; then
      log "$t: libFuzzer exited $rc without a crash file: $(grep -m1 -E 'ERROR|failed' "$w/libfuzzer.log")"
      any_fail=1
    fi
    lf_secs=$(( $(now) - s0 ))
    lf_execs=$(grep -E '^#[0-9]+' "$w/libfuzzer.log" | tail -1 | sed -E 's/^#([0-9]+).*/\1/')
    lf_execs=${lf_execs:-0}
  fi

  # ---- AFL++, -M main and -S secondary; fuzzer_stats read every 30 s ----
  if [ $afl_time -gt 0 ]; then
    max_len=$(opt_value "$t" max_len)
    find "$root/corpus/$t" "$w/corpus" -type f ! -name 'README*' -size -"${max_len:-4096}"c \
      -exec cp {} "$w/afl-in/" \; 2>/dev/null
    log "$t: AFL++ -M/-S for ${afl_time}s (logs $w/afl-*.log)"
    export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_QUIET=1
    s0=$(now)
    # -V counts from the end of calibration: timeout bounds the wall time (SIGINT: stats are saved)
    ASAN_OPTIONS=$afl_asan UBSAN_OPTIONS=$afl_ubsan LSAN_OPTIONS=$afl_lsan \
    timeout -s INT -k 10 $((afl_time + 2)) afl-fuzz -M main -i "$w/afl-in" -o "$w/afl" -V "$afl_time" \
      -x "$root/fuzz/$t.dict" -t 10000 -- "$afl_build/fuzz/$t" >"$w/afl-main.log" 2>&1 &
    p1=$!
    ASAN_OPTIONS=$afl_asan UBSAN_OPTIONS=$afl_ubsan LSAN_OPTIONS=$afl_lsan \
    timeout -s INT -k 10 $((afl_time + 2)) afl-fuzz -S sec1 -i "$w/afl-in" -o "$w/afl" -V "$afl_time" \
      -t 10000 -- "$afl_build/fuzz/$t" >"$w/afl-sec1.log" 2>&1 &
    p2=$!
    afl_sum() {   # execs_done and saved_crashes over both instances
      local e=0 c=0 st
      for st in "$w"/afl/*/fuzzer_stats; do
        [ -f "$st" ] || continue
        e=$(( e + $(sed -n 's/^execs_done *: *//p' "$st") ))
        c=$(( c + $(sed -n 's/^saved_crashes *: *//p' "$st") ))
      done
      echo "$e $c"
    }
    n=0
    while kill -0 $p1 2>/dev/null || kill -0 $p2 2>/dev/null; do
      sleep 1; n=$((n + 1))
      if [ $((n % 30)) = 0 ]; then
        read -r e c <<<"$(afl_sum)"
        if ls "$w"/afl/*/fuzzer_stats >/dev/null 2>&1; then
          log "$t: AFL++ $e execs, $(rate "$e" $(( $(now) - s0 ))) exec/s, crash files $c"
        else   # afl-fuzz writes fuzzer_stats only once its seeds are calibrated
          log "$t: AFL++ 0 execs, 0 exec/s, calibrating $(ls "$w/afl-in" | wc -l) seeds"
        fi
      fi
    done
    wait $p1 $p2
    afl_secs=$(( $(now) - s0 ))
    read -r afl_execs _ <<<"$(afl_sum)"
    for inst in main sec1; do
      st=$w/afl/$inst/fuzzer_stats
      [ -f "$st" ] || { log "$t: AFL++ $inst wrote no stats: $(grep -m1 -a 'PROGRAM ABORT' "$w/afl-$inst.log" | sed 's/\x1b\[[0-9;]*m//g')"; any_fail=1; continue; }
      log "$t: AFL++ $inst: $(sed -n 's/^execs_done *: *//p' "$st") execs, $(sed -n 's/^stability *: *//p' "$st") stable, $(sed -n 's/^bitmap_cvg *: *//p' "$st") map, $(sed -n 's/^saved_crashes *: *//p' "$st") crashes"
    done
  fi

  # ---- merge new coverage into the checked-in corpus ----
  # -set_cover_merge=1 over (old merged files + new inputs) keeps a small set with every feature;
  # seed-* and regress/ always stay. An input that crashes during the merge is skipped by
  # libFuzzer (so it would be dropped): the merge writes it to merge-crashes/ and it is put back.
  new_dirs=("$w/corpus")
  for q in "$w"/afl/*/queue; do [ -d "$q" ] && new_dirs+=("$q"); done
  before=$(find "$root/corpus/$t" -maxdepth 1 -type f | wc -l)
  rm -rf "$w/old" "$w/merged"
  mkdir -p "$w/old" "$w/merged"
  find "$root/corpus/$t" -maxdepth 1 -type f ! -name 'seed-*' -exec mv {} "$w/old/" \;
  merge_cap=$(( tdl - $(now) - 3 )); [ $merge_cap -lt 5 ] && merge_cap=5
  # shellcheck disable=SC2046
  if timeout -k 5 $merge_cap "$bin" $(lf_opts "$t") -set_cover_merge=1 -artifact_prefix="$w/merge-crashes/" \
       "$w/merged" "$w/old" "${new_dirs[@]}" >"$w/merge.log" 2>&1; then
    cp "$w"/merged/* "$root/corpus/$t/" 2>/dev/null
    # crashers among the old inputs go back (their artifact is named crash-<sha1 of the input>)
    for a in "$w"/merge-crashes/*; do
      [ -f "$a" ] || continue
      sum=${a##*-}
      for o in "$w"/old/*; do
        [ -f "$o" ] && [ "$(sha1sum <"$o" | cut -c1-40)" = "$sum" ] && cp "$o" "$root/corpus/$t/"
      done
    done
  else
    log "$t: merge failed or hit its ${merge_cap}s cap (see $w/merge.log); old corpus kept"
    cp "$w"/old/* "$root/corpus/$t/" 2>/dev/null
  fi
  after=$(find "$root/corpus/$t" -maxdepth 1 -type f | wc -l)

  # ---- crashes: libFuzzer artifacts, AFL++ crashes/ (afl-fuzz exits 0 with crashes), merge ----
  for f in "$w"/artifacts/* "$w"/afl/*/crashes/id* "$w"/merge-crashes/*; do
    [ -f "$f" ] || continue
    crashed=$((crashed + 1))
    [ $(now) -ge $tdl ] && [ $distinct -gt 0 ] && continue   # out of time: counted, not replayed
    dedup_crash "$t" "$f" "$f" && distinct=$((distinct + 1))
  done
  [ $crashed -gt 0 ] && any_crash=1
  # coverage of the merged set, from the merge itself (no second replay)
  cov=$(sed -nE 's/^MERGE-OUTER: [0-9]+ new files with ([0-9]+) new features added; ([0-9]+) new coverage edges.*/\2 edges, \1 features/p' "$w/merge.log" | tail -1)
  execs=$((lf_execs + afl_execs))
  secs=$((lf_secs + afl_secs))
  summary+=("$(printf '%-13s %10s execs %6s exec/s  merged %-24s corpus %4d -> %-4d crash files %d, distinct %d' \
    "$t" "$execs" "$(rate $execs $secs)" "${cov:-n/a}" "$before" "$after" "$crashed" "$distinct")")
done

echo
echo "=== fuzz summary (FUZZ_TIME=${FUZZ_TIME}s, wall $(( $(now) - t0 ))s, builds ${build_s}s, engines: $([ $use_lf = 1 ] && echo -n 'libFuzzer ')$([ $use_afl = 1 ] && echo AFL++)) ==="
printf '%s\n' "${summary[@]}"
if [ $any_crash = 1 ]; then
  echo "crashes (one file per distinct stack): $crashes"
  grep -E '^[^ ]' "$crashes/REPRODUCE.txt" 2>/dev/null | sed 's/^/  /'
  echo "reproduce with the commands in $crashes/REPRODUCE.txt"
  exit 1
fi
[ $any_fail = 1 ] && { echo "a fuzzer failed to run (see the log lines above)"; exit 2; }
echo "no crashes"
