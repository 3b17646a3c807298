/* Live statistics (stats.c): per-class counts stay exact across threads that allocate, free each
 * other's blocks and exit (their slabs abandoned, adopted or released), and while threads are alive
 * and holding blocks; the sampled peak sees a rise and fall between two reads; hak_stats is cheap with 64 threads alive (printed: microseconds per call).
 * Each phase works in a class nothing else here uses, and compares deltas of
 * hm_pool_class_counts (allocations ever, blocks live) and of hak_stats' totals. */
#include <pthread.h>
#include <time.h>
#include "hak_test.h"
#include "internal.h"

enum { THREADS = 4, PER_THREAD = 3000, ALIVE = 64 };

typedef struct snap {
  uint64_t allocs[HM_CLASSES], live[HM_CLASSES];
  hak_stats_t st;
} snap_t;

static snap_t take(void) {
  snap_t s;
  memset(&s, 0, sizeof s);
  hm_pool_class_counts(s.allocs, s.live);
  s.st = st();
  return s;
}

static void expect(const snap_t *a, const snap_t *b, unsigned cls, uint64_t allocs, uint64_t frees,
                   const char *when) {
  uint64_t da = b->allocs[cls] - a->allocs[cls];
  uint64_t df = (b->allocs[cls] - b->live[cls]) - (a->allocs[cls] - a->live[cls]);
  CHECK(da == allocs && df == frees, "%s: class %u: %llu allocs, %llu frees; expected %llu, %llu", when,
        cls, (unsigned long long)da, (unsigned long long)df, (unsigned long long)allocs,
        (unsigned long long)frees);
  CHECK(b->st.counted_allocs - a->st.counted_allocs == allocs &&
            b->st.counted_frees - a->st.counted_frees == frees,
        "%s: hak_stats counted %llu allocs, %llu frees; expected %llu, %llu", when,
        (unsigned long long)(b->st.counted_allocs - a->st.counted_allocs),
        (unsigned long long)(b->st.counted_frees - a->st.counted_frees), (unsigned long long)allocs,
        (unsigned long long)frees);
}

static void *blocks[THREADS][PER_THREAD];
static size_t req;                        /* the request size of the phase */
static pthread_barrier_t held, release;   /* alive phase: all hold their blocks / may free */

static void *alloc_thread(void *arg) {
  void **b = arg;
  for (int i = 0; i < PER_THREAD; i++) CHECK((b[i] = hak_malloc(req)) != NULL);
  return NULL;
}
/* frees every other block of another thread's batch (a remote free) */
static void *free_half_thread(void *arg) {
  void **b = arg;
  for (int i = 0; i < PER_THREAD; i += 2) hak_free(b[i]), b[i] = NULL;
  return NULL;
}
static void *alloc_free_thread(void *arg) {   /* allocates and frees its own, then exits */
  void **b = arg;
  alloc_thread(b);
  for (int i = 0; i < PER_THREAD; i++) hak_free(b[i]), b[i] = NULL;
  return NULL;
}
static void *alive_thread(void *arg) {
  void **b = arg;
  alloc_thread(b);
  pthread_barrier_wait(&held);
  pthread_barrier_wait(&release);
  for (int i = 0; i < PER_THREAD; i++) hak_free(b[i]), b[i] = NULL;
  return NULL;
}

static void run(void *(*fn)(void *), int n, int shift) {
  pthread_t t[THREADS];
  for (int i = 0; i < n; i++) CHECK(pthread_create(&t[i], NULL, fn, blocks[(i + shift) % n]) == 0);
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
}

/* blocks of one class allocated in threads that exit, half freed in other threads (remote frees
 * into abandoned slabs), the rest by this thread */
static void phase_exited(size_t size) {
  req = size;
  unsigned cls = hm_size_class(size);
  snap_t a = take();
  run(alloc_thread, THREADS, 0);
  snap_t b = take();
  expect(&a, &b, cls, THREADS * PER_THREAD, 0, "allocated by threads that exited");
  run(free_half_thread, THREADS, 1);
  snap_t c = take();
  expect(&a, &c, cls, THREADS * PER_THREAD, THREADS * PER_THREAD / 2, "half freed by other threads");
  for (int t = 0; t < THREADS; t++)
    for (int i = 0; i < PER_THREAD; i++) hak_free(blocks[t][i]), blocks[t][i] = NULL;
  snap_t d = take();
  expect(&a, &d, cls, THREADS * PER_THREAD, THREADS * PER_THREAD, "all freed");
}

/* threads that free their own blocks and exit: their slabs go back to the pool, counts folded */
static void phase_released(size_t size) {
  req = size;
  unsigned cls = hm_size_class(size);
  snap_t a = take();
  run(alloc_free_thread, THREADS, 0);
  hak_trim();
  snap_t b = take();
  expect(&a, &b, cls, THREADS * PER_THREAD, THREADS * PER_THREAD, "allocated and freed by exited threads");
}

/* counts read while the threads are alive and hold their blocks */
static void phase_alive(size_t size) {
  req = size;
  unsigned cls = hm_size_class(size);
  pthread_barrier_init(&held, NULL, THREADS + 1);
  pthread_barrier_init(&release, NULL, THREADS + 1);
  pthread_t t[THREADS];
  snap_t a = take();
  for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&t[i], NULL, alive_thread, blocks[i]) == 0);
  pthread_barrier_wait(&held);
  snap_t b = take();
  expect(&a, &b, cls, THREADS * PER_THREAD, 0, "held by live threads");
  CHECK(b.live[cls] - a.live[cls] == THREADS * PER_THREAD);
  pthread_barrier_wait(&release);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  snap_t c = take();
  expect(&a, &c, cls, THREADS * PER_THREAD, THREADS * PER_THREAD, "freed by the live threads");
  pthread_barrier_destroy(&held);
  pthread_barrier_destroy(&release);
}

/* the cost of one hak_stats call with ALIVE threads alive, each holding blocks of a few classes */
static pthread_barrier_t up, down;
static void *idle_thread(void *arg) {
  void *p[8];
  for (int i = 0; i < 8; i++) p[i] = hak_malloc((size_t)16 << (i % 6));
  pthread_barrier_wait(&up);
  pthread_barrier_wait(&down);
  for (int i = 0; i < 8; i++) hak_free(p[i]);
  (void)arg;
  return NULL;
}
static void phase_cost(void) {
  pthread_t t[ALIVE];
  pthread_barrier_init(&up, NULL, ALIVE + 1);
  pthread_barrier_init(&down, NULL, ALIVE + 1);
  for (int i = 0; i < ALIVE; i++) CHECK(pthread_create(&t[i], NULL, idle_thread, NULL) == 0);
  pthread_barrier_wait(&up);
  enum { CALLS = 200 };
  struct timespec t0, t1;
  hak_stats_t s;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < CALLS; i++) hak_stats(&s);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / CALLS;
  printf("stats: hak_stats takes %.1f us with %d threads alive (%llu SuperSlabs, %llu slabs active)\n", us,
         ALIVE, (unsigned long long)s.ss_mapped, (unsigned long long)s.slabs_active);
  CHECK(us < 20000.0, "hak_stats took %.0f us", us);   /* a loose bound: sanitizer builds, busy CI */
  pthread_barrier_wait(&down);
  for (int i = 0; i < ALIVE; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&up);
  pthread_barrier_destroy(&down);
}

/* the peak is sampled as the heap grows: a rise and fall between two hak_stats calls shows in it
 * (to within the blocks of the slabs claimed since the last sample) */
static void phase_peak(void) {
  enum { N = 40000, SIZE = 1000 };
  static void *p[N];
  hak_stats_t a = st();
  for (int i = 0; i < N; i++) CHECK((p[i] = hak_malloc(SIZE)) != NULL);
  for (int i = 0; i < N; i++) hak_free(p[i]);
  hak_stats_t b = st();
  uint64_t bytes = (uint64_t)N * (hm_class_size[hm_size_class(SIZE)] - HM_CANARY);
  CHECK(b.counted_peak_bytes >= a.counted_live_bytes + bytes / 10 * 9,
        "peak %llu, live before %llu, held %llu meanwhile", (unsigned long long)b.counted_peak_bytes,
        (unsigned long long)a.counted_live_bytes, (unsigned long long)bytes);
}

int main(void) {
  hm_ensure_init();
  phase_peak();
  phase_exited(200);
  phase_released(3000);
  phase_alive(700);
  phase_cost();
  hak_stats_t s = st();
  CHECK(s.counted_live_bytes == s.small_live_bytes + s.mid_live_bytes + s.large_live_bytes);
  CHECK(s.counted_peak_bytes >= s.counted_live_bytes);
  test_check_ok(__LINE__);
  printf("stats: ok\n");
  return 0;
}
