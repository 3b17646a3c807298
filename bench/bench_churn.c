/* bench_churn: fill tens of MiB with small blocks, free them all, shift the size band, repeat —
 * the path through the SuperSlab cache — and report how much memory each free-all leaves resident.
 *
 *   bench_churn [rounds [fill_mb [seed]]]        defaults: 12 32 42
 *
 * Round k mallocs blocks of band k % 4 — 16-64, 64-256, 256-1024, 1024-4096 bytes — until
 * `fill_mb` MiB have been requested, tags each, then checks and frees all of them in a shuffled
 * order. After each free-all it reads the resident set (/proc/self/statm) and records
 * held = RSS - RSS before the first round (the benchmark's own arrays are mapped and touched
 * before that baseline, so they do not count).
 * Output: held_kb_max, held_kb_last, held_kb_mean over the rounds; rss_peak_kb (getrusage).
 * ops_per_sec = (mallocs + frees) / seconds. */
#include "bench_common.h"

static const uint32_t k_band[4][2] = {{16, 64}, {64, 256}, {256, 1024}, {1024, 4096}};

int main(int argc, char **argv) {
  unsigned long rounds = bench_arg(argc, argv, 1, "rounds", 12, 1, 1ul << 20);
  unsigned long fill_mb = bench_arg(argc, argv, 2, "fill_mb", 32, 1, 1ul << 16);
  unsigned long seed = bench_arg(argc, argv, 3, "seed", 42, 0, UINT32_MAX);
  size_t fill = (size_t)fill_mb << 20;
  size_t cap = fill / 32 + 1;   /* > blocks per round: band 16-64 averages 40 bytes */
  unsigned char **p = bench_map(cap * sizeof *p);
  uint32_t *n = bench_map(cap * sizeof *n);
  uint32_t *tag = bench_map(cap * sizeof *tag);
  memset(p, 0, cap * sizeof *p);
  memset(n, 0, cap * sizeof *n);
  memset(tag, 0, cap * sizeof *tag);
  uint32_t x = bench_seed(seed, 0);
  uint64_t checksum = 0, ops = 0, held_max = 0, held_last = 0, held_total = 0;
  unsigned long bad = 0;

  uint64_t base_kb = bench_rss_now_kb();
  double t0 = bench_now_sec();
  for (unsigned long round = 0; round < rounds; round++) {
    const uint32_t *band = k_band[round % 4];
    size_t count = 0, bytes = 0;
    while (bytes < fill && count < cap) {
      uint32_t r = bench_xorshift32(&x);
      uint32_t sz = band[0] + r % (band[1] - band[0] + 1);
      unsigned char *b = malloc(sz);
      if (!b) bench_die("churn", "malloc failed");
      tag[count] = bench_tag(sz, r);
      bench_fill(b, sz, tag[count]);
      p[count] = b;
      n[count] = sz;
      count++;
      bytes += sz;
    }
    for (size_t i = count - 1; i > 0; i--) {   /* Fisher-Yates: free in a random order */
      size_t j = bench_xorshift32(&x) % (i + 1);
      unsigned char *tp = p[i];
      uint32_t tn = n[i], tt = tag[i];
      p[i] = p[j], n[i] = n[j], tag[i] = tag[j];
      p[j] = tp, n[j] = tn, tag[j] = tt;
    }
    for (size_t i = 0; i < count; i++) {
      if (!bench_check(p[i], n[i], tag[i])) bad++;
      checksum = checksum * 31 + tag[i];
      free(p[i]);
    }
    ops += 2 * count;
    uint64_t now_kb = bench_rss_now_kb();
    held_last = now_kb > base_kb ? now_kb - base_kb : 0;
    if (held_last > held_max) held_max = held_last;
    held_total += held_last;
  }
  double secs = bench_now_sec() - t0;
  if (bad) bench_die("churn", "a block's contents changed while it was live");
  printf("bench=churn rounds=%lu fill_mb=%lu seed=%lu ops=%" PRIu64 " held_kb_max=%" PRIu64 " held_kb_last=%" PRIu64
         " held_kb_mean=%" PRIu64 " rss_peak_kb=%" PRIu64 " seconds=%.6f ops_per_sec=%.0f checksum=%" PRIu64,
         rounds, fill_mb, seed, ops, held_max, held_last, held_total / rounds, bench_rss_peak_kb(), secs,
         secs > 0 ? (double)ops / secs : 0.0, checksum);
  bench_print_hakmem();
  putchar('\n');
  return 0;
}
