/* bench_frag: fragmentation — peak resident memory over peak live bytes.
 *
 *   bench_frag [rounds [live_mb [seed]]]        defaults: 10 32 42
 *
 * Round k mallocs blocks of band k % 5 — 16-64, 64-256, 256-1024, 1024-4096, 16-4096 bytes — until
 * the program holds `live_mb` MiB (requested bytes), then frees a random half of everything it
 * holds, old bands included, so the survivors of earlier bands leave holes that later bands must
 * reuse. At the end everything is freed.
 *   live_peak_kb   the most requested bytes live at once
 *   rss_peak_kb    getrusage's peak resident set
 *   base_kb        resident set before the first malloc (the benchmark's own arrays are mapped and
 *                  touched before that)
 *   frag = (rss_peak_kb - base_kb) / live_peak_kb     (1.00 is perfect; per-block overhead counts)
 * ops_per_sec = (mallocs + frees) / seconds. */
#include "bench_common.h"

static const uint32_t k_band[5][2] = {{16, 64}, {64, 256}, {256, 1024}, {1024, 4096}, {16, 4096}};

typedef struct {
  unsigned char *p;
  uint32_t n, tag;
} block_t;

int main(int argc, char **argv) {
  unsigned long rounds = bench_arg(argc, argv, 1, "rounds", 10, 1, 1ul << 20);
  unsigned long live_mb = bench_arg(argc, argv, 2, "live_mb", 32, 1, 1ul << 16);
  unsigned long seed = bench_arg(argc, argv, 3, "seed", 42, 0, UINT32_MAX);
  size_t target = (size_t)live_mb << 20;
  size_t cap = target / 32 + 1;   /* > live blocks: band 16-64 averages 40 bytes */
  block_t *blk = bench_map(cap * sizeof *blk);
  memset(blk, 0, cap * sizeof *blk);
  uint32_t x = bench_seed(seed, 0);
  uint64_t checksum = 0, ops = 0;
  size_t count = 0, live = 0, live_peak = 0;
  unsigned long bad = 0;

  uint64_t base_kb = bench_rss_now_kb();
  double t0 = bench_now_sec();
  for (unsigned long round = 0; round < rounds; round++) {
    const uint32_t *band = k_band[round % 5];
    while (live < target && count < cap) {
      uint32_t r = bench_xorshift32(&x);
      uint32_t sz = band[0] + r % (band[1] - band[0] + 1);
      unsigned char *b = malloc(sz);
      if (!b) bench_die("frag", "malloc failed");
      blk[count] = (block_t){b, sz, bench_tag(sz, r)};
      bench_fill(b, sz, blk[count].tag);
      count++;
      live += sz;
      ops++;
    }
    if (live > live_peak) live_peak = live;
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {   /* free a random half, keep the rest in order */
      if (bench_xorshift32(&x) & 1) {
        if (!bench_check(blk[i].p, blk[i].n, blk[i].tag)) bad++;
        checksum = checksum * 31 + blk[i].tag;
        live -= blk[i].n;
        free(blk[i].p);
        ops++;
      } else {
        blk[kept++] = blk[i];
      }
    }
    count = kept;
  }
  for (size_t i = 0; i < count; i++) {
    if (!bench_check(blk[i].p, blk[i].n, blk[i].tag)) bad++;
    checksum = checksum * 31 + blk[i].tag;
    free(blk[i].p);
    ops++;
  }
  double secs = bench_now_sec() - t0;
  if (bad) bench_die("frag", "a block's contents changed while it was live");
  uint64_t peak_kb = bench_rss_peak_kb();
  uint64_t live_peak_kb = live_peak / 1024;
  double frag = live_peak_kb ? (double)(peak_kb > base_kb ? peak_kb - base_kb : 0) / (double)live_peak_kb : 0.0;
  printf("bench=frag rounds=%lu live_mb=%lu seed=%lu ops=%" PRIu64 " live_peak_kb=%" PRIu64 " rss_peak_kb=%" PRIu64
         " base_kb=%" PRIu64 " frag=%.3f seconds=%.6f ops_per_sec=%.0f checksum=%" PRIu64,
         rounds, live_mb, seed, ops, live_peak_kb, peak_kb, base_kb, frag, secs,
         secs > 0 ? (double)ops / secs : 0.0, checksum);
  bench_print_hakmem();
  putchar('\n');
  return 0;
}
