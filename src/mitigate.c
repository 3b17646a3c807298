/* mitigate.c — the per-block mitigations of the strict and paranoid levels: canaries and the
 * keyed size trailer, zero-on-free and its check at reuse, the per-thread quarantine ring. The
 * small-block slow paths of heap.c call in here when a level turns them on (hm_mit). */
#include <errno.h>
#include <string.h>
#include "internal.h"

/* ---- per-block mitigations (strict and paranoid levels) ------------------------------------------
 * The 4 bytes before a small block's end canary (HM_CANARY, every level) hold its requested size,
 * keyed with the secret and its address; the bytes between the request and that trailer hold a
 * canary byte. free checks both, so a
 * 1-byte overflow past the request, or any write into a malloc(0) block, aborts. Freed blocks
 * are zeroed (and checked to be still zero when handed out again, at paranoid), and wait in a
 * per-thread quarantine ring before they can be reused.
 * Levels are supersets: a write into a freed block's first word, which the fast level reports as
 * "corrupted free list" when it pops the block, must not be erased by zero-on-free and the
 * quarantine. So a quarantined block keeps a mark in its first word (the encoded null link,
 * hm_encode(NULL, p); its first 4 bytes only in class 16, whose strict layout ends at 8 bytes with the
 * trailer) and the mark is checked ("write after free") when the block leaves the quarantine,
 * and, one entry per strict malloc in turn, while it waits there (quar_scan), so a program that
 * stops freeing is checked too. Cost: one store per free, one load and compare per release and
 * per malloc. On release the rest of the block is checked to be still zero too (quar_zero_ok),
 * so a write after free anywhere in a small block is reported when it leaves the quarantine. */
#define TRAILER 4u
#define END(bs) ((bs) - HM_CANARY)   /* where the end canary starts: the strict layout ends there */

static uint32_t trailer_key(const void *p) { return (uint32_t)(hm_secret ^ ((uintptr_t)p >> 3)); }
static uint8_t canary_byte(const void *p) {
  return (uint8_t)(((hm_secret >> 24) ^ ((uintptr_t)p >> 4)) | 1u);   /* never 0 */
}

/* The trailer, unkeyed: bits 0-29 the request, 30-31 the allocation family (HM_FAM_*, api.c):
 * hm_tl_family when the block was handed out, HM_FAM_MALLOC unless inside cxx.c's new. */
#define FAMILY_SHIFT 30u
#define SIZE_BITS ((1u << FAMILY_SHIFT) - 1)
static uint32_t trailer_value(const void *p, const hm_slab *s) {
  uint32_t t;
  hm_san_open((char *)p + END(s->block_size) - TRAILER, TRAILER);   /* past the request: poisoned */
  memcpy(&t, (const char *)p + END(s->block_size) - TRAILER, TRAILER);
  /* a freed block was zeroed; a live one's trailer is 0 only with probability 2^-32 */
  if (t == 0 && (hm_mit & HM_MIT_ZERO)) hm_fatal("double free", p);
  uint32_t v = t ^ trailer_key(p), n = v & SIZE_BITS;
  if (n > END(s->block_size) - TRAILER || (v >> FAMILY_SHIFT) >= HM_FAM_COUNT)
    hm_fatal("heap buffer overflow", p);
  hm_san_close((char *)p + n, s->block_size - n);   /* a live block: only [p, p + n) usable */
  return v;
}

size_t hm_strict_requested(const void *p, const hm_slab *s) { return trailer_value(p, s) & SIZE_BITS; }

/* true if bytes [from, to) of the 8-byte-aligned block p all equal `b`: whole words, the first
 * and last masked to the range (little-endian). Every word read lies inside the block: `to` is at
 * most the strict layout's end, a multiple of 8. */
static bool bytes_are(const void *p, size_t from, size_t to, uint8_t b) {
  if (from >= to) return true;
  const uint8_t *c = p;
  const uint64_t pat = 0x0101010101010101ull * b;
  const size_t w0 = from & ~(size_t)7, w1 = (to - 1) & ~(size_t)7;   /* first and last word */
  const uint64_t head = ~0ull << ((from & 7u) * 8u);
  const uint64_t tail = (to & 7u) ? ~0ull >> (64u - (to & 7u) * 8u) : ~0ull;
  uint64_t w;
  memcpy(&w, c + w0, 8);
  if ((w ^ pat) & (w0 == w1 ? head & tail : head)) return false;
  if (w0 == w1) return true;
  for (size_t i = w0 + 8; i < w1; i += 8) {
    memcpy(&w, c + i, 8);
    if (w != pat) return false;
  }
  memcpy(&w, c + w1, 8);
  return ((w ^ pat) & tail) == 0;
}

/* true if bytes [from, to) of block p are all zero: libc's memcmp against zeros, which reads
 * 32 bytes an instruction or so where a word loop reads 8 (the reuse and quarantine checks read
 * whole blocks). `zeros` is bss that nothing writes: its pages stay the kernel's zero page. */
static uint8_t zeros[HM_SMALL_MAX];
static bool zero_between(const void *p, size_t from, size_t to) {
  return from >= to || memcmp((const char *)p + from, zeros, to - from) == 0;
}

/* ... and the family against the free's (hm_tl_family), once the layout is known intact */
static void canary_check(const void *p, const hm_slab *s) {
  uint32_t v = trailer_value(p, s);
  size_t n = v & SIZE_BITS;
  hm_san_open((char *)p + n, s->block_size - n);   /* the canary bytes and the trailer */
  if (!bytes_are(p, n, END(s->block_size) - TRAILER, canary_byte(p))) hm_fatal("heap buffer overflow", p);
  if (hm_unlikely((v >> FAMILY_SHIFT) != hm_tl_family)) hm_family_bad(p, v >> FAMILY_SHIFT);
}

static void canary_write(void *p, size_t n, uint32_t bs) {
  memset((char *)p + n, canary_byte(p), END(bs) - TRAILER - n);
  uint32_t t = ((uint32_t)n | (uint32_t)hm_tl_family << FAMILY_SHIFT) ^ trailer_key(p);
  memcpy((char *)p + END(bs) - TRAILER, &t, TRAILER);
}

static void push_free(hm_slab *s, void *p) {
  hm_block *b = p;
  hm_san_open(b, sizeof *b);
  b->next_enc = hm_encode(s->free, b);
  hm_san_close(b, sizeof *b);
  s->free = b;
}

/* The first word of a quarantined block whose strict layout (up to its end canary) is `end`
 * bytes: the encoded null link; where that layout is 8 bytes (class 16) only its first 4 bytes
 * (the other 4 are the trailer, which stays 0 in a freed block). */
static uintptr_t mark_short(uintptr_t m) {
  uint32_t lo = (uint32_t)m;
  uintptr_t w = 0;
  memcpy(&w, &lo, sizeof lo);
  return w;
}
static uintptr_t quar_mark(const void *q, uint32_t end) {
  uintptr_t m = hm_encode(NULL, q);
  return end >= 16 ? m : mark_short(m);
}

static uintptr_t first_word(void *q) {
  uintptr_t w;
  hm_san_open(q, sizeof w);
  memcpy(&w, q, sizeof w);
  hm_san_close(q, sizeof w);
  return w;
}

static hm_slab *quar_slab(const void *q) {
  uintptr_t e = hm_registry_lookup(q);
  HAK_INVARIANT(e & HM_REG_SS);
  return hm_slab_at(e, q);
}

/* Check the mark of the next quarantined block of this thread, in turn (a full sweep every
 * quar_len strict mallocs). No registry lookup: either form of the mark passes here (a write of
 * zeros over bytes 4-7 of a larger block's mark waits for the exact check on release). */
static __thread uint32_t quar_scan;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* Deterministic fuzzing (docs/fuzzing.md): each input's scan starts at the quarantine's head. */
void hm_mitigate_fuzz_reset(void) { quar_scan = 0; }
#endif
static void quarantine_scan(hm_heap *h) {
  if (h == HM_NO_HEAP || h->quar_len == 0) return;
  if (quar_scan >= h->quar_len) quar_scan = 0;
  uint32_t i = h->quar_next + quar_scan++;
  if (i >= hm_quarantine_len) i -= hm_quarantine_len;
  void *q = h->quar[i];
  uintptr_t w = first_word(q), m = hm_encode(NULL, q);
  if (w != m && w != mark_short(m)) hm_fatal("write after free", q);
}

/* A block leaving the quarantine must still be as free left it: the mark in its first word and
 * zeros up to its end canary. strict checks all of a layout of up to QUAR_WHOLE bytes and, of a
 * bigger one, the first and the last QUAR_EDGE bytes (at most 2 KiB read per release: writes
 * after free mostly hit a structure's first fields or its end); paranoid (HM_MIT_REUSE_CHECK)
 * checks all of it. */
#define QUAR_WHOLE 2048u
#define QUAR_EDGE 1024u
static bool quar_zero_ok(void *q, uint32_t end) {
  if (end <= QUAR_WHOLE || (hm_mit & HM_MIT_REUSE_CHECK))
    return zero_between(q, sizeof(hm_block), end);
  return zero_between(q, sizeof(hm_block), QUAR_EDGE) && zero_between(q, end - QUAR_EDGE, end);
}

static void quarantine_release(void *q) {
  hm_slab *s = quar_slab(q);
  HAK_INVARIANT(s->quarantined > 0);
  uint32_t end = END(s->block_size);
  if (first_word(q) != quar_mark(q, end)) hm_fatal("write after free", q);
  HAK_ASSERT(hm_mit & HM_MIT_ZERO);   /* the levels with a quarantine zero on free (the mark too) */
  hm_san_open(q, end);
  bool zero = quar_zero_ok(q, end);
  hm_san_close(q, end);
  if (!zero) hm_fatal("write after free", q);
  s->quarantined--;
  push_free(s, q);
  if (s->used == 0 && s->quarantined == 0) hm_slab_emptied(s);
}

void hm_quarantine_flush(hm_heap *h) {
  while (h->quar_len > 0) {
    void *q = h->quar[h->quar_next];
    h->quar_next = (h->quar_next + 1) & (hm_quarantine_len - 1);
    h->quar_len--;
    quarantine_release(q);
  }
  h->quar_next = 0;
}

void hm_strict_free(void *p, hm_slab *s, bool local) {
  uint32_t bs = s->block_size;
  hm_san_open(p, bs);   /* checked and zeroed whole; hm_san_free (here or the caller) closes it */
  if (local) {
    uint64_t *w = &s->bitmap[((uintptr_t)p & (HM_SLAB_SIZE - 1)) >> 9];
    unsigned bit = (unsigned)((uintptr_t)p >> 3) & 63u;
    if (!((*w >> bit) & 1u) || ((uintptr_t)p & 7u) != 0) hm_free_bad(p, s);
    if (!hm_canary_ok(p, bs)) hm_canary_bad(p);   /* the remote caller checked it already */
    if (hm_mit & HM_MIT_CANARY) canary_check(p, s);
    *w &= ~(1ull << bit);
    HM_STORE_RELAXED(s->used, s->used - 1);   /* the pool's walk reads it (stats) */
  } else if (hm_mit & HM_MIT_CANARY) {
    canary_check(p, s);
  }
  if (hm_mit & HM_MIT_ZERO) {
    memset(p, 0, END(bs));   /* the end canary stays */
    uintptr_t mark = quar_mark(p, END(bs));   /* a remote free's link overwrites it */
    memcpy(p, &mark, sizeof mark);
  }
  if (!local) return;   /* the caller pushes it to the owner's remote list (and tells the tools) */
  hm_san_free(p, END(bs));
  hm_heap *h = hm_tl_self;
  if ((hm_mit & HM_MIT_QUARANTINE) && hm_quarantine_len > 0) {
    s->quarantined++;
    if (h->quar_len < hm_quarantine_len) {
      h->quar[(h->quar_next + h->quar_len++) & (hm_quarantine_len - 1)] = p;
      return;
    }
    void *q = h->quar[h->quar_next];   /* full: the oldest goes back, p takes its place */
    h->quar[h->quar_next] = p;
    h->quar_next = (h->quar_next + 1) & (hm_quarantine_len - 1);
    quarantine_release(q);
    return;
  }
  push_free(s, p);
  if (s->used == 0) hm_slab_emptied(s);
}

/* free_sized / free_aligned_sized at strict levels: the exact request, from the class the same
 * request and alignment would have been served from. */
bool hm_strict_size_ok(const void *p, const hm_slab *s, size_t size, size_t align) {
  size_t need = (hm_mit & HM_MIT_CANARY) ? size + TRAILER : size;
  return size == hm_strict_requested(p, s) && hm_aligned_class(need, align) == (int)s->cls;
}

void *hm_strict_malloc(size_t size, size_t align) {
  /* zero-size requests: an inaccessible slot (zero.c), so a read faults as well as a write */
  if (size == 0 && (hm_mit & HM_MIT_CANARY) && align <= HM_SS_SIZE / 2) return hm_zero_alloc(align);
  size_t need = (hm_mit & HM_MIT_CANARY) ? size + TRAILER : size;
  int cls = hm_aligned_class(need, align);   /* room for the canaries, and the alignment */
  if (cls < 0) return hm_large_alloc(size, align > HM_PAGE_SIZE ? align : HM_PAGE_SIZE, false);
  void *p = hm_heap_alloc((unsigned)cls);
  if (p == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  uint32_t bs = hm_class_size[cls];
  if (hm_mit & HM_MIT_QUARANTINE) quarantine_scan(hm_tl_self);
  hm_san_open(p, bs);   /* a free block: read (reuse check) and written (canary, trailer) */
  if ((hm_mit & HM_MIT_REUSE_CHECK) && !zero_between(p, sizeof(hm_block), END(bs)))
    hm_fatal("write after free", p);
  if (cls == 0) hm_canary_set(p, bs);   /* malloc(0) where no strict canary takes the block */
  if (hm_mit & HM_MIT_CANARY) canary_write(p, size, bs);
  hm_san_close((char *)p + size, bs - size);   /* the caller's hm_san_alloc describes [p, p + size) */
  return p;
}
