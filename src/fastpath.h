/* fastpath.h — malloc and free as the program sees them most of the time: straight-line code
 * inlined into both the hak_* API (api.c) and the libc names (shim.c). Everything rare is a call
 * to a noinline function in heap.c or api.c.
 *   malloc: class table -> the thread's current slab for the class -> pop its free list.
 *   free:   registry -> slab -> owned by this thread? -> bit test -> end canary -> push to the
 *           slab's free list.
 * No lock, no atomic read-modify-write, no system call, no division. The statistics cost malloc
 * one add (the slab's allocation count) and free nothing (stats.c). */
#ifndef HM_FASTPATH_H
#define HM_FASTPATH_H
#include "internal.h"

void *hm_malloc_large(size_t size);
void *hm_heap_malloc_miss(size_t size);   /* heap.c: the class of `size` has no free block at hand */
void hm_free_other(void *p, uintptr_t entry);
void hm_realloc_free(void *p);   /* the shim's realloc(p, 0): checks p as realloc does, frees it */

HM_INLINE void *hm_malloc_fast(size_t size) {
  if (hm_unlikely(size > HM_SMALL_REQ_MAX)) return hm_malloc_large(size);
  unsigned cls = hm_size_class(size);
  hm_slab *s = hm_tl_cur[cls];             /* &hm_empty_slab until the class has a slab */
  hm_block *b = s->free;
  if (hm_unlikely(b == NULL)) return hm_heap_malloc_miss(size);
  hm_san_open(b, sizeof *b);
  /* the same checks as hm_slab_pop, written out so that every exit is a tail call */
  hm_block *next = hm_decode(b->next_enc, b);
  uint64_t *w = &s->bitmap[((uintptr_t)b & (HM_SLAB_SIZE - 1)) >> 9];
  uint64_t granule = (uintptr_t)b >> 3;   /* its bit: granule mod 64 */
  uint64_t word = *w;
  if (hm_unlikely((((uintptr_t)next ^ (uintptr_t)b) >> HM_SLAB_SHIFT) != 0 && next != NULL))
    return hm_corrupt_list(b);
  if (hm_unlikely((word >> (granule & 63)) & 1u)) return hm_corrupt_list(b);
  *w = hm_bit_set(word, granule);
  s->free = next;
  HM_STORE_RELAXED(s->used, s->used + 1);
  HM_STORE_RELAXED(s->allocs, s->allocs + 1);   /* the statistics: one add, s in a register */
  return b;
}

HM_INLINE void hm_free_fast(void *p) {
  uintptr_t e = hm_registry_lookup(p);
  if (hm_unlikely(!(e & HM_REG_SS))) {
    hm_free_other(p, e);   /* NULL, large, or not ours */
    return;
  }
  hm_superslab *ss = (hm_superslab *)(e - HM_REG_SS);
  /* &ss->slabs[(p >> 16) & 31] and &ss->bitmap[(p & (2 MiB - 1)) >> 9], as byte offsets masked
   * out of p (a slab header is 128 bytes, a bitmap word 8): two instructions fewer */
  hm_slab *s = (hm_slab *)((char *)ss->slabs +
                           (((uintptr_t)p >> (HM_SLAB_SHIFT - 7)) & ((HM_SLABS_PER_SS - 1) << 7)));
  __asm__("" : "+r"(s));   /* one register for s: else the compiler rebuilds it from ss and p */
  if (hm_unlikely(atomic_load_explicit(&s->owner, memory_order_relaxed) != hm_tl_heap)) {
    hm_heap_free_slow(p, s);   /* another thread's slab, an abandoned one, or a free slot */
    return;
  }
  uint64_t *w = (uint64_t *)((char *)ss->bitmap + (((uintptr_t)p >> 6) & ((HM_SS_SIZE - 1) >> 6 & ~(uintptr_t)7)));
  uint64_t granule = (uintptr_t)p >> 3;   /* its bit: granule mod 64 */
  uint64_t word = *w;
  /* every block starts on an 8-byte boundary and only block starts have a bit: p & 7 rules out
   * p + 1 .. p + 7, which share the granule of p */
  if (hm_unlikely(!((word >> (granule & 63)) & 1u) | (((uintptr_t)p & 7u) != 0))) {
    hm_free_bad(p, s);   /* double free or not a block start: does not return */
    return;
  }
  uint32_t bs = s->block_size;
  if (hm_unlikely(!hm_canary_ok(p, bs))) {
    hm_canary_bad(p);   /* an overflow past p's usable size or into the block after: no return */
    return;
  }
  *w = hm_bit_clear(word, granule);
  hm_block *b = (hm_block *)p;
  hm_san_free(p, bs - HM_CANARY);
  hm_san_open(b, sizeof *b);
  b->next_enc = hm_encode(s->free, b);
  hm_san_close(b, sizeof *b);
  s->free = b;
  uint32_t used = s->used - 1;
  HM_STORE_RELAXED(s->used, used);
  if (hm_unlikely(used == 0)) hm_slab_emptied(s);
}

/* malloc as the API and the shim export it: the fast path plus the sanitizer hook for small
 * blocks, which compiles to nothing in normal builds. The hook describes the block the request
 * got, found through the registry: at the strict levels that can be a bigger class than the
 * request's own (the size trailer), or a large block, which large.c describes itself. */
HM_INLINE void *hm_malloc_entry(size_t size) {
  void *p = hm_malloc_fast(size);
#if HM_SAN_ANY
  if (p != NULL && size <= HM_SMALL_REQ_MAX) {
    uintptr_t e = hm_registry_lookup(p);
    if (e & HM_REG_SS) {
      const hm_slab *s = hm_slab_at(e, p);
      hm_san_alloc(p, size, s->block_size - HM_CANARY, false);
    }
  }
#endif
  return p;
}

#endif
