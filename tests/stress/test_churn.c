/* Thread churn with cross-thread frees (issue: memory held grew without bound when threads come
 * and go and free each other's blocks). Each round starts two threads that allocate small blocks
 * (8..128 B, and every 500th a 100000-byte one), free most of them locally and swap a quarter through a shared array, so blocks are
 * freed by threads that did not allocate them, often after the allocating thread has exited; the
 * main thread frees half of the shared array each round. The live set is bounded (the shared
 * array plus what a round holds), so SuperSlabs mapped, RSS and the process's mappings (lines of
 * /proc/self/maps: hardened allocators that map per block run into vm.max_map_count) must
 * plateau: after round CHURN_WARM they may grow by at most 10 % (plus a small absolute slack for
 * RSS noise and for the thread stacks the C library caches).
 *   CHURN_ROUNDS (default 250), CHURN_WARM (default 100), CHURN_OPS per thread (default 10000);
 * deterministic: the sequences depend on the round number only. At the end every block is freed,
 * the counts must balance, and live never exceeds peak (counts are always kept: after every round,
 * a quiescent point, live blocks and bytes equal allocations minus frees). */
#include <pthread.h>
#include <stdatomic.h>
#include "hak_test.h"

#define NT 1000
#ifdef API_LIBC
#define LIBC_SLACK 8   /* stdio and thread creation allocate through the same heap */
#else
#define LIBC_SLACK 0
#endif
static _Atomic(void *) transfer[NT];
static int ops = 10000;

static void *worker(void *arg) {
  unsigned s = (unsigned)(long)arg * 2654435761u + 1;
  void **keep = API(malloc)((size_t)ops * sizeof(void *));
  CHECK(keep != NULL);
  int top = 0;
  for (int i = 0; i < ops; i++) {
    s = s * 1103515245 + 12345;
    size_t n = 8u << ((s >> 8) % 5);
    if (i % 500 == 499) n = 100000;   /* now and then a medium block (large at the strict levels) */
    void *q = API(malloc)(n);
    CHECK(q != NULL);
    memset(q, 3, n);
    keep[top++] = q;
    s = s * 1103515245 + 12345;
    if ((s >> 8) % 3 != 0 && top > 0) {
      int k = (int)((s >> 12) % (unsigned)top);
      API(free)(keep[k]);
      keep[k] = keep[--top];
    }
    s = s * 1103515245 + 12345;
    if ((s >> 8) % 4 == 0 && top > 0) {
      int k = (int)((s >> 12) % (unsigned)top);
      keep[k] = atomic_exchange(&transfer[(s >> 4) % NT], keep[k]);
      if (!keep[k]) keep[k] = keep[--top];
    }
  }
  for (int i = 0; i < top; i++) API(free)(keep[i]);
  API(free)(keep);
  return NULL;
}

static int env_int(const char *name, int def) {
  const char *v = getenv(name);
  return v && *v ? atoi(v) : def;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int rounds = env_int("CHURN_ROUNDS", 250), warm = env_int("CHURN_WARM", 100);
  ops = env_int("CHURN_OPS", 10000);
  CHECK(rounds > warm && warm > 0);
  unsigned r = 1;
  const hak_stats_t s0 = st();   /* with the libc names the C library holds a few blocks too */
  long rss_warm = 0, rss_max = 0, maps_warm = 0, maps_max = 0;
  uint64_t ss_warm = 0, ss_max = 0;
  for (int it = 0; it < rounds; it++) {
    pthread_t th[2];
    for (long t = 0; t < 2; t++)
      CHECK(pthread_create(&th[t], NULL, worker, (void *)(t + it * 2 + 1)) == 0);
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    for (int i = 0; i < NT; i++) {
      r = r * 1103515245 + 12345;
      if ((r >> 8) & 1) API(free)(atomic_exchange(&transfer[i], NULL));
    }
    hak_stats_t s = st();
    long rss = test_rss_kib(), maps = test_maps_count();
    {   /* quiescent here, so the counts (always kept) are exact */
      uint64_t live = s.small_live_blocks + s.mid_live + s.large_live;
      uint64_t bytes = s.small_live_bytes + s.mid_live_bytes + s.large_live_bytes;
      CHECK(s.counted_allocs > 0 && live == s.counted_allocs - s.counted_frees,
            "round %d: %lu blocks live, allocs %lu - frees %lu", it + 1, (unsigned long)live,
            (unsigned long)s.counted_allocs, (unsigned long)s.counted_frees);
      CHECK(bytes == s.counted_live_bytes && bytes <= s.counted_peak_bytes, "round %d: %lu bytes live, "
            "counted %lu, peak %lu", it + 1, (unsigned long)bytes, (unsigned long)s.counted_live_bytes,
            (unsigned long)s.counted_peak_bytes);
    }
    if (it + 1 == warm) {
      rss_warm = rss;
      maps_warm = maps;
      ss_warm = s.ss_mapped;
    }
    if (it + 1 > warm) {
      if (rss > rss_max) rss_max = rss;
      if (maps > maps_max) maps_max = maps;
      if (s.ss_mapped > ss_max) ss_max = s.ss_mapped;
    }
    if (it == 0 || (it + 1) % 50 == 0)
      printf("round %4d: RSS %6ld KiB, %ld mappings, SuperSlabs mapped %3lu (in use %3lu), small live %lu\n",
             it + 1, rss, maps, (unsigned long)s.ss_mapped, (unsigned long)s.ss_in_use,
             (unsigned long)s.small_live_blocks);
  }
  for (int i = 0; i < NT; i++) API(free)(atomic_exchange(&transfer[i], NULL));
  hak_stats_t e = st();
  printf("after round %d: RSS %ld KiB (max %ld), SuperSlabs %lu (max %lu); end: live %lu blocks, "
         "%lu SuperSlabs in use\n", warm, rss_warm, rss_max, (unsigned long)ss_warm,
         (unsigned long)ss_max, (unsigned long)e.small_live_blocks, (unsigned long)e.ss_in_use);
  /* + 1: a medium SuperSlab comes and goes with the medium blocks the shared array holds */
  CHECK(ss_max <= ss_warm + ss_warm / 10 + 1, "SuperSlabs mapped grew from %lu to %lu after round %d",
        (unsigned long)ss_warm, (unsigned long)ss_max, warm);
  CHECK(maps_max <= maps_warm + maps_warm / 10 + 16, "mappings grew from %ld to %ld after round %d",
        maps_warm, maps_max, warm);
#if !defined(TEST_ASAN)
  /* RSS: 10 % plus 2 MiB of slack (stdio, thread stacks, the kernel's own accounting), plus the
   * 2 MiB of the one SuperSlab the plateau above allows */
  CHECK(rss_max <= rss_warm + rss_warm / 10 + 2048 + 2048, "RSS grew from %ld KiB to %ld KiB after round %d",
        rss_warm, rss_max, warm);
#endif
  /* every block is free: none of the test's blocks is live (the C library's own, with the libc
   * names, are bounded by LIBC_SLACK), and allocs - frees is exactly what is */
  uint64_t live = e.small_live_blocks + e.mid_live + e.large_live;
  uint64_t live0 = s0.small_live_blocks + s0.mid_live + s0.large_live;
  CHECK(live <= live0 + LIBC_SLACK, "%lu blocks still live (%lu at the start)", (unsigned long)live,
        (unsigned long)live0);
  CHECK(e.counted_allocs - e.counted_frees == live, "allocs %lu frees %lu, %lu blocks live",
        (unsigned long)e.counted_allocs, (unsigned long)e.counted_frees, (unsigned long)live);
  CHECK(e.counted_live_bytes <= e.counted_peak_bytes);
  CHECK(hak_check() == NULL, "%s", hak_check());
  printf("churn: %d rounds, plateau held\n", rounds);
  return 0;
}
