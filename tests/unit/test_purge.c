/* Purge: memory the allocator keeps mapped for reuse goes back to the kernel once it has been free
 * for HAKMEM_PURGE_DELAY_MS. 64 MiB of small blocks, all freed, leave their SuperSlabs in the
 * cache; within delay + 2 s (the slow path driven by hak_ss_evict) the process's RSS falls to
 * under 16 MiB above where it started while the SuperSlabs stay mapped and cached; the same for
 * 32 MiB of cached large mappings; and for the EMPTY slots of SuperSlabs kept in use by one live
 * block each (they stay in use, their other 31 slots are purged). A purged cached SuperSlab's
 * header gives back its bitmaps' pages too (mincore). Purged memory is then reused: its contents are whatever the
 * program writes, calloc gives zeros, and every invariant holds. */
#include <stdbool.h>
#include <sys/mman.h>
#include <time.h>
#include "hak_test.h"
#include "internal.h"

#define MIB ((size_t)1 << 20)
enum { SMALL_BLOCK = 256, SMALL_N = (int)(64 * MIB / SMALL_BLOCK), LARGE_BLOCK = 4 << 20, LARGE_N = 8 };
#define RSS_SLACK (16 * MIB)   /* what may stay resident above the start: metadata, a live slab */

/* Sanitizers keep shadow memory (and quarantines) resident that no purge gives back: there the
 * RSS bounds are reported, not checked; the statistics still are. */
#if defined(TEST_ASAN) || defined(__SANITIZE_THREAD__)
#define RSS_CHECK(cond, ...) ((cond) ? (void)0 : (void)printf("RSS bound not checked: " __VA_ARGS__), (void)0)
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define RSS_CHECK(cond, ...) ((cond) ? (void)0 : (void)printf("RSS bound not checked: " __VA_ARGS__), (void)0)
#endif
#endif
#ifndef RSS_CHECK
#define RSS_CHECK CHECK
#endif

static size_t rss(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  CHECK(f != NULL);
  unsigned long size = 0, res = 0;
  CHECK(fscanf(f, "%lu %lu", &size, &res) == 2);
  fclose(f);
  return res * (size_t)sysconf(_SC_PAGESIZE);
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool all_purged(void) {
  hak_stats_t s = st();
  return s.ss_cached_purged == s.ss_cached && s.large_cached_purged == s.large_cached;
}

/* Drive the slow paths until RSS is under base + RSS_SLACK and every cached mapping is purged, or
 * delay + 2 s passed; returns the RSS. */
static size_t wait_rss_below(size_t base, const char *what) {
  uint64_t limit = st().purge_delay_ms + 2000u, t0 = now_ms();
  size_t r = rss();
  while ((r >= base + RSS_SLACK || !all_purged()) && now_ms() - t0 < limit) {
    struct timespec nap = {0, 20 * 1000000};
    nanosleep(&nap, NULL);
    hak_ss_evict();
    r = rss();
  }
  printf("%s: RSS %lld KiB above the start after %llu ms (bound %zu KiB)\n", what,
         ((long long)r - (long long)base) / 1024, (unsigned long long)(now_ms() - t0), RSS_SLACK >> 10);
  return r;
}

/* Pages of the header bitmaps of the SuperSlab holding p that are resident. */
static size_t bitmap_pages_resident(const void *p) {
  uintptr_t e = hm_registry_lookup(p);
  CHECK(e & HM_REG_SS, "%p is not in a SuperSlab", p);
  hm_superslab *ss = (hm_superslab *)(e - HM_REG_SS);
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t lo = ((uintptr_t)ss->bitmap + page - 1) & ~(page - 1);
  uintptr_t hi = (uintptr_t)(ss->bitmap + HM_SLABS_PER_SS * HM_BITMAP_WORDS) & ~(page - 1);
  unsigned char vec[64];
  CHECK(hi > lo && (hi - lo) / page <= sizeof vec);
  CHECK(mincore((void *)lo, hi - lo, vec) == 0);
  size_t n = 0;
  for (size_t i = 0; i < (hi - lo) / page; i++) n += vec[i] & 1u;
  return n;
}

static void small_round(size_t base, int round) {
  void **p = calloc(SMALL_N, sizeof *p);   /* glibc's: mmapped, unmapped by free */
  CHECK(p != NULL);
  for (int i = 0; i < SMALL_N; i++) {
    p[i] = hak_malloc(SMALL_BLOCK);
    CHECK(p[i] != NULL);
    memset(p[i], (i + round) & 0xff, SMALL_BLOCK);
  }
  size_t full = rss();
  CHECK(full > base + 48 * MIB, "RSS %zu KiB above the start with 64 MiB live", (full - base) >> 10);
  void *probe = p[SMALL_N / 2];
  CHECK(bitmap_pages_resident(probe) > 0, "a SuperSlab in use with no bitmap page resident");
  for (int i = 0; i < SMALL_N; i++) {
    CHECK(((unsigned char *)p[i])[SMALL_BLOCK - 1] == ((i + round) & 0xff), "block %d", i);
    hak_free(p[i]);
  }
  free(p);
  hak_thread_flush();   /* the thread's kept empty slabs go back: every SuperSlab is cached */
  hak_stats_t s = st();
  CHECK(s.ss_cached >= 28 && s.ss_in_use == 0, "cached %llu in use %llu",
        (unsigned long long)s.ss_cached, (unsigned long long)s.ss_in_use);
  size_t r = wait_rss_below(base, "small");
  RSS_CHECK(r < base + RSS_SLACK, "RSS %zu KiB above the start, %llu SuperSlabs cached", (r - base) >> 10,
        (unsigned long long)s.ss_cached);
  hak_stats_t s2 = st();
  CHECK(s2.ss_cached == s.ss_cached && s2.ss_mapped == s.ss_mapped, "cached %llu -> %llu",
        (unsigned long long)s.ss_cached, (unsigned long long)s2.ss_cached);   /* still mapped */
  CHECK(s2.ss_cached_purged == s2.ss_cached && s2.purged_bytes >= 28 * 2 * MIB && s2.purge_calls >= 28,
        "purged %llu of %llu, %llu bytes", (unsigned long long)s2.ss_cached_purged,
        (unsigned long long)s2.ss_cached, (unsigned long long)s2.purged_bytes);
  CHECK(bitmap_pages_resident(probe) == 0, "a purged SuperSlab's header keeps %zu bitmap pages",
        bitmap_pages_resident(probe));
  CHECK_OK();
}

/* 64 MiB of small blocks, then all freed but one per SuperSlab: each stays in use with one ACTIVE
 * slab, its other slots EMPTY; they are purged one by one. */
static void slot_round(size_t base) {
  void **p = calloc(SMALL_N, sizeof *p);
  uintptr_t *kept = calloc(SMALL_N, sizeof *kept);   /* SuperSlab bases already kept */
  CHECK(p != NULL && kept != NULL);
  for (int i = 0; i < SMALL_N; i++) {
    p[i] = hak_malloc(SMALL_BLOCK);
    CHECK(p[i] != NULL);
    memset(p[i], 0x77, SMALL_BLOCK);
  }
  size_t n_kept = 0;
  uint64_t slots0 = st().slots_purged;   /* delay 0: the frees purge at once */
  for (int i = 0; i < SMALL_N; i++) {
    uintptr_t ss = (uintptr_t)p[i] & ~(uintptr_t)(2 * MIB - 1);
    size_t k = 0;
    while (k < n_kept && kept[k] != ss) k++;
    if (k == n_kept) kept[n_kept++] = ss;
    else hak_free(p[i]), p[i] = NULL;
  }
  hak_thread_flush();
  hak_stats_t s = st();
  CHECK(n_kept >= 28 && s.ss_in_use >= 28 && s.small_live_blocks == n_kept, "kept %zu in use %llu",
        n_kept, (unsigned long long)s.ss_in_use);
  uint64_t t0 = now_ms(), limit = s.purge_delay_ms + 2000u;
  size_t r = rss();
  while ((r >= base + RSS_SLACK || st().slots_purged < slots0 + n_kept * 30) &&
         now_ms() - t0 < limit) {
    struct timespec nap = {0, 20 * 1000000};
    nanosleep(&nap, NULL);
    hak_ss_evict();
    r = rss();
  }
  hak_stats_t s2 = st();
  printf("slots: RSS %lld KiB above the start after %llu ms, %llu slots purged, %llu SuperSlabs in use\n",
         ((long long)r - (long long)base) / 1024, (unsigned long long)(now_ms() - t0),
         (unsigned long long)(s2.slots_purged - slots0), (unsigned long long)s2.ss_in_use);
  RSS_CHECK(r < base + RSS_SLACK, "RSS %zu KiB above the start, %llu SuperSlabs in use", (r - base) >> 10,
            (unsigned long long)s2.ss_in_use);
  CHECK(s2.ss_in_use == s.ss_in_use && s2.slots_purged >= slots0 + n_kept * 30,
        "slots purged %llu", (unsigned long long)(s2.slots_purged - slots0));
  CHECK_OK();
  for (int i = 0; i < SMALL_N; i++)   /* purged slots are claimed again and hold what is written */
    if (p[i] == NULL) {
      p[i] = hak_malloc(SMALL_BLOCK);
      CHECK(p[i] != NULL);
      memset(p[i], i & 0xff, SMALL_BLOCK);
    }
  for (int i = 0; i < SMALL_N; i++) hak_free(p[i]);
  free(p);
  free(kept);
  hak_thread_flush();
  CHECK_OK();
}

/* LARGE_N mappings past the large tier's reuse window (hm_large_window(): at strict the newest 8
 * freed mappings are not handed out again), so the calloc below reuses a purged one. */
static void large_round(size_t base) {
  unsigned n = LARGE_N + hm_large_window();
  void *p[LARGE_N + 32];
  CHECK(n <= LARGE_N + 32u);
  for (unsigned i = 0; i < n; i++) {
    p[i] = hak_malloc(LARGE_BLOCK);
    CHECK(p[i] != NULL);
    memset(p[i], 0x5a, LARGE_BLOCK);
  }
  size_t full = rss();
  CHECK(full > base + 24 * MIB, "RSS %zu KiB above the start with %u MiB live", (full - base) >> 10, n * 4);
  for (unsigned i = 0; i < n; i++) hak_free(p[i]);
  hak_stats_t s = st();
  CHECK(s.large_cached == n, "large cached %llu", (unsigned long long)s.large_cached);
  size_t r = wait_rss_below(base, "large");
  RSS_CHECK(r < base + RSS_SLACK, "RSS %zu KiB above the start, %llu large mappings cached",
        (r - base) >> 10, (unsigned long long)s.large_cached);
  hak_stats_t s2 = st();
  CHECK(s2.large_cached == n && s2.large_cached_purged == n, "large cached %llu purged %llu",
        (unsigned long long)s2.large_cached, (unsigned long long)s2.large_cached_purged);
  /* reuse of a purged mapping (the newest past the window: p[LARGE_N - 1]): writable, calloc
   * zero, the data is the program's */
  unsigned char *c = hak_calloc(1, LARGE_BLOCK);
  CHECK(c != NULL && c[0] == 0 && c[LARGE_BLOCK - 1] == 0);
  memset(c, 0x11, LARGE_BLOCK);
  CHECK(c[12345] == 0x11);
  CHECK(st().large_cached == n - 1, "the purged mapping was not reused");
  CHECK((void *)c == p[LARGE_N - 1], "not the newest mapping past the window");
  for (unsigned i = LARGE_N; i < n; i++) CHECK((void *)c != p[i], "a mapping in the window was reused");
  hak_free(c);
  CHECK_OK();
}

int main(void) {
  hak_free(hak_malloc(1));   /* initialise before measuring */
  size_t base = rss();
  printf("purge delay %llu ms, start RSS %zu KiB\n", (unsigned long long)st().purge_delay_ms, base >> 10);
  small_round(base, 0);
  small_round(base, 1);   /* purged SuperSlabs are claimed again, then purged again */
  slot_round(base);
  large_round(base);
  hak_trim();
  CHECK(st().ss_cached == 0 && st().large_cached == 0);
  CHECK_OK();
  puts("purge: ok");
  return 0;
}
