/* bench_size_sweep: every size band, and realloc growth chains.
 *
 *   bench_size_sweep [reps [seed]]        defaults: 150 42
 *
 * Each repetition:
 *   bursts  for every power of two P from 8 B to 64 KiB: malloc a burst of min(512, 4 MiB / P)
 *           blocks (at least 16) of sizes in (P/2, P], tag each, then check and free them all, in
 *           allocation order on even repetitions and in reverse on odd ones;
 *   steps   8 chains that start with malloc(16) and realloc by 1 to 64 bytes at a time up to 64 KiB;
 *   doubling 8 chains that start with malloc(16 to 31) and realloc to twice the size up to 4 MiB.
 * A chain writes a new byte at its end after every realloc and checks that the first and the
 * previous last byte moved with the data.
 * ops_per_sec = (mallocs + reallocs + frees) / seconds. */
#include "bench_common.h"

#define BURST_MAX 512
#define STEP_LIMIT (64u << 10)
#define DOUBLE_LIMIT (4u << 20)
#define CHAINS 8

static unsigned long g_ops, g_bad;

static uint64_t bursts(uint32_t *x, int reverse, unsigned char **p, uint32_t *n, uint32_t *tag) {
  uint64_t sum = 0;
  for (unsigned shift = 3; shift <= 16; shift++) {
    size_t pow = (size_t)1 << shift;
    size_t count = (4u << 20) / pow;
    if (count > BURST_MAX) count = BURST_MAX;
    if (count < 16) count = 16;
    for (size_t i = 0; i < count; i++) {
      uint32_t r = bench_xorshift32(x);
      n[i] = (uint32_t)(pow / 2 + 1 + r % (pow / 2));
      p[i] = malloc(n[i]);
      if (!p[i]) bench_die("size_sweep", "malloc failed");
      tag[i] = bench_tag(n[i], r);
      bench_fill(p[i], n[i], tag[i]);
    }
    for (size_t k = 0; k < count; k++) {
      size_t i = reverse ? count - 1 - k : k;
      if (!bench_check(p[i], n[i], tag[i])) g_bad++;
      sum = sum * 31 + tag[i];
      free(p[i]);
    }
    g_ops += 2 * count;
  }
  return sum;
}

static uint64_t chain(uint32_t *x, int doubling) {
  size_t n = doubling ? 16 + bench_xorshift32(x) % 16 : 16;
  unsigned char *p = malloc(n);
  if (!p) bench_die("size_sweep", "malloc failed");
  unsigned char first = (unsigned char)bench_xorshift32(x);
  p[0] = first;
  p[n - 1] = 0x5A;
  g_ops++;
  uint64_t sum = 0;
  size_t limit = doubling ? DOUBLE_LIMIT : STEP_LIMIT;
  while (n < limit) {
    size_t m = doubling ? 2 * n : n + 1 + bench_xorshift32(x) % 64;
    unsigned char last = p[n - 1];
    unsigned char *q = realloc(p, m);
    if (!q) bench_die("size_sweep", "realloc failed");
    if (q[0] != first || q[n - 1] != last) g_bad++;
    q[m - 1] = (unsigned char)(m ^ (m >> 8));
    sum += q[m - 1];
    p = q;
    n = m;
    g_ops++;
  }
  free(p);
  g_ops++;
  return sum + n;
}

int main(int argc, char **argv) {
  unsigned long reps = bench_arg(argc, argv, 1, "reps", 150, 1, 1ul << 30);
  unsigned long seed = bench_arg(argc, argv, 2, "seed", 42, 0, UINT32_MAX);
  unsigned char **p = bench_map(BURST_MAX * sizeof *p);
  uint32_t *n = bench_map(BURST_MAX * sizeof *n);
  uint32_t *tag = bench_map(BURST_MAX * sizeof *tag);
  uint32_t x = bench_seed(seed, 0);
  uint64_t checksum = 0;

  double t0 = bench_now_sec();
  for (unsigned long rep = 0; rep < reps; rep++) {
    checksum = checksum * 1000003u + bursts(&x, (int)(rep & 1), p, n, tag);
    for (int c = 0; c < CHAINS; c++) checksum += chain(&x, 0);
    for (int c = 0; c < CHAINS; c++) checksum += chain(&x, 1);
  }
  double secs = bench_now_sec() - t0;
  if (g_bad) bench_die("size_sweep", "a block's contents changed while it was live");
  printf("bench=size_sweep reps=%lu seed=%lu ops=%lu seconds=%.6f ops_per_sec=%.0f checksum=%" PRIu64, reps, seed,
         g_ops, secs, secs > 0 ? (double)g_ops / secs : 0.0, checksum);
  bench_print_hakmem();
  putchar('\n');
  return 0;
}
