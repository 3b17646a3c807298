/* fuzz_helpers.h — what every hakmem fuzz target shares.
 *
 *   FUZZ_ASSERT(c, what)   always on (also in release and replay builds): prints one line, aborts.
 *   fuzz_data / fd_*       a data producer that takes integers from the front of the input; an
 *                          exhausted input yields zeros, so every byte string is a valid input.
 *   fd_size / fd_align     sizes biased to class edges, page, slab and SuperSlab boundaries.
 *   fuzz_op / fuzz_next_op the one op decoder (alloc family, free, control API, thread ops).
 *   fz_model / fz_exec     the shadow model: every live block with its requested size, usable
 *                          size, alignment and a handle-derived fill pattern, checked on every
 *                          free and realloc; fz_exec runs one decoded op against it.
 *   fz_fault / fz_refused  injected system-call failures (hak_test_fail_nth, FOP_HUGE's fault
 *                          variants): an allocation they hit returns NULL + ENOMEM, which the
 *                          model accepts then and only then.
 *
 * The op language is meant to be reused (a property test can generate fuzz_op values directly
 * and call fz_exec). Misuse (double free, foreign pointers, wrong sizes) is never generated:
 * frees only ever name a live handle of the model, so any abort is a hakmem bug.
 */
#ifndef HAK_FUZZ_HELPERS_H
#define HAK_FUZZ_HELPERS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hakmem.h"
#include "internal.h"   /* hm_class_size, HM_CLASSES, HM_SMALL_MAX, HM_SLAB_SIZE, ... */

/* ---- always-on assertions ---------------------------------------------------------------------- */
__attribute__((noreturn, unused)) static void fuzz_fail(const char *expr, const char *what,
                                                        const char *file, int line) {
  fprintf(stderr, "fuzz: check failed: %s (%s) at %s:%d\n", expr, what ? what : "", file, line);
  fflush(stderr);
  abort();
}
#define FUZZ_ASSERT(c, what) ((c) ? (void)0 : fuzz_fail(#c, (what), __FILE__, __LINE__))
/* hak_check() names the first broken invariant (NULL when all hold; always NULL at HAK_DEBUG 0). */
#define FUZZ_CHECK_HEAP_FULL()                               \
  do {                                                       \
    const char *fz_why_ = hak_check();                       \
    FUZZ_ASSERT(fz_why_ == NULL, fz_why_);                   \
  } while (0)
/* After an operation: hak_check every FZ_FULL_EVERY-th time, else the light check (the same but
 * the walks of the registry's leaves and the zero-size chunks' slot maps: a quarter of an input's
 * time); inputs start counting afresh (fz_begin) and end with the full one (fz_finish). */
#define FZ_FULL_EVERY 16u
static _Thread_local unsigned fz_checks;
#define FUZZ_CHECK_HEAP()                                                    \
  do {                                                                       \
    const char *fz_why_ = ++fz_checks % FZ_FULL_EVERY == 0 ? hak_check() : hm_check_light(); \
    FUZZ_ASSERT(fz_why_ == NULL, fz_why_);                                   \
  } while (0)

/* hakmem's fatal path resets SIGABRT to its default before raising it, which would kill a
 * libFuzzer process without saving the crashing input. With ASan, keep ASan's handler installed
 * (it runs libFuzzer's death callback, which writes the crash-* file). ASAN_OPTIONS overrides. */
#if defined(__SANITIZE_ADDRESS__)
#define FZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif
#ifdef FZ_ASAN
__attribute__((used, visibility("default"))) const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "handle_abort=1:allow_user_segv_handler=0"; }
#endif

/* ---- data producer ----------------------------------------------------------------------------- */
typedef struct fuzz_data {
  const uint8_t *p;
  size_t n;
} fuzz_data;

static inline bool fd_done(const fuzz_data *d) { return d->n == 0; }
static inline uint64_t fd_bytes(fuzz_data *d, unsigned k) {   /* little endian, zeros past the end */
  uint64_t v = 0;
  for (unsigned i = 0; i < k && d->n > 0; i++, d->p++, d->n--) v |= (uint64_t)*d->p << (8 * i);
  return v;
}
static inline uint8_t fd_u8(fuzz_data *d) { return (uint8_t)fd_bytes(d, 1); }
static inline uint16_t fd_u16(fuzz_data *d) { return (uint16_t)fd_bytes(d, 2); }
static inline uint32_t fd_u32(fuzz_data *d) { return (uint32_t)fd_bytes(d, 4); }
static inline uint64_t fd_u64(fuzz_data *d) { return fd_bytes(d, 8); }
/* An integer in [lo, hi], taking as few bytes as the range needs. */
static inline uint64_t fd_range(fuzz_data *d, uint64_t lo, uint64_t hi) {
  uint64_t span = hi - lo;
  if (span == 0) return lo;
  unsigned k = span < 0x100 ? 1 : span < 0x10000 ? 2 : span < 0x100000000ull ? 4 : 8;
  uint64_t v = fd_bytes(d, k);
  return span == UINT64_MAX ? v : lo + v % (span + 1);
}

#define FZ_MAX_SIZE ((size_t)4 << 20)   /* largest request: keeps an input well under 10 ms */

/* The medium tier (docs/design.md), written out again as the reference: at the off and fast
 * hardening levels, 32 KiB < size <= 512 KiB gets a medium block; class k (0..15) is
 * (5 + k % 4) << (13 + k / 4) bytes (40 KiB .. 512 KiB, four per doubling), 8 KiB-aligned. */
#define FZ_MID_MAX ((size_t)512 << 10)
#define FZ_MID_CLASSES 16u
#define FZ_MID_ALIGN ((size_t)8192)
static inline size_t fz_mid_class_size(unsigned k) { return (size_t)(5u + k % 4u) << (13u + k / 4u); }

/* A request size biased to the edges where allocators break: class sizes +-2, page multiples,
 * the small/medium/large borders, slab and SuperSlab sizes, small values and arbitrary ones.
 * Bit 3 of the selector (unused before the medium tier, so older inputs keep their meaning when
 * it is clear) moves cases 0-2 to the medium classes, case 4 to the medium range, case 5 to page
 * multiples up to 130 pages and case 6 to the medium/large edges. */
static inline size_t fd_size(fuzz_data *d) {
  uint8_t sel = fd_u8(d);
  int delta = (int)(sel >> 4) % 5 - 2;   /* -2 .. 2 */
  bool mid = (sel & 8) != 0;
  size_t base;
  switch (sel & 7) {
    case 0: case 1: case 2:
      base = mid ? fz_mid_class_size(fd_u8(d) % FZ_MID_CLASSES) : hm_class_size[fd_u8(d) % HM_CLASSES];
      break;
    case 3: return fd_u8(d);
    case 4:
      if (mid) return (size_t)fd_range(d, HM_SMALL_MAX - 64, FZ_MID_MAX + 64);
      return (size_t)fd_range(d, 0, HM_SMALL_MAX + 64);
    case 5: base = (size_t)fd_range(d, 0, mid ? 130 : 17) * HM_PAGE_SIZE; break;
    case 6: {
      static const size_t edges[] = {HM_SMALL_MAX, HM_SLAB_SIZE, HM_SLAB_SIZE / 2, HM_SS_SIZE,
                                     HM_SS_SIZE / 2, 2 * HM_SS_SIZE, HM_SMALL_MAX + HM_PAGE_SIZE};
      static const size_t mid_edges[] = {HM_SMALL_MAX, FZ_MID_MAX, FZ_MID_MAX + HM_PAGE_SIZE,
                                         HM_SMALL_MAX + FZ_MID_ALIGN, FZ_MID_MAX / 2, FZ_MID_MAX - FZ_MID_ALIGN,
                                         HM_SS_SIZE / 3, HM_SS_SIZE / 51};
      unsigned i = fd_u8(d);
      base = mid ? mid_edges[i % (sizeof mid_edges / sizeof mid_edges[0])]
                 : edges[i % (sizeof edges / sizeof edges[0])];
      delta *= (sel & 0x80) ? 8 : 1;
      break;
    }
    default: return (size_t)fd_range(d, 0, FZ_MAX_SIZE);
  }
  if (delta < 0 && base < (size_t)-delta) return 0;
  size_t s = base + (size_t)(ptrdiff_t)delta;
  return s > FZ_MAX_SIZE ? FZ_MAX_SIZE : s;
}

/* An alignment: powers of two from 1 to 4 MiB; rarely a bad one (not a power of two, or 0). */
static inline size_t fd_align(fuzz_data *d) {
  uint8_t v = fd_u8(d);
  if (v >= 250) return v == 255 ? 0 : (size_t)24 << (v - 250);
  return (size_t)1 << (v % 23);
}

/* ---- the op decoder ---------------------------------------------------------------------------- */
/* FOP_HUGE's variant byte: below FZ_FORK_BYTE an impossible request (its value modulo 6, as
 * before the fork and fault variants), from FZ_FORK_BYTE a fork (fz_fork), from FZ_FAULT_BYTE
 * on an injected system-call failure (fz_fault). */
#define FZ_FORK_BYTE 0xE8u
#define FZ_FAULT_BYTE 0xF0u
typedef enum fuzz_op_kind {
  FOP_MALLOC, FOP_CALLOC, FOP_REALLOC, FOP_REALLOCARRAY, FOP_POSIX_MEMALIGN, FOP_ALIGNED_ALLOC,
  FOP_MEMALIGN, FOP_VALLOC, FOP_PVALLOC, FOP_FREE, FOP_FREE_SIZED, FOP_FREE_RANGE, FOP_BURST,
  FOP_USABLE, FOP_PREWARM, FOP_EVICT, FOP_TRIM, FOP_MALLOC_TRIM, FOP_SET_LIMITS,
  FOP_ADVANCE_CLOCK, FOP_FLUSH, FOP_STATS, FOP_HUGE,
  FOP_SINGLE_COUNT,                        /* ops above: one thread; below: fuzz_ops_mt only */
  FOP_XCHG = FOP_SINGLE_COUNT,             /* swap a slot with a shared mailbox entry */
  FOP_SWITCH,                              /* later ops run on another thread */
  FOP_RACE,                                /* every thread runs a short batch concurrently */
  FOP_RESPAWN,                             /* a thread exits (its blocks live on); a new one takes over */
  FOP_COUNT
} fuzz_op_kind;

typedef struct fuzz_op {
  fuzz_op_kind kind;
  uint32_t slot;      /* handle the op works on (modulo the model's slot count) */
  uint32_t count;     /* calloc/reallocarray element count, burst/range length, prewarm count */
  uint32_t stride;    /* free_range step */
  size_t size;        /* request size (element size for calloc/reallocarray) */
  size_t align;       /* aligned allocations */
  uint64_t a, b, c;   /* prewarm class; limits (count, MB, TTL); clock ns; thread; huge variant */
} fuzz_op;

/* Decode the next op; `nkinds` is FOP_SINGLE_COUNT or FOP_COUNT. False once the input is empty. */
static inline bool fuzz_next_op(fuzz_data *d, fuzz_op *op, unsigned nkinds) {
  if (fd_done(d)) return false;
  memset(op, 0, sizeof *op);
  op->kind = (fuzz_op_kind)(fd_u8(d) % nkinds);
  switch (op->kind) {
    case FOP_MALLOC: case FOP_VALLOC: case FOP_PVALLOC:
      op->slot = fd_u8(d);
      op->size = fd_size(d);
      break;
    case FOP_CALLOC: case FOP_REALLOCARRAY:
      op->slot = fd_u8(d);
      op->count = (uint32_t)fd_range(d, 0, 40);
      op->size = fd_size(d);
      if (op->count > 1 && op->size > FZ_MAX_SIZE / op->count) op->size = FZ_MAX_SIZE / op->count;
      break;
    case FOP_REALLOC:
      op->slot = fd_u8(d);
      op->size = fd_size(d);
      break;
    case FOP_POSIX_MEMALIGN: case FOP_ALIGNED_ALLOC: case FOP_MEMALIGN:
      op->slot = fd_u8(d);
      op->align = fd_align(d);
      op->size = fd_size(d);
      break;
    case FOP_FREE: case FOP_FREE_SIZED: case FOP_USABLE:
      op->slot = fd_u8(d);
      break;
    case FOP_FREE_RANGE:
      op->slot = fd_u8(d);
      op->count = (uint32_t)fd_range(d, 1, 64);
      op->stride = (uint32_t)fd_range(d, 1, 4);
      break;
    case FOP_BURST:
      op->slot = fd_u8(d);
      op->count = (uint32_t)fd_range(d, 1, 64);
      op->size = fd_size(d) % (FZ_MID_MAX + HM_PAGE_SIZE + 1);   /* small, medium, a little large */
      break;
    case FOP_PREWARM:
      op->a = fd_range(d, 0, HAK_TINY_CLASSES);   /* HAK_TINY_CLASSES itself is a bad class */
      op->count = (uint32_t)fd_range(d, 0, 3);
      break;
    case FOP_SET_LIMITS: {
      static const uint64_t counts[] = {0, 1, 2, 3, 4, 8, 256, HM_MAX_MAX_CACHED + 1};
      static const uint64_t mbs[] = {0, 1, 2, 4, 6, 16, 512, HM_MAX_MAX_MEMORY_MB + 1};
      static const uint64_t ttls[] = {0, 1, 2, 5, 60, 3600, HM_MAX_TTL_SEC, UINT64_MAX / 2};
      uint8_t v = fd_u8(d);
      op->a = counts[v & 7];
      op->b = mbs[(v >> 3) & 7];
      op->c = ttls[fd_u8(d) & 7];
      break;
    }
    case FOP_ADVANCE_CLOCK:
      op->a = fd_range(d, 0, 130) * 1000000000ull + fd_u16(d) * 1000ull;
      break;
    case FOP_HUGE: {   /* a variant byte from FZ_FAULT_BYTE on arms a fault (fz_fault) */
      op->slot = fd_u8(d);
      uint8_t v = fd_u8(d);
      op->a = v >= FZ_FORK_BYTE ? v : v % 6u;
      if (v >= FZ_FAULT_BYTE) {
        op->b = fd_range(d, 1, 64);   /* the n-th next call fails */
        op->c = fd_u8(d);             /* how many from there (fz_fault) */
      }
      break;
    }
    case FOP_XCHG:
      op->slot = fd_u8(d);
      op->a = fd_u8(d);
      break;
    case FOP_SWITCH: case FOP_RESPAWN:
      op->a = fd_u8(d);
      break;
    case FOP_RACE:
      op->count = (uint32_t)fd_range(d, 1, 8);
      break;
    default:
      break;
  }
  return true;
}

/* ---- the shadow model ---------------------------------------------------------------------------- */
typedef enum { FZ_PLAIN = 1, FZ_ALIGNED = 2, FZ_OTHER = 3 } fz_kind;
/* PLAIN: from malloc/calloc/realloc/reallocarray (free_sized may name its size);
 * ALIGNED: from aligned_alloc (free_aligned_sized); OTHER: posix_memalign, memalign, valloc, pvalloc. */

typedef struct fz_block {
  unsigned char *p;   /* NULL: slot empty */
  size_t size;        /* bytes requested (the current size after a realloc) */
  size_t usable;      /* malloc_usable_size when it was allocated or last resized */
  size_t align;       /* alignment asked for (0: none) */
  uint32_t tag;       /* fill pattern seed, unique per allocation */
  uint8_t kind;       /* fz_kind */
  uint8_t sized_ok;   /* free_sized/free_aligned_sized may name `size` */
  uint8_t tier;       /* fz_tier: where the reference rules put the block */
  size_t mid_bs;      /* FZ_MID: the block's medium class size (the reference's, not hakmem's) */
} fz_block;

typedef struct fz_model {
  fz_block *slots;
  unsigned nslots;
  uint32_t next_tag;
  unsigned prewarm_budget;   /* SuperSlabs prewarm may still map in this input */
  bool exact_stats;          /* single thread: the statistics must equal the model exactly */
  bool mid_on;               /* the medium tier serves 32 KiB < size <= 512 KiB (fz_mid_level) */
} fz_model;

/* The fill pattern: 64-bit words derived from the tag and the word index (byte i is byte i % 8
 * of word i / 8), so fills and checks run a word at a time. */
static inline uint64_t fz_word(uint32_t tag, size_t w) {
  uint64_t x = ((uint64_t)tag << 32 | tag) ^ (w * 0x9E3779B97F4A7C15ull);
  return x ^ (x >> 29);
}
static inline uint8_t fz_pat(uint32_t tag, size_t i) { return (uint8_t)(fz_word(tag, i >> 3) >> (8 * (i & 7))); }

/* Blocks up to 32 KiB (every small class) are filled and checked entirely; larger ones in
 * regions: 4 KiB at each end and 64 bytes every 64 KiB. fz_regions calls fn on the regions of a
 * block of n bytes that lie below `limit`. */
#define FZ_FULL_MAX ((size_t)HM_SMALL_MAX)
typedef bool (*fz_region_fn)(unsigned char *p, size_t from, size_t to, uint32_t tag);
static inline bool fz_regions(unsigned char *p, size_t n, size_t limit, uint32_t tag, fz_region_fn fn) {
  if (limit > n) limit = n;
  if (n <= FZ_FULL_MAX) return fn(p, 0, limit, tag);
  bool ok = fn(p, 0, limit < 4096 ? limit : 4096, tag);
  for (size_t at = 65536; ok && at + 64 <= n - 4096 && at < limit; at += 65536)
    ok = fn(p, at, at + 64 < limit ? at + 64 : limit, tag);
  if (ok && n - 4096 < limit) ok = fn(p, n - 4096, limit, tag);
  return ok;
}
/* Word loops over [from, to) with byte loops for the unaligned ends (blocks are 8-aligned). They
 * are built without coverage instrumentation (HM_VALIDATOR, src/debug.h): compare tracing of the
 * pattern words took a third of a run and guides nothing; ASan still checks every access. */
HM_VALIDATOR static inline bool fz_fill_fn(unsigned char *p, size_t from, size_t to, uint32_t tag) {
  size_t i = from;
  for (; i < to && (i & 7); i++) p[i] = fz_pat(tag, i);
  for (; i + 8 <= to; i += 8) {
    uint64_t w = fz_word(tag, i >> 3);
    memcpy(p + i, &w, 8);
  }
  for (; i < to; i++) p[i] = fz_pat(tag, i);
  return true;
}
HM_VALIDATOR static inline bool fz_check_fn(unsigned char *p, size_t from, size_t to, uint32_t tag) {
  size_t i = from;
  for (; i < to && (i & 7); i++)
    if (p[i] != fz_pat(tag, i)) return false;
  for (; i + 8 <= to; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if (w != fz_word(tag, i >> 3)) return false;
  }
  for (; i < to; i++)
    if (p[i] != fz_pat(tag, i)) return false;
  return true;
}
HM_VALIDATOR static inline bool fz_zero_fn(unsigned char *p, size_t from, size_t to, uint32_t tag) {
  (void)tag;
  for (size_t i = from; i < to; i++)
    if (p[i] != 0) return false;
  return true;
}

static inline bool fz_is_pow2(size_t a) { return a != 0 && (a & (a - 1)) == 0; }

/* ---- tiers: the reference rules, and what hakmem actually did -------------------------------- */
/* FZ_ZERO: a zero-size request at the strict levels, a PROT_NONE slot of zero.c */
typedef enum { FZ_NONE = 0, FZ_SMALL = 1, FZ_MID = 2, FZ_LARGE = 3, FZ_ZERO = 4 } fz_tier;

/* The medium tier is on at the off and fast hardening levels (strict and paranoid send those
 * sizes to the large tier until its mappings reach the budget, a quarter of vm.max_map_count,
 * which no fuzz input comes near): read from what hakmem reports, not from its own switch. */
static inline bool fz_mid_level(void) {
  hak_stats_t st;
  hak_stats(&st);
  return st.harden_level <= 1 ||
         (st.large_map_budget != 0 && st.large_mappings >= st.large_map_budget);
}

/* The smallest medium class holding `size` (a linear search, unlike mid.c's arithmetic). */
static inline unsigned fz_mid_class(size_t size) {
  unsigned k = 0;
  while (k + 1 < FZ_MID_CLASSES && fz_mid_class_size(k) < size) k++;
  return k;
}
/* Blocks of class k in one 2 MiB SuperSlab. */
static inline size_t fz_mid_per_ss(unsigned k) { return HM_SS_SIZE / fz_mid_class_size(k); }

/* ---- hardening levels ---------------------------------------------------------------------------
 * An input of fuzz_ops or fuzz_ops_mt whose first byte is 0xF0 + level (0 off, 1 fast, 2 strict,
 * 3 paranoid) runs at that level; any other first byte is an op (or the thread count) as before,
 * at the level the process started with (HAKMEM_HARDEN, default fast). hakmem's level is meant to
 * be set once at start-up: hm_mit is read on every slow path and each thread caches its
 * consequences (hm_tl_heap is HM_NO_HEAP and every hm_tl_cur the empty slab at the strict levels,
 * so that every malloc and free takes the slow path). It may change between inputs because an
 * input ends with nothing live, every quarantine flushed and every slab, medium SuperSlab and
 * cached large mapping given back (fz_finish checks that); fz_level then fixes the calling
 * thread's cached views as heap.c would have set them, and the worker threads of fuzz_ops_mt are
 * new at every input. Valgrind builds cap the level at fast (harden.c): the model reads back the
 * level in force, never the one asked for. */
#define FZ_LEVEL_PREFIX 0xF0u
static int fz_level_now = 1;
/* Bytes a small block holds past the request at the level in force, from the levels' rules
 * (harden.c, mitigate.c): strict and paranoid keep the request's keyed size in the block's last 4
 * bytes. The one place the model knows small-block geometry: a request goes to a small class iff
 * max(request + this, alignment) <= HM_SMALL_MAX. Usable sizes are never derived from it (the
 * model asks malloc_usable_size). */
static size_t fz_small_reserve = 0;

/* The level an input asks for (consuming its prefix byte), -1 if it names none. */
static inline int fz_take_level(fuzz_data *d) {
  if (d->n == 0 || (d->p[0] & 0xFCu) != FZ_LEVEL_PREFIX) return -1;
  int level = d->p[0] & 3;
  d->p++;
  d->n--;
  return level;
}

/* Before the input's first allocation: run at `want` (-1: the process's starting level); returns
 * the level in force. */
static inline int fz_level(int want) {
  static int start = -1;
  hm_ensure_init();
  if (start < 0) start = hm_harden_level;
  int level = want < 0 ? start : want;
  if (level != hm_harden_level) {
    hm_heap *h = hm_tl_self;
    FUZZ_ASSERT(h == HM_NO_HEAP || h->quar_len == 0, "level change with a quarantine not flushed");
    hm_harden_set_level(level);
    if (h != HM_NO_HEAP) {   /* as heap_new and set_cur would have set them at this level (class 0: always the slow path) */
      bool per_block = (hm_mit & HM_MIT_PER_BLOCK) != 0;
      hm_tl_heap = per_block ? HM_NO_HEAP : h;
      for (unsigned c = 0; c < HM_CLASSES; c++)
        hm_tl_cur[c] = (per_block || c == 0 || h->cur[c] == NULL) ? &hm_empty_slab : h->cur[c];
    }
  }
  hak_stats_t st;
  hak_stats(&st);
  fz_level_now = (int)st.harden_level;
  fz_small_reserve = fz_level_now >= 2 ? 4 : 0;
  return fz_level_now;
}

/* Where a request of `size` bytes aligned to `align` (0 or <= 8: plain malloc) must go. Every
 * small and medium block ends in its HM_CANARY-byte end canary: a small class if
 * max(size + 8 + fz_small_reserve, align) <= 32 KiB; else a medium block if the tier is on, the
 * size is in (32 KiB - 8, 512 KiB - 8] and the alignment at most a page; else its own mapping (at
 * the strict levels that includes the requests in (32 KiB - 12, 32 KiB - 8]). At the strict levels
 * a zero-size request is a PROT_NONE slot of zero.c (FZ_ZERO). */
static inline fz_tier fz_tier_for(bool mid_on, size_t size, size_t align) {
  /* an alignment past the small tier (32 KiB) takes the large tier's path, zero-size or not */
  if (size == 0 && fz_level_now >= 2 && align <= HM_SS_SIZE / 2) return FZ_ZERO;
  size_t need = size + HM_CANARY + fz_small_reserve > align ? size + HM_CANARY + fz_small_reserve : align;
  if (size <= HM_SMALL_MAX - HM_CANARY && need <= HM_SMALL_MAX) return FZ_SMALL;
  if (mid_on && size > HM_SMALL_MAX - HM_CANARY && size <= FZ_MID_MAX - HM_CANARY && align <= HM_PAGE_SIZE)
    return FZ_MID;
  return FZ_LARGE;
}

/* What owns live block `p` according to hakmem's own structures (registry entry, slot state),
 * and the allocator's size of the block (slab class, medium class, large usable bytes). */
static inline fz_tier fz_owner(const void *p, size_t *bsize) {
  uintptr_t e = hm_registry_lookup(p);
  *bsize = 0;
  if (e == 0) return FZ_NONE;
  if ((e & 3u) == HM_REG_ZERO) return FZ_ZERO;
  if (!(e & HM_REG_SS)) {
    *bsize = ((const hm_large *)e)->usable;
    return FZ_LARGE;
  }
  hm_superslab *ss = (hm_superslab *)(e - HM_REG_SS);
  hm_slab *s = hm_slab_at(e, p);
  if (atomic_load_explicit(&s->state, memory_order_acquire) == HM_SLOT_MID) {
    *bsize = HM_LOAD_RELAXED(ss->mid_size);
    return FZ_MID;
  }
  *bsize = s->block_size;
  return FZ_SMALL;
}

/* What every live block must satisfy: malloc's alignment (16 from 16 bytes up, 8 below), the
 * requested alignment, usable >= requested. */
/* Under ASan, malloc_usable_size finds the end of the unpoisoned bytes by scanning the shadow, in
 * time proportional to the block: large blocks are not asked (their usable size is checked in the
 * other builds' replays). */
static inline size_t fz_usable(void *p, size_t size) {
#ifdef FZ_ASAN
  if (size > FZ_FULL_MAX) return size;
#endif
  return hak_malloc_usable_size(p);
}

static inline void fz_check_fresh(const fz_block *b) {
  uintptr_t u = (uintptr_t)b->p;
  FUZZ_ASSERT(u % (b->size >= 16 ? 16 : 8) == 0, "block not aligned as malloc promises");
  FUZZ_ASSERT(b->align == 0 || u % b->align == 0, "block not aligned as requested");
  FUZZ_ASSERT(b->usable >= b->size, "usable size smaller than the request");
}
/* At the strict levels the canaries guard a small block's slack, so the program may use exactly
 * what it asked for (api.c usable_of, from the block's size trailer). */
static inline void fz_check_small_usable(const fz_block *b) {
  FUZZ_ASSERT(fz_level_now < 2 || b->tier != FZ_SMALL || b->usable == b->size,
              "strict level: usable size of a small block is not the request");
}

#ifdef FZ_ASAN
#include <sanitizer/asan_interface.h>
#endif
/* ASan builds: every byte of a small block past the request is poisoned, so an overflow into the
 * slack is reported; at the strict levels that is where mitigate.c writes the canaries and reads
 * the trailer (hm_san_open / hm_san_close). Checked after malloc_usable_size, which reads the
 * trailer. Bytes of the request's last granule one by one, then the first byte of each granule. */
static inline void fz_check_slack_poisoned(const fz_block *b) {
#ifdef FZ_ASAN
  size_t bs;
  if (fz_owner(b->p, &bs) != FZ_SMALL) return;
  for (size_t i = b->size; i < bs; i = (i & 7u) ? i + 1 : i + 8)
    FUZZ_ASSERT(__asan_address_is_poisoned(b->p + i), "ASan: slack past the request not poisoned");
#else
  (void)b;
#endif
}

/* The block's pattern is intact and its usable size unchanged: no other block overlapped it and
 * nothing scribbled on it. */
static inline void fz_verify(const fz_block *b) {
  FUZZ_ASSERT(fz_regions(b->p, b->size, b->size, b->tag, fz_check_fn), "block contents corrupted");
  FUZZ_ASSERT(fz_usable(b->p, b->size) == b->usable, "usable size of a live block changed");
  fz_check_slack_poisoned(b);
}

/* A new block `p` of `size` bytes in slot b (which must be empty). */
/* Block b (p, size and usable set) must be in tier `want`; a medium block of its reference class,
 * 8 KiB-aligned, with that usable size less the end canary. */
static inline void fz_settle(fz_block *b, fz_tier want, size_t mid_bs) {
  size_t bs;
  fz_tier got = fz_owner(b->p, &bs);
  FUZZ_ASSERT(got == want, "block not in the tier the reference rules give");
  b->tier = (uint8_t)want;
  b->mid_bs = want == FZ_MID ? mid_bs : 0;
  if (want == FZ_MID) {
    FUZZ_ASSERT(bs == mid_bs, "medium block not of the smallest medium class that fits");
    FUZZ_ASSERT((uintptr_t)b->p % FZ_MID_ALIGN == 0, "medium block not 8 KiB-aligned");
#ifndef FZ_ASAN
    FUZZ_ASSERT(b->usable == mid_bs - HM_CANARY, "usable size of a medium block is not its class size - 8");
#endif
  }
}

static inline void fz_adopt(fz_model *m, fz_block *b, void *p, size_t size, size_t align,
                            fz_kind kind, bool zeroed) {
  b->p = p;
  b->size = size;
  b->align = align;
  b->kind = (uint8_t)kind;
  b->sized_ok = 1;
  b->tag = m->next_tag++ * 2654435761u;
  b->usable = fz_usable(p, size);
  fz_check_fresh(b);
  fz_tier t = fz_tier_for(m->mid_on, size, align);
  fz_settle(b, t, t == FZ_MID ? fz_mid_class_size(fz_mid_class(size + HM_CANARY)) : 0);
  fz_check_small_usable(b);
  fz_check_slack_poisoned(b);
  if (zeroed) FUZZ_ASSERT(fz_regions(b->p, size, size, 0, fz_zero_fn), "calloc block not zeroed");
  fz_regions(b->p, size, size, b->tag, fz_fill_fn);
}

static inline void fz_release(fz_block *b, bool sized) {
  if (b->p == NULL) return;
  fz_verify(b);
  if (sized && b->sized_ok && b->kind == FZ_PLAIN) hak_free_sized(b->p, b->size);
  else if (sized && b->sized_ok && b->kind == FZ_ALIGNED) hak_free_aligned_sized(b->p, b->align, b->size);
  else hak_free(b->p);
  memset(b, 0, sizeof *b);
}

static inline fz_block *fz_slot(fz_model *m, uint32_t i) { return &m->slots[i % m->nslots]; }

/* An allocation may return NULL only if an injected system-call failure fired during it (hits:
 * hak_test_fault_hits() before the call), and then with errno ENOMEM: true for such a NULL. */
static inline bool fz_refused(const void *p, uint64_t hits, const char *what) {
  if (p != NULL) return false;
  FUZZ_ASSERT(hak_test_fault_hits() != hits, what);
  FUZZ_ASSERT(errno == ENOMEM, what);
  return true;
}

/* Arm a failure (FOP_HUGE with a variant byte from FZ_FAULT_BYTE): the variant's low three bits
 * pick the kind (mmap, mremap, madvise, mprotect, getrandom, any; 6 and 7 mmap again), `n` the
 * call, counted from now, that fails first, and `c` how many fail from there: 1 (c < 192), 4
 * (c < 248) or every one to the end of the input. The model then accepts NULL + ENOMEM from an
 * allocation during which an injected failure fired (fz_refused); hak_check runs after every op
 * as always, and fz_begin and fz_finish disarm. */
static inline void fz_fault(uint64_t variant, uint64_t n, uint64_t c) {
  static const int kinds[8] = {HAK_FAULT_MMAP, HAK_FAULT_MREMAP, HAK_FAULT_MADVISE, HAK_FAULT_MPROTECT,
                               HAK_FAULT_GETRANDOM, HAK_FAULT_ANY, HAK_FAULT_MMAP, HAK_FAULT_MMAP};
  hak_test_fail_nth(kinds[variant & 7], n, c < 192 ? 1 : c < 248 ? 4 : UINT64_MAX);
}

/* A NULL result must come with the right errno and only for impossible requests. */
static inline void fz_expect_null(void *p, int err, const char *what) {
  FUZZ_ASSERT(p == NULL, what);
  FUZZ_ASSERT(errno == err, what);
}

static inline void fz_realloc(fz_model *m, fz_block *b, size_t size, bool array, uint32_t count) {
  size_t total = size;
  if (array) total = (size_t)count * size;
  uint64_t hits = hak_test_fault_hits();
  errno = 0;
  if (b->p == NULL) {
    void *p = array ? hak_reallocarray(NULL, count, size) : hak_realloc(NULL, total);
    if (fz_refused(p, hits, "realloc(NULL, n) failed")) return;
    fz_adopt(m, b, p, total, 0, FZ_PLAIN, false);
    return;
  }
  fz_verify(b);
  size_t keep = total < b->size ? total : b->size;
  uint32_t old_tag = b->tag;
  void *old_p = b->p;
  fz_tier old_tier = (fz_tier)b->tier;
  size_t old_bs;
  fz_owner(b->p, &old_bs);   /* a large block's usable bytes decide whether it grows in place */
  void *p = array ? hak_reallocarray(b->p, count, size) : hak_realloc(b->p, total);
  if (fz_refused(p, hits, "realloc failed")) {   /* the block stays as it was */
    fz_verify(b);
    return;
  }
  /* The tier of the result: a medium block stays in place iff the new size fits its usable size
   * (class - 8) and is more than half of it (like a small block), else it moves to the tier of the new size. A block
   * kept in place keeps its tier; a large block growing past its mapping stays large (remapped). */
  fz_tier t;
  size_t mid_bs = 0;
  if (old_tier == FZ_MID) {
    size_t mid_usable = b->mid_bs - HM_CANARY;
    bool in_place = total <= mid_usable && total > mid_usable / 2;
    FUZZ_ASSERT((p == old_p) == in_place, "medium realloc: in place iff the new size is in (usable/2, usable]");
  }
  if (p == old_p) {
    t = old_tier;
    mid_bs = b->mid_bs;
  } else if (old_tier == FZ_LARGE && total > HM_SMALL_MAX - HM_CANARY &&
             ((total + HM_PAGE_SIZE - 1) & ~(size_t)(HM_PAGE_SIZE - 1)) > old_bs) {
    t = FZ_LARGE;
  } else {
    t = fz_tier_for(m->mid_on, total, 0);
    if (t == FZ_MID) mid_bs = fz_mid_class_size(fz_mid_class(total + HM_CANARY));
  }
  b->p = p;
  FUZZ_ASSERT(fz_regions(b->p, b->size, keep, old_tag, fz_check_fn), "realloc lost the contents");
  size_t old_size = b->size;
  b->size = total;
  b->usable = fz_usable(p, total);
  b->kind = FZ_PLAIN;
  b->align = 0;
  b->tag = m->next_tag++ * 2654435761u;
  fz_check_fresh(b);
  fz_settle(b, t, mid_bs);
  fz_check_small_usable(b);
  (void)old_size;
  fz_regions(b->p, b->size, b->size, b->tag, fz_fill_fn);
}

/* Requests that must fail cleanly: sizes over PTRDIFF_MAX, calloc/reallocarray overflow. A live
 * block handed to a failing realloc stays live and intact. */
static inline void fz_huge(fz_block *b, unsigned variant) {
  void *p;
  errno = 0;
  switch (variant) {
    case 0: fz_expect_null(hak_malloc((size_t)PTRDIFF_MAX + 1), ENOMEM, "malloc(huge)"); break;
    case 1: fz_expect_null(hak_calloc(SIZE_MAX / 2, 3), ENOMEM, "calloc overflow"); break;
    case 2:
      fz_expect_null(hak_realloc(b->p, SIZE_MAX - 8), ENOMEM, "realloc(huge)");
      if (b->p) fz_verify(b);
      break;
    case 3:
      fz_expect_null(hak_reallocarray(b->p, SIZE_MAX / 4, 8), ENOMEM, "reallocarray overflow");
      if (b->p) fz_verify(b);
      break;
    case 4: {
      void *q = (void *)1;
      int rc = hak_posix_memalign(&q, 24, 16);
      FUZZ_ASSERT(rc == EINVAL && q == (void *)1, "posix_memalign with a bad alignment");
      break;
    }
    default:
      p = hak_aligned_alloc(3, 16);
      FUZZ_ASSERT(p == NULL && errno == EINVAL, "aligned_alloc with a bad alignment");
      break;
  }
}

/* Statistics against the model: exact with one thread, bounds otherwise. `trimmed`: right after
 * hak_trim / malloc_trim, when no medium class without a live block may keep a SuperSlab. */
static inline void fz_stats(fz_model *m, bool trimmed) {
  uint64_t n[5] = {0, 0, 0, 0, 0}, mid_bytes = 0, live_k[FZ_MID_CLASSES] = {0};
  for (unsigned i = 0; i < m->nslots; i++) {
    const fz_block *b = &m->slots[i];
    if (b->p == NULL) continue;
    n[b->tier]++;
    if (b->tier == FZ_MID) {
      mid_bytes += b->mid_bs - HM_CANARY;   /* the statistics count usable bytes */
      live_k[fz_mid_class(b->mid_bs)]++;
    }
  }
  hak_stats_t st;
  hak_stats(&st);
  FUZZ_ASSERT(n[FZ_NONE] == 0, "model: a live block without a tier");
  FUZZ_ASSERT(st.ss_mapped == st.ss_in_use + st.ss_cached, "stats: mapped != in use + cached");
  FUZZ_ASSERT(st.ss_cached <= st.limit_max_cached, "stats: cache over its count limit");
  FUZZ_ASSERT(st.ss_cached_bytes <= st.limit_max_bytes, "stats: cache over its byte limit");
  FUZZ_ASSERT(st.ss_cached_bytes == st.ss_cached * HM_SS_SIZE, "stats: cached bytes");
  FUZZ_ASSERT(st.mid_superslabs <= st.ss_in_use, "stats: medium SuperSlabs not counted in use");
  FUZZ_ASSERT(m->mid_on || (st.mid_live == 0 && st.mid_superslabs == 0), "stats: medium tier used at a strict level");
  if (m->exact_stats) {
    FUZZ_ASSERT(st.small_live_blocks == n[FZ_SMALL], "stats: small live blocks != model");
    FUZZ_ASSERT(st.mid_live == n[FZ_MID], "stats: medium live blocks != model");
    FUZZ_ASSERT(st.mid_live_bytes == mid_bytes, "stats: medium live bytes != sum of their classes - 8");
    FUZZ_ASSERT(st.large_live == n[FZ_LARGE], "stats: large live blocks != model");
    /* per medium class: every SuperSlab but a lone kept empty one holds a live block, and the
     * live blocks need ceil(live / per-SuperSlab) of them; after a trim none is kept empty */
    uint64_t lo = 0, hi = 0;
    for (unsigned k = 0; k < FZ_MID_CLASSES; k++) {
      size_t per = fz_mid_per_ss(k);
      lo += (live_k[k] + per - 1) / per;
      hi += live_k[k] ? live_k[k] : !trimmed;
    }
    FUZZ_ASSERT(st.mid_superslabs >= lo, "stats: fewer medium SuperSlabs than the live blocks need");
    FUZZ_ASSERT(st.mid_superslabs <= hi, "stats: a medium SuperSlab kept empty beside others, or after trim");
    if (trimmed) FUZZ_ASSERT(st.ss_cached == 0, "stats: cache not empty after trim");
  } else {
    FUZZ_ASSERT(st.small_live_blocks >= n[FZ_SMALL], "stats: small live blocks < model");
    FUZZ_ASSERT(st.mid_live >= n[FZ_MID] && st.mid_live_bytes >= mid_bytes, "stats: medium live < model");
    FUZZ_ASSERT(st.large_live >= n[FZ_LARGE], "stats: large live blocks < model");
  }
}

/* A fork in the middle of an input (FOP_HUGE, variant FZ_FORK_BYTE .. FZ_FAULT_BYTE - 1; one
 * thread only, at most FZ_FORKS per input: a fork costs a few milliseconds). The child must find
 * every live block intact, the heap valid, and every tier serving; it leaves with _exit (an
 * exit would run the fuzzer's own exit handlers), writing its coverage profile first where the
 * build has one (the replay builds of fuzz/coverage.sh), so the fork handlers count there. */
#define FZ_FORKS 2u
static unsigned fz_forks_left;
extern int __llvm_profile_write_file(void) __attribute__((weak));
static inline void fz_fork(fz_model *m) {
  if (!m->exact_stats || fz_forks_left == 0) return;   /* other threads: their slots move */
  fz_forks_left--;
  fflush(NULL);
  pid_t pid = fork();
  FUZZ_ASSERT(pid >= 0, "fork failed");
  if (pid == 0) {
    hak_test_fail_reset();   /* a fault armed in the parent is the parent's */
    for (unsigned i = 0; i < m->nslots; i++)
      if (m->slots[i].p != NULL) fz_verify(&m->slots[i]);
    FUZZ_CHECK_HEAP_FULL();
    void *a = hak_malloc(24), *b = hak_malloc(100000), *c = hak_malloc((size_t)1 << 20);
    FUZZ_ASSERT(a != NULL && b != NULL && c != NULL, "malloc in a forked child");
    hak_free(a);
    hak_free(b);
    hak_free(c);
    FUZZ_CHECK_HEAP_FULL();
    if (__llvm_profile_write_file != NULL) __llvm_profile_write_file();
    _exit(0);
  }
  /* libFuzzer's -timeout alarm (SIGALRM, no SA_RESTART) may land in the wait: retry on EINTR */
  int st = 0;
  pid_t got;
  while ((got = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
  if (got != pid) fprintf(stderr, "fuzz: waitpid returned %d, errno %d\n", (int)got, errno);
  FUZZ_ASSERT(got == pid, "waitpid");
  FUZZ_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the forked child found the heap broken");
}

/* The report (stats.c), formatted and written in full to /dev/null: its lines must not fail. */
static inline void fz_report(void) {
  static FILE *devnull;
  if (devnull == NULL) devnull = fopen("/dev/null", "w");
  if (devnull != NULL) hak_stats_print(devnull);
}

/* Run one op of the single-thread language (kinds < FOP_SINGLE_COUNT) on model m. */
static inline void fz_exec(fz_model *m, const fuzz_op *op) {
  fz_block *b = fz_slot(m, op->slot);
  void *p = NULL;
  uint64_t hits = hak_test_fault_hits();
  errno = 0;
  switch (op->kind) {
    case FOP_MALLOC:
      fz_release(b, false);
      p = hak_malloc(op->size);
      if (fz_refused(p, hits, "malloc failed")) break;
      fz_adopt(m, b, p, op->size, 0, FZ_PLAIN, false);
      break;
    case FOP_CALLOC:
      fz_release(b, false);
      p = hak_calloc(op->count, op->size);
      if (fz_refused(p, hits, "calloc failed")) break;
      fz_adopt(m, b, p, (size_t)op->count * op->size, 0, FZ_PLAIN, true);
      break;
    case FOP_REALLOC: fz_realloc(m, b, op->size, false, 0); break;
    case FOP_REALLOCARRAY: fz_realloc(m, b, op->size, true, op->count); break;
    case FOP_POSIX_MEMALIGN: {
      fz_release(b, false);
      int rc = hak_posix_memalign(&p, op->align, op->size);
      if (op->align < sizeof(void *) || !fz_is_pow2(op->align)) {
        FUZZ_ASSERT(rc == EINVAL, "posix_memalign accepted a bad alignment");
        break;
      }
      if (rc == ENOMEM && hak_test_fault_hits() != hits) break;   /* refused (fz_refused) */
      FUZZ_ASSERT(rc == 0 && p != NULL, "posix_memalign failed");
      fz_adopt(m, b, p, op->size, op->align, FZ_OTHER, false);
      break;
    }
    case FOP_ALIGNED_ALLOC:
      fz_release(b, false);
      errno = 0;
      p = hak_aligned_alloc(op->align, op->size);
      if (!fz_is_pow2(op->align)) {
        fz_expect_null(p, EINVAL, "aligned_alloc accepted a bad alignment");
        break;
      }
      if (fz_refused(p, hits, "aligned_alloc failed")) break;
      fz_adopt(m, b, p, op->size, op->align, FZ_ALIGNED, false);
      break;
    case FOP_MEMALIGN: {
      fz_release(b, false);
      size_t a = op->align;
      p = hak_memalign(a, op->size);
      if (fz_refused(p, hits, "memalign failed")) break;
      if (a != 0 && !fz_is_pow2(a)) a = (size_t)1 << (64 - __builtin_clzll((unsigned long long)a));
      fz_adopt(m, b, p, op->size, a, FZ_OTHER, false);
      break;
    }
    case FOP_VALLOC:
      fz_release(b, false);
      p = hak_valloc(op->size);
      if (fz_refused(p, hits, "valloc failed")) break;
      fz_adopt(m, b, p, op->size, HM_PAGE_SIZE, FZ_OTHER, false);
      break;
    case FOP_PVALLOC: {
      fz_release(b, false);
      p = hak_pvalloc(op->size);
      if (fz_refused(p, hits, "pvalloc failed")) break;
      size_t n = op->size ? (op->size + HM_PAGE_SIZE - 1) & ~(size_t)(HM_PAGE_SIZE - 1) : HM_PAGE_SIZE;
      fz_adopt(m, b, p, n, HM_PAGE_SIZE, FZ_OTHER, false);
      break;
    }
    case FOP_FREE: fz_release(b, false); break;
    case FOP_FREE_SIZED: fz_release(b, true); break;
    case FOP_FREE_RANGE:
      for (uint32_t i = 0; i < op->count; i++) fz_release(fz_slot(m, op->slot + i * op->stride), i & 1);
      break;
    case FOP_BURST:   /* many blocks of one size: fills slabs and SuperSlabs, crosses their edges */
      for (uint32_t i = 0; i < op->count; i++) {
        fz_block *e = fz_slot(m, op->slot + i);
        fz_release(e, false);
        p = hak_malloc(op->size);
        if (fz_refused(p, hits, "malloc failed")) break;
        fz_adopt(m, e, p, op->size, 0, FZ_PLAIN, false);
      }
      break;
    case FOP_USABLE:
      if (b->p) fz_verify(b);
      FUZZ_ASSERT(hak_malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL)");
      break;
    case FOP_PREWARM: {
      uint32_t n = op->count <= m->prewarm_budget ? op->count : m->prewarm_budget;
      errno = 0;
      int got = hak_ss_prewarm_class((int)op->a, n);
      if (op->a >= HAK_TINY_CLASSES) {
        FUZZ_ASSERT(got == -1 && errno == EINVAL, "prewarm accepted a bad class");
      } else {
        FUZZ_ASSERT(got == (int)n || (got >= 0 && got < (int)n && hak_test_fault_hits() != hits),
                    "prewarm did not cache what it was asked to");
        m->prewarm_budget -= n;
      }
      break;
    }
    case FOP_EVICT: hak_ss_evict(); break;
    case FOP_TRIM:
      hak_trim();
      if (m->exact_stats) fz_stats(m, true);
      break;
    case FOP_MALLOC_TRIM: {
      int r = hak_malloc_trim(0);
      FUZZ_ASSERT(r == 0 || r == 1, "malloc_trim result");
      if (m->exact_stats) fz_stats(m, true);
      break;
    }
    case FOP_SET_LIMITS: {
      hak_limits_t l = {op->a, op->b, op->c}, got;
      hak_ss_set_limits(&l);
      hak_ss_get_limits(&got);
      /* with other threads running, another SetLimits or a prewarm (which raises the limits) may
       * land between the two calls: the read-back is exact only single-threaded */
      FUZZ_ASSERT(!m->exact_stats || (got.max_cached == (l.max_cached > HM_MAX_MAX_CACHED ? HM_MAX_MAX_CACHED : l.max_cached) &&
                      got.max_memory_mb == (l.max_memory_mb > HM_MAX_MAX_MEMORY_MB ? HM_MAX_MAX_MEMORY_MB
                                                                                    : l.max_memory_mb) &&
                      got.ttl_sec == (l.ttl_sec > HM_MAX_TTL_SEC ? HM_MAX_TTL_SEC : l.ttl_sec)),
                  "limits read back differ from those set (clamped)");
      /* and the retain bound (HAKMEM_PURGE_RETAIN_MB), so that the purges past it run: one
       * thread only (the tiers read it unlocked); hak_ss_evict brings every tier within it */
      if (m->exact_stats) {
        static const uint64_t retain_mb[4] = {0, 1, 4, HM_DEF_PURGE_RETAIN_MB};
        hm_cfg.purge_retain_mb = retain_mb[(op->a ^ op->b ^ op->c) & 3];
        hak_ss_evict();
      }
      break;
    }
    case FOP_ADVANCE_CLOCK: hak_test_advance_clock(op->a); break;
    case FOP_FLUSH: hak_thread_flush(); break;
    case FOP_STATS:
      fz_stats(m, false);
      fz_report();
      break;
    case FOP_HUGE:
      if (op->a >= FZ_FAULT_BYTE) fz_fault(op->a, op->b, op->c);
      else if (op->a >= FZ_FORK_BYTE) fz_fork(m);
      else fz_huge(b, (unsigned)op->a);
      break;
    default: break;
  }
}

/* Default cache limits and retain bound (README): restored at the end of every input so inputs
 * are independent. */
static inline void fz_restore_defaults(void) {
  hak_limits_t l = {HM_DEF_MAX_CACHED, HM_DEF_MAX_MEMORY_MB, HM_DEF_TTL_SEC};
  hak_ss_set_limits(&l);
  hm_cfg.purge_retain_mb = HM_DEF_PURGE_RETAIN_MB;
}

/* End of an input, after every handle was released: no medium block is live and each medium
 * class keeps at most its one empty SuperSlab; then default limits back, the cache trimmed, and
 * nothing may stay live, active or mapped (the kept medium SuperSlabs went back too). */
/* Deterministic fuzzing (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION: constant hm_secret, heap seeds
 * without address or pid): in persistent mode (AFL++, libFuzzer) one process runs many inputs and
 * the calling thread's slot-order rng would go on from the previous input, so the same input
 * would take other paths (AFL++ "stability"). Each input starts from the same rng state. */
/* The calling thread's part (k: 0 the main thread, 1 + t fuzz_ops_mt's worker t): a heap, its
 * slot-order rng from a state fixed by k (not by how many heaps the process made), its quarantine
 * scan from the head. */
static inline void fz_thread_begin(uint64_t k) {
  hak_free(hak_malloc(1));   /* the thread has a heap from here on */
  if (hm_tl_self != HM_NO_HEAP)
    hm_tl_self->rng = hm_seed_mix(hm_secret ^ 0x6a09e667f3bcc909ull ^ (k * 0x9e3779b97f4a7c15ull));
  hm_mitigate_fuzz_reset();
}

static inline void fz_begin(void) {
  hm_mid_fuzz_reset();     /* the medium tier's picks (src/mid.c) */
  hm_os_fuzz_reset(0);     /* mappings from the fixed hint base again (src/os.c) */
  hm_stats_fuzz_reset();   /* the peak's sampling (src/stats.c) */
  hm_large_fuzz_reset();   /* the ring of freed large bases (src/large.c) */
  hm_zero_fuzz_reset();    /* the zero-size chunks' cursors (src/zero.c) */
  hak_test_fail_reset();
  fz_forks_left = FZ_FORKS;
  fz_checks = 0;
  fz_thread_begin(0);
}

/* Once per process, before the first input (LLVMFuzzerInitialize: before AFL++'s fork server, so
 * every child inherits it): take the one-time paths and raise the high-water marks past what any
 * input reaches, so that no input is the first to take them and the second run of an input takes
 * the path of the first. At every level: a block of every small and medium class and some large
 * ones (the report's rows count allocations since start-up: all of them shown from here on), 1024
 * blocks of the largest medium class (256 SuperSlabs: the SuperSlab headers' pool, 16 a chunk,
 * never grows again; an input holds at most 256 blocks), 300 large blocks (the large records'
 * pool), a large block in each of the 16 GiB from where the inputs map (fz_begin: their registry
 * leaves), the mapping budget read, the report written; then everything freed and trimmed. First
 * the zero-size chunks (never given back) that 256 live zero-size blocks aligned to 32 KiB need. */
#define FZ_WARM_MID 256u
#define FZ_WARM_LARGE 64u
#define FZ_WARM_GIB 16u
#define FZ_WARM_ZERO 256u
static inline void fz_warm_up(void) {
  static void *p[FZ_WARM_MID + FZ_WARM_LARGE + FZ_WARM_GIB + HM_CLASSES + FZ_MID_CLASSES];
  fz_level(-1);
  fz_level(3);   /* the zero-size chunks an input can fill (aligned 32 KiB: 64 a chunk), out of its way */
  hm_os_fuzz_reset((size_t)FZ_WARM_GIB << 30);
  for (unsigned i = 0; i < FZ_WARM_ZERO; i++) p[i] = hak_aligned_alloc(HM_SMALL_MAX, 0);
  for (unsigned i = 0; i < FZ_WARM_ZERO; i++) hak_free(p[i]);
  for (int level = 3; level >= -1; level--) {
    unsigned n = 0;
    fz_level(level);
    hm_os_fuzz_reset(0);
    for (unsigned c = 0; c < HM_CLASSES; c++) p[n++] = hak_malloc(hm_class_size[c]);
    for (unsigned k = 0; k < FZ_MID_CLASSES; k++) p[n++] = hak_malloc(fz_mid_class_size(k) - HM_CANARY);
    for (unsigned i = 0; i < FZ_WARM_MID; i++) p[n++] = hak_malloc(FZ_MID_MAX - HM_CANARY);
    for (unsigned i = 0; i < FZ_WARM_LARGE; i++) p[n++] = hak_malloc(FZ_MID_MAX + HM_PAGE_SIZE);
    for (unsigned g = FZ_WARM_GIB; g-- > 1;) {   /* a registry leaf for each gigabyte inputs map in */
      hm_os_fuzz_reset((size_t)g << 30);
      p[n++] = hak_malloc(FZ_MID_MAX + HM_PAGE_SIZE);
    }
    hm_os_fuzz_reset(0);
    fz_report();
    for (unsigned i = 0; i < n; i++) {
      FUZZ_ASSERT(p[i] != NULL, "warm-up allocation failed");
      hak_free(p[i]);
    }
    hak_thread_flush();
    fz_report();
    hak_trim();
    FUZZ_CHECK_HEAP();
  }
}

static inline void fz_finish(const char *slab_msg) {
  hak_test_fail_reset();
  FUZZ_CHECK_HEAP_FULL();
  hak_stats_t st;
  hak_stats(&st);
  FUZZ_ASSERT(st.mid_live == 0 && st.mid_live_bytes == 0, "medium blocks live after freeing all");
  FUZZ_ASSERT(st.mid_superslabs <= FZ_MID_CLASSES && st.mid_superslabs <= st.ss_in_use,
              "more than one empty medium SuperSlab per class kept after freeing all");
  fz_restore_defaults();
  hak_trim();
  FUZZ_CHECK_HEAP_FULL();
  hak_stats(&st);
  FUZZ_ASSERT(st.small_live_blocks == 0 && st.mid_live == 0 && st.large_live == 0,
              "blocks live after freeing all");
  FUZZ_ASSERT(st.slabs_active == 0, slab_msg);
  FUZZ_ASSERT(st.mid_superslabs == 0, "medium SuperSlabs kept after trim");
  FUZZ_ASSERT(st.ss_mapped == 0, "SuperSlabs still mapped after trim");
  /* back to the starting level: whether the next input changes level (fz_level) depends on that
   * input alone, not on the level the one before it asked for (AFL++ stability) */
  fz_level(-1);
}

#endif
