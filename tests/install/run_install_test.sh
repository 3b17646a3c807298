#!/bin/sh
# shellcheck disable=SC2016  # the sh -c scripts below expand in the launched command
# Installs hakmem into a scratch prefix and uses it the three ways a user would:
#   1. pkg-config --cflags --libs hakmem, cc, run (shared drop-in)
#   2. a CMake project with find_package(hakmem): hakmem::hakmem and hakmem::hakmem_static, run
#   3. the installed launcher: P/bin/hakmem run -- /bin/true, and that it preloads P's library
# usage: run_install_test.sh BUILD_DIR PREFIX CONSUMER_SRC CC CMAKE GENERATOR
# Exit 0 pass, 1 fail, 77 skip (pkg-config missing).
set -u
BUILD=${1:?usage: run_install_test.sh BUILD_DIR PREFIX CONSUMER_SRC CC CMAKE GENERATOR}
P=${2:?}
SRC=${3:?}
CC=${4:?}
CMAKE=${5:?}
GEN=${6:?}

fail() { echo "FAIL: $*"; exit 1; }
step() { echo "--- $*"; }
# no inherited tuning: the runs below must print no hakmem line
for v in $(env | sed -n 's/^\(HAKMEM_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD DESTDIR
LC_ALL=C; export LC_ALL

rm -rf "$P"
step "cmake --install $BUILD --prefix $P"
"$CMAKE" --install "$BUILD" --prefix "$P" >"$BUILD/install-test.log" 2>&1 || { cat "$BUILD/install-test.log"; fail "cmake --install"; }
P=$(cd "$P" && pwd -P) || fail "no prefix directory"
WORK=$P/work
mkdir -p "$WORK"

for f in lib/libhakmem.so lib/libhakmem.so.0 lib/libhakmem.so.0.1.0 lib/libhakmem.a include/hakmem.h \
         lib/pkgconfig/hakmem.pc lib/cmake/hakmem/hakmem-config.cmake \
         lib/cmake/hakmem/hakmem-config-version.cmake lib/cmake/hakmem/hakmem-targets.cmake bin/hakmem; do
  [ -e "$P/$f" ] || fail "not installed: $f"
done
[ -x "$P/bin/hakmem" ] || fail "bin/hakmem is not executable"
if [ ! -L "$P/lib/libhakmem.so" ] || [ ! -L "$P/lib/libhakmem.so.0" ]; then
  fail "libhakmem.so and libhakmem.so.0 are not symlinks"
fi
echo "installed files: ok"

step "pkg-config"
PKG_CONFIG=$(command -v pkg-config || command -v pkgconf) || { echo "SKIP: pkg-config not installed (Debian: pkgconf)"; exit 77; }
PKG_CONFIG_PATH=$P/lib/pkgconfig; export PKG_CONFIG_PATH
flags=$("$PKG_CONFIG" --cflags --libs hakmem) || fail "pkg-config --cflags --libs hakmem"
echo "pkg-config --cflags --libs hakmem: $flags"
[ "$("$PKG_CONFIG" --modversion hakmem)" = 0.1.0 ] || fail "pkg-config --modversion"
# shellcheck disable=SC2086  # $flags is a list of words
"$CC" -o "$WORK/consumer_pc" "$SRC/consumer.c" $flags -Wl,-rpath,"$P/lib" || fail "build with pkg-config"
"$WORK/consumer_pc" "$P/lib" || fail "consumer built with pkg-config"

step "find_package(hakmem)"
"$CMAKE" -S "$SRC" -B "$WORK/cmake-build" -G "$GEN" -DCMAKE_C_COMPILER="$CC" \
  -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=Release >"$WORK/cmake.log" 2>&1 \
  || { cat "$WORK/cmake.log"; fail "configure the find_package consumer"; }
"$CMAKE" --build "$WORK/cmake-build" >>"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log"; fail "build the find_package consumer"; }
"$WORK/cmake-build/consumer_shared" "$P/lib" || fail "consumer linked to hakmem::hakmem"
"$WORK/cmake-build/consumer_static" || fail "consumer linked to hakmem::hakmem_static"

step "launcher"
L=$P/bin/hakmem
"$L" run -- /bin/true 2>"$WORK/stderr" || { cat "$WORK/stderr"; fail "hakmem run -- /bin/true"; }
[ ! -s "$WORK/stderr" ] || { cat "$WORK/stderr"; fail "hakmem run -- /bin/true printed something"; }
# the command really runs with P's library preloaded (grep reads its own maps)
grep -q " $P/lib/libhakmem.so" /proc/self/maps 2>/dev/null && fail "the test shell itself has hakmem mapped"
"$L" run -- grep -q " $P/lib/libhakmem.so" /proc/self/maps || fail "hakmem run did not preload $P/lib/libhakmem.so"
# an existing LD_PRELOAD is kept, after hakmem's
out=$(LD_PRELOAD=/nonexistent-preload.so "$L" run -- sh -c 'echo "$LD_PRELOAD"' 2>/dev/null)
[ "$out" = "$P/lib/libhakmem.so:/nonexistent-preload.so" ] || fail "LD_PRELOAD not prepended: $out"
out=$("$L" run --harden strict --prewarm 2 -- sh -c 'echo "$HAKMEM_HARDEN $HAKMEM_PREWARM_SUPERSLABS ${HAKMEM_LIB-nolib}"')
[ "$out" = "strict 2 nolib" ] || fail "run options not exported: $out"
HAKMEM_LIB=$P/lib/libhakmem.so.0 "$L" run -- sh -c 'echo "$LD_PRELOAD ${HAKMEM_LIB-unset}"' >"$WORK/out" 2>"$WORK/stderr"
[ "$(cat "$WORK/out")" = "$P/lib/libhakmem.so.0 unset" ] || fail "HAKMEM_LIB not used, or passed on: $(cat "$WORK/out")"
[ ! -s "$WORK/stderr" ] || { cat "$WORK/stderr"; fail "HAKMEM_LIB reached the library"; }
# usage errors: exit 2 (each case is a list of arguments after "run")
for bad in "--harden bogus -- /bin/true" "--harden" "--prewarm 4097 -- /bin/true" \
           "--prewarm -1 -- /bin/true" "--prewarm x -- /bin/true" "--nope -- /bin/true" \
           "--stats-file" "--stats-file -- /bin/true" "--stats" "--"; do
  # shellcheck disable=SC2086  # $bad is a list of words
  "$L" run $bad 2>/dev/null
  rc=$?
  [ $rc -eq 2 ] || fail "hakmem run $bad: exit $rc, want 2 (usage error)"
done
"$L" run 2>/dev/null; [ $? -eq 2 ] || fail "hakmem run (no command): want exit 2"
"$L" bogus 2>/dev/null; [ $? -eq 2 ] || fail "hakmem bogus: want exit 2"
"$L" --help | grep -q 'hakmem run' || fail "hakmem --help"
HAKMEM_HARDEN=nope "$L" env >"$WORK/env" || fail "hakmem env"
for v in HAKMEM_SUPERSLAB_MAX_CACHED HAKMEM_SUPERSLAB_MAX_MEMORY_MB HAKMEM_SUPERSLAB_TTL_SEC \
         HAKMEM_PURGE_DELAY_MS HAKMEM_PURGE_MADV_FREE \
         HAKMEM_PREWARM_SUPERSLABS HAKMEM_PREWARM_SUPERSLABS_C7 HAKMEM_HARDEN HAKMEM_STATS HAKMEM_STATS_FILE \
         HAKMEM_STATS_SIGNAL; do
  grep -q "^$v " "$WORK/env" || { cat "$WORK/env"; fail "hakmem env does not list $v"; }
done
grep -q '^HAKMEM_HARDEN *"nope" (bad' "$WORK/env" || { cat "$WORK/env"; fail "hakmem env does not flag a bad value"; }
# the statistics report (item 1 of the issue): once the API has hak_stats_print
if grep -q hak_stats_print "$P/include/hakmem.h"; then
  "$L" run --stats -- /bin/true 2>"$WORK/stderr" || fail "hakmem run --stats"
  grep -q 'unknown variable' "$WORK/stderr" && { cat "$WORK/stderr"; fail "the library does not know HAKMEM_STATS"; }
  [ -s "$WORK/stderr" ] || fail "hakmem run --stats printed no report"
  "$L" run --stats-file "$WORK/report" -- /bin/true 2>"$WORK/stderr" || fail "hakmem run --stats-file"
  [ ! -s "$WORK/stderr" ] || { cat "$WORK/stderr"; fail "hakmem run --stats-file printed on stderr"; }
  [ -s "$WORK/report" ] || fail "hakmem run --stats-file wrote no report"
  echo "statistics report: ok"
else
  echo "statistics report: not checked (hakmem.h has no hak_stats_print yet)"
fi
echo "launcher: ok"
echo "PASS"
