#!/bin/bash
# ci/fuzz.sh — the overnight fuzzer behind `make fuzz` (docs/fuzzing.md).
#   FUZZ_TIME     total wall-clock seconds for all targets (default 28800 = 8 h), split by weight
#   FUZZ_TARGETS  targets to run (default: fuzz_ops fuzz_ops_mt fuzz_env fuzz_classes)
#   FUZZ_ENGINES  "libfuzzer afl" (default), or one of them
#   FUZZ_OUT      where logs, work corpora and crashes go (default build/fuzz-out)
# Per target: libFuzzer with -fork=2 (both cores) for 2/3 of its slice, then AFL++ -M/-S (both
# cores) for 1/3, both ASan builds of the same sources. New coverage from both is merged into
# corpus/<target>/ (-set_cover_merge=1 of the old merged inputs and the new ones: a small set
# with every coverage feature; the hand-made seed-* files and regress/ are never touched).
# Crashes are copied to $FUZZ_OUT/crashes/ with REPRODUCE.txt. Exits 1 if anything crashed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
FUZZ_TIME=${FUZZ_TIME:-28800}
FUZZ_TARGETS=${FUZZ_TARGETS:-fuzz_ops fuzz_ops_mt fuzz_env fuzz_classes}
FUZZ_ENGINES=${FUZZ_ENGINES:-libfuzzer afl}
out=${FUZZ_OUT:-$root/build/fuzz-out}
lf_build=$root/build/fuzz-libfuzzer
afl_build=$root/build/fuzz-afl
crashes=$out/crashes
mkdir -p "$out" "$crashes"
log() { printf '[fuzz %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# ---- builds -------------------------------------------------------------------------------------
common=(-G Ninja -DCMAKE_BUILD_TYPE=Debug -DHAK_DEBUG=2 "-DCMAKE_C_FLAGS_DEBUG=-O1 -g"
        -DHAK_BUILD_TESTS=OFF -DHAK_BUILD_BENCH=OFF -DHAK_BUILD_PROPS=OFF -DHAK_FUZZ_SMOKE=OFF)
log "building libFuzzer targets (clang, ASan + UBSan) in $lf_build"
cmake -S . -B "$lf_build" "${common[@]}" -DCMAKE_C_COMPILER=clang -DHAK_SANITIZER=asan >"$out/build-libfuzzer.log" 2>&1 &&
  cmake --build "$lf_build" --target $FUZZ_TARGETS >>"$out/build-libfuzzer.log" 2>&1 ||
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

weight() { case $1 in fuzz_ops) echo 40 ;; fuzz_ops_mt) echo 30 ;; *) echo 15 ;; esac; }
total_w=0
for t in $FUZZ_TARGETS; do total_w=$((total_w + $(weight "$t"))); done
lf_opts() {   # [libfuzzer] section of fuzz/<t>.options as flags
  sed -n '/^\[libfuzzer\]/,/^\[/{/=/p}' "fuzz/$1.options" 2>/dev/null | sed 's/[[:space:]]*=[[:space:]]*/=/; s/^[[:space:]]*/-/'
}
opt_value() { sed -n "s/^$2[[:space:]]*=[[:space:]]*//p" "fuzz/$1.options" 2>/dev/null | head -1; }

summary=()
any_crash=0
for t in $FUZZ_TARGETS; do
  slice=$((FUZZ_TIME * $(weight "$t") / total_w))
  [ $slice -lt 10 ] && slice=10
  lf_time=$slice afl_time=0
  if [ $use_afl = 1 ] && [ $use_lf = 1 ]; then afl_time=$((slice / 3)); lf_time=$((slice - afl_time)); fi
  [ $use_lf = 0 ] && { lf_time=0; afl_time=$slice; }
  w=$out/$t
  rm -rf "$w"
  mkdir -p "$w/corpus" "$w/artifacts" "$w/afl-in"
  bin=$lf_build/fuzz/$t
  execs=0 crashed=0

  # ---- libFuzzer, fork mode over both cores ----
  if [ $lf_time -gt 0 ]; then
    log "$t: libFuzzer -fork=2 for ${lf_time}s (log $w/libfuzzer.log)"
    # shellcheck disable=SC2046
    (cd "$w" && "$bin" $(lf_opts "$t") -dict="$root/fuzz/$t.dict" -fork=2 -max_total_time="$lf_time" \
        -artifact_prefix="$w/artifacts/" -print_final_stats=1 "$w/corpus" "$root/corpus/$t") \
        >"$w/libfuzzer.log" 2>&1 &
    pid=$!
    while kill -0 $pid 2>/dev/null; do
      sleep 10
      line=$(grep -E '^#[0-9]+' "$w/libfuzzer.log" | tail -1)
      [ -n "$line" ] && log "$t: $line"
    done
    wait $pid
    lf_execs=$(grep -E '^#[0-9]+' "$w/libfuzzer.log" | tail -1 | sed -E 's/^#([0-9]+).*/\1/')
    execs=$((execs + ${lf_execs:-0}))
  fi

  # ---- AFL++, -M main and -S secondary ----
  if [ $afl_time -gt 0 ]; then
    max_len=$(opt_value "$t" max_len)
    find "$root/corpus/$t" "$w/corpus" -type f ! -name 'README*' -size -"${max_len:-4096}"c \
      -exec cp {} "$w/afl-in/" \; 2>/dev/null
    log "$t: AFL++ -M/-S for ${afl_time}s (logs $w/afl-*.log)"
    export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_QUIET=1
    afl-fuzz -M main -i "$w/afl-in" -o "$w/afl" -V "$afl_time" -x "fuzz/$t.dict" -t 10000 \
      -- "$afl_build/fuzz/$t" >"$w/afl-main.log" 2>&1 &
    p1=$!
    afl-fuzz -S sec1 -i "$w/afl-in" -o "$w/afl" -V "$afl_time" -t 10000 \
      -- "$afl_build/fuzz/$t" >"$w/afl-sec1.log" 2>&1 &
    p2=$!
    wait $p1 $p2
    for inst in main sec1; do
      st=$w/afl/$inst/fuzzer_stats
      [ -f "$st" ] || { log "$t: AFL++ $inst wrote no stats (see $w/afl-$inst.log)"; continue; }
      e=$(sed -n 's/^execs_done *: *//p' "$st")
      execs=$((execs + ${e:-0}))
      log "$t: AFL++ $inst: $e execs, $(sed -n 's/^bitmap_cvg *: *//p' "$st") map, $(sed -n 's/^saved_crashes *: *//p' "$st") crashes"
    done
  fi

  # ---- crashes: libFuzzer artifacts and AFL++ crashes/ folders (afl-fuzz exits 0 with crashes) ----
  for f in "$w"/artifacts/* "$w"/afl/*/crashes/id*; do
    [ -f "$f" ] || continue
    crashed=$((crashed + 1))
    name=$t-$(sha1sum "$f" | cut -c1-12)
    cp "$f" "$crashes/$name"
    {
      echo "$name  (from ${f#$out/})"
      echo "  $bin $crashes/$name"
      echo "  $root/build/debug/fuzz/${t}_replay -v $crashes/$name   # any preset's replay binary"
      echo "  $bin -minimize_crash=1 -runs=20000 -exact_artifact_path=$crashes/$name.min $crashes/$name"
    } >>"$crashes/REPRODUCE.txt"
  done
  [ $crashed -gt 0 ] && any_crash=1

  # ---- merge new coverage into the checked-in corpus ----
  # -set_cover_merge=1 over (old merged files + new inputs) keeps a small set with every feature;
  # the hand-made seed-* files and regress/ always stay.
  new_dirs=("$w/corpus")
  for q in "$w"/afl/*/queue; do [ -d "$q" ] && new_dirs+=("$q"); done
  before=$(find "corpus/$t" -maxdepth 1 -type f | wc -l)
  rm -rf "$w/old" "$w/merged"
  mkdir -p "$w/old" "$w/merged"
  find "corpus/$t" -maxdepth 1 -type f ! -name 'seed-*' -exec mv {} "$w/old/" \;
  # shellcheck disable=SC2046
  if "$bin" $(lf_opts "$t") -set_cover_merge=1 "$w/merged" "$w/old" "${new_dirs[@]}" >"$w/merge.log" 2>&1; then
    cp "$w"/merged/* "corpus/$t/" 2>/dev/null
  else
    log "$t: merge failed (see $w/merge.log); old corpus kept"
    cp "$w"/old/* "corpus/$t/" 2>/dev/null
  fi
  after=$(find "corpus/$t" -maxdepth 1 -type f | wc -l)
  cov=$("$bin" -runs=0 "corpus/$t" 2>&1 | grep -E 'INITED|DONE' | tail -1 | sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+).*/\1 edges, \2 features/')
  summary+=("$(printf '%-13s %12s execs  %-28s corpus %4d -> %-4d crashes %d' "$t" "$execs" "${cov:-n/a}" "$before" "$after" "$crashed")")
done

echo
echo "=== fuzz summary (FUZZ_TIME=${FUZZ_TIME}s, engines: $([ $use_lf = 1 ] && echo -n 'libFuzzer ')$([ $use_afl = 1 ] && echo AFL++)) ==="
printf '%s\n' "${summary[@]}"
if [ $any_crash = 1 ]; then
  echo "crashes: $crashes (reproduce with the commands in $crashes/REPRODUCE.txt)"
  exit 1
fi
echo "no crashes"
