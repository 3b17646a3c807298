/* Blocks freed by threads that did not allocate them, and threads that come and go:
 *   owner_reuse   A holds 80,000 64-byte blocks; B frees the 20,000 A allocated first (in A's
 *                 oldest slabs); A then allocates 20,000 more with no flush in between: A reuses
 *                 them (slabs active and SuperSlabs mapped do not grow);
 *   exit_pending  A exits while B's frees into its slabs are still waiting for it; then the main
 *                 thread frees one block of each of A's slabs and another thread the rest (frees
 *                 into slabs that no live thread allocates from): every slab goes back without
 *                 any flush or trim;
 *   late_free     a TLS destructor that runs after hakmem's own per-thread teardown, in every
 *                 destructor round (it re-arms itself), frees the thread's blocks, allocates and
 *                 frees, while other threads start and stop (so heap records are recycled):
 *                 every block balances, no slab is left behind per thread, the heap checks out;
 *   unjoined      detached threads that exit holding blocks the main thread frees later.
 * Each case asserts on hak_stats; a fixed seed (STRESS_SEED, default 42) picks the sizes. */
#include <pthread.h>
#include <stdatomic.h>
#include "hak_test.h"

enum { NB = 20000, HOLD = 4 * NB };
static void *blk[HOLD];
static pthread_barrier_t bar;
static unsigned seed = 42;
/* with the libc names, the C library's own allocations (stdio, threads) share the heap */
#ifdef API_LIBC
#define LIBC_SLACK 8
#else
#define LIBC_SLACK 0
#endif

static unsigned rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return *s >> 8;
}

/* ---- owner_reuse ---- */
static hak_stats_t reuse_before, reuse_after;
static void *owner_a(void *arg) {
  for (int i = 0; i < HOLD; i++) CHECK((blk[i] = API(malloc)(64)) != NULL);
  reuse_before = st();
  pthread_barrier_wait(&bar);   /* B frees them all */
  pthread_barrier_wait(&bar);
  void **again = API(malloc)(NB * sizeof(void *));
  CHECK(again != NULL);
  for (int i = 0; i < NB; i++) CHECK((again[i] = API(malloc)(64)) != NULL);
  reuse_after = st();
  for (int i = 0; i < NB; i++) API(free)(again[i]);
  API(free)(again);
  for (int i = NB; i < HOLD; i++) API(free)(blk[i]);
  return arg;
}
static void *freer_b(void *arg) {
  pthread_barrier_wait(&bar);
  for (int i = 0; i < NB; i++) API(free)(blk[i]);
  pthread_barrier_wait(&bar);
  return arg;
}
static void owner_reuse(void) {
  pthread_t a, b;
  pthread_barrier_init(&bar, NULL, 2);
  pthread_create(&a, NULL, owner_a, NULL);
  pthread_create(&b, NULL, freer_b, NULL);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  pthread_barrier_destroy(&bar);
  printf("owner_reuse: slabs active %lu -> %lu, SuperSlabs mapped %lu -> %lu\n",
         (unsigned long)reuse_before.slabs_active, (unsigned long)reuse_after.slabs_active,
         (unsigned long)reuse_before.ss_mapped, (unsigned long)reuse_after.ss_mapped);
  /* + 1: the second round's pointer array (160 KB) is a medium block, not a slab */
  CHECK(reuse_after.slabs_active <= reuse_before.slabs_active, "A claimed more slabs instead of "
        "reusing the blocks B freed: %lu -> %lu", (unsigned long)reuse_before.slabs_active,
        (unsigned long)reuse_after.slabs_active);
  CHECK(reuse_after.ss_mapped <= reuse_before.ss_mapped + 1, "SuperSlabs mapped %lu -> %lu",
        (unsigned long)reuse_before.ss_mapped, (unsigned long)reuse_after.ss_mapped);
}

/* ---- exit_pending ---- */
static void *alloc_wait_exit(void *arg) {
  unsigned s = seed;
  for (int i = 0; i < NB; i++) CHECK((blk[i] = API(malloc)(8 + rnd(&s) % 500)) != NULL);
  pthread_barrier_wait(&bar);   /* main frees the even ones */
  pthread_barrier_wait(&bar);
  return arg;                   /* exit with those frees still in the inbox */
}
static void *free_rest(void *arg) {
  for (int i = 1; i < NB; i += 2) if (i % 64 != 1) API(free)(blk[i]);
  return arg;
}
static void exit_pending(void) {
  hak_stats_t s0 = st();
  pthread_t a;
  pthread_barrier_init(&bar, NULL, 2);
  pthread_create(&a, NULL, alloc_wait_exit, NULL);
  pthread_barrier_wait(&bar);
  for (int i = 0; i < NB; i += 2) API(free)(blk[i]);
  pthread_barrier_wait(&bar);
  pthread_join(a, NULL);
  pthread_barrier_destroy(&bar);
  hak_stats_t s1 = st();
  CHECK(s1.small_live_blocks == s0.small_live_blocks + NB / 2, "live %lu, expected %lu",
        (unsigned long)s1.small_live_blocks, (unsigned long)(s0.small_live_blocks + NB / 2));
  for (int i = 1; i < NB; i += 2) if (i % 64 == 1) API(free)(blk[i]);   /* one per slab or so */
  pthread_t c;
  pthread_create(&c, NULL, free_rest, NULL);
  pthread_join(c, NULL);
  hak_stats_t s2 = st();
  printf("exit_pending: live %lu -> %lu -> %lu, slabs active %lu -> %lu -> %lu\n",
         (unsigned long)s0.small_live_blocks, (unsigned long)s1.small_live_blocks,
         (unsigned long)s2.small_live_blocks, (unsigned long)s0.slabs_active,
         (unsigned long)s1.slabs_active, (unsigned long)s2.slabs_active);
  CHECK(s2.small_live_blocks <= s0.small_live_blocks + LIBC_SLACK && s2.slabs_active <= s0.slabs_active,
        "after freeing every block of the exited thread: %lu live, %lu slabs active (before: %lu, %lu)",
        (unsigned long)s2.small_live_blocks, (unsigned long)s2.slabs_active,
        (unsigned long)s0.small_live_blocks, (unsigned long)s0.slabs_active);
}

/* ---- late_free ---- */
static pthread_key_t late_key;
/* TSan ends its own per-thread state in the first destructor round: no later rounds under it */
#if defined(__SANITIZE_THREAD__)
#define LATE_ROUNDS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LATE_ROUNDS 1
#endif
#endif
#ifndef LATE_ROUNDS
#define LATE_ROUNDS 4
#endif
static _Atomic long late_runs;
static __thread int late_round;
static void late_destructor(void *v) {
  void **held = v;
  unsigned s = seed;
  if (++late_round < LATE_ROUNDS) pthread_setspecific(late_key, held);   /* again in the next round */
  for (int round = 0; round < 4; round++) {
    void *tmp[64];
    for (int i = 0; i < 64; i++) CHECK((tmp[i] = API(malloc)(8 + rnd(&s) % 2000)) != NULL);
    for (int i = 0; i < 64; i++) API(free)(tmp[i]);
  }
  if (late_round < LATE_ROUNDS) return;
  for (int i = 0; i < 256; i++) API(free)(held[i]);
  API(free)(held);
  atomic_fetch_add(&late_runs, 1);
}
static void *late_thread(void *arg) {
  unsigned s = seed + (unsigned)(uintptr_t)arg;
  void **held = API(malloc)(256 * sizeof(void *));
  CHECK(held != NULL);
  for (int i = 0; i < 256; i++) CHECK((held[i] = API(malloc)(8 + rnd(&s) % 3000)) != NULL);
  pthread_setspecific(late_key, held);   /* runs after hakmem's teardown (a later key) */
  return arg;
}
static void late_free(void) {
  hak_stats_t s0 = st();
  CHECK(pthread_key_create(&late_key, late_destructor) == 0);
  for (int wave = 0; wave < 20; wave++) {
    pthread_t t[8];
    for (long i = 0; i < 8; i++) pthread_create(&t[i], NULL, late_thread, (void *)(i + wave * 8));
    for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
  }
  hak_stats_t s1 = st();
  printf("late_free: %ld threads' destructors ran %d rounds; live %lu -> %lu, slabs active %lu -> %lu\n",
         (long)atomic_load(&late_runs), LATE_ROUNDS, (unsigned long)s0.small_live_blocks,
         (unsigned long)s1.small_live_blocks, (unsigned long)s0.slabs_active,
         (unsigned long)s1.slabs_active);
  CHECK(atomic_load(&late_runs) == 160);
  /* the threads are gone: what they allocated late lives in one shared heap, a slab per class */
  CHECK(s1.slabs_active <= s0.slabs_active + 41, "slabs active %lu -> %lu after 160 threads",
        (unsigned long)s0.slabs_active, (unsigned long)s1.slabs_active);
  CHECK(s1.small_live_blocks <= s0.small_live_blocks + LIBC_SLACK, "live %lu -> %lu",
        (unsigned long)s0.small_live_blocks, (unsigned long)s1.small_live_blocks);
  CHECK(hak_check() == NULL, "%s", hak_check());
  pthread_key_delete(late_key);
}

/* ---- unjoined ---- */
#define SHARED 4096
static _Atomic(void *) shared[SHARED];
static _Atomic int unjoined_left;
static void *detached(void *arg) {
  unsigned s = seed + (unsigned)(uintptr_t)arg;
  for (int i = 0; i < 2000; i++) {
    void *p = API(malloc)(8 + rnd(&s) % 1000);
    CHECK(p != NULL);
    /* swap with a block an earlier (exited) generation left: freed here, by a stranger */
    API(free)(atomic_exchange(&shared[rnd(&s) % SHARED], p));
  }
  atomic_fetch_sub(&unjoined_left, 1);
  return NULL;
}
static void unjoined(void) {
  hak_stats_t s0 = st();
  uint64_t first = 0, later = 0;   /* the most slabs active in rounds 1-40, and in 41-80 */
  for (int round = 0; round < 80; round++) {
    atomic_store(&unjoined_left, 4);
    for (long i = 0; i < 4; i++) {
      pthread_t t;
      pthread_attr_t at;
      pthread_attr_init(&at);
      pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
      CHECK(pthread_create(&t, &at, detached, (void *)(i + round * 4)) == 0);
      pthread_attr_destroy(&at);
    }
    while (atomic_load(&unjoined_left) != 0) usleep(500);
    usleep(2000);   /* the threads finish exiting (their teardown runs after the count) */
    uint64_t n = st().slabs_active;
    uint64_t *most = round < 40 ? &first : &later;
    if (n > *most) *most = n;
  }
  for (int i = 0; i < SHARED; i++) API(free)(atomic_exchange(&shared[i], NULL));
  hak_stats_t s1 = st();
  printf("unjoined: at most %lu slabs active in rounds 1-40, %lu in 41-80; live %lu -> %lu\n",
         (unsigned long)first, (unsigned long)later, (unsigned long)s0.small_live_blocks,
         (unsigned long)s1.small_live_blocks);
  /* the count moves with the threads' timing; growth would show as a trend */
  CHECK(later <= first + first / 2 + 8, "slabs active grew from %lu to %lu", (unsigned long)first,
        (unsigned long)later);
  CHECK(s1.small_live_blocks <= s0.small_live_blocks + LIBC_SLACK);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *e = getenv("STRESS_SEED");
  if (e && *e) seed = (unsigned)strtoul(e, NULL, 10);
  API(free)(API(malloc)(1));   /* hakmem's per-thread key exists before the tests' own */
  owner_reuse();
  exit_pending();
  late_free();
  unjoined();
  CHECK(hak_check() == NULL, "%s", hak_check());
  printf("remote: ok\n");
  return 0;
}
