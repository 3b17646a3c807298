/* The counters hak_stats reports (counted_allocs, counted_frees, counted_live_bytes,
 * counted_peak_bytes; always kept; ctest runs this with HAKMEM_STATS=1 too): a random program of malloc, calloc,
 * realloc (small, medium and large; growth by mremap, in place, moves between tiers) and free
 * over 64 slots. After every call: allocs - frees is the number of live blocks; live bytes are
 * the sum of the live blocks' usable sizes (the block size: not under ASan, where the usable size
 * is the request); the peak is at least the live bytes and never beyond what was ever live (a
 * counter that went below zero shows up as a peak near 2^64). At the end everything is freed and
 * the live bytes are back where they started. */
#include "hak_test.h"
#include "internal.h"

enum { SLOTS = 64, STEPS = 4000 };

static size_t pick_size(test_rng_t *r) {
  switch (rng_next(r) % 4) {
    case 0: return rng_range(r, 0, 1024);
    case 1: return rng_range(r, 1024, HM_SMALL_MAX + 1);
    case 2: return rng_range(r, HM_SMALL_MAX + 1, HM_MID_MAX + 1);
    default: return rng_range(r, HM_MID_MAX + 1, (size_t)4 << 20);
  }
}

int main(int argc, char **argv) {
  hm_ensure_init();
  test_rng_t r;
  rng_seed(&r, test_seed(argc, argv, "HAK_TEST_SEED", 42));
  void *p[SLOTS] = {0};
  const hak_stats_t s0 = st();
  uint64_t most = s0.counted_live_bytes;   /* the most the model ever held */
  uint64_t big = 0;                        /* the largest block ever */
  (void)most;                              /* unused under ASan, where bytes are not compared */
  for (int step = 0; step < STEPS; step++) {
    unsigned i = (unsigned)(rng_next(&r) % SLOTS);
    size_t n = pick_size(&r);
    switch (rng_next(&r) % 4) {
      case 0:
      case 1:
        if (p[i] == NULL) {
          p[i] = (rng_next(&r) & 1) ? hak_malloc(n) : hak_calloc(1, n);
          CHECK(p[i] != NULL, "step %d: malloc(%zu)", step, n);
        } else {
          void *q = hak_realloc(p[i], n);
          CHECK(q != NULL, "step %d: realloc(%zu)", step, n);
          p[i] = q;
        }
        break;
      default:
        hak_free(p[i]);
        p[i] = NULL;
        break;
    }
    uint64_t live = 0, bytes = 0;
    for (unsigned k = 0; k < SLOTS; k++)
      if (p[k]) {
        size_t u = hak_malloc_usable_size(p[k]);
        live++, bytes += u;
        if (u > big) big = u;
      }
    hak_stats_t s = st();
    CHECK(s.counted_allocs - s.counted_frees == s0.counted_allocs - s0.counted_frees + live,
          "step %d: %llu allocs - %llu frees, %llu live", step, (unsigned long long)s.counted_allocs,
          (unsigned long long)s.counted_frees, (unsigned long long)live);
#ifndef TEST_ASAN
    CHECK(s.counted_live_bytes == s0.counted_live_bytes + bytes, "step %d: counted live bytes %llu, blocks hold %llu",
          step, (unsigned long long)(s.counted_live_bytes - s0.counted_live_bytes), (unsigned long long)bytes);
    if (s0.counted_live_bytes + bytes > most) most = s0.counted_live_bytes + bytes;
    /* a realloc that moves holds both blocks for a moment: at most the largest block more */
    CHECK(s.counted_peak_bytes >= most && s.counted_peak_bytes <= most + big,
          "step %d: counted peak %llu, live %llu, most ever held %llu", step,
          (unsigned long long)s.counted_peak_bytes, (unsigned long long)s.counted_live_bytes,
          (unsigned long long)most);
#endif
  }
  for (unsigned k = 0; k < SLOTS; k++) hak_free(p[k]);
  hak_stats_t s = st();
  CHECK(s.counted_live_bytes == s0.counted_live_bytes, "after freeing everything: %llu bytes counted live",
        (unsigned long long)(s.counted_live_bytes - s0.counted_live_bytes));
  CHECK(s.counted_peak_bytes < ((uint64_t)1 << 40), "counted peak %llu", (unsigned long long)s.counted_peak_bytes);
  test_check_ok(__LINE__);
  printf("count: %d steps, counted allocs %llu, frees %llu, peak %llu bytes\n", STEPS,
         (unsigned long long)s.counted_allocs, (unsigned long long)s.counted_frees,
         (unsigned long long)s.counted_peak_bytes);
  return 0;
}
