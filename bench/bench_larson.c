/* bench_larson: a Larson-style server workload.
 *
 *   bench_larson [threads [rounds [ops [blocks [remote_pct [seed]]]]]]   defaults: 2 10 200000 2000 10 42
 *
 * `threads` workers each own an array of `blocks` slots. Every operation draws r, picks a slot,
 * frees the block there (after checking its tag) and mallocs a new one of 8 + r % 1017 bytes.
 * `remote_pct` percent of those frees are handed instead to the next worker through a
 * single-producer single-consumer ring, and that worker frees them (cross-thread frees). Workers
 * run `ops` operations and exit; a new set of threads is created for each of `rounds` rounds and
 * takes over the slot arrays of the previous one, so every block allocated by an exited thread is
 * freed by a new one (orphaned memory adopted). Rings are drained by their consumer every 16
 * operations, and by main at the end.
 *
 * ops_per_sec = threads * rounds * ops / seconds (one operation = one free + one malloc). The
 * checksum sums what each worker sees in its own slots, which depends only on the seed. */
#include <pthread.h>
#include <stdatomic.h>

#include "bench_common.h"

#define RING_CAP 65536u   /* a power of two, more than one round's sends: the share of remote frees holds
                            even when the two threads do not run at the same time */
#define MAX_THREADS 64

typedef struct {
  _Alignas(64) _Atomic uint32_t head;   /* next slot the producer writes */
  _Alignas(64) _Atomic uint32_t tail;   /* next slot the consumer reads; tail <= head */
  _Alignas(64) unsigned char *item[RING_CAP];
} ring_t;

typedef struct {
  unsigned char *p;
  uint32_t n, tag;
} slot_t;

static unsigned long g_threads, g_rounds, g_ops, g_blocks, g_remote_pct, g_seed;
static ring_t g_ring[MAX_THREADS];   /* ring i: producer worker i, consumer worker (i + 1) % threads */
static slot_t *g_slots[MAX_THREADS];
static uint64_t g_sum[MAX_THREADS];
static _Atomic unsigned long g_remote_sent, g_bad;

typedef struct {
  unsigned long id, round;
} job_t;

static int ring_push(ring_t *r, unsigned char *p) {
  uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
  if (h - atomic_load_explicit(&r->tail, memory_order_acquire) == RING_CAP) return 0;
  r->item[h & (RING_CAP - 1)] = p;
  atomic_store_explicit(&r->head, h + 1, memory_order_release);
  return 1;
}

/* the consumer frees everything in the ring (the owner checked each block before sending it) */
static void ring_drain(ring_t *r) {
  uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
  uint32_t h = atomic_load_explicit(&r->head, memory_order_acquire);
  for (; t != h; t++) free(r->item[t & (RING_CAP - 1)]);
  atomic_store_explicit(&r->tail, t, memory_order_release);
}

static void *worker(void *arg) {
  const job_t *job = arg;
  unsigned long id = job->id;
  uint32_t x = bench_seed(g_seed, job->round * MAX_THREADS + id);
  slot_t *slots = g_slots[id];
  ring_t *out = &g_ring[id];
  ring_t *in = &g_ring[(id + g_threads - 1) % g_threads];
  uint64_t sum = 0;
  unsigned long sent = 0;
  for (unsigned long i = 0; i < g_ops; i++) {
    uint32_t r = bench_xorshift32(&x);
    slot_t *s = &slots[r % g_blocks];
    if (s->p) {
      if (!bench_check(s->p, s->n, s->tag)) atomic_fetch_add(&g_bad, 1);
      sum = sum * 31 + s->tag;
      if ((uint32_t)(((uint64_t)r * 100) >> 32) < g_remote_pct && ring_push(out, s->p)) sent++;
      else free(s->p);
    }
    uint32_t r2 = bench_xorshift32(&x);
    size_t n = 8 + r2 % 1017;
    unsigned char *p = malloc(n);
    if (!p) bench_die("larson", "malloc failed");
    s->p = p;
    s->n = (uint32_t)n;
    s->tag = bench_tag(n, r2);
    bench_fill(p, n, s->tag);
    if ((i & 15) == 15) ring_drain(in);
  }
  ring_drain(in);
  g_sum[id] += sum;
  atomic_fetch_add(&g_remote_sent, sent);
  return NULL;
}

int main(int argc, char **argv) {
  g_threads = bench_arg(argc, argv, 1, "threads", 2, 1, MAX_THREADS);
  g_rounds = bench_arg(argc, argv, 2, "rounds", 10, 1, 1ul << 20);
  g_ops = bench_arg(argc, argv, 3, "ops", 200000, 1, 1ul << 40);
  g_blocks = bench_arg(argc, argv, 4, "blocks", 2000, 1, 1ul << 24);
  g_remote_pct = bench_arg(argc, argv, 5, "remote_pct", 10, 0, 100);
  g_seed = bench_arg(argc, argv, 6, "seed", 42, 0, UINT32_MAX);

  for (unsigned long t = 0; t < g_threads; t++) g_slots[t] = bench_map(g_blocks * sizeof(slot_t));
  job_t jobs[MAX_THREADS];
  pthread_t tid[MAX_THREADS];

  double t0 = bench_now_sec();
  for (unsigned long round = 0; round < g_rounds; round++) {
    for (unsigned long t = 0; t < g_threads; t++) {
      jobs[t] = (job_t){t, round};
      if (pthread_create(&tid[t], NULL, worker, &jobs[t])) bench_die("larson", "pthread_create failed");
    }
    for (unsigned long t = 0; t < g_threads; t++) pthread_join(tid[t], NULL);
  }
  for (unsigned long t = 0; t < g_threads; t++) {
    ring_drain(&g_ring[t]);
    for (unsigned long b = 0; b < g_blocks; b++) {
      slot_t *s = &g_slots[t][b];
      if (!s->p) continue;
      if (!bench_check(s->p, s->n, s->tag)) atomic_fetch_add(&g_bad, 1);
      free(s->p);
      s->p = NULL;
    }
  }
  double secs = bench_now_sec() - t0;
  if (atomic_load(&g_bad)) bench_die("larson", "a block's contents changed while it was live");

  uint64_t checksum = 0;
  for (unsigned long t = 0; t < g_threads; t++) checksum = checksum * 1000003u + g_sum[t];
  unsigned long ops = g_threads * g_rounds * g_ops;
  printf("bench=larson threads=%lu rounds=%lu ops=%lu blocks=%lu remote_pct=%lu seed=%lu remote_sent=%lu"
         " seconds=%.6f ops_per_sec=%.0f checksum=%" PRIu64,
         g_threads, g_rounds, ops, g_blocks, g_remote_pct, g_seed, atomic_load(&g_remote_sent), secs,
         secs > 0 ? (double)ops / secs : 0.0, checksum);
  bench_print_hakmem();
  putchar('\n');
  return 0;
}
