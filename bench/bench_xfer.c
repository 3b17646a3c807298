/* bench_xfer: thread churn with blocks handed between threads that come and go.
 *
 *   bench_xfer [rounds [ops [threads [seed]]]]   defaults: 300 10000 2 42
 *
 * Every round starts `threads` workers, each running `ops` operations and exiting. An operation
 * draws r, mallocs 8 << (r % 5) bytes (8..128 B), writes a tag into the block, and then puts it
 *   - 2/3 of the time into a 64-entry window of the thread's own; the block displaced from there
 *     is freed by the same thread (and the window is emptied when the thread exits): local frees;
 *   - 1/4 of the time into one of 1000 shared slots with atomic_exchange; whatever block comes
 *     back (allocated by any thread, often one that has exited) is freed here: remote frees;
 *   - 1/12 of the time into a 256-entry array that belongs to the worker's index and outlives the
 *     thread; the block displaced there is usually one the previous round's thread allocated.
 * After each round main frees about half of the shared slots (a fixed xorshift choice of slots).
 * Every block's tag is checked before it is freed, by whichever thread frees it.
 *
 * ops_per_sec = rounds * threads * ops / seconds (one operation = one malloc and, sooner or later,
 * its free). rss_end_kb: resident set after everything is freed (memory the allocator kept);
 * rss_peak_kb: getrusage's peak (at least rss_end_kb). The checksum combines what each worker
 * allocated from its own deterministic stream (sizes and tags), never what it received, so it is
 * independent of timing. */
#include <pthread.h>
#include <stdatomic.h>

#include "bench_common.h"

#define MAX_THREADS 64
#define SHARED 1000
#define WINDOW 64
#define KEEP 256

static unsigned long g_rounds, g_ops, g_threads, g_seed;
static _Atomic(unsigned char *) g_shared[SHARED];
static unsigned char *g_keep[MAX_THREADS][KEEP];
static uint64_t g_sum[MAX_THREADS];
static _Atomic unsigned long g_bad, g_sent;

typedef struct {
  unsigned long id, round;
} job_t;

/* A block of n = 8 << k bytes carries r (bytes 0-3), k (byte 4) and two bytes of the tag
 * (byte 5 and the last byte), so any thread can check it without knowing its size. */
static void xfer_fill(unsigned char *p, unsigned k, uint32_t r) {
  size_t n = (size_t)8 << k;
  uint32_t tag = bench_tag(n, r);
  memcpy(p, &r, 4);
  p[4] = (unsigned char)k;
  p[5] = (unsigned char)(tag >> 16);
  p[n - 1] = (unsigned char)(tag >> 8);
}

/* check the block's tag and free it */
static void xfer_free(unsigned char *p) {
  if (!p) return;
  uint32_t r;
  memcpy(&r, p, 4);
  unsigned k = p[4];
  if (k > 4) {
    atomic_fetch_add(&g_bad, 1);
    return;   /* its size is unknown: do not free it */
  }
  size_t n = (size_t)8 << k;
  uint32_t tag = bench_tag(n, r);
  if (p[5] != (unsigned char)(tag >> 16) || p[n - 1] != (unsigned char)(tag >> 8)) atomic_fetch_add(&g_bad, 1);
  free(p);
}

static void *worker(void *arg) {
  const job_t *job = arg;
  unsigned long id = job->id;
  uint32_t x = bench_seed(g_seed, job->round * MAX_THREADS + id);
  unsigned char *window[WINDOW] = {NULL};
  unsigned char **keep = g_keep[id];
  uint64_t sum = 0;
  unsigned long sent = 0;
  for (unsigned long i = 0; i < g_ops; i++) {
    uint32_t r = bench_xorshift32(&x);
    unsigned k = r % 5;
    unsigned char *p = malloc((size_t)8 << k);
    if (!p) bench_die("xfer", "malloc failed");
    xfer_fill(p, k, r);
    sum = sum * 31 + bench_tag((size_t)8 << k, r);
    uint32_t r2 = bench_xorshift32(&x);
    unsigned where = (uint32_t)(((uint64_t)r2 * 12) >> 32);   /* 0..11 from the high bits */
    unsigned char **slot;
    if (where < 8) {
      slot = &window[r2 % WINDOW];
    } else if (where < 11) {
      xfer_free(atomic_exchange_explicit(&g_shared[r2 % SHARED], p, memory_order_acq_rel));
      sent++;
      continue;
    } else {
      slot = &keep[r2 % KEEP];
    }
    xfer_free(*slot);
    *slot = p;
  }
  for (unsigned w = 0; w < WINDOW; w++) xfer_free(window[w]);
  g_sum[id] = g_sum[id] * 1000003u + sum;
  atomic_fetch_add(&g_sent, sent);
  return NULL;
}

int main(int argc, char **argv) {
  g_rounds = bench_arg(argc, argv, 1, "rounds", 300, 1, 1ul << 24);
  g_ops = bench_arg(argc, argv, 2, "ops", 10000, 1, 1ul << 32);
  g_threads = bench_arg(argc, argv, 3, "threads", 2, 1, MAX_THREADS);
  g_seed = bench_arg(argc, argv, 4, "seed", 42, 0, UINT32_MAX);

  job_t jobs[MAX_THREADS];
  pthread_t tid[MAX_THREADS];
  uint32_t xm = bench_seed(g_seed, 0xFFFFFFFFu);   /* main's stream: which shared slots it empties */

  double t0 = bench_now_sec();
  for (unsigned long round = 0; round < g_rounds; round++) {
    for (unsigned long t = 0; t < g_threads; t++) {
      jobs[t] = (job_t){t, round};
      if (pthread_create(&tid[t], NULL, worker, &jobs[t])) bench_die("xfer", "pthread_create failed");
    }
    for (unsigned long t = 0; t < g_threads; t++) pthread_join(tid[t], NULL);
    for (unsigned s = 0; s < SHARED; s++)
      if (bench_xorshift32(&xm) & 1) xfer_free(atomic_exchange(&g_shared[s], NULL));
  }
  for (unsigned s = 0; s < SHARED; s++) xfer_free(atomic_exchange(&g_shared[s], NULL));
  for (unsigned long t = 0; t < g_threads; t++)
    for (unsigned b = 0; b < KEEP; b++) {
      xfer_free(g_keep[t][b]);
      g_keep[t][b] = NULL;
    }
  double secs = bench_now_sec() - t0;
  if (atomic_load(&g_bad)) bench_die("xfer", "a block's contents changed while it was live");

  uint64_t rss_end = bench_rss_now_kb();
  uint64_t rss_peak = bench_rss_peak_kb();   /* the kernel updates its high-water mark lazily */
  if (rss_peak < rss_end) rss_peak = rss_end;
  uint64_t checksum = 0;
  for (unsigned long t = 0; t < g_threads; t++) checksum = checksum * 1000003u + g_sum[t];
  unsigned long ops = g_rounds * g_threads * g_ops;
  printf("bench=xfer rounds=%lu ops=%lu threads=%lu seed=%lu shared_sent=%lu rss_end_kb=%" PRIu64
         " rss_peak_kb=%" PRIu64 " seconds=%.6f ops_per_sec=%.0f checksum=%" PRIu64,
         g_rounds, ops, g_threads, g_seed, atomic_load(&g_sent), rss_end, rss_peak, secs,
         secs > 0 ? (double)ops / secs : 0.0, checksum);
  bench_print_hakmem();
  putchar('\n');
  return 0;
}
