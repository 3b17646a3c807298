/* mitigate.c — the per-block mitigations of the strict and paranoid levels: canaries and the
 * keyed size trailer, zero-on-free and its check at reuse, the per-thread quarantine ring. The
 * small-block slow paths of heap.c call in here when a level turns them on (hm_mit). */
#include <errno.h>
#include <string.h>
#include "internal.h"

/* ---- per-block mitigations (strict and paranoid levels) ------------------------------------------
 * A small block's last 4 bytes hold its requested size, keyed with the secret and its address;
 * the bytes between the request and that trailer hold a canary byte. free checks both, so a
 * 1-byte overflow past the request, or any write into a malloc(0) block, aborts. Freed blocks
 * are zeroed (and checked to be still zero when handed out again, at paranoid), and wait in a
 * per-thread quarantine ring before they can be reused. */
#define TRAILER 4u

static uint32_t trailer_key(const void *p) { return (uint32_t)(hm_secret ^ ((uintptr_t)p >> 3)); }
static uint8_t canary_byte(const void *p) {
  return (uint8_t)(((hm_secret >> 24) ^ ((uintptr_t)p >> 4)) | 1u);   /* never 0 */
}

size_t hm_strict_requested(const void *p, const hm_slab *s) {
  uint32_t t;
  hm_san_open((char *)p + s->block_size - TRAILER, TRAILER);   /* past the request: poisoned */
  memcpy(&t, (const char *)p + s->block_size - TRAILER, TRAILER);
  /* a freed block was zeroed; a live one's trailer is 0 only with probability 2^-32 */
  if (t == 0 && (hm_mit & HM_MIT_ZERO)) hm_fatal("double free", p);
  uint32_t n = t ^ trailer_key(p);
  if (n > s->block_size - TRAILER) hm_fatal("heap buffer overflow", p);
  hm_san_close((char *)p + n, s->block_size - n);   /* a live block: only [p, p + n) usable */
  return n;
}

/* true if bytes [from, to) of p all equal `b`, compared a word at a time */
static bool bytes_are(const void *p, size_t from, size_t to, uint8_t b) {
  const uint8_t *c = p;
  uint64_t word = 0x0101010101010101ull * b;
  while (from < to && (from & 7u)) if (c[from++] != b) return false;
  for (; from + 8 <= to; from += 8) {
    uint64_t w;
    memcpy(&w, c + from, 8);
    if (w != word) return false;
  }
  for (; from < to; from++) if (c[from] != b) return false;
  return true;
}

static void canary_check(const void *p, const hm_slab *s) {
  size_t n = hm_strict_requested(p, s);
  hm_san_open((char *)p + n, s->block_size - n);   /* the canary bytes and the trailer */
  if (!bytes_are(p, n, s->block_size - TRAILER, canary_byte(p))) hm_fatal("heap buffer overflow", p);
}

static void canary_write(void *p, size_t n, uint32_t bs) {
  memset((char *)p + n, canary_byte(p), bs - TRAILER - n);
  uint32_t t = (uint32_t)n ^ trailer_key(p);
  memcpy((char *)p + bs - TRAILER, &t, TRAILER);
}

static void push_free(hm_slab *s, void *p) {
  hm_block *b = p;
  hm_san_open(b, sizeof *b);
  b->next_enc = hm_encode(s->free, b);
  hm_san_close(b, sizeof *b);
  s->free = b;
}

static void quarantine_release(void *q) {
  uintptr_t e = hm_registry_lookup(q);
  hm_superslab *ss = (hm_superslab *)(e - HM_REG_SS);
  hm_slab *s = &ss->slabs[((uintptr_t)q >> HM_SLAB_SHIFT) & (HM_SLABS_PER_SS - 1)];
  HAK_INVARIANT((e & HM_REG_SS) && s->quarantined > 0);
  s->quarantined--;
  push_free(s, q);
  if (s->used == 0 && s->quarantined == 0) hm_slab_emptied(s);
}

void hm_quarantine_flush(hm_heap *h) {
  while (h->quar_len > 0) {
    void *q = h->quar[h->quar_next];
    h->quar_next = (h->quar_next + 1) % hm_quarantine_len;
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
    if (hm_mit & HM_MIT_CANARY) canary_check(p, s);
    *w &= ~(1ull << bit);
    s->used--;
  } else if (hm_mit & HM_MIT_CANARY) {
    canary_check(p, s);
  }
  if (hm_mit & HM_MIT_ZERO) memset(p, 0, bs);
  if (hm_mit & HM_MIT_COUNT) hm_count_free(s->cls, bs);
  if (!local) return;   /* the caller pushes it to the owner's remote list (and tells the tools) */
  hm_san_free(p, bs);   /* sanitizer builds come here only to count (HAKMEM_STATS=1) */
  hm_heap *h = hm_tl_self;
  if ((hm_mit & HM_MIT_QUARANTINE) && hm_quarantine_len > 0) {
    s->quarantined++;
    if (h->quar_len < hm_quarantine_len) {
      h->quar[(h->quar_next + h->quar_len++) % hm_quarantine_len] = p;
      return;
    }
    void *q = h->quar[h->quar_next];   /* full: the oldest goes back, p takes its place */
    h->quar[h->quar_next] = p;
    h->quar_next = (h->quar_next + 1) % hm_quarantine_len;
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
  size_t need = (hm_mit & HM_MIT_CANARY) ? size + TRAILER : size;
  int cls = hm_aligned_class(need, align);   /* room for the trailer, and the alignment */
  if (cls < 0) return hm_large_alloc(size, align > HM_PAGE_SIZE ? align : HM_PAGE_SIZE, false);
  void *p = hm_heap_alloc((unsigned)cls);
  if (p == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  uint32_t bs = hm_class_size[cls];
  if (hm_mit & HM_MIT_COUNT) hm_count_alloc((unsigned)cls, bs);
  hm_san_open(p, bs);   /* a free block: read (reuse check) and written (canary, trailer) */
  if ((hm_mit & HM_MIT_REUSE_CHECK) && !bytes_are(p, sizeof(hm_block), bs, 0))
    hm_fatal("write after free", p);
  if (hm_mit & HM_MIT_CANARY) canary_write(p, size, bs);
  hm_san_close((char *)p + size, bs - size);   /* the caller's hm_san_alloc describes [p, p + size) */
  return p;
}
