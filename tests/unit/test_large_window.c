/* The large tier's reuse window: at the quarantine levels (strict, paranoid) a freed large mapping
 * is not handed out again until Q later large frees have happened (Q = hm_large_window(): 8 at
 * strict, 32 at paranoid, 0 below). Q + 1 blocks of one size (256 KiB, a medium size, and 1 MiB),
 * all live, are freed in order: the next malloc of the size returns none of the last Q freed and
 * returns the oldest, the (Q + 1)-th newest, when Q > 0 (at off and fast: the newest). While in the
 * window a mapping stays registered and PROT_NONE: a second free of it is "double free" (a forked
 * child, SIGABRT), a write segfaults. A block over the 16 MiB the cache keeps (20 MiB) is kept in
 * the window too, purged: the next malloc of its size gets another address. Every invariant holds
 * after each step (hak_check). Run at every level (tests/unit/CMakeLists.txt). */
#include <signal.h>
#include <sys/wait.h>
#include "hak_test.h"
#include "internal.h"

unsigned hm_large_window(void);   /* large.c */

#define QMAX 32

static int child_status(void (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    signal(SIGSEGV, SIG_DFL);   /* a sanitizer's handler (UBSan's) would turn the fault into an exit */
    fn(arg);
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  return status;
}

/* SIGSEGV; under ASan its handler reports the fault and exits non-zero */
static bool faulted(int s) {
#ifdef TEST_ASAN
  if (WIFEXITED(s) && WEXITSTATUS(s) != 0) return true;
#endif
  return WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV;
}

static void free_it(void *p) { hak_free(p); }
static void write_it(void *p) { *(volatile char *)p = 1; }

static void round_of(size_t size, unsigned q) {
  void *p[QMAX + 1];
  hak_trim();   /* an empty cache: only this round's mappings */
  for (unsigned i = 0; i <= q; i++) {
    p[i] = hak_malloc(size);
    CHECK(p[i] != NULL);
    memset(p[i], 0x33, size);
  }
  for (unsigned i = 0; i <= q; i++) hak_free(p[i]);   /* p[q] is the newest */
  CHECK_OK();
  CHECK(st().large_cached == q + 1, "%zu: cached %llu, want %u", size,
        (unsigned long long)st().large_cached, q + 1);
  if (q > 0) {   /* the newest freed: registered and PROT_NONE */
    int s = child_status(free_it, p[q]);
    CHECK(WIFSIGNALED(s) && WTERMSIG(s) == SIGABRT, "%zu: a second free of a block in the window: status %#x", size, s);
    s = child_status(write_it, p[q]);
    CHECK(faulted(s), "%zu: a write into a block in the window: status %#x", size, s);
  }
  char *n = hak_malloc(size);
  CHECK(n != NULL);
  for (unsigned i = 1; i <= q; i++)
    CHECK(n != p[i], "%zu: the block freed %u frees ago came back (window %u)", size, q - i, q);
  CHECK(n == p[0], "%zu: the (Q+1)-th newest freed block (%p) was not reused: got %p (window %u)", size,
        p[0], (void *)n, q);
  memset(n, 0x44, size);
  hak_free(n);
  CHECK_OK();
  hak_trim();
  CHECK(st().large_cached == 0);
}

/* A block too big for the cache: kept (purged) in the window at the quarantine levels, unmapped
 * at once below them. */
static void big_round(unsigned q) {
  size_t size = (size_t)20 << 20;
  hak_trim();
  char *p = hak_malloc(size);
  CHECK(p != NULL);
  memset(p, 0x55, size);
  hak_free(p);
  CHECK_OK();
  CHECK(st().large_cached == (q > 0 ? 1u : 0u), "20 MiB: cached %llu", (unsigned long long)st().large_cached);
  if (q > 0) {
    CHECK(st().large_cached_purged == 1);
    int s = child_status(free_it, p);
    CHECK(WIFSIGNALED(s) && WTERMSIG(s) == SIGABRT, "20 MiB: a second free in the window: status %#x", s);
    char *n = hak_malloc(size);
    CHECK(n != NULL && n != p, "20 MiB: the block in the window came back");
    hak_free(n);
  }
  CHECK_OK();
  hak_trim();
}

int main(void) {
  hak_free(hak_malloc(1));
  unsigned q = hm_large_window();
  uint64_t level = st().harden_level;
  CHECK(q == (level == 2 ? 8u : level == 3 ? 32u : 0u), "level %llu: window %u",
        (unsigned long long)level, q);
  if (level >= 2) round_of((size_t)256 << 10, q);   /* a medium size: large at the strict levels */
  round_of((size_t)1 << 20, q);
  big_round(q);
  printf("large_window: level %llu, window %u: ok\n", (unsigned long long)level, q);
  return 0;
}
