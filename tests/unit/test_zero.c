/* Zero-size blocks at the strict levels (zero.c; run with HAKMEM_HARDEN=strict and paranoid):
 * malloc(0), calloc(n, 0), realloc(p, 0), aligned_alloc(a, 0), posix_memalign(.., 0) and
 * memalign(a, 0) return distinct non-NULL pointers into PROT_NONE memory (read from
 * /proc/self/maps), aligned as asked; a read or a write faults (SIGSEGV, in a child); usable size
 * 0; realloc to n bytes gives a usable block and frees the slot; free_sized(p, 0) frees, a wrong
 * size aborts; double free, an interior pointer and a slot never handed out abort; a freed slot is
 * not handed out again at once; 200000 live slots need a second chunk; fork with another thread
 * allocating them; every invariant holds (hak_check) after each step. */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include "hak_test.h"
#include "internal.h"


static void is_zero_block(const char *how, void *p, size_t align) {
  CHECK(p != NULL, "%s: NULL", how);
  CHECK((hm_registry_lookup(p) & 3u) == HM_REG_ZERO, "%s: %p not in a zero-size chunk", how, p);
  CHECK(strcmp(test_prot_at((uintptr_t)p), "--") == 0, "%s: %p is %s, not PROT_NONE", how, p,
        test_prot_at((uintptr_t)p));
  CHECK((uintptr_t)p % align == 0, "%s: %p not aligned to %zu", how, p, align);
  CHECK(hak_malloc_usable_size(p) == 0, "%s: usable size %zu", how, hak_malloc_usable_size(p));
}

/* Runs `what` in a child: it must die by `sig`. (ASan's handler turns a SIGSEGV into an exit.) */
static void child_dies(const char *how, int sig, void (*what)(void *), void *arg) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    signal(SIGSEGV, SIG_DFL);   /* a sanitizer's handler (UBSan's) would turn the fault into an exit */
    if (sig == SIGABRT) {   /* keep the expected "hakmem: ..." line out of the log */
      FILE *n = freopen("/dev/null", "w", stderr);
      (void)n;
    }
    what(arg);
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
#ifdef TEST_ASAN
  bool ok = (WIFSIGNALED(status) && WTERMSIG(status) == sig) ||
            (sig == SIGSEGV && WIFEXITED(status) && WEXITSTATUS(status) != 0);
#else
  bool ok = WIFSIGNALED(status) && WTERMSIG(status) == sig;
#endif
  CHECK(ok, "%s: child status %#x, wanted signal %d", how, status, sig);
}

static void do_read(void *p) { (void)*(volatile char *)p; }
static void do_write(void *p) { *(volatile char *)p = 1; }
static void do_read_last(void *p) { (void)((volatile char *)p)[15]; }
static void do_free(void *p) { hak_free(p); }
static void do_free_sized_1(void *p) { hak_free_sized(p, 1); }
static void do_usable(void *p) { (void)hak_malloc_usable_size(p); }
static void do_realloc(void *p) { (void)hak_realloc(p, 10); }

static _Atomic int stop;
static void *churn(void *arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    void *p = hak_malloc(0);
    CHECK(p != NULL);
    hak_free(p);
  }
  return NULL;
}

/* Clauses of hm_zero_is_valid made to fail on a chunk in use, then repaired (debug builds only:
 * hak_check is empty at HAK_DEBUG 0). */
static void expect_invalid(const char *how, const char *want) {
  const char *why = hak_check();
  CHECK(hak_debug_level() == 0 || (why != NULL && strcmp(why, want) == 0), "%s: hak_check said %s",
        how, why ? why : "nothing");
}
static void validator_clauses(void) {
  void *z = hak_malloc(0);
  CHECK(z != NULL);
  hm_zero_chunk *c = (hm_zero_chunk *)(hm_registry_lookup(z) & ~(uintptr_t)3);
  enum { LAST = HM_ZERO_SLOTS / 64 - 1 };
  CHECK(c->ever[LAST] == 0, "the young chunk's last slots were handed out already");
  c->live[LAST] = 1;   /* a live slot never handed out */
  expect_invalid("live, never handed out", "zero: a live slot was never handed out");
  c->ever[LAST] = 1;   /* ... now handed out, but the live count disagrees */
  expect_invalid("live count", "zero: chunk descriptor fields (magic, live count, cursor, base)");
  c->live[LAST] = c->ever[LAST] = 0;
  uint32_t magic = c->magic;
  c->magic ^= 1;
  expect_invalid("magic", "zero: chunk descriptor fields (magic, live count, cursor, base)");
  c->magic = magic;
  CHECK_OK();
  hak_free(z);
}

int main(void) {
  hm_ensure_init();
  CHECK(hm_harden_level >= 2, "run at HAKMEM_HARDEN=strict or paranoid (level %d)", hm_harden_level);
  /* every way to ask for zero bytes */
  enum { K = 10 };
  void *b[K];
  b[0] = hak_malloc(0);
  b[1] = hak_calloc(7, 0);
  b[2] = hak_calloc(0, 7);
  b[3] = hak_realloc(NULL, 0);
  void *big = hak_malloc(100);
  CHECK(big != NULL);
  b[4] = hak_realloc(big, 0);   /* hak_realloc(p, 0) allocates: a zero-size block, big is freed */
  b[5] = hak_aligned_alloc(64, 0);
  CHECK(hak_posix_memalign(&b[6], 4096, 0) == 0);
  b[7] = hak_memalign(256, 0);
  b[8] = hak_memalign(65536, 0);          /* over a small class's alignment: a slot still */
  b[9] = hak_aligned_alloc(1u << 20, 0);  /* the slots' largest alignment, half a chunk */
  static const size_t align[K] = {16, 16, 16, 16, 16, 64, 4096, 256, 65536, 1u << 20};
  for (int i = 0; i < K; i++) {
    char how[32];
    snprintf(how, sizeof how, "block %d", i);
    is_zero_block(how, b[i], align[i]);
    for (int j = 0; j < i; j++) CHECK(b[i] != b[j], "blocks %d and %d are both %p", i, j, b[i]);
  }
  CHECK_OK();
  validator_clauses();   /* while the first chunk is young: its walk ends early */
  /* any access faults, frees and queries of a bad pointer abort */
  child_dies("read", SIGSEGV, do_read, b[0]);
  child_dies("write", SIGSEGV, do_write, b[0]);
  child_dies("read of byte 15", SIGSEGV, do_read_last, b[0]);
  child_dies("interior free", SIGABRT, do_free, (char *)b[0] + 8);
  child_dies("free of a slot never handed out", SIGABRT, do_free, (char *)b[6] + 4096 * 8);
  child_dies("free_sized with size 1", SIGABRT, do_free_sized_1, b[0]);
  child_dies("usable size of an interior pointer", SIGABRT, do_usable, (char *)b[0] + 4);
  /* free_sized(p, 0) frees it, and then it is a double free */
  hak_free_sized(b[1], 0);
  child_dies("double free", SIGABRT, do_free, b[1]);
  child_dies("realloc of a freed slot", SIGABRT, do_realloc, b[1]);
  /* realloc from a zero-size block: nothing to copy, the slot is freed */
  char *r = hak_realloc(b[2], 40);
  CHECK(r != NULL && hak_malloc_usable_size(r) >= 40 && (hm_registry_lookup(r) & 3u) != HM_REG_ZERO);
  memset(r, 0x5a, 40);
  child_dies("free after realloc moved it", SIGABRT, do_free, b[2]);
  hak_free(r);
  /* a freed slot is not the next one handed out */
  void *q = hak_malloc(0);
  is_zero_block("after frees", q, 16);
  CHECK(q != b[1] && q != b[2], "a freed slot came back at once");
  hak_free(q);
  /* each zero-size block counts as an allocation and its free as a free (class 0's row) */
  hak_stats_t s0 = st();
  void *zc = hak_malloc(0);
  hak_stats_t s1 = st();
  hak_free(zc);
  hak_stats_t s2 = st();
  CHECK(s1.counted_allocs == s0.counted_allocs + 1 && s2.counted_frees == s1.counted_frees + 1,
        "allocs %llu -> %llu, frees %llu -> %llu", (unsigned long long)s0.counted_allocs,
        (unsigned long long)s1.counted_allocs, (unsigned long long)s1.counted_frees,
        (unsigned long long)s2.counted_frees);
  /* ... nor is the slot freed last */
  void *z1 = hak_malloc(0);
  hak_free(z1);
  void *z2 = hak_malloc(0);
  CHECK(z2 != z1, "the slot just freed (%p) came back at once", z1);
  hak_free(z2);
  for (int i = 0; i < K; i++)
    if (i != 1 && i != 2) hak_free(b[i]);
  CHECK_OK();
  /* more than a chunk's slots live at once */
  enum { N = 200000 };
  void **many = hak_malloc(N * sizeof *many);
  CHECK(many != NULL);
  for (int i = 0; i < N; i++) {
    many[i] = hak_malloc(0);
    CHECK(many[i] != NULL && (hm_registry_lookup(many[i]) & 3u) == HM_REG_ZERO, "block %d", i);
    if (i > 0) CHECK(many[i] != many[i - 1]);
  }
  uint64_t live = 0;
  CHECK(hm_zero_chunks(&live) >= 2 && live == N, "chunks %zu, live %" PRIu64, hm_zero_chunks(NULL), live);
  CHECK_OK();
  for (int i = 0; i < N; i += 2) hak_free(many[i]);
  for (int i = 0; i < N / 2; i++) {   /* refill the holes: still distinct from the live ones */
    void *z = hak_malloc(0);
    CHECK(z != NULL);
    many[2 * i] = z;
  }
  CHECK_OK();
  for (int i = 0; i < N; i++) hak_free(many[i]);
  hak_free(many);
  CHECK(hm_zero_chunks(&live) >= 2 && live == 0);
  CHECK_OK();
  /* fork while another thread allocates and frees zero-size blocks: zero_lock is taken round fork */
  pthread_t t;
  CHECK(pthread_create(&t, NULL, churn, NULL) == 0);
  for (int i = 0; i < 20; i++) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      void *z = hak_malloc(0);
      if (z == NULL || hak_check() != NULL) _exit(1);
      hak_free(z);
      _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "fork child %d: status %#x", i, status);
  }
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  CHECK_OK();
  puts("zero: ok");
  return 0;
}
