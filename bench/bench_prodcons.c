/* bench_prodcons: one thread allocates, another frees everything.
 *
 *   bench_prodcons [blocks [seed]]        defaults: 3000000 42
 *
 * The producer mallocs `blocks` blocks of 16 + r % 497 bytes, writes a tag into each and passes
 * it through a single-producer single-consumer ring (4096 entries) to the consumer, which checks
 * the tag, folds it into the checksum and frees the block. Every free is a cross-thread free.
 * A side that finds the ring full (empty) spins briefly, then yields the CPU.
 * ops_per_sec = 2 * blocks / seconds (one malloc + one free per block). The ring is FIFO, so the
 * checksum depends only on the arguments. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "bench_common.h"

#define RING_CAP 4096u   /* a power of two */

typedef struct {
  unsigned char *p;
  uint32_t n, tag;
} msg_t;

static struct {
  _Alignas(64) _Atomic uint32_t head;   /* producer's next write */
  _Alignas(64) _Atomic uint32_t tail;   /* consumer's next read; tail <= head <= tail + RING_CAP */
  _Alignas(64) msg_t item[RING_CAP];
} g_ring;

static unsigned long g_blocks, g_seed;
static uint64_t g_checksum;
static unsigned long g_bad;

static void pause_or_yield(unsigned *spins) {
  if (++*spins < 64) {
    __builtin_ia32_pause();
  } else {
    *spins = 0;
    sched_yield();
  }
}

static void *producer(void *arg) {
  (void)arg;
  uint32_t x = bench_seed(g_seed, 0);
  uint32_t h = 0;
  for (unsigned long i = 0; i < g_blocks; i++) {
    uint32_t r = bench_xorshift32(&x);
    size_t n = 16 + r % 497;
    unsigned char *p = malloc(n);
    if (!p) bench_die("prodcons", "malloc failed");
    uint32_t tag = bench_tag(n, r);
    bench_fill(p, n, tag);
    unsigned spins = 0;
    while (h - atomic_load_explicit(&g_ring.tail, memory_order_acquire) == RING_CAP) pause_or_yield(&spins);
    g_ring.item[h & (RING_CAP - 1)] = (msg_t){p, (uint32_t)n, tag};
    atomic_store_explicit(&g_ring.head, ++h, memory_order_release);
  }
  return NULL;
}

static void *consumer(void *arg) {
  (void)arg;
  uint64_t sum = 0;
  unsigned long bad = 0;
  uint32_t t = 0;
  for (unsigned long i = 0; i < g_blocks; i++) {
    unsigned spins = 0;
    while (atomic_load_explicit(&g_ring.head, memory_order_acquire) == t) pause_or_yield(&spins);
    msg_t m = g_ring.item[t & (RING_CAP - 1)];
    atomic_store_explicit(&g_ring.tail, ++t, memory_order_release);
    if (!bench_check(m.p, m.n, m.tag)) bad++;
    sum = sum * 31 + m.tag;
    free(m.p);
  }
  g_checksum = sum;
  g_bad = bad;
  return NULL;
}

int main(int argc, char **argv) {
  g_blocks = bench_arg(argc, argv, 1, "blocks", 3000000, 1, 1ul << 40);
  g_seed = bench_arg(argc, argv, 2, "seed", 42, 0, UINT32_MAX);
  pthread_t pt, ct;
  double t0 = bench_now_sec();
  if (pthread_create(&ct, NULL, consumer, NULL) || pthread_create(&pt, NULL, producer, NULL))
    bench_die("prodcons", "pthread_create failed");
  pthread_join(pt, NULL);
  pthread_join(ct, NULL);
  double secs = bench_now_sec() - t0;
  if (g_bad) bench_die("prodcons", "a block's contents changed between producer and consumer");
  printf("bench=prodcons blocks=%lu seed=%lu seconds=%.6f ops_per_sec=%.0f checksum=%" PRIu64, g_blocks, g_seed,
         secs, secs > 0 ? 2.0 * (double)g_blocks / secs : 0.0, g_checksum);
  bench_print_hakmem();
  putchar('\n');
  return 0;
}
