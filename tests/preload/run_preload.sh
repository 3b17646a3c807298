#!/bin/sh
# Runs real programs nobody here wrote with libhakmem.so preloaded and checks their output.
# usage: run_preload.sh LIBHAKMEM CASE      CASE: envwarn | python | sort | gcc | gxx | git | vlimit
# Exit 0 pass, 1 fail, 77 skip (the program is not installed).
set -u
LIB=${1:?usage: run_preload.sh LIBHAKMEM CASE}
CASE=${2:?usage: run_preload.sh LIBHAKMEM CASE}
case $LIB in /*) ;; *) LIB=$(pwd)/$LIB ;; esac
[ -f "$LIB" ] || { echo "FAIL: no library at $LIB"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-preload.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT INT TERM
# a clean environment for the programs: no inherited hakmem tuning, C locale
unset HAKMEM_PREWARM_SUPERSLABS HAKMEM_SUPERSLAB_MAX_CACHED HAKMEM_SUPERSLAB_MAX_MEMORY_MB \
      HAKMEM_SUPERSLAB_TTL_SEC 2>/dev/null || true
LC_ALL=C; export LC_ALL

fail() { echo "FAIL [$CASE]: $*"; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "SKIP [$CASE]: $1 not installed"; exit 77; }; }
# pre CMD...: run with hakmem preloaded; stderr goes to $WORK/stderr and is checked for hakmem lines
pre() { LD_PRELOAD=$LIB "$@" 2>"$WORK/stderr"; }
no_hakmem_noise() {
  if grep -q 'hakmem:' "$WORK/stderr"; then
    cat "$WORK/stderr"; fail "hakmem printed a message: $(grep 'hakmem:' "$WORK/stderr" | head -1)"
  fi
}

case $CASE in
envwarn)
  # proves the library is loaded and parsed the environment: one warning line naming the variable,
  # the bad value and the default it used instead
  need sort
  printf 'b\na\n' >"$WORK/in"
  out=$(HAKMEM_SUPERSLAB_TTL_SEC=notanumber pre sort "$WORK/in") || { cat "$WORK/stderr"; fail "sort failed"; }
  [ "$out" = "$(printf 'a\nb')" ] || fail "sort output wrong: $out"
  n=$(grep -c '^hakmem:' "$WORK/stderr")
  [ "$n" -eq 1 ] || { cat "$WORK/stderr"; fail "expected exactly 1 'hakmem:' warning line, got $n"; }
  line=$(grep '^hakmem:' "$WORK/stderr")
  echo "warning: $line"
  case $line in *HAKMEM_SUPERSLAB_TTL_SEC*) ;; *) fail "warning does not name HAKMEM_SUPERSLAB_TTL_SEC" ;; esac
  case $line in *notanumber*) ;; *) fail "warning does not show the bad value 'notanumber'" ;; esac
  printf '%s\n' "$line" | grep -Eq 'default[^0-9]*60([^0-9]|$)' || fail "warning does not show the default TTL (60)"
  # an unknown HAKMEM_* variable is reported once too
  HAKMEM_NO_SUCH_KNOB=1 pre sort "$WORK/in" >/dev/null || fail "sort failed with an unknown variable"
  n=$(grep -c '^hakmem:' "$WORK/stderr")
  [ "$n" -eq 1 ] && grep -q 'HAKMEM_NO_SUCH_KNOB' "$WORK/stderr" ||
    { cat "$WORK/stderr"; fail "expected one 'hakmem:' line naming HAKMEM_NO_SUCH_KNOB, got $n"; }
  # and a good value gives no warning at all
  HAKMEM_SUPERSLAB_TTL_SEC=30 pre sort "$WORK/in" >/dev/null || fail "sort failed with a valid TTL"
  no_hakmem_noise
  ;;
python)
  PY=/usr/bin/python3
  [ -x "$PY" ] || { echo "SKIP [$CASE]: $PY not installed"; exit 77; }
  cat >"$WORK/work.py" <<'PYEOF'
import hashlib, json, random, sys, threading
random.seed(1234)
d = {}
for i in range(100000):
    d["k%d" % i] = [i, str(i) * (i % 7), {"x": i * 0.5}]
lst = [random.random() for _ in range(200000)]
lst.sort()
s = json.dumps(d, sort_keys=True)
d2 = json.loads(s)
assert d2 == d, "json round trip differs"
words = sorted(("w%06d" % random.randrange(10**6)) * (1 + i % 5) for i in range(100000))
# grow and shrink big objects: realloc paths, large blocks
big = bytearray()
for i in range(2000):
    big += bytes([i & 255]) * (i % 3000)
del big[::3]
results = []
def work(n):
    x = {j: str(j) * 3 for j in range(n)}
    results.append(sum(len(v) for v in x.values()))
ts = [threading.Thread(target=work, args=(20000 + k,)) for k in range(4)]
for t in ts: t.start()
for t in ts: t.join()
h = hashlib.sha256()
h.update(s.encode()); h.update(repr(lst[:1000]).encode()); h.update("".join(words[:5000]).encode())
h.update(bytes(big)); h.update(repr(sorted(results)).encode())
print(len(d2), len(s), len(words), len(big), sorted(results), h.hexdigest())
PYEOF
  "$PY" "$WORK/work.py" >"$WORK/expected" || fail "python without hakmem failed"
  pre "$PY" "$WORK/work.py" >"$WORK/got" || { cat "$WORK/stderr"; fail "python under hakmem failed (rc $?)"; }
  cmp -s "$WORK/expected" "$WORK/got" || fail "python output differs: $(cat "$WORK/got") vs $(cat "$WORK/expected")"
  no_hakmem_noise
  echo "python: $(cat "$WORK/got")"
  ;;
sort)
  need sort; need awk
  awk 'BEGIN { x = 12345; for (i = 0; i < 300000; i++) { x = (x * 1103515245 + 12345) % 2147483648;
       printf "%d %s line-%d\n", x % 1000003, substr("abcdefghijklmnopqrstuvwxyz", x % 26 + 1, x % 13), i } }' \
      >"$WORK/in" || fail "awk failed"
  for args in "" "-n" "-k2,2 -k1,1n" "-r -u"; do
    # shellcheck disable=SC2086
    sort $args "$WORK/in" >"$WORK/expected" || fail "sort $args without hakmem failed"
    # shellcheck disable=SC2086
    pre sort $args "$WORK/in" >"$WORK/got" || { cat "$WORK/stderr"; fail "sort $args under hakmem failed"; }
    cmp -s "$WORK/expected" "$WORK/got" || fail "sort $args output differs from the system allocator's"
    no_hakmem_noise
  done
  # threads and temporary files: small buffer, two threads
  sort -n --parallel=2 -S 2M -T "$WORK" "$WORK/in" >"$WORK/expected" || fail "sort --parallel without hakmem failed"
  pre sort -n --parallel=2 -S 2M -T "$WORK" "$WORK/in" >"$WORK/got" || { cat "$WORK/stderr"; fail "sort --parallel under hakmem failed"; }
  cmp -s "$WORK/expected" "$WORK/got" || fail "sort --parallel output differs"
  no_hakmem_noise
  echo "sort: $(wc -l <"$WORK/got") lines sorted identically in 5 modes"
  ;;
gcc)
  need gcc
  cat >"$WORK/prog.c" <<'CEOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; int v; };
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int main(void) {
  struct node *head = NULL;
  for (int i = 0; i < 100000; i++) {
    struct node *n = malloc(sizeof *n);
    if (!n) return 1;
    n->v = (i * 7919) % 100003; n->next = head; head = n;
  }
  int *a = calloc(100000, sizeof *a), k = 0;
  for (struct node *n = head; n; n = n->next) a[k++] = n->v;
  qsort(a, k, sizeof *a, cmp);
  char *s = NULL; size_t len = 0;
  for (int i = 0; i < 1000; i++) {
    s = realloc(s, len + 16);
    len += (size_t)sprintf(s + len, "%d,", a[i * 100]);
  }
  unsigned long h = 5381;
  for (size_t i = 0; i < len; i++) h = h * 33 + (unsigned char)s[i];
  printf("n=%d min=%d max=%d len=%zu hash=%lu\n", k, a[0], a[k - 1], len, h);
  while (head) { struct node *n = head->next; free(head); head = n; }
  free(a); free(s);
  return 0;
}
CEOF
  gcc -O2 -o "$WORK/prog_sys" "$WORK/prog.c" || fail "gcc without hakmem failed"
  "$WORK/prog_sys" >"$WORK/expected" || fail "program built without hakmem failed"
  pre gcc -O2 -Wall -o "$WORK/prog_hak" "$WORK/prog.c" || { cat "$WORK/stderr"; fail "gcc under hakmem failed"; }
  no_hakmem_noise
  cmp -s "$WORK/prog_sys" "$WORK/prog_hak" || echo "note: binaries differ (not required to be identical)"
  pre "$WORK/prog_hak" >"$WORK/got" || { cat "$WORK/stderr"; fail "compiled program under hakmem failed"; }
  cmp -s "$WORK/expected" "$WORK/got" || fail "program output differs: $(cat "$WORK/got") vs $(cat "$WORK/expected")"
  no_hakmem_noise
  echo "gcc: $(cat "$WORK/got")"
  ;;
gxx)
  # C++ through hakmem's operators new and delete: g++ (cc1plus is C++) compiles a program of
  # standard containers, strings, shared pointers and exceptions, and the program runs, at the
  # default level and at strict and paranoid, where every block's family (malloc, new, new[]) is
  # checked at free
  need g++
  cat >"$WORK/prog.cpp" <<'CEOF'
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>
struct Node { std::string name; std::vector<int> v; };
int main() {
  std::map<std::string, std::shared_ptr<Node>> m;
  for (int i = 0; i < 20000; i++) {
    auto n = std::make_shared<Node>();
    n->name = "node" + std::to_string(i * 7919 % 100003);
    n->v.assign(i % 50, i);
    m[n->name] = n;
  }
  unsigned long h = 5381, caught = 0;
  for (auto &kv : m) for (int x : kv.second->v) h = h * 33 + (unsigned long)x;
  for (int i = 0; i < 1000; i++) {
    try { if (i % 3 == 0) throw std::runtime_error(std::string(i % 200, 'x')); } catch (const std::exception &e) { caught++; }
    int *a = new int[i + 1]; a[i] = i; h += (unsigned long)a[i]; delete[] a;
  }
  std::printf("n=%zu caught=%lu hash=%lu\n", m.size(), caught, h);
  return 0;
}
CEOF
  g++ -O2 -o "$WORK/prog_sys" "$WORK/prog.cpp" || fail "g++ without hakmem failed"
  "$WORK/prog_sys" >"$WORK/expected" || fail "program built without hakmem failed"
  for level in fast strict paranoid; do
    HAKMEM_HARDEN=$level pre g++ -O2 -Wall -o "$WORK/prog_hak" "$WORK/prog.cpp" ||
      { cat "$WORK/stderr"; fail "g++ under hakmem ($level) failed"; }
    no_hakmem_noise
    HAKMEM_HARDEN=$level pre "$WORK/prog_hak" >"$WORK/got" ||
      { cat "$WORK/stderr"; fail "compiled program under hakmem ($level) failed"; }
    cmp -s "$WORK/expected" "$WORK/got" || fail "program output ($level): $(cat "$WORK/got") vs $(cat "$WORK/expected")"
    no_hakmem_noise
  done
  echo "gxx: $(cat "$WORK/got")"
  ;;
git)
  need git
  HOME=$WORK/home; export HOME; mkdir -p "$HOME"
  GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=hakmem GIT_AUTHOR_EMAIL=t@example.invalid \
    GIT_COMMITTER_NAME=hakmem GIT_COMMITTER_EMAIL=t@example.invalid \
    GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
  export GIT_CONFIG_NOSYSTEM GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL \
    GIT_AUTHOR_DATE GIT_COMMITTER_DATE
  repo=$WORK/repo
  pre git init -q -b main "$repo" || { cat "$WORK/stderr"; fail "git init failed"; }
  cd "$repo" || fail "cd"
  for c in 1 2 3; do
    i=0
    while [ $i -lt 50 ]; do echo "commit $c file $i $(printf '%0100d' $((c * i)))" >"f$i.txt"; i=$((i + 1)); done
    pre git add -A || { cat "$WORK/stderr"; fail "git add failed"; }
    pre git commit -q -m "commit number $c" || { cat "$WORK/stderr"; fail "git commit failed"; }
    no_hakmem_noise
  done
  pre git log --format=%s >"$WORK/got" || { cat "$WORK/stderr"; fail "git log failed"; }
  printf 'commit number 3\ncommit number 2\ncommit number 1\n' >"$WORK/expected"
  cmp -s "$WORK/expected" "$WORK/got" || fail "git log output: $(cat "$WORK/got")"
  pre git fsck --strict --no-progress || { cat "$WORK/stderr"; fail "git fsck failed"; }
  pre git gc -q || { cat "$WORK/stderr"; fail "git gc failed"; }
  h_pre=$(pre git rev-parse HEAD)
  h_sys=$(git rev-parse HEAD)
  [ "$h_pre" = "$h_sys" ] || fail "rev-parse differs: $h_pre vs $h_sys"
  # the commit ids are a pure function of content, names and dates: same as the system allocator's
  sys_repo=$WORK/sysrepo
  git init -q -b main "$sys_repo" && cd "$sys_repo" || fail "git init (system)"
  for c in 1 2 3; do
    i=0
    while [ $i -lt 50 ]; do echo "commit $c file $i $(printf '%0100d' $((c * i)))" >"f$i.txt"; i=$((i + 1)); done
    git add -A && git commit -q -m "commit number $c" || fail "git commit (system)"
  done
  [ "$(git rev-parse HEAD)" = "$h_pre" ] || fail "commit id differs from the system allocator's run"
  no_hakmem_noise
  echo "git: 3 commits, HEAD $h_pre, fsck and gc clean"
  ;;
vlimit)
  # under a small address-space limit (ulimit -v, KiB) real programs start and work: the
  # allocator's own reservations stay in proportion to use
  need ls
  need sort
  LIMIT_KB=100000
  mkdir "$WORK/d" && printf 'c\nb\na\n' >"$WORK/in" && : >"$WORK/d/one" && : >"$WORK/d/two"
  out=$( (ulimit -v $LIMIT_KB && pre ls "$WORK/d") ) || { cat "$WORK/stderr"; fail "ls failed under ulimit -v $LIMIT_KB"; }
  [ "$out" = "$(printf 'one\ntwo')" ] || fail "ls output wrong under ulimit -v: '$out'"
  out=$( (ulimit -v $LIMIT_KB && pre sort "$WORK/in") ) || { cat "$WORK/stderr"; fail "sort failed under ulimit -v $LIMIT_KB"; }
  [ "$out" = "$(printf 'a\nb\nc')" ] || fail "sort output wrong under ulimit -v: '$out'"
  no_hakmem_noise
  if [ -x /usr/bin/python3 ]; then
    out=$( (ulimit -v $LIMIT_KB && pre /usr/bin/python3 -c 'print(sum(len(str(i) * 100) for i in range(20000)))') ) ||
      { cat "$WORK/stderr"; fail "python3 failed under ulimit -v $LIMIT_KB"; }
    [ "$out" = "8889000" ] || fail "python3 output wrong under ulimit -v: '$out'"
    no_hakmem_noise
  fi
  echo "vlimit: ls, sort$([ -x /usr/bin/python3 ] && echo ', python3') ran under ulimit -v $LIMIT_KB"
  ;;
*)
  fail "unknown case '$CASE'"
  ;;
esac
echo "PASS [$CASE]"
exit 0
