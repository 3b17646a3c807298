/* harden.c — the fatal path and the process secret.
 * The fatal path writes one line with write(2) and aborts; it never allocates, so it works with
 * the heap in any state. Its messages are stable: the detect tests match them. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

uintptr_t hm_secret;
uintptr_t hm_canary_key;   /* the end canaries' key (internal.h) */

/* ---- hardening levels ---------------------------------------------------------------------------
 * The checks that keep the heap itself safe are on at every level: double and invalid frees
 * (registry + bitmap), encoded and validated free-list links, sized-free checks, guard pages.
 * Levels add mitigations, as bits:
 *   off       none
 *   fast      randomised order of carved blocks (costs only when a slab is carved)   [default]
 *   strict    + canaries after each small request, zero-on-free, a 64-entry quarantine
 *   paranoid  + freed blocks checked to be still zero when reused, a 1024-entry quarantine
 * The per-block mitigations switch the calling threads to the slow paths; the fast paths carry no
 * test for them. ASan and MSan builds run every level: the strict code opens the slack and the
 * freed blocks it touches (hm_san_open/close, san.h) and leaves them as the tools expect. Valgrind
 * builds (HAK_VALGRIND) stay at fast: memcheck learns of a small block from the caller's hook,
 * which describes it by the class of the request alone; at the strict levels the block can come
 * from a larger class or from the large tier (which describes it itself), so memcheck would be
 * given a wrong block size, or told of one large block twice. */
uint32_t hm_mit = HM_MIT_RANDOM;
uint32_t hm_quarantine_len;
int hm_harden_level = 1;
const char *const hm_harden_names[4] = {"off", "fast", "strict", "paranoid"};

void hm_harden_set_level(int level) {
  static const uint32_t mit[4] = {
      0, HM_MIT_RANDOM, HM_MIT_RANDOM | HM_MIT_CANARY | HM_MIT_ZERO | HM_MIT_QUARANTINE,
      HM_MIT_RANDOM | HM_MIT_CANARY | HM_MIT_ZERO | HM_MIT_QUARANTINE | HM_MIT_REUSE_CHECK};
  static const uint32_t quarantine[4] = {0, 0, 64, HM_QUARANTINE_MAX};   /* powers of two: a mask */
  HM_STATIC_ASSERT((HM_QUARANTINE_MAX & (HM_QUARANTINE_MAX - 1)) == 0);
  if (level < 0 || level > 3) level = 1;
#ifdef HM_VG
  if (level > 1) level = 1;
#endif
  hm_harden_level = level;
  hm_mit = mit[level];
  hm_quarantine_len = quarantine[level];
}

void hm_write_err(const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

size_t hm_fmt_u64(char *buf, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return n;
}

static void fmt_hex(char *buf, uintptr_t v) {
  static const char digits[] = "0123456789abcdef";
  char tmp[16];
  size_t n = 0;
  do {
    tmp[n++] = digits[v & 15];
    v >>= 4;
  } while (v != 0);
  buf[0] = '0';
  buf[1] = 'x';
  for (size_t i = 0; i < n; i++) buf[2 + i] = tmp[n - 1 - i];
  buf[2 + n] = '\0';
}

/* abort() raises SIGABRT without allocating (glibc no longer flushes streams there), and a
 * fuzzer's or debugger's SIGABRT handler still sees the crash. */
static __attribute__((noreturn)) void die(void) { abort(); }

void hm_fatal(const char *what, const void *ptr) {
  char hex[20];
  fmt_hex(hex, (uintptr_t)ptr);
  hm_write_err("hakmem: ");
  hm_write_err(what);
  hm_write_err(" (pointer ");
  hm_write_err(hex);
  hm_write_err(")\n");
  die();
}

#if HAK_DEBUG >= 1
void hm_invariant_failed(const char *expr, const char *file, int line) {
  char num[24];
  hm_fmt_u64(num, (uint64_t)line);
  hm_write_err("hakmem: invariant failed: ");
  hm_write_err(expr);
  hm_write_err(" (");
  hm_write_err(file);
  hm_write_err(":");
  hm_write_err(num);
  hm_write_err(")\n");
  die();
}
#endif

/* The secret that encodes free-list pointers and the end canaries' key: two independent words
 * (a leaked canary tells nothing about the link encoding), both odd: an all-zero word never
 * decodes to a valid next, and a block's canary is never its own address. getrandom never
 * allocates; if it is unavailable the fallback mixes the clock, an ASLR'd address and the stack
 * (two words that differ: s[1] is a mix of s[0]). */
void hm_harden_secrets(uintptr_t s[2]) {
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  s[0] = (uintptr_t)0x5DEECE66D2B7E151ull;   /* fuzzing builds: the same every run (reproducible) */
  s[1] = (uintptr_t)0x6A09E667F3BCC909ull;
#else
  if (!hm_os_random(s, 2 * sizeof s[0])) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s[0] = (uintptr_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uintptr_t)s ^ (uintptr_t)&hm_secret << 17;
    s[1] = hm_seed_mix(s[0] ^ (uintptr_t)ts.tv_sec);
  }
#endif
  s[0] |= 1u;
  s[1] |= 1u;
}

void hm_harden_init(void) {
  uintptr_t s[2] = {0, 0};
  hm_harden_secrets(s);
  hm_secret = s[0];
  hm_canary_key = s[1];
}

void hm_canary_bad(const void *p) { hm_fatal("heap buffer overflow", p); }
