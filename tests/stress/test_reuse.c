/* Freed medium-sized blocks are reused or unmapped at every hardening level: rounds of
 * allocating N blocks of 40 KB (one byte written in each) and freeing them all. At the strict
 * levels these sizes are large blocks (own mapping + guard page: two mappings each), and N is
 * 3/5 of vm.max_map_count, so guarding every block would need more mappings than the kernel
 * allows: hakmem must degrade (unguarded or medium-tier blocks past its mapping budget) instead
 * of failing or leaking mappings.
 * Checks: every allocation succeeds; after the frees of round r >= 2 the mapping count (lines of
 * /proc/self/maps) is within MAPS_SLACK of round 2's and RSS within RSS_SLACK_KIB or an eighth of
 * round 2's RSS, whichever is more; under memcheck a quarter of round 2's RSS: its own memory,
 * counted in the process's RSS, moved by up to 40 MB (16 %) between rounds while the mapping
 * count held to within 8;
 * while the blocks are live the mapping count stays under half of vm.max_map_count.
 * Env: REUSE_ROUNDS (default 12), REUSE_N (default 3/5 of vm.max_map_count). Deterministic: the
 * same requests in the same order every run. */
#define _GNU_SOURCE
#include "hak_test.h"

#define BLOCK 40000u
#define MAPS_SLACK 512   /* medium SuperSlabs come and go with the pool cache's age limit */
#define RSS_SLACK_KIB (16u << 10)
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define ON_MEMCHECK() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef ON_MEMCHECK
#define ON_MEMCHECK() 0
#endif

static long read_long(const char *path, long fallback) {
  FILE *f = fopen(path, "r");
  long v = fallback;
  if (f != NULL) {
    if (fscanf(f, "%ld", &v) != 1) v = fallback;
    fclose(f);
  }
  return v;
}

static long env_or(const char *name, long fallback) {
  const char *s = getenv(name);
  return s && *s ? strtol(s, NULL, 10) : fallback;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  long max_maps = read_long("/proc/sys/vm/max_map_count", 65530);
  long n = env_or("REUSE_N", max_maps * 3 / 5);
  long rounds = env_or("REUSE_ROUNDS", 12);
  CHECK(n > 0 && rounds >= 3, "REUSE_N %ld, REUSE_ROUNDS %ld", n, rounds);
  void **p = API(calloc)((size_t)n, sizeof *p);
  CHECK(p != NULL, "calloc of %ld pointers", n);
  hak_stats_t st;
  hak_stats(&st);
  printf("# level %" PRIu64 ", %ld x %u bytes, %ld rounds, vm.max_map_count %ld\n",
         st.harden_level, n, BLOCK, rounds, max_maps);
  long maps2 = 0, rss2 = 0;
  for (long r = 0; r < rounds; r++) {
    for (long i = 0; i < n; i++) {
      errno = 0;
      p[i] = API(malloc)(BLOCK);
      CHECK(p[i] != NULL, "round %ld: malloc(%u) number %ld returned NULL (errno %d), %ld mappings",
            r, BLOCK, i, errno, test_maps_count());
      ((volatile char *)p[i])[i % BLOCK] = (char)r;
    }
    long live_maps = test_maps_count();
    for (long i = 0; i < n; i++) API(free)(p[i]);
    long maps = test_maps_count(), rss = test_rss_kib();
    printf("round %ld: %ld mappings with the blocks live, %ld after the frees, RSS %ld KiB\n", r,
           live_maps, maps, rss);
    CHECK(live_maps < max_maps / 2, "round %ld: %ld mappings for %ld live blocks (limit %ld / 2)", r,
          live_maps, n, max_maps);
    if (r == 2) {
      maps2 = maps;
      rss2 = rss;
    } else if (r > 2) {
      CHECK(maps <= maps2 + MAPS_SLACK, "round %ld: %ld mappings after the frees, round 2 had %ld",
            r, maps, maps2);
      long part = ON_MEMCHECK() ? rss2 / 4 : rss2 / 8;
      long slack = part > (long)RSS_SLACK_KIB ? part : (long)RSS_SLACK_KIB;
      CHECK(rss <= rss2 + slack, "round %ld: RSS %ld KiB after the frees, round 2 had %ld", r, rss, rss2);
    }
  }
  API(free)(p);
  const char *bad = hak_check();
  CHECK(bad == NULL, "hak_check: %s", bad ? bad : "");
  printf("reuse test passed (%s face)\n", API_FACE);
  return 0;
}
