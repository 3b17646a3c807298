/* Shared helpers for hakmem's api and stress tests: an always-on CHECK, a deterministic PRNG, and
 * the API(name) switch that lets one source test either the hak_* twins (linked with hakmem_api)
 * or the libc names exported by libhakmem.so (compiled with -DAPI_LIBC).
 *
 * Every check is live in every build type: CHECK never depends on NDEBUG. */
#ifndef HAK_TEST_H
#define HAK_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <malloc.h>

#include <hakmem.h>

/* Under ASan, and at the strict hardening levels (canaries after each request), malloc_usable_size
 * reports the requested size, so sums of usable sizes are lower bounds of the byte statistics. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
static inline int usable_is_exact_request(void) {
#ifdef TEST_ASAN
  return 1;
#else
  hak_stats_t st;
  hak_stats(&st);
  return st.harden_level >= 2;
#endif
}
#define USABLE_SUM_MATCHES(stat, sum) \
  (usable_is_exact_request() ? (stat) >= (sum) : (stat) == (sum))

#ifdef API_LIBC
/* glibc 2.36 does not declare the C23 sized frees; libhakmem.so exports them. */
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);
#define API(name) name
#define API_FACE "libc"
#else
#define API(name) hak_##name
#define API_FACE "hak"
#endif

/* Fails the test: prints where, the expression and an explanation, then exits 1. */
__attribute__((noreturn, format(printf, 4, 5)))
static inline void test_fail(const char *file, int line, const char *expr, const char *fmt, ...) {
  fprintf(stderr, "%s:%d: CHECK failed [%s]: %s", file, line, API_FACE, expr);
  if (fmt && fmt[0]) {
    va_list ap;
    va_start(ap, fmt);
    fputs(" -- ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
  }
  fputc('\n', stderr);
  fflush(stderr);
  _exit(1);
}

/* CHECK(cond) or CHECK(cond, "printf format", args...) */
#define CHECK(cond, ...) \
  ((cond) ? (void)0 : test_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__))

/* The statistics as a value, and hak_check() as a CHECK (NULL when every invariant holds). */
static inline hak_stats_t st(void) {
  hak_stats_t s;
  hak_stats(&s);
  return s;
}
static inline void test_check_ok(int line) {
  const char *why = hak_check();
  if (why) test_fail(__FILE__, line, "hak_check()", "%s", why);
}
#define CHECK_OK() test_check_ok(__LINE__)

/* xorshift64*: fast, deterministic, good enough to pick sizes and operations. */
typedef struct test_rng {
  uint64_t s;
} test_rng_t;

static inline void rng_seed(test_rng_t *r, uint64_t seed) {
  r->s = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
  if (r->s == 0) r->s = 1;
}
static inline uint64_t rng_next(test_rng_t *r) {
  uint64_t x = r->s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->s = x;
  return x * 0x2545F4914F6CDD1Dull;
}
/* uniform-ish in [lo, hi] */
static inline size_t rng_range(test_rng_t *r, size_t lo, size_t hi) {
  return lo + (size_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* Seed from argv[1], else the environment variable `env`, else `def`. */
static inline uint64_t test_seed(int argc, char **argv, const char *env, uint64_t def) {
  const char *s = argc > 1 ? argv[1] : getenv(env);
  if (!s || !*s) return def;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  CHECK(errno == 0 && *end == '\0', "bad seed '%s'", s);
  return (uint64_t)v;
}

/* Byte i of a block tagged `tag`: cheap, position dependent, never constant over a block. */
static inline uint8_t pattern_byte(uint64_t tag, size_t i) {
  uint64_t x = (tag ^ (uint64_t)(i >> 3)) * 0x9E3779B97F4A7C15ull;
  return (uint8_t)(x >> (8 * (i & 7)));
}
static inline void pattern_fill(void *p, size_t n, uint64_t tag, size_t from) {
  uint8_t *b = p;
  for (size_t i = from; i < n; i++) b[i] = pattern_byte(tag, i);
}
/* Returns the first mismatching offset, or n when the whole range matches. */
static inline size_t pattern_find_bad(const void *p, size_t n, uint64_t tag) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != pattern_byte(tag, i)) return i;
  return n;
}

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* The process's resident set (KiB) and its number of mappings (lines of /proc/self/maps). */
static inline long test_rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  CHECK(f != NULL, "cannot open /proc/self/statm");
  long size = 0, res = 0;
  CHECK(fscanf(f, "%ld %ld", &size, &res) == 2, "cannot parse /proc/self/statm");
  fclose(f);
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}
/* The r/w bits ("rw", "r-", "--") of the mapping holding `a`, from /proc/self/maps; "" if none. */
static inline const char *test_prot_at(uintptr_t a) {
  static char prot[8];
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f != NULL, "cannot open /proc/self/maps");
  unsigned long lo, hi;
  char perms[8], line[512];
  prot[0] = '\0';
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && lo <= a && a < hi) {
      prot[0] = perms[0];
      prot[1] = perms[1];
      prot[2] = '\0';
      break;
    }
  fclose(f);
  return prot;
}

static inline long test_maps_count(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f != NULL, "cannot open /proc/self/maps");
  long n = 0;
  for (int c; (c = fgetc(f)) != EOF;) n += c == '\n';
  fclose(f);
  return n;
}

#endif
