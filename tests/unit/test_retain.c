/* The retain bound (HAKMEM_PURGE_RETAIN_MB): free memory whose pages stay resident is purged at
 * once past the bound, whatever the purge delay, so a program that frees everything and then makes
 * no call (no slow path runs, no purge comes due) holds at most the bound.
 *
 * Run with a delay of an hour, so that only the bound can purge. Three ways memory turns free:
 * whole SuperSlabs going to the cache, EMPTY slots of SuperSlabs kept in use by one live block
 * each, medium blocks freed in SuperSlabs kept by one live block each (off and fast: the strict
 * levels have no medium tier), and large mappings going to the large tier's cache. After each, with no further call:
 * the free resident bytes each tier reports are within the bound, and the RSS above the start is
 * no more than their sum (plus slack for metadata and the live blocks). With HAKMEM_PURGE_RETAIN_MB at its maximum
 * (no bound) the same rounds must keep the memory resident (RETAIN_OFF=1 in the environment):
 * the measurement sees what the bound does. */
#include <stdbool.h>
#include "hak_test.h"
#include "internal.h"

#define MIB ((size_t)1 << 20)
enum { SMALL_BLOCK = 256, SMALL_N = (int)(64 * MIB / SMALL_BLOCK), LARGE_BLOCK = 4 << 20, LARGE_N = 12 };
#define RSS_SLACK (12 * MIB)   /* resident above the start besides the bound: metadata, live slabs */

/* Sanitizers keep shadow memory (and quarantines) resident that no purge gives back: there the
 * RSS bounds are reported, not checked; the statistics still are. */
#if defined(TEST_ASAN) || defined(__SANITIZE_THREAD__)
#define NO_RSS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define NO_RSS 1
#endif
#endif

static bool bounded;   /* the bound in force is the test's, not "none" */

static size_t rss(void) { return (size_t)test_rss_kib() << 10; }   /* hak_test.h */

/* After memory of `freed` bytes turned free: bounded, the RSS and the free resident bytes are
 * within the bound; unbounded, most of what was freed is still resident. */
static void check_held(const char *what, size_t base, size_t freed, uint64_t resident) {
  size_t r = rss();
  hak_stats_t s = st();
  long long above = ((long long)r - (long long)base) / 1024;
  printf("%s: %zu MiB freed; RSS %lld KiB above the start; free resident %llu KiB; bound %llu MiB\n", what,
         freed >> 20, above, (unsigned long long)resident >> 10, (unsigned long long)s.purge_retain_bytes >> 20);
  if (bounded) {
    CHECK(resident <= s.purge_retain_bytes, "%s: %llu bytes free and resident over the bound", what,
          (unsigned long long)resident);
#ifndef NO_RSS
    /* every tier's free resident memory (each within the bound) and metadata, nothing more */
    uint64_t all = s.ss_free_resident_bytes + s.mid_free_resident_bytes + s.large_free_resident_bytes;
    CHECK(r < base + all + RSS_SLACK, "%s: RSS %lld KiB above the start, %llu KiB free and resident",
          what, above, (unsigned long long)all >> 10);
#endif
  } else {
    CHECK(resident >= freed / 2, "%s: only %llu KiB of %zu MiB free kept resident with no bound", what,
          (unsigned long long)resident >> 10, freed >> 20);
#ifndef NO_RSS
    CHECK(r > base + freed / 2, "%s: RSS %lld KiB above the start with no bound", what, above);
#endif
  }
  CHECK_OK();
}

static void **fill(void) {
  void **p = calloc(SMALL_N, sizeof *p);   /* glibc's: mmapped, unmapped by free */
  CHECK(p != NULL);
  for (int i = 0; i < SMALL_N; i++) {
    p[i] = hak_malloc(SMALL_BLOCK);
    CHECK(p[i] != NULL);
    memset(p[i], i & 0xff, SMALL_BLOCK);
  }
  return p;
}

/* Whole SuperSlabs: every block freed, so every SuperSlab goes to the cache. */
static void cache_round(size_t base) {
  void **p = fill();
  uint64_t calls0 = st().purge_calls;
  for (int i = 0; i < SMALL_N; i++) hak_free(p[i]);
  free(p);
  hak_thread_flush();   /* the thread's kept empty slabs go back: every SuperSlab is cached */
  hak_stats_t s = st();
  CHECK(s.ss_in_use == 0 && s.ss_cached >= 28, "cached %llu in use %llu", (unsigned long long)s.ss_cached,
        (unsigned long long)s.ss_in_use);
  if (bounded) CHECK(s.purge_calls > calls0, "nothing purged");
  check_held("cache", base, 64 * MIB, s.ss_free_resident_bytes);
}

/* EMPTY slots: one block kept per SuperSlab, the rest freed. */
static void slot_round(size_t base) {
  void **p = fill();
  uintptr_t *kept = calloc(SMALL_N, sizeof *kept);
  CHECK(kept != NULL);
  size_t n_kept = 0;
  uint64_t slots0 = st().slots_purged;
  for (int i = 0; i < SMALL_N; i++) {
    uintptr_t ss = (uintptr_t)p[i] & ~(uintptr_t)(2 * MIB - 1);
    size_t k = 0;
    while (k < n_kept && kept[k] != ss) k++;
    if (k == n_kept) kept[n_kept++] = ss;
    else hak_free(p[i]), p[i] = NULL;
  }
  hak_thread_flush();
  hak_stats_t s = st();
  CHECK(n_kept >= 28 && s.ss_in_use >= 28, "kept %zu in use %llu", n_kept, (unsigned long long)s.ss_in_use);
  if (bounded) CHECK(s.slots_purged > slots0, "no slot purged");
  check_held("slots", base, 60 * MIB, s.ss_free_resident_bytes);
  for (int i = 0; i < SMALL_N; i++) hak_free(p[i]);   /* NULL for the freed ones */
  free(p);
  free(kept);
  hak_thread_flush();
}

/* Medium blocks: MID_N of 100000 bytes (18 per SuperSlab), all freed but one per SuperSlab. */
static void mid_round(size_t base) {
  enum { MID_N = 216 };
  if (!hm_mid_serves(100000)) return;
  static void *p[MID_N];
  for (int i = 0; i < MID_N; i++) {
    p[i] = hak_malloc(100000);
    CHECK(p[i] != NULL);
    memset(p[i], i & 0xff, 100000);
  }
  size_t freed = 0;
  for (int i = 0; i < MID_N; i++)
    if (i % 18 != 0) {
      hak_free(p[i]);
      freed += 114688;
    }
  hak_stats_t s = st();
  CHECK(s.mid_superslabs >= MID_N / 18, "medium SuperSlabs %llu", (unsigned long long)s.mid_superslabs);
  check_held("medium", base, freed, s.mid_free_resident_bytes);
  for (int i = 0; i < MID_N; i += 18) hak_free(p[i]);
}

/* Large mappings: LARGE_N blocks past the strict levels' reuse window, all freed and cached. */
static void large_round(size_t base) {
  unsigned n = LARGE_N + hm_large_window();
  void *p[LARGE_N + 32];
  CHECK(n <= LARGE_N + 32u);
  for (unsigned i = 0; i < n; i++) {
    p[i] = hak_malloc(LARGE_BLOCK);
    CHECK(p[i] != NULL);
    memset(p[i], 0x5a, LARGE_BLOCK);
  }
  for (unsigned i = 0; i < n; i++) hak_free(p[i]);
  hak_stats_t s = st();
  CHECK(s.large_cached == n, "large cached %llu of %u", (unsigned long long)s.large_cached, n);
  check_held("large", base, (size_t)n * LARGE_BLOCK, s.large_free_resident_bytes);
  /* a purged mapping is reused: zeros from calloc, then the program's data */
  unsigned char *c = hak_calloc(1, LARGE_BLOCK);
  CHECK(c != NULL && c[0] == 0 && c[LARGE_BLOCK / 2] == 0 && c[LARGE_BLOCK - 1] == 0);
  memset(c, 0x11, LARGE_BLOCK);
  CHECK(c[12345] == 0x11);
  hak_free(c);
}

int main(void) {
  hak_free(hak_malloc(1));   /* initialise before measuring */
  const char *off = getenv("RETAIN_OFF");
  bounded = off == NULL || strcmp(off, "1") != 0;
  hak_stats_t s = st();
  CHECK(s.purge_delay_ms >= 60000, "run with a long HAKMEM_PURGE_DELAY_MS (%llu ms)",
        (unsigned long long)s.purge_delay_ms);
  CHECK(bounded ? s.purge_retain_bytes <= 16 * MIB : s.purge_retain_bytes >= 1024 * MIB,
        "HAKMEM_PURGE_RETAIN_MB %llu does not fit the test", (unsigned long long)s.purge_retain_bytes >> 20);
  size_t base = rss();
  printf("retain bound %llu MiB, start RSS %zu KiB\n", (unsigned long long)s.purge_retain_bytes >> 20,
         base >> 10);
  cache_round(base);
  cache_round(base);   /* purged SuperSlabs are claimed again, then purged again */
  slot_round(base);
  mid_round(base);
  large_round(base);
  hak_trim();
  s = st();
  CHECK(s.ss_cached == 0 && s.large_cached == 0 && s.ss_free_resident_bytes == 0 &&
        s.mid_free_resident_bytes == 0 && s.large_free_resident_bytes == 0, "after trim");
  CHECK_OK();
  puts("retain: ok");
  return 0;
}
