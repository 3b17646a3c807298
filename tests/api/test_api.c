/* API conformance for hakmem's allocation and control API.
 *
 * Built twice from this one source:
 *   api_hak   the hak_* twins, linked with the static core (hakmem_api);
 *   api_libc  the libc names (-DAPI_LIBC), linked with libhakmem.so, so the drop-in shim is checked.
 * API(malloc) names the function under test. Every check is a CHECK (always on, prints file:line,
 * the expression and what went wrong, exits 1). stdout is unbuffered so stdio allocates nothing
 * between two statistics snapshots. */
#define _GNU_SOURCE
#include "hak_test.h"

#include <limits.h>
#include <stdbool.h>

#define PAGE ((size_t)sysconf(_SC_PAGESIZE))
#define SS_BYTES ((uint64_t)2 << 20)

static hak_stats_t stats_now(void) {
  hak_stats_t s;
  memset(&s, 0xEE, sizeof s);
  hak_stats(&s);
  return s;
}

static void check_ok(const char *where) {
  const char *bad = hak_check();
  CHECK(bad == NULL, "hak_check() after %s reports broken invariant '%s'", where, bad ? bad : "");
}

static bool all_zero(const void *p, size_t n) {
  const uint8_t *b = p;
  size_t i = 0;
  for (; i < n && ((uintptr_t)(b + i) & 7); i++)
    if (b[i]) return false;
  for (; i + 8 <= n; i += 8)
    if (*(const uint64_t *)(const void *)(b + i)) return false;
  for (; i < n; i++)
    if (b[i]) return false;
  return true;
}

static size_t min_align_for(size_t n) { return n >= 16 ? 16 : 8; }

/* Tiers: every small and medium block ends in an 8-byte end canary, so a request of n bytes
 * needs a block of n + 8: small n <= 32760 (32 KiB blocks) < medium <= 524280 (512 KiB blocks)
 * < large. The medium tier serves the off and fast levels only; at strict and paranoid
 * (api_hak_strict, api_hak_paranoid) every size over 32760 gets its own mapping. */
#define CANARY ((size_t)8)
#define SMALL_REQ_MAX ((size_t)32768 - CANARY)     /* the largest small request */
#define MID_MAX (((size_t)512 << 10) - CANARY)     /* the largest medium request (and usable size) */
static bool medium_tier_on(void) { return stats_now().harden_level < 2; }
/* The medium block (class) of a request of `n` bytes (32760 < n <= 524280): the smallest of the
 * classes, four per power of two, 40 KiB .. 512 KiB, that holds n and the end canary; its usable
 * size is the class - 8. */
static size_t mid_class(size_t n) {
  for (unsigned k = 0; k < 16; k++) {
    size_t c = (size_t)(5 + k % 4) << (13 + k / 4);
    if (n + CANARY <= c) return c;
  }
  return 0;
}
static __attribute__((unused)) size_t page_round(size_t n) { return (n + 4095) / 4096 * 4096; }

static void check_aligned_block(void *p, size_t n, const char *what) {
  CHECK(p != NULL, "%s(%zu) returned NULL", what, n);
  CHECK(((uintptr_t)p & (min_align_for(n) - 1)) == 0, "%s(%zu) = %p is not %zu-byte aligned", what, n,
        p, min_align_for(n));
  size_t u = API(malloc_usable_size)(p);
  CHECK(u >= n, "%s(%zu): malloc_usable_size = %zu < requested", what, n, u);
}

/* ---- the library really is hakmem ---------------------------------------------------------- */
static void test_face_is_hakmem(void) {
  hak_stats_t s0 = stats_now();
  void *p = API(malloc)(100);
  void *q = API(malloc)(1 * MiB);
  void *m = API(malloc)(200 * KiB);
  hak_stats_t s1 = stats_now();
  CHECK(p && q && m, "malloc(100) / malloc(1 MiB) / malloc(200 KiB) failed");
  CHECK(s1.small_live_blocks == s0.small_live_blocks + 1,
        "malloc(100) is not served by hakmem: small_live_blocks %" PRIu64 " -> %" PRIu64,
        s0.small_live_blocks, s1.small_live_blocks);
  uint64_t large_more = medium_tier_on() ? 1 : 2;   /* at strict levels 200 KiB is large too */
  CHECK(s1.large_live == s0.large_live + large_more,
        "malloc(1 MiB) + malloc(200 KiB) at level %" PRIu64 ": large_live %" PRIu64 " -> %" PRIu64
        " (expected +%" PRIu64 ")", s1.harden_level, s0.large_live, s1.large_live, large_more);
  CHECK(s1.mid_live == s0.mid_live + 2 - large_more,
        "malloc(200 KiB) at level %" PRIu64 ": mid_live %" PRIu64 " -> %" PRIu64, s1.harden_level,
        s0.mid_live, s1.mid_live);
  API(free)(p);
  API(free)(q);
  API(free)(m);
  hak_stats_t s2 = stats_now();
  CHECK(s2.small_live_blocks == s0.small_live_blocks, "free(p) left small_live_blocks %" PRIu64
        " (was %" PRIu64 ")", s2.small_live_blocks, s0.small_live_blocks);
  CHECK(s2.large_live == s0.large_live, "free(q) left large_live %" PRIu64 " (was %" PRIu64 ")",
        s2.large_live, s0.large_live);
  CHECK(s2.mid_live == s0.mid_live, "free(m) left mid_live %" PRIu64 " (was %" PRIu64 ")",
        s2.mid_live, s0.mid_live);
#ifdef HAK_EXPECTED_DEBUG
  CHECK(hak_debug_level() == HAK_EXPECTED_DEBUG, "hak_debug_level() = %d, the build says %d",
        hak_debug_level(), HAK_EXPECTED_DEBUG);
#endif
}

/* ---- alignment of plain malloc ------------------------------------------------------------- */
static void test_alignment_sweep(void) {
  for (size_t n = 0; n <= 4096; n++) {
    void *p = API(malloc)(n);
    check_aligned_block(p, n, "malloc");
    CHECK(((uintptr_t)p & 1) == 0, "malloc(%zu) returned an odd pointer %p", n, p);
    memset(p, 0x5A, n);
    API(free)(p);
  }
  for (int k = 0; k <= 26; k++) {           /* 1 B .. 64 MiB */
    size_t base = (size_t)1 << k;
    for (int d = -1; d <= 1; d++) {
      size_t n = base + (size_t)(ptrdiff_t)d;
      void *p = API(malloc)(n);
      check_aligned_block(p, n, "malloc");
      if (n) {
        ((volatile uint8_t *)p)[0] = 1;
        ((volatile uint8_t *)p)[n - 1] = 2;
      }
      API(free)(p);
    }
  }
  /* keep a mix live at once: alignment must hold when blocks are carved next to each other too */
  enum { N = 2000 };
  static void *live[N];
  test_rng_t r;
  rng_seed(&r, 7);
  for (int i = 0; i < N; i++) {
    size_t n = rng_range(&r, 0, i % 10 == 0 ? 70000 : 300);
    live[i] = API(malloc)(n);
    check_aligned_block(live[i], n, "malloc (many live)");
  }
  for (int i = 0; i < N; i++) API(free)(live[i]);
  check_ok("alignment sweep");
}

/* ---- impossible sizes ---------------------------------------------------------------------- */
#define EXPECT_ENOMEM(call, desc)                                                                  \
  do {                                                                                             \
    errno = 0;                                                                                     \
    void *r_ = (call);                                                                             \
    int e_ = errno;                                                                                \
    CHECK(r_ == NULL, "%s returned %p, expected NULL", desc, r_);                                  \
    CHECK(e_ == ENOMEM, "%s set errno %d (%s), expected ENOMEM", desc, e_, strerror(e_));          \
  } while (0)

static void test_enomem(void) {
  volatile size_t big = (size_t)PTRDIFF_MAX + 1;
  volatile size_t huge = SIZE_MAX;
  volatile size_t half = SIZE_MAX / 2 + 1;
  volatile size_t two32 = (size_t)1 << 32;
  char desc[128];

  EXPECT_ENOMEM(API(malloc)(big), "malloc(PTRDIFF_MAX+1)");
  EXPECT_ENOMEM(API(malloc)(huge), "malloc(SIZE_MAX)");
  static const size_t minus[] = {1, 7, 8, 15, 16, 4095, 4096, 65536, 2 << 20, 32 << 20};
  for (size_t i = 0; i < sizeof minus / sizeof minus[0]; i++) {
    snprintf(desc, sizeof desc, "malloc(SIZE_MAX-%zu)", minus[i]);
    EXPECT_ENOMEM(API(malloc)(huge - minus[i]), desc);
    snprintf(desc, sizeof desc, "malloc(PTRDIFF_MAX+1+%zu)", minus[i]);
    EXPECT_ENOMEM(API(malloc)(big + minus[i]), desc);
  }
  /* below PTRDIFF_MAX the request is legal but cannot be served: NULL + ENOMEM, never a tiny block */
  errno = 0;
  void *q = API(malloc)((size_t)PTRDIFF_MAX - 4096);
  CHECK(q == NULL && errno == ENOMEM, "malloc(PTRDIFF_MAX-4096) = %p errno %d", q, errno);

  EXPECT_ENOMEM(API(calloc)(big, 1), "calloc(PTRDIFF_MAX+1, 1)");
  EXPECT_ENOMEM(API(calloc)(1, big), "calloc(1, PTRDIFF_MAX+1)");
  EXPECT_ENOMEM(API(calloc)(half, 2), "calloc(SIZE_MAX/2+1, 2) (overflow)");
  EXPECT_ENOMEM(API(calloc)(two32, two32), "calloc(2^32, 2^32) (overflow)");
  EXPECT_ENOMEM(API(calloc)(huge, huge), "calloc(SIZE_MAX, SIZE_MAX) (overflow)");
  EXPECT_ENOMEM(API(calloc)(3, huge / 3 + 1), "calloc(3, SIZE_MAX/3+1) (overflow)");

  EXPECT_ENOMEM(API(realloc)(NULL, big), "realloc(NULL, PTRDIFF_MAX+1)");
  EXPECT_ENOMEM(API(reallocarray)(NULL, half, 2), "reallocarray(NULL, SIZE_MAX/2+1, 2)");
  static const size_t olds[] = {24, 1000, 40000, 3 << 20};
  for (size_t i = 0; i < sizeof olds / sizeof olds[0]; i++) {
    size_t n = olds[i];
    uint8_t *p = API(malloc)(n);
    CHECK(p, "malloc(%zu)", n);
    pattern_fill(p, n, 0xE0 + i, 0);
    snprintf(desc, sizeof desc, "realloc(p[%zu], PTRDIFF_MAX+1)", n);
    EXPECT_ENOMEM(API(realloc)(p, big), desc);
    snprintf(desc, sizeof desc, "realloc(p[%zu], SIZE_MAX)", n);
    EXPECT_ENOMEM(API(realloc)(p, huge), desc);
    snprintf(desc, sizeof desc, "reallocarray(p[%zu], SIZE_MAX/2+1, 2) (overflow)", n);
    EXPECT_ENOMEM(API(reallocarray)(p, half, 2), desc);
    snprintf(desc, sizeof desc, "reallocarray(p[%zu], 2^32, 2^32) (overflow)", n);
    EXPECT_ENOMEM(API(reallocarray)(p, two32, two32), desc);
    snprintf(desc, sizeof desc, "reallocarray(p[%zu], PTRDIFF_MAX+1, 1)", n);
    EXPECT_ENOMEM(API(reallocarray)(p, big, 1), desc);
    size_t bad = pattern_find_bad(p, n, 0xE0 + i);
    CHECK(bad == n, "failed realloc of a %zu-byte block changed byte %zu of the original", n, bad);
    API(free)(p);
  }

  EXPECT_ENOMEM(API(aligned_alloc)(16, big), "aligned_alloc(16, PTRDIFF_MAX+1)");
  EXPECT_ENOMEM(API(aligned_alloc)(4096, huge - 100), "aligned_alloc(4096, SIZE_MAX-100)");
  EXPECT_ENOMEM(API(aligned_alloc)(2 << 20, huge), "aligned_alloc(2 MiB, SIZE_MAX)");
  EXPECT_ENOMEM(API(memalign)(64, big), "memalign(64, PTRDIFF_MAX+1)");
  EXPECT_ENOMEM(API(valloc)(big), "valloc(PTRDIFF_MAX+1)");
  EXPECT_ENOMEM(API(valloc)(huge - 10), "valloc(SIZE_MAX-10)");
  EXPECT_ENOMEM(API(pvalloc)(big), "pvalloc(PTRDIFF_MAX+1)");
  EXPECT_ENOMEM(API(pvalloc)(huge - 10), "pvalloc(SIZE_MAX-10) (rounding overflow)");
  void *out = (void *)0x1230;
  int rc = API(posix_memalign)(&out, 64, big);
  CHECK(rc == ENOMEM, "posix_memalign(64, PTRDIFF_MAX+1) returned %d, expected ENOMEM", rc);
  CHECK(out == (void *)0x1230, "posix_memalign failure wrote %p to *out", out);
  rc = API(posix_memalign)(&out, 4096, huge - 1);
  CHECK(rc == ENOMEM, "posix_memalign(4096, SIZE_MAX-1) returned %d, expected ENOMEM", rc);
  CHECK(out == (void *)0x1230, "posix_memalign failure wrote %p to *out", out);
  check_ok("ENOMEM cases");
}

/* Sizes that are legal but more than the machine can back: the kernel must refuse them when
 * hakmem maps them (its heuristic overcommit refuses one mapping larger than RAM + swap), so
 * malloc returns NULL + ENOMEM as glibc's does instead of a block the program dies touching.
 * Asserted only where the kernel's answer is known: overcommit_memory 0 and a size above
 * MemTotal + SwapTotal. */
static uint64_t meminfo_kib(const char *key) {
  FILE *f = fopen("/proc/meminfo", "r");
  if (f == NULL) return 0;
  char line[128];
  uint64_t v = 0;
  size_t n = strlen(key);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, n) == 0 && line[n] == ':') v = strtoull(line + n + 1, NULL, 10);
  fclose(f);
  return v;
}
static bool kernel_refuses(size_t n) {
  FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
  int mode = -1;
  if (f != NULL) {
    if (fscanf(f, "%d", &mode) != 1) mode = -1;
    fclose(f);
  }
  uint64_t backed = (meminfo_kib("MemTotal") + meminfo_kib("SwapTotal")) * 1024;
  return mode == 0 && backed != 0 && n > backed;
}

static void test_unbackable(void) {
  static const size_t sizes[] = {(size_t)30 << 30, (size_t)64 << 30, (size_t)1 << 40, (size_t)64 << 40};
  char desc[128];
  int asserted = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    volatile size_t n = sizes[i];
    if (!kernel_refuses(n)) continue;
    asserted++;
    snprintf(desc, sizeof desc, "malloc(%zu GiB)", n >> 30);
    EXPECT_ENOMEM(API(malloc)(n), desc);
    snprintf(desc, sizeof desc, "calloc(1, %zu GiB)", n >> 30);
    EXPECT_ENOMEM(API(calloc)(1, n), desc);
    snprintf(desc, sizeof desc, "calloc(%zu Mi, 1 KiB)", n >> 30);
    EXPECT_ENOMEM(API(calloc)(n >> 10, 1024), desc);
    snprintf(desc, sizeof desc, "realloc(NULL, %zu GiB)", n >> 30);
    EXPECT_ENOMEM(API(realloc)(NULL, n), desc);
    snprintf(desc, sizeof desc, "aligned_alloc(2 MiB, %zu GiB)", n >> 30);
    EXPECT_ENOMEM(API(aligned_alloc)(2 << 20, n), desc);
    static const size_t olds[] = {100, 40000, 3 << 20};
    for (size_t j = 0; j < sizeof olds / sizeof olds[0]; j++) {
      uint8_t *p = API(malloc)(olds[j]);
      CHECK(p, "malloc(%zu)", olds[j]);
      pattern_fill(p, olds[j], 0x70 + j, 0);
      snprintf(desc, sizeof desc, "realloc(p[%zu], %zu GiB)", olds[j], n >> 30);
      EXPECT_ENOMEM(API(realloc)(p, n), desc);
      CHECK(pattern_find_bad(p, olds[j], 0x70 + j) == olds[j], "failed realloc changed the block");
      API(free)(p);
    }
  }
  printf("# unbackable sizes: %d of 4 asserted (overcommit heuristic, above RAM + swap)\n", asserted);
  check_ok("unbackable sizes");
}

/* ---- aligned allocation family --------------------------------------------------------------- */
static const size_t align_sizes[] = {0, 1, 7, 8, 15, 16, 17, 100, 1000, 4095, 4096, 4097,
                                     32767, 32768, 32769, 100000};

static void fill_and_free(void *p, size_t n, size_t a, const char *what) {
  CHECK(p != NULL, "%s(align %zu, size %zu) returned NULL", what, a, n);
  CHECK(((uintptr_t)p & (a - 1)) == 0, "%s(align %zu, size %zu) = %p misaligned", what, a, n, p);
  CHECK(((uintptr_t)p & (min_align_for(n) - 1)) == 0, "%s(align %zu, size %zu) = %p below malloc alignment", what, a, n, p);
  size_t u = API(malloc_usable_size)(p);
  CHECK(u >= n, "%s(align %zu, size %zu): usable %zu < size", what, a, n, u);
  memset(p, 0xC3, n);
  API(free)(p);
}

static void test_posix_memalign(void) {
  static const size_t bad[] = {0, 1, 2, 3, 4, 5, 12, 24, 40, 48, 96, 4097, 3 << 20,
                               (size_t)1 << 63 | 8};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    void *out = (void *)0x4560;
    int rc = API(posix_memalign)(&out, bad[i], 64);
    CHECK(rc == EINVAL, "posix_memalign(alignment %zu) returned %d, expected EINVAL", bad[i], rc);
    CHECK(out == (void *)0x4560, "posix_memalign(alignment %zu) failed but wrote %p to *out", bad[i], out);
  }
  for (size_t a = sizeof(void *); a <= 4 * MiB; a <<= 1) {
    for (size_t i = 0; i < sizeof align_sizes / sizeof align_sizes[0]; i++) {
      size_t n = align_sizes[i];
      void *out = NULL;
      int rc = API(posix_memalign)(&out, a, n);
      CHECK(rc == 0, "posix_memalign(align %zu, size %zu) returned %d", a, n, rc);
      fill_and_free(out, n, a, "posix_memalign");
    }
    size_t extra[] = {a - 1, a, a + 1, 2 * a + 3};
    for (size_t i = 0; i < 4; i++) {
      void *out = NULL;
      int rc = API(posix_memalign)(&out, a, extra[i]);
      CHECK(rc == 0, "posix_memalign(align %zu, size %zu) returned %d", a, extra[i], rc);
      fill_and_free(out, extra[i], a, "posix_memalign");
    }
  }
  /* many live aligned blocks next to each other */
  enum { N = 300 };
  static void *live[N];
  for (int i = 0; i < N; i++) {
    size_t a = (size_t)32 << (i % 8), n = 1 + (size_t)i * 37 % 3000;
    int rc = API(posix_memalign)(&live[i], a, n);
    CHECK(rc == 0 && ((uintptr_t)live[i] & (a - 1)) == 0, "posix_memalign(%zu, %zu) rc %d p %p", a, n,
          rc, live[i]);
    memset(live[i], i & 0xFF, n);
  }
  for (int i = 0; i < N; i++) {
    size_t n = 1 + (size_t)i * 37 % 3000;
    const uint8_t *b = live[i];
    CHECK(b[0] == (uint8_t)i && b[n - 1] == (uint8_t)i, "aligned block %d (size %zu) was overwritten", i, n);
    API(free)(live[i]);
  }
  check_ok("posix_memalign");
}

static void test_aligned_alloc_family(void) {
  static const size_t bad[] = {0, 3, 5, 6, 12, 24, 48, 100, 4097, 3 << 20};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    errno = 0;
    void *p = API(aligned_alloc)(bad[i], 64);
    int e = errno;
    CHECK(p == NULL, "aligned_alloc(alignment %zu) returned %p, expected NULL", bad[i], p);
    CHECK(e == EINVAL, "aligned_alloc(alignment %zu) set errno %d, expected EINVAL", bad[i], e);
  }
  for (size_t a = 1; a <= 4 * MiB; a <<= 1) {
    for (size_t i = 0; i < sizeof align_sizes / sizeof align_sizes[0]; i++) {
      size_t n = align_sizes[i];
      fill_and_free(API(aligned_alloc)(a, n), n, a, "aligned_alloc");
      fill_and_free(API(memalign)(a, n), n, a, "memalign");
    }
    fill_and_free(API(aligned_alloc)(a, 2 * a + 1), 2 * a + 1, a, "aligned_alloc");
    fill_and_free(API(memalign)(a, 3 * a), 3 * a, a, "memalign");
  }
  /* memalign with a non-power-of-two alignment: like glibc, the alignment rounds up */
  void *m = API(memalign)(24, 100);
  CHECK(m != NULL && ((uintptr_t)m & 31) == 0, "memalign(24, 100) = %p: not 32-byte aligned", m);
  API(free)(m);

  size_t page = PAGE;
  static const size_t vsizes[] = {0, 1, 100, 4095, 4096, 4097, 10000, 20000, 32768, 40000, 1 << 20};
  for (size_t i = 0; i < sizeof vsizes / sizeof vsizes[0]; i++) {
    size_t n = vsizes[i];
    void *p = API(valloc)(n);
    CHECK(p != NULL, "valloc(%zu) returned NULL", n);
    CHECK(((uintptr_t)p & (page - 1)) == 0, "valloc(%zu) = %p not page aligned", n, p);
    size_t u = API(malloc_usable_size)(p);
    CHECK(u >= n, "valloc(%zu): usable %zu < size", n, u);
    memset(p, 0x77, n);
    API(free)(p);

    p = API(pvalloc)(n);
    CHECK(p != NULL, "pvalloc(%zu) returned NULL", n);
    CHECK(((uintptr_t)p & (page - 1)) == 0, "pvalloc(%zu) = %p not page aligned", n, p);
    u = API(malloc_usable_size)(p);
    size_t want = n == 0 ? page : (n + page - 1) / page * page;
    CHECK(u >= want, "pvalloc(%zu): usable %zu < %zu (size rounded up to pages)", n, u, want);
    memset(p, 0x78, u);
    API(free)(p);
  }
  check_ok("aligned_alloc / memalign / valloc / pvalloc");
}

/* Every errno of the aligned family, as glibc documents it (manual "Aligned Memory Blocks",
 * malloc.c 2.36 _mid_memalign; aligned_alloc as in 2.38, which checks the alignment): an invalid
 * alignment is EINVAL, an impossible size or alignment ENOMEM. memalign takes any alignment up to
 * 2^63 (a non-power rounds up) and only one above 2^63 is invalid; aligned_alloc wants a power of
 * two; posix_memalign a power of two >= sizeof(void *), and returns the error. A power-of-two
 * alignment that cannot be served (2^35 and up on a small machine) is ENOMEM, never EINVAL. */
static const char *errno_name(int e) { return e == 0 ? "0" : e == ENOMEM ? "ENOMEM" : e == EINVAL ? "EINVAL" : "?"; }

/* `p` / `e` came from an aligned allocation that is valid: a block aligned to `a`, or NULL + ENOMEM
 * (only allowed when `may_fail`). */
static void check_aligned_result(void *p, int e, size_t a, bool may_fail, const char *what) {
  if (p == NULL) {
    CHECK(may_fail && e == ENOMEM, "%s: NULL with errno %s, expected %s", what, errno_name(e),
          may_fail ? "ENOMEM or a block" : "a block");
    return;
  }
  CHECK(((uintptr_t)p & (a - 1)) == 0, "%s = %p is not %zu-aligned", what, p, a);
  API(free)(p);
}

static void test_aligned_errno(void) {
  volatile size_t huge = SIZE_MAX, one = 1;
  char what[96];
  for (unsigned k = 0; k < 64; k++) {
    size_t a = (size_t)1 << k;
    bool may_fail = k > 21;   /* up to 2 MiB every machine serves it */
    errno = 0;
    void *p = API(memalign)(a, huge);
    int e = errno;
    CHECK(p == NULL && e == ENOMEM, "memalign(2^%u, SIZE_MAX) = %p errno %s, expected NULL ENOMEM",
          k, p, errno_name(e));
    errno = 0;
    p = API(aligned_alloc)(a, huge);
    e = errno;
    CHECK(p == NULL && e == ENOMEM, "aligned_alloc(2^%u, SIZE_MAX) = %p errno %s, expected NULL ENOMEM",
          k, p, errno_name(e));
    void *out = (void *)0x4560;
    int rc = API(posix_memalign)(&out, a, huge);
    int want = a < sizeof(void *) ? EINVAL : ENOMEM;
    CHECK(rc == want && out == (void *)0x4560, "posix_memalign(2^%u, SIZE_MAX) = %s, out %p; expected %s",
          k, errno_name(rc), out, errno_name(want));

    errno = 0;
    p = API(memalign)(a, one);
    snprintf(what, sizeof what, "memalign(2^%u, 1)", k);
    check_aligned_result(p, errno, a, may_fail, what);
    errno = 0;
    p = API(aligned_alloc)(a, one);
    snprintf(what, sizeof what, "aligned_alloc(2^%u, 1)", k);
    check_aligned_result(p, errno, a, may_fail, what);
    out = NULL;
    rc = API(posix_memalign)(&out, a, one);
    if (a < sizeof(void *)) {
      CHECK(rc == EINVAL && out == NULL, "posix_memalign(2^%u, 1) = %s, expected EINVAL", k, errno_name(rc));
    } else {
      snprintf(what, sizeof what, "posix_memalign(2^%u, 1)", k);
      check_aligned_result(rc == 0 ? out : NULL, rc, a, may_fail, what);
    }
  }
  /* through pointers: the headers declare the alignment argument alloc_align, so a direct call
   * with a non-power of two is an alignment assumption UBSan rightly rejects in the caller */
  void *(*volatile memalign_p)(size_t, size_t) = API(memalign);
  void *(*volatile aligned_alloc_p)(size_t, size_t) = API(aligned_alloc);
  static const size_t odd[] = {0, 3, 24, 48, 100, 4097, (size_t)3 << 40, ((size_t)1 << 63) + 1, SIZE_MAX};
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
    size_t a = odd[i];
    bool invalid = a > ((size_t)1 << 63);                          /* memalign: EINVAL */
    size_t up = a <= 1 ? 1 : invalid ? 0 : (size_t)1 << (64 - __builtin_clzll(a - 1));
    errno = 0;
    void *p = memalign_p(a, huge);
    int e = errno;
    int want = invalid ? EINVAL : ENOMEM;
    CHECK(p == NULL && e == want, "memalign(%#zx, SIZE_MAX) = %p errno %s, expected NULL %s", a, p,
          errno_name(e), errno_name(want));
    errno = 0;
    p = memalign_p(a, one);
    e = errno;
    if (invalid) {
      CHECK(p == NULL && e == EINVAL, "memalign(%#zx, 1) = %p errno %s, expected NULL EINVAL", a, p,
            errno_name(e));
    } else {
      snprintf(what, sizeof what, "memalign(%#zx, 1) (alignment rounded up to %#zx)", a, up);
      check_aligned_result(p, e, up, up > ((size_t)1 << 21), what);
    }
    errno = 0;
    p = aligned_alloc_p(a, one);
    e = errno;
    CHECK(p == NULL && e == EINVAL, "aligned_alloc(%#zx, 1) = %p errno %s, expected NULL EINVAL", a, p,
          errno_name(e));
    errno = 0;
    p = aligned_alloc_p(a, huge);
    e = errno;
    CHECK(p == NULL && e == EINVAL, "aligned_alloc(%#zx, SIZE_MAX) = %p errno %s, expected NULL EINVAL",
          a, p, errno_name(e));
    void *out = (void *)0x4560;
    int rc = API(posix_memalign)(&out, a, one);
    CHECK(rc == EINVAL && out == (void *)0x4560, "posix_memalign(%#zx, 1) = %s, expected EINVAL", a,
          errno_name(rc));
  }
  errno = 0;
  void *p = API(valloc)(huge);
  CHECK(p == NULL && errno == ENOMEM, "valloc(SIZE_MAX) = %p errno %s", p, errno_name(errno));
  errno = 0;
  p = API(pvalloc)(huge);
  CHECK(p == NULL && errno == ENOMEM, "pvalloc(SIZE_MAX) = %p errno %s", p, errno_name(errno));
  check_ok("aligned errno");
}

/* ---- realloc ------------------------------------------------------------------------------- */
/* Walks one block through `chain` sizes; contents up to min(old, new) survive every step. */
static void realloc_chain(const size_t *chain, size_t len, uint64_t tag) {
  size_t n = chain[0];
  uint8_t *p = API(realloc)(NULL, n);   /* realloc(NULL, n) == malloc(n) */
  check_aligned_block(p, n, "realloc(NULL, n)");
  pattern_fill(p, n, tag, 0);
  for (size_t i = 1; i < len; i++) {
    size_t m = chain[i];
#ifdef API_LIBC
    if (m == 0) {   /* glibc's realloc(p, 0) frees p and returns NULL; go on from malloc(0) */
      CHECK(API(realloc)(p, 0) == NULL, "realloc(p[%zu], 0) did not return NULL", n);
      p = API(malloc)(0);
      n = 0;
      continue;
    }
#endif
    uint8_t *q = API(realloc)(p, m);
    check_aligned_block(q, m, "realloc");
    size_t keep = n < m ? n : m;
    size_t bad = pattern_find_bad(q, keep, tag);
    CHECK(bad == keep, "realloc %zu -> %zu lost contents at byte %zu of %zu", n, m, bad, keep);
    pattern_fill(q, m, tag, keep);
    p = q;
    n = m;
  }
  API(free)(p);
}

static void test_realloc(void) {
  static const size_t small_small[] = {1, 8, 16, 24, 100, 8, 1000, 17, 4096, 16000, 32768, 5, 0, 33};
  static const size_t small_large[] = {1000, 40000, 100, 32768, 32769, 500000, 24, 65536, 32768, 70000, 8};
  static const size_t large_large[] = {65536, 1 << 20, 8 << 20, 3 << 20, (8 << 20) - 1, 40000,
                                       2 << 20, (2 << 20) + 4096, 100000, 6 << 20, 33000};
  realloc_chain(small_small, sizeof small_small / sizeof small_small[0], 0x51);
  realloc_chain(small_large, sizeof small_large / sizeof small_large[0], 0x52);
  realloc_chain(large_large, sizeof large_large / sizeof large_large[0], 0x53);

  /* growing up to the usable size, and to the same size, keeps the contents */
  static const size_t starts[] = {1, 13, 100, 1000, 20000, 40000, 300000};
  for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
    size_t n = starts[i];
    uint8_t *p = API(malloc)(n);
    CHECK(p, "malloc(%zu)", n);
    pattern_fill(p, n, 0x60 + i, 0);
    p = API(realloc)(p, n);
    CHECK(p && pattern_find_bad(p, n, 0x60 + i) == n, "realloc to the same size %zu lost contents", n);
    size_t u = API(malloc_usable_size)(p);
    p = API(realloc)(p, u);
    CHECK(p && pattern_find_bad(p, n, 0x60 + i) == n, "realloc %zu -> usable %zu lost contents", n, u);
    API(free)(p);
  }

  /* random chains */
  test_rng_t r;
  rng_seed(&r, 99);
  size_t chain[24];
  for (int c = 0; c < 40; c++) {
    for (int i = 0; i < 24; i++) {
      uint64_t k = rng_next(&r) % 100;
      chain[i] = k < 70 ? rng_range(&r, 0, 2048) : k < 95 ? rng_range(&r, 2049, 65536)
                                                          : rng_range(&r, 65537, 3 << 20);
    }
    realloc_chain(chain, 24, 0x1000 + (uint64_t)c);
  }

  /* realloc(p, 0): the libc name does what glibc does, frees p and returns NULL (so
   * `p = realloc(p, 0);` does not leak); hak_realloc returns a minimum-size block, like
   * free(p) + malloc(0). realloc(NULL, 0) is malloc(0) in both: a unique block. Same for
   * reallocarray(p, 0, n). */
  static const size_t zsizes[] = {1, 100, 40000, 1 << 20};
  for (size_t i = 0; i < 2 * sizeof zsizes / sizeof zsizes[0]; i++) {
    size_t n = zsizes[i / 2];
    hak_stats_t s0 = stats_now();
    void *p = API(malloc)(n);
    CHECK(p, "malloc(%zu)", n);
    errno = 0;
    void *q = i % 2 ? API(reallocarray)(p, 0, 8) : API(realloc)(p, 0);
    const char *how = i % 2 ? "reallocarray(p, 0, 8)" : "realloc(p, 0)";
#ifdef API_LIBC
    CHECK(q == NULL && errno == 0, "%s [p of %zu bytes] = %p errno %d; glibc frees p and returns NULL",
          how, n, q, errno);
#else
    CHECK(q != NULL, "%s [p of %zu bytes] returned NULL; hak_realloc returns a minimum-size block",
          how, n);
    CHECK(((uintptr_t)q & 7) == 0, "%s = %p not 8-byte aligned", how, q);
    API(free)(q);
#endif
    hak_stats_t s1 = stats_now();
    CHECK(s1.small_live_blocks == s0.small_live_blocks && s1.large_live == s0.large_live &&
          s1.mid_live == s0.mid_live,
          "%s [p of %zu bytes] leaked: small %" PRIu64 " -> %" PRIu64 ", large %" PRIu64
          " -> %" PRIu64 ", medium %" PRIu64 " -> %" PRIu64, how, n, s0.small_live_blocks,
          s1.small_live_blocks, s0.large_live, s1.large_live, s0.mid_live, s1.mid_live);
  }
  void *z1 = API(realloc)(NULL, 0), *z2 = API(realloc)(NULL, 0);
  CHECK(z1 != NULL && z2 != NULL && z1 != z2, "realloc(NULL, 0) twice = %p, %p; expected two blocks",
        z1, z2);
  API(free)(z1);
  API(free)(z2);

  /* reallocarray */
  uint32_t *a = API(reallocarray)(NULL, 10, sizeof(uint32_t));
  CHECK(a, "reallocarray(NULL, 10, 4)");
  for (uint32_t i = 0; i < 10; i++) a[i] = i * 7;
  a = API(reallocarray)(a, 100000, sizeof(uint32_t));
  CHECK(a, "reallocarray(a, 100000, 4)");
  for (uint32_t i = 0; i < 10; i++) CHECK(a[i] == i * 7, "reallocarray lost element %u", i);
  API(free)(a);
  check_ok("realloc");
}

/* ---- calloc --------------------------------------------------------------------------------- */
static void test_calloc(void) {
  static const size_t sizes[] = {1, 8, 16, 24, 48, 100, 256, 1000, 1024, 4000, 8192, 16384,
                                 32768, 32769, 65536, 200000, 1 << 20, 4 << 20};
  enum { NS = sizeof sizes / sizeof sizes[0], K = 24 };
  static void *blk[NS][K];
  for (int round = 0; round < 6; round++) {
    for (int s = 0; s < NS; s++) {
      int k = sizes[s] >= (1 << 20) ? 2 : K;
      for (int j = 0; j < k; j++) {
        blk[s][j] = API(malloc)(sizes[s]);
        CHECK(blk[s][j], "malloc(%zu)", sizes[s]);
        memset(blk[s][j], 0xAA, API(malloc_usable_size)(blk[s][j]));
      }
    }
    for (int s = NS - 1; s >= 0; s--) {
      int k = sizes[s] >= (1 << 20) ? 2 : K;
      for (int j = 0; j < k; j++) API(free)(blk[s][j]);
    }
    for (int s = 0; s < NS; s++) {
      int k = sizes[s] >= (1 << 20) ? 2 : K;
      for (int j = 0; j < k; j++) {
        size_t n = sizes[s];
        /* alternate the split between count and size */
        void *p = (j & 1) && n % 8 == 0 ? API(calloc)(n / 8, 8) : API(calloc)(1, n);
        CHECK(p, "calloc(%zu bytes)", n);
        CHECK(all_zero(p, n), "calloc(%zu bytes) (round %d, block %d) returned non-zero memory after "
              "reuse of 0xAA-filled blocks", n, round, j);
        memset(p, 0xAA, API(malloc_usable_size)(p));
        blk[s][j] = p;
      }
    }
    for (int s = 0; s < NS; s++) {
      int k = sizes[s] >= (1 << 20) ? 2 : K;
      for (int j = 0; j < k; j++) API(free)(blk[s][j]);
    }
  }
  /* large calloc after a dirty large free of the same size */
  static const size_t lsizes[] = {40000, 1 << 20, (8 << 20) + 123};
  for (size_t i = 0; i < 3; i++) {
    for (int rep = 0; rep < 3; rep++) {
      uint8_t *p = API(malloc)(lsizes[i]);
      CHECK(p, "malloc(%zu)", lsizes[i]);
      memset(p, 0xAA, lsizes[i]);
      API(free)(p);
      p = API(calloc)(lsizes[i], 1);
      CHECK(p && all_zero(p, lsizes[i]), "large calloc(%zu) not zero after a dirty free", lsizes[i]);
      API(free)(p);
    }
  }
  void *z = API(calloc)(0, 0);
  CHECK(z != NULL, "calloc(0, 0) returned NULL");
  API(free)(z);
  check_ok("calloc");
}

/* ---- the medium tier ------------------------------------------------------------------------- */
/* Whether `u` is a usable size hakmem may report for malloc(n), 32760 < n: exactly the class of
 * a medium block less its end canary; for a large block a whole number of pages from the page-rounded size up (a
 * reused cached mapping may be bigger: by a quarter at strict levels, more at off and fast). Under
 * ASan it reports the request. */
static bool usable_ok(size_t n, size_t u) {
#ifdef TEST_ASAN
  return u >= n;
#else
  if (n <= MID_MAX && medium_tier_on()) return u == mid_class(n) - CANARY;
  size_t pr = page_round(n);
  return u >= pr && u % 4096 == 0 && (medium_tier_on() || u <= pr + pr / 4);
#endif
}

/* malloc(n), checking which tier served it through the live counts and the usable size. */
static void *malloc_in_tier(size_t n, const char *how) {
  bool medium = n > SMALL_REQ_MAX && n <= MID_MAX && medium_tier_on();
  hak_stats_t s0 = stats_now();
  void *p = API(malloc)(n);
  hak_stats_t s1 = stats_now();
  CHECK(p != NULL, "%s: malloc(%zu) failed", how, n);
  size_t u = API(malloc_usable_size)(p);
  CHECK(usable_ok(n, u), "%s: malloc_usable_size(malloc(%zu)) = %zu at level %" PRIu64 ", expected %s",
        how, n, u, s1.harden_level, medium ? "the medium class - 8" : "whole pages from the rounded size up");
  CHECK(s1.mid_live == s0.mid_live + medium && s1.large_live == s0.large_live + !medium,
        "%s: malloc(%zu) at level %" PRIu64 " should be %s: mid_live %" PRIu64 " -> %" PRIu64
        ", large_live %" PRIu64 " -> %" PRIu64, how, n, s1.harden_level, medium ? "medium" : "large",
        s0.mid_live, s1.mid_live, s0.large_live, s1.large_live);
  if (medium)
    CHECK(s1.mid_live_bytes == s0.mid_live_bytes + mid_class(n) - CANARY, "%s: malloc(%zu): mid_live_bytes %"
          PRIu64 " -> %" PRIu64 ", expected +%zu (the class size - 8)", how, n, s0.mid_live_bytes,
          s1.mid_live_bytes, mid_class(n) - CANARY);
  return p;
}

static void test_medium(void) {
  bool medium = medium_tier_on();
  hak_stats_t s0 = stats_now();
  if (!medium)
    CHECK(s0.mid_live == 0 && s0.mid_live_bytes == 0 && s0.mid_superslabs == 0, "level %" PRIu64
          " has no medium tier, but mid_live %" PRIu64 " mid_superslabs %" PRIu64, s0.harden_level,
          s0.mid_live, s0.mid_superslabs);

  /* 200 KiB: class 224 KiB (229376 bytes), 229368 usable */
  CHECK(mid_class(200 * KiB) == 229376);
  void *m = malloc_in_tier(200 * KiB, "200 KiB");
  hak_stats_t s1 = stats_now();
  if (medium) {
    CHECK(s1.mid_live_bytes == s0.mid_live_bytes + 229368, "mid_live_bytes %" PRIu64 " -> %" PRIu64,
          s0.mid_live_bytes, s1.mid_live_bytes);
    CHECK(s1.mid_superslabs >= 1 && s1.mid_superslabs <= s1.ss_in_use, "a live medium block but "
          "mid_superslabs %" PRIu64 " (ss_in_use %" PRIu64 ")", s1.mid_superslabs, s1.ss_in_use);
  } else {
    CHECK(s1.mid_superslabs == 0 && s1.mid_live == 0, "strict level: a medium SuperSlab exists");
  }
  memset(m, 0x11, 200 * KiB);
  API(free)(m);
  hak_stats_t s2 = stats_now();
  CHECK(s2.mid_live == s0.mid_live && s2.mid_live_bytes == s0.mid_live_bytes && s2.large_live == s0.large_live,
        "free(200 KiB block): mid_live %" PRIu64 " -> %" PRIu64 ", bytes %" PRIu64 " -> %" PRIu64,
        s0.mid_live, s2.mid_live, s0.mid_live_bytes, s2.mid_live_bytes);

  /* class boundaries (a class c serves requests up to c - 8; the old edges c, c + 1 too), and
   * the first sizes past the tier */
  static const size_t bounds[] = {32761, 32768, 32769, 40952, 40953, 40960, 40961, 49144, 49145,
                                   49152, 49153, 65528, 65529, 65536, 65537, 81920, 100000, 131064,
                                   131065, 131072, 131073, 200 * 1024, 458744, 458745, 458752, 458753,
                                   524280, 524281, 524287, 524288, 524289, 600000};
  static const size_t classes[] = {40960, 40960, 40960, 40960, 49152, 49152, 49152, 49152, 57344,
                                   57344, 57344, 65536, 81920, 81920, 81920, 98304, 114688, 131072,
                                   163840, 163840, 163840, 229376, 458752, 524288, 524288, 524288,
                                   524288, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
    size_t n = bounds[i];
    CHECK(mid_class(n) == classes[i], "test table: class of %zu", n);
    void *p = malloc_in_tier(n, "class boundary");
    memset(p, 0x22, n);
    CHECK(((uintptr_t)p & 8191) == 0 || !(medium && n <= MID_MAX), "medium block %p (malloc(%zu)) "
          "not 8 KiB-aligned", p, n);
    API(free_sized)(p, n);
  }

  /* calloc of a medium size is zero even when it reuses a dirty block: fill a whole SuperSlab's
   * worth of the class (9 blocks of 224 KiB fit in 2 MiB), free them, calloc as many again. */
  enum { NB = 9 };
  static uint8_t *dirty[NB];
  for (int i = 0; i < NB; i++) {
    dirty[i] = API(malloc)(200 * KiB);
    CHECK(dirty[i], "malloc(200 KiB)");
    memset(dirty[i], 0xAA, API(malloc_usable_size)(dirty[i]));
  }
  for (int i = 0; i < NB; i++) API(free)(dirty[i]);
  int reused = 0;
  for (int i = 0; i < NB; i++) {
    uint8_t *c = (i & 1) ? API(calloc)(200, KiB) : API(calloc)(1, 200 * KiB);
    CHECK(c && all_zero(c, 200 * KiB), "calloc(200 KiB) #%d not zero after dirty frees of its class", i);
    for (int j = 0; j < NB; j++) reused += c == dirty[j];
    memset(c, 0xAB, 200 * KiB);
    dirty[i] = c;
  }
  CHECK(reused >= 1 || !medium, "none of %d calloc(200 KiB) reused one of the %d freed blocks of "
        "the class: the zeroing of a reused medium block is not tested", NB, NB);
  for (int i = 0; i < NB; i++) API(free)(dirty[i]);

  /* realloc small -> medium -> large -> medium (-> small) keeps the contents; tiers checked */
  static const size_t steps[] = {1000, 100000, 300000, 1 * MiB, 300000, 60000, 20000};
  size_t n = steps[0];
  uint8_t *p = API(malloc)(n);
  CHECK(p, "malloc(%zu)", n);
  pattern_fill(p, n, 0x77, 0);
  for (size_t i = 1; i < sizeof steps / sizeof steps[0]; i++) {
    size_t m2 = steps[i];
    hak_stats_t a = stats_now();
    uint8_t *q = API(realloc)(p, m2);
    hak_stats_t b = stats_now();
    CHECK(q, "realloc(%zu -> %zu)", n, m2);
    size_t keep = n < m2 ? n : m2, bad = pattern_find_bad(q, keep, 0x77);
    CHECK(bad == keep, "realloc %zu -> %zu lost contents at byte %zu of %zu", n, m2, bad, keep);
    pattern_fill(q, m2, 0x77, keep);
    /* growing from medium to a bigger medium class or to large moves the block; so does a large
     * block shrinking below half its size */
    bool now_mid = m2 > SMALL_REQ_MAX && m2 <= MID_MAX && medium, was_mid = n > SMALL_REQ_MAX && n <= MID_MAX && medium;
    if (m2 > n && (now_mid || m2 > MID_MAX))
      CHECK(b.mid_live == a.mid_live + now_mid - was_mid, "realloc %zu -> %zu at level %" PRIu64
            ": mid_live %" PRIu64 " -> %" PRIu64, n, m2, b.harden_level, a.mid_live, b.mid_live);
    if (n == 1 * MiB && m2 == 300000)
      CHECK(b.large_live == a.large_live - 1 + !now_mid && b.mid_live == a.mid_live + now_mid,
            "realloc 1 MiB -> 300000 at level %" PRIu64 ": large_live %" PRIu64 " -> %" PRIu64
            ", mid_live %" PRIu64 " -> %" PRIu64, b.harden_level, a.large_live, b.large_live,
            a.mid_live, b.mid_live);
    p = q;
    n = m2;
  }
  API(free)(p);

  /* aligned: up to a page the medium tier serves (its blocks are 8 KiB-aligned) */
  void *al = NULL;
  hak_stats_t a0 = stats_now();
  int rc = API(posix_memalign)(&al, 4096, 100000);
  hak_stats_t a1 = stats_now();
  CHECK(rc == 0 && al != NULL && ((uintptr_t)al & 4095) == 0, "posix_memalign(4096, 100000) = %d, %p",
        rc, al);
  CHECK(a1.mid_live == a0.mid_live + medium, "posix_memalign(4096, 100000) at level %" PRIu64
        ": mid_live %" PRIu64 " -> %" PRIu64, a1.harden_level, a0.mid_live, a1.mid_live);
  memset(al, 0x33, 100000);
  API(free_aligned_sized)(al, 4096, 100000);
  rc = API(posix_memalign)(&al, 65536, 100000);
  CHECK(rc == 0 && al != NULL && ((uintptr_t)al & 65535) == 0, "posix_memalign(65536, 100000) = %d, %p",
        rc, al);
  memset(al, 0x34, 100000);
  API(free)(al);

  /* blocks of one class from several threads' worth of calls: never overlapping, contents kept */
  enum { NM = 40 };
  static uint8_t *mb[NM];
  for (int i = 0; i < NM; i++) {
    size_t sz = 32 * KiB + 1 + (size_t)i * 12345;
    mb[i] = API(malloc)(sz);
    CHECK(mb[i], "malloc(%zu)", sz);
    pattern_fill(mb[i], sz, 0x900 + (uint64_t)i, 0);
  }
  for (int i = 0; i < NM; i++) {
    size_t sz = 32 * KiB + 1 + (size_t)i * 12345;
    CHECK(pattern_find_bad(mb[i], sz, 0x900 + (uint64_t)i) == sz, "medium block %d (%zu B) overwritten", i, sz);
    API(free)(mb[i]);
  }
  hak_stats_t s3 = stats_now();
  CHECK(s3.mid_live == s0.mid_live && s3.mid_live_bytes == s0.mid_live_bytes &&
        s3.large_live == s0.large_live, "after the medium tests: mid_live %" PRIu64 " -> %" PRIu64
        ", large_live %" PRIu64 " -> %" PRIu64, s0.mid_live, s3.mid_live, s0.large_live, s3.large_live);
  check_ok("medium tier");
#ifndef API_LIBC
  hak_trim();
  hak_stats_t s4 = stats_now();
  CHECK(s4.mid_live == 0 && s4.mid_superslabs == 0, "hak_trim with no medium block live left %" PRIu64
        " medium SuperSlabs (%" PRIu64 " blocks)", s4.mid_superslabs, s4.mid_live);
#endif
}

/* ---- malloc(0), free(NULL), sized frees ------------------------------------------------------ */
static int cmp_uptr(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

static void test_zero_and_sized_free(void) {
  enum { N = 1000 };
  static uintptr_t z[N];
  void *a = API(malloc)(0), *b = API(malloc)(0);
  CHECK(a != NULL && b != NULL, "malloc(0) returned NULL (%p, %p)", a, b);
  CHECK(a != b, "two live malloc(0) blocks share the address %p", a);
  API(free)(a);
  API(free)(b);
  for (int i = 0; i < N; i++) {
    z[i] = (uintptr_t)API(malloc)(0);
    CHECK(z[i] != 0 && (z[i] & 7) == 0, "malloc(0) #%d = %#" PRIxPTR, i, z[i]);
  }
  qsort(z, N, sizeof z[0], cmp_uptr);
  for (int i = 1; i < N; i++) CHECK(z[i] != z[i - 1], "malloc(0) returned %#" PRIxPTR " twice", z[i]);
  for (int i = 0; i < N; i++) API(free)((void *)z[i]);

  hak_stats_t s0 = stats_now();
  API(free)(NULL);
  API(free_sized)(NULL, 0);
  API(free_aligned_sized)(NULL, 64, 0);
  hak_stats_t s1 = stats_now();
  CHECK(s1.small_live_blocks == s0.small_live_blocks && s1.large_live == s0.large_live &&
        s1.mid_live == s0.mid_live, "free(NULL) changed the live counts");

  static const size_t sizes[] = {0, 1, 8, 100, 1024, 5000, 32768, 32769, 100000, 3 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    void *p = API(malloc)(sizes[i]);
    CHECK(p, "malloc(%zu)", sizes[i]);
    memset(p, 1, sizes[i]);
    API(free_sized)(p, sizes[i]);
  }
  static const size_t aligns[] = {8, 16, 64, 4096, 65536, 2 << 20};
  for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
    for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
      size_t al = aligns[i], n = (sizes[j] + al - 1) / al * al;   /* C23: size a multiple of alignment */
      if (n > (8 << 20)) continue;
      void *p = API(aligned_alloc)(al, n);
      CHECK(p && ((uintptr_t)p & (al - 1)) == 0, "aligned_alloc(%zu, %zu) = %p", al, n, p);
      memset(p, 2, n);
      API(free_aligned_sized)(p, al, n);
    }
  }
  hak_stats_t s2 = stats_now();
  CHECK(s2.small_live_blocks == s0.small_live_blocks && s2.large_live == s0.large_live &&
        s2.mid_live == s0.mid_live,
        "free_sized / free_aligned_sized did not release: small %" PRIu64 " -> %" PRIu64
        ", large %" PRIu64 " -> %" PRIu64 ", medium %" PRIu64 " -> %" PRIu64, s0.small_live_blocks,
        s2.small_live_blocks, s0.large_live, s2.large_live, s0.mid_live, s2.mid_live);
  check_ok("malloc(0) / free(NULL) / sized frees");
}

/* ---- usable size is really usable: fill it all, neighbours stay intact ------------------------ */
static void test_usable_size_neighbours(void) {
  enum { K = 64 };
  static uint8_t *p[K];
  static size_t u[K];
  static const size_t sizes[] = {1, 5, 8, 9, 15, 16, 17, 24, 31, 33, 48, 63, 65, 96, 100, 127, 129,
                                 200, 255, 257, 384, 500, 512, 513, 700, 1000, 1023, 1025, 1500,
                                 2048, 2049, 3000, 4095, 4097, 6000, 8191, 8193, 12000, 16385,
                                 24000, 32767, 32768, 32769, 50000, 65537, 131072, 500000};
  test_rng_t r;
  rng_seed(&r, 5);
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    int k = n > 100000 ? 4 : K;
    for (int i = 0; i < k; i++) {
      p[i] = API(malloc)(n);
      CHECK(p[i], "malloc(%zu)", n);
      u[i] = API(malloc_usable_size)(p[i]);
      CHECK(u[i] >= n, "malloc_usable_size(malloc(%zu)) = %zu", n, u[i]);
      CHECK(u[i] <= 2 * n + 2 * 4096, "malloc_usable_size(malloc(%zu)) = %zu is implausibly large", n, u[i]);
      pattern_fill(p[i], u[i], (n << 8) + (size_t)i, 0);
    }
    for (int i = 0; i < k; i++) {
      size_t bad = pattern_find_bad(p[i], u[i], (n << 8) + (size_t)i);
      CHECK(bad == u[i], "block %d of size %zu (usable %zu) corrupted at byte %zu after filling its "
            "neighbours to their usable size", i, n, u[i], bad);
    }
    for (int i = k - 1; i > 0; i--) {                      /* free in random order */
      int j = (int)(rng_next(&r) % (uint64_t)(i + 1));
      uint8_t *t = p[i]; p[i] = p[j]; p[j] = t;
    }
    for (int i = 0; i < k; i++) API(free)(p[i]);
  }
  CHECK(API(malloc_usable_size)(NULL) == 0, "malloc_usable_size(NULL) != 0");
  check_ok("usable size");
}

/* ---- many live blocks never overlap ----------------------------------------------------------- */
static void test_no_overlap(void) {
  enum { N = 100000 };
  static struct blk { uintptr_t p; size_t u; size_t n; } b[N];
  test_rng_t r;
  rng_seed(&r, 12345);
  for (int i = 0; i < N; i++) {
    uint64_t k = rng_next(&r) % 1000;
    size_t n = k < 700 ? rng_range(&r, 0, 256) : k < 950 ? rng_range(&r, 257, 4096)
               : k < 997 ? rng_range(&r, 4097, 32768) : rng_range(&r, 32769, 262144);
    uint8_t *p = API(malloc)(n);
    CHECK(p, "malloc(%zu) #%d", n, i);
    if (n) {
      p[0] = (uint8_t)i;
      p[n - 1] = (uint8_t)(i >> 8);
    }
    b[i].p = (uintptr_t)p;
    b[i].n = n;
    b[i].u = API(malloc_usable_size)(p);
    CHECK(b[i].u >= n, "usable %zu < %zu", b[i].u, n);
  }
  qsort(b, N, sizeof b[0], cmp_uptr);   /* p is the first field */
  for (int i = 1; i < N; i++) {
    size_t extent = b[i - 1].u ? b[i - 1].u : 1;
    CHECK(b[i - 1].p + extent <= b[i].p, "live blocks overlap: [%#" PRIxPTR ", +%zu) and %#" PRIxPTR,
          b[i - 1].p, extent, b[i].p);
  }
  /* free in a scrambled order */
  for (int i = 0; i < N; i++) API(free)((void *)b[(size_t)i * 7919 % N].p);
  check_ok("no overlap");
}

/* ---- trim and statistics ---------------------------------------------------------------------- */
static void check_stats_consistent(const hak_stats_t *s, const char *when) {
  CHECK(s->ss_mapped == s->ss_in_use + s->ss_cached, "%s: ss_mapped %" PRIu64 " != in_use %" PRIu64
        " + cached %" PRIu64, when, s->ss_mapped, s->ss_in_use, s->ss_cached);
  CHECK(s->ss_mapped == s->ss_map_calls - s->ss_unmap_calls, "%s: ss_mapped %" PRIu64
        " != map_calls %" PRIu64 " - unmap_calls %" PRIu64, when, s->ss_mapped, s->ss_map_calls,
        s->ss_unmap_calls);
  CHECK((s->ss_cached == 0) == (s->ss_cached_bytes == 0), "%s: ss_cached %" PRIu64 " but bytes %" PRIu64,
        when, s->ss_cached, s->ss_cached_bytes);
  CHECK(s->ss_cached_bytes == s->ss_cached * SS_BYTES, "%s: ss_cached_bytes %" PRIu64
        " != ss_cached %" PRIu64 " * 2 MiB", when, s->ss_cached_bytes, s->ss_cached);
  CHECK(s->ss_cached <= s->limit_max_cached, "%s: ss_cached %" PRIu64 " > limit %" PRIu64, when,
        s->ss_cached, s->limit_max_cached);
  CHECK(s->ss_cached_bytes <= s->limit_max_bytes, "%s: ss_cached_bytes %" PRIu64 " > limit %" PRIu64,
        when, s->ss_cached_bytes, s->limit_max_bytes);
  CHECK(s->mmap_calls >= s->ss_map_calls, "%s: mmap_calls %" PRIu64 " < ss_map_calls %" PRIu64, when,
        s->mmap_calls, s->ss_map_calls);
  CHECK(s->munmap_calls >= s->ss_unmap_calls, "%s: munmap_calls %" PRIu64 " < ss_unmap_calls %" PRIu64,
        when, s->munmap_calls, s->ss_unmap_calls);
  CHECK(s->cache_hits + s->cache_misses >= s->ss_map_calls - s->prewarmed,
        "%s: cache_hits %" PRIu64 " + misses %" PRIu64 " < non-prewarm maps %" PRIu64, when,
        s->cache_hits, s->cache_misses, s->ss_map_calls - s->prewarmed);
  CHECK(s->slabs_active <= s->ss_in_use * 32, "%s: %" PRIu64 " active slabs in %" PRIu64 " SuperSlabs",
        when, s->slabs_active, s->ss_in_use);
  CHECK(s->small_live_bytes >= s->small_live_blocks * 8, "%s: %" PRIu64 " live bytes for %" PRIu64
        " blocks", when, s->small_live_bytes, s->small_live_blocks);
  CHECK(s->mid_superslabs <= s->ss_in_use, "%s: %" PRIu64 " medium SuperSlabs but %" PRIu64 " in use",
        when, s->mid_superslabs, s->ss_in_use);
  CHECK(s->mid_live_bytes >= s->mid_live * (40960 - CANARY) && s->mid_live_bytes <= s->mid_live * MID_MAX,
        "%s: %" PRIu64 " medium bytes for %" PRIu64 " blocks", when, s->mid_live_bytes, s->mid_live);
  CHECK(s->mid_live <= s->mid_superslabs * 51, "%s: %" PRIu64 " medium blocks in %" PRIu64
        " SuperSlabs", when, s->mid_live, s->mid_superslabs);
  CHECK(s->harden_level < 2 || s->mid_superslabs == 0, "%s: level %" PRIu64 " but %" PRIu64
        " medium SuperSlabs", when, s->harden_level, s->mid_superslabs);
}

static void test_trim_and_stats(void) {
  int t = API(malloc_trim)(0);
  CHECK(t == 0 || t == 1, "malloc_trim(0) returned %d", t);
  void *p = API(malloc)(77);
  CHECK(p, "malloc after malloc_trim");
  API(free)(p);

  enum { HELD = 200, LARGE = 5, MID = 6 };
  static void *held[HELD], *large[LARGE], *mid[MID];
  static void *churn[512];
  test_rng_t r;
  rng_seed(&r, 31);
  hak_thread_flush();
  hak_stats_t s0 = stats_now();
  check_stats_consistent(&s0, "start");
  uint64_t held_bytes = 0, large_bytes = 0, mid_bytes = 0;
  for (int i = 0; i < HELD; i++) {
    held[i] = API(malloc)(rng_range(&r, 1, 2000));
    CHECK(held[i], "malloc");
    held_bytes += API(malloc_usable_size)(held[i]);
  }
  for (int i = 0; i < LARGE; i++) {
    large[i] = API(malloc)(rng_range(&r, MID_MAX + 1, 2 * MiB));
    CHECK(large[i], "malloc (large)");
    large_bytes += API(malloc_usable_size)(large[i]);
  }
  for (int i = 0; i < MID; i++) {
    mid[i] = API(malloc)(rng_range(&r, SMALL_REQ_MAX + 1, MID_MAX));
    CHECK(mid[i], "malloc (medium)");
    mid_bytes += API(malloc_usable_size)(mid[i]);
  }
  /* at strict levels the medium sizes are large blocks */
  bool medium = medium_tier_on();
  uint64_t want_large = LARGE + (medium ? 0 : MID), want_mid = medium ? MID : 0;
  uint64_t want_large_bytes = large_bytes + (medium ? 0 : mid_bytes), want_mid_bytes = medium ? mid_bytes : 0;
  for (int round = 0; round < 40; round++) {
    for (int i = 0; i < 512; i++) churn[i] = API(malloc)(rng_range(&r, 1, SMALL_REQ_MAX));
    for (int i = 0; i < 512; i++) API(free)(churn[(i * 263) % 512]);
  }
  hak_stats_t s1 = stats_now();
  CHECK(s1.small_live_blocks == s0.small_live_blocks + HELD, "small_live_blocks %" PRIu64
        " -> %" PRIu64 " while holding %d more blocks (before flush)", s0.small_live_blocks,
        s1.small_live_blocks, HELD);
  hak_thread_flush();
  size_t unmapped = hak_trim();
  hak_stats_t s2 = stats_now();
  check_stats_consistent(&s2, "after hak_trim");
  CHECK(s2.small_live_blocks == s0.small_live_blocks + HELD, "small_live_blocks %" PRIu64
        " -> %" PRIu64 " while holding %d more blocks (after hak_trim)", s0.small_live_blocks,
        s2.small_live_blocks, HELD);
  CHECK(USABLE_SUM_MATCHES(s2.small_live_bytes, s0.small_live_bytes + held_bytes), "small_live_bytes %" PRIu64
        " -> %" PRIu64 ", the held blocks' usable sizes add up to %" PRIu64, s0.small_live_bytes,
        s2.small_live_bytes, held_bytes);
  CHECK(s2.large_live == s0.large_live + want_large, "large_live %" PRIu64 " -> %" PRIu64 " holding %"
        PRIu64 " more", s0.large_live, s2.large_live, want_large);
  CHECK(USABLE_SUM_MATCHES(s2.large_live_bytes, s0.large_live_bytes + want_large_bytes), "large_live_bytes %"
        PRIu64 " -> %" PRIu64 ", held usable sizes add up to %" PRIu64, s0.large_live_bytes,
        s2.large_live_bytes, want_large_bytes);
  CHECK(s2.mid_live == s0.mid_live + want_mid, "mid_live %" PRIu64 " -> %" PRIu64 " holding %" PRIu64
        " more", s0.mid_live, s2.mid_live, want_mid);
  CHECK(USABLE_SUM_MATCHES(s2.mid_live_bytes, s0.mid_live_bytes + want_mid_bytes), "mid_live_bytes %"
        PRIu64 " -> %" PRIu64 ", held usable sizes add up to %" PRIu64, s0.mid_live_bytes,
        s2.mid_live_bytes, want_mid_bytes);
  CHECK(!medium || s2.mid_superslabs >= 1, "medium blocks held across hak_trim but mid_superslabs 0");
  CHECK(s2.ss_cached == 0, "hak_trim() left %" PRIu64 " SuperSlabs in the cache", s2.ss_cached);
  CHECK(s2.ss_in_use >= 1 && s2.slabs_active >= 1, "holding blocks but ss_in_use %" PRIu64
        " slabs_active %" PRIu64, s2.ss_in_use, s2.slabs_active);
  CHECK(s2.ss_unmap_calls - s1.ss_unmap_calls >= unmapped, "hak_trim() returned %zu but ss_unmap_calls "
        "rose by %" PRIu64, unmapped, s2.ss_unmap_calls - s1.ss_unmap_calls);
  CHECK(s2.evict_trim - s1.evict_trim == unmapped, "hak_trim() returned %zu but evict_trim rose by %" PRIu64,
        unmapped, s2.evict_trim - s1.evict_trim);
  CHECK(s2.ss_map_calls >= s0.ss_map_calls && s2.mmap_calls >= s0.mmap_calls,
        "counters that only grow went down");
  check_ok("hak_trim with live blocks");

  for (int i = 0; i < HELD; i++) API(free)(held[i]);
  for (int i = 0; i < LARGE; i++) API(free)(large[i]);
  for (int i = 0; i < MID; i++) API(free)(mid[i]);
  hak_thread_flush();
  hak_trim();
  hak_stats_t s3 = stats_now();
  check_stats_consistent(&s3, "after freeing and trimming");
  CHECK(s3.small_live_blocks == s0.small_live_blocks && s3.small_live_bytes == s0.small_live_bytes,
        "after freeing everything: small_live_blocks %" PRIu64 " (was %" PRIu64 "), bytes %" PRIu64
        " (was %" PRIu64 ")", s3.small_live_blocks, s0.small_live_blocks, s3.small_live_bytes,
        s0.small_live_bytes);
  CHECK(s3.large_live == s0.large_live && s3.large_live_bytes == s0.large_live_bytes,
        "after freeing everything: large_live %" PRIu64 " (was %" PRIu64 ")", s3.large_live, s0.large_live);
  CHECK(s3.mid_live == s0.mid_live && s3.mid_live_bytes == s0.mid_live_bytes,
        "after freeing everything: mid_live %" PRIu64 " (was %" PRIu64 ")", s3.mid_live, s0.mid_live);
  CHECK(s3.ss_cached == 0, "hak_trim left %" PRIu64 " cached", s3.ss_cached);
  CHECK(s3.ss_in_use <= s2.ss_in_use, "ss_in_use grew from %" PRIu64 " to %" PRIu64 " after freeing",
        s2.ss_in_use, s3.ss_in_use);
#ifndef API_LIBC
  /* nothing but this test uses the hak_* heap: once everything is freed no SuperSlab is in use */
  CHECK(s3.small_live_blocks == 0 && s3.large_live == 0 && s3.mid_live == 0, "hak_* heap not empty: %"
        PRIu64 " small, %" PRIu64 " medium, %" PRIu64 " large blocks live", s3.small_live_blocks,
        s3.mid_live, s3.large_live);
  CHECK(s3.mid_superslabs == 0, "hak_trim on an empty heap left %" PRIu64 " medium SuperSlabs",
        s3.mid_superslabs);
  CHECK(s3.ss_in_use == 0 && s3.slabs_active == 0, "empty heap but ss_in_use %" PRIu64 " slabs_active %"
        PRIu64, s3.ss_in_use, s3.slabs_active);
#endif
  t = API(malloc_trim)(0);
  CHECK(t == 0 || t == 1, "malloc_trim(0) returned %d", t);
  p = API(malloc)(5000);
  CHECK(p, "malloc after trimming");
  memset(p, 3, 5000);
  API(free)(p);
  check_ok("trim");
}

/* ---- control API: prewarm, limits, eviction, TTL ----------------------------------------------- */
static void test_control(void) {
  hak_limits_t saved, got;
  hak_ss_get_limits(&saved);
  hak_stats_t s0 = stats_now();
  CHECK(saved.max_cached == s0.limit_max_cached, "get_limits max_cached %" PRIu64 " != stats %" PRIu64,
        saved.max_cached, s0.limit_max_cached);
  CHECK(saved.max_memory_mb * MiB == s0.limit_max_bytes, "get_limits max_memory_mb %" PRIu64
        " but stats limit_max_bytes %" PRIu64, saved.max_memory_mb, s0.limit_max_bytes);
  CHECK(saved.ttl_sec == s0.limit_ttl_sec, "get_limits ttl %" PRIu64 " != stats %" PRIu64, saved.ttl_sec,
        s0.limit_ttl_sec);

  int rc = hak_ss_prewarm_class(0, 4);
  hak_stats_t s1 = stats_now();
  CHECK(rc == 4, "hak_ss_prewarm_class(0, 4) returned %d", rc);
  CHECK(s1.prewarmed == s0.prewarmed + 4, "prewarmed %" PRIu64 " -> %" PRIu64, s0.prewarmed, s1.prewarmed);
  CHECK(s1.ss_cached >= 4 && s1.ss_cached == s0.ss_cached + 4, "ss_cached %" PRIu64 " -> %" PRIu64
        " after prewarming 4", s0.ss_cached, s1.ss_cached);
  CHECK(s1.ss_map_calls == s0.ss_map_calls + 4, "ss_map_calls %" PRIu64 " -> %" PRIu64 " after prewarm",
        s0.ss_map_calls, s1.ss_map_calls);
  check_stats_consistent(&s1, "after prewarm");

  static const int bad_classes[] = {-1, HAK_TINY_CLASSES, INT_MAX, INT_MIN};
  for (int i = 0; i < 4; i++) {
    errno = 0;
    rc = hak_ss_prewarm_class(bad_classes[i], 8);
    int e = errno;
    CHECK(rc == -1 && e == EINVAL, "hak_ss_prewarm_class(%d, 8) returned %d errno %d, expected -1 EINVAL",
          bad_classes[i], rc, e);
  }
  hak_stats_t s2 = stats_now();
  CHECK(s2.prewarmed == s1.prewarmed && s2.ss_mapped == s1.ss_mapped, "a refused prewarm mapped memory");

  uint32_t counts[HAK_TINY_CLASSES] = {1, 0, 0, 2, 0, 0, 0, 1};
  rc = hak_ss_prewarm_all(counts);
  hak_stats_t s3 = stats_now();
  CHECK(rc == 4, "hak_ss_prewarm_all({1,0,0,2,0,0,0,1}) returned %d, expected 4", rc);
  CHECK(s3.prewarmed == s2.prewarmed + 4 && s3.ss_cached == s2.ss_cached + 4,
        "prewarm_all: prewarmed %" PRIu64 " -> %" PRIu64 ", cached %" PRIu64 " -> %" PRIu64, s2.prewarmed,
        s3.prewarmed, s2.ss_cached, s3.ss_cached);
  check_stats_consistent(&s3, "after prewarm_all");

  /* max_cached 0: nothing may stay in the cache */
  hak_limits_t zero = {0, saved.max_memory_mb, saved.ttl_sec};
  hak_ss_set_limits(&zero);
  hak_ss_evict();
  hak_stats_t s4 = stats_now();
  CHECK(s4.ss_cached == 0 && s4.ss_cached_bytes == 0, "max_cached 0 + evict left %" PRIu64 " cached",
        s4.ss_cached);
  CHECK(s4.evict_count >= s3.evict_count + s3.ss_cached, "evict_count %" PRIu64 " -> %" PRIu64
        " after evicting %" PRIu64 " for the count limit", s3.evict_count, s4.evict_count, s3.ss_cached);
  hak_ss_get_limits(&got);
  CHECK(got.max_cached == 0, "get_limits after setting max_cached 0 says %" PRIu64, got.max_cached);
  /* with nothing cached allowed, a freed SuperSlab is unmapped, not cached */
  void *blk[64];
  for (int i = 0; i < 64; i++) {
    blk[i] = API(malloc)(30000);
    CHECK(blk[i], "malloc(30000)");
  }
  for (int i = 0; i < 64; i++) API(free)(blk[i]);
  hak_thread_flush();
  hak_ss_evict();
  hak_stats_t s5 = stats_now();
  CHECK(s5.ss_cached == 0, "max_cached 0 but %" PRIu64 " SuperSlabs cached after free + flush", s5.ss_cached);
  check_stats_consistent(&s5, "with max_cached 0");

  hak_ss_set_limits(&saved);
  hak_ss_get_limits(&got);
  CHECK(got.max_cached == saved.max_cached && got.max_memory_mb == saved.max_memory_mb &&
        got.ttl_sec == saved.ttl_sec, "limits not restored: got {%" PRIu64 ", %" PRIu64 ", %" PRIu64 "}",
        got.max_cached, got.max_memory_mb, got.ttl_sec);

  /* memory limit: 4 MiB holds 2 SuperSlabs */
  rc = hak_ss_prewarm_class(1, 4);
  CHECK(rc == 4, "hak_ss_prewarm_class(1, 4) returned %d", rc);
  hak_stats_t s6 = stats_now();
  CHECK(s6.ss_cached >= 4, "ss_cached %" PRIu64 " after prewarming 4", s6.ss_cached);
  hak_limits_t mem = {saved.max_cached, 4, saved.ttl_sec};
  hak_ss_set_limits(&mem);
  hak_ss_evict();
  hak_stats_t s7 = stats_now();
  CHECK(s7.ss_cached <= 2 && s7.ss_cached_bytes <= 4 * MiB, "4 MiB limit but %" PRIu64 " cached (%" PRIu64
        " bytes)", s7.ss_cached, s7.ss_cached_bytes);
  CHECK(s7.evict_bytes >= s6.evict_bytes + (s6.ss_cached - 2), "evict_bytes %" PRIu64 " -> %" PRIu64,
        s6.evict_bytes, s7.evict_bytes);
  check_stats_consistent(&s7, "with a 4 MiB cache");

  /* TTL. hak_trim empties the cache; then freed SuperSlabs (not prewarmed) are cached, survive an
   * eviction pass while fresh, and are gone 61 s later. (pool.c exempts untouched prewarmed entries
   * from the TTL, so they are left out of the expiry check.) */
  hak_trim();
  hak_limits_t ttl = {64, 512, 60};
  hak_ss_set_limits(&ttl);
  enum { TB = 200 };
  static void *tb[TB];
  for (int i = 0; i < TB; i++) {
    tb[i] = API(malloc)(30000);   /* 2 blocks per 64 KiB slab: about 3 SuperSlabs */
    CHECK(tb[i], "malloc(30000)");
  }
  for (int i = 0; i < TB; i++) API(free)(tb[i]);
  hak_thread_flush();
  hak_stats_t s8 = stats_now();
  CHECK(s8.ss_cached >= 1, "200 blocks of 30000 B freed and flushed, but no SuperSlab was cached "
        "(ss_in_use %" PRIu64 ", ss_mapped %" PRIu64 ")", s8.ss_in_use, s8.ss_mapped);
  CHECK(s8.limit_ttl_sec == 60, "limit_ttl_sec %" PRIu64 " after setting 60", s8.limit_ttl_sec);
  uint64_t aged = s8.ss_cached;   /* non-prewarmed entries, the oldest in the cache */
  rc = hak_ss_prewarm_class(2, 2);
  CHECK(rc == 2, "hak_ss_prewarm_class(2, 2) returned %d", rc);
  size_t ev = hak_ss_evict();
  hak_stats_t s9 = stats_now();
  CHECK(ev == 0 && s9.ss_cached == s8.ss_cached + 2 && s9.evict_ttl == s8.evict_ttl,
        "evict with fresh entries unmapped %zu (cached %" PRIu64 " -> %" PRIu64 ")", ev, s8.ss_cached,
        s9.ss_cached);
#ifdef HAK_TEST_HOOKS   /* hakmem_api only: the libc twin's libhakmem.so has no test hook */
  hak_test_advance_clock(61000000000ull);
  ev = hak_ss_evict();
  hak_stats_t s10 = stats_now();
  CHECK(s10.ss_cached < s9.ss_cached, "61 s past the TTL, ss_cached still %" PRIu64, s10.ss_cached);
  CHECK(s10.ss_cached <= s9.ss_cached - aged, "61 s past a 60 s TTL, %" PRIu64 " SuperSlabs cached "
        "(%" PRIu64 " before, %" PRIu64 " of them not prewarmed)", s10.ss_cached, s9.ss_cached, aged);
  CHECK(s10.evict_ttl >= s9.evict_ttl + aged, "evict_ttl %" PRIu64 " -> %" PRIu64 " expiring %"
        PRIu64, s9.evict_ttl, s10.evict_ttl, aged);
  CHECK(ev == s9.ss_cached - s10.ss_cached, "hak_ss_evict() returned %zu, cache shrank by %" PRIu64, ev,
        s9.ss_cached - s10.ss_cached);
  CHECK(s10.ss_unmap_calls == s9.ss_unmap_calls + ev, "ss_unmap_calls %" PRIu64 " -> %" PRIu64
        " after evicting %zu", s9.ss_unmap_calls, s10.ss_unmap_calls, ev);
  check_stats_consistent(&s10, "after TTL expiry");
#else
  (void)aged;
#endif

  hak_ss_set_limits(&saved);
  void *q = API(malloc)(1000);
  CHECK(q, "malloc after the control tests");
  API(free)(q);
  check_ok("control API");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  static const struct {
    const char *name;
    void (*fn)(void);
  } tests[] = {
      {"library is hakmem", test_face_is_hakmem},
      {"alignment sweep", test_alignment_sweep},
      {"ENOMEM for impossible sizes", test_enomem},
      {"ENOMEM for sizes the machine cannot back", test_unbackable},
      {"posix_memalign", test_posix_memalign},
      {"aligned_alloc / memalign / valloc / pvalloc", test_aligned_alloc_family},
      {"errno of the aligned family", test_aligned_errno},
      {"realloc", test_realloc},
      {"medium tier (32 KiB < size <= 512 KiB)", test_medium},
      {"calloc zeroes reused memory", test_calloc},
      {"malloc(0), free(NULL), sized frees", test_zero_and_sized_free},
      {"malloc_usable_size is usable", test_usable_size_neighbours},
      {"100k live blocks never overlap", test_no_overlap},
      {"malloc_trim / hak_trim / hak_stats", test_trim_and_stats},
      {"control API", test_control},   /* last: it moves the allocator's clock */
  };
  const char *only = getenv("API_TEST_ONLY");
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    if (only && !strstr(tests[i].name, only)) continue;
    tests[i].fn();
    printf("ok %zu - [%s] %s\n", i + 1, API_FACE, tests[i].name);
  }
  check_ok("all tests");
  printf("all api tests passed (%s face, HAK_DEBUG %d)\n", API_FACE, hak_debug_level());
  return 0;
}
