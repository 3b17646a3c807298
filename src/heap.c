/* heap.c — size classes, thread heaps and the small-block slow paths.
 *
 * A thread's heap owns slabs; per size class the thread allocates from one current slab
 * (hm_tl_cur) whose local free list is the thread cache: owner-only, no lock, no atomic
 * read-modify-write. Refills come in batches (a drained remote list, or a page of freshly carved
 * blocks); a block freed by another thread is pushed lock-free onto its slab's remote list and
 * drained by the owner. A thread's exit hands every slab back: empty ones to the pool, the others
 * abandoned for adoption by the next thread that needs that class or frees into them.
 * Invariants (per owned slab s): s->owner == heap, used == popcount(bitmap),
 *   used + len(free) + capacity - carved == capacity; a slab is in exactly one class list.
 */
#include <errno.h>
#include <string.h>
#include "internal.h"
#include "class_table.h"

const uint32_t hm_class_size[HM_CLASSES] = {HM_CLASS_SIZES};
const uint8_t hm_class_lut[HM_SMALL_MAX / 8 + 1] = {HM_CLASS_LUT};
HM_STATIC_ASSERT(HM_CLASS_COUNT == HM_CLASSES);

__thread hm_heap *hm_tl_heap = HM_NO_HEAP;
hm_slab hm_empty_slab;   /* free == NULL forever: sends the fast path to the slow path */
__thread hm_slab *hm_tl_cur[HM_CLASSES] = {[0 ... HM_CLASSES - 1] = &hm_empty_slab};
_Atomic uint64_t hm_remote_free_count;
_Atomic uint64_t hm_adopt_count;
static pthread_key_t heap_key;

static __attribute__((unused)) bool hm_bitmap_is_clear(const uint64_t *bm) {
  uint64_t any = 0;
  for (unsigned i = 0; i < HM_BITMAP_WORDS; i++) any |= bm[i];
  return any == 0;
}

void hm_heap_key_init(void) { pthread_key_create(&heap_key, hm_heap_thread_exit); }

void *hm_corrupt_list(void *b) { hm_fatal("corrupted free list", b); }

/* ---- slab setup --------------------------------------------------------------------------------- */
void hm_slab_init(hm_slab *s, unsigned cls) {
  uint32_t bs = hm_class_size[cls];
  s->cls = (uint8_t)cls;
  s->block_size = bs;
  s->inv = (uint32_t)(((1ull << 32) + bs - 1) / bs);
  s->capacity = (uint16_t)(HM_SLAB_SIZE / bs);
  s->carved = 0;
  s->used = 0;
  s->free = NULL;
  s->in_list = 0;
  s->next = s->prev = NULL;
  atomic_store_explicit(&s->remote, 0, memory_order_relaxed);
  /* a slab is released only with used == 0, so its bitmap is already clear (and a new or
   * recycled header is zero) */
  HAK_EXPENSIVE(hm_bitmap_is_clear(s->bitmap));
}

/* Hand about a page of never-used blocks to the free list. */
static void slab_carve(hm_slab *s) {
  HAK_ASSERT(s->free == NULL && s->carved < s->capacity);
  uint32_t n = HM_CARVE_BYTES / s->block_size;
  if (n == 0) n = 1;
  if (n > (uint32_t)(s->capacity - s->carved)) n = s->capacity - s->carved;
  uintptr_t first = HM_UNHIDE(s->start) + (uintptr_t)s->carved * s->block_size;
  hm_block *next = NULL;
  hm_san_open((void *)first, (size_t)n * s->block_size);
  for (uint32_t i = n; i-- > 0;) {
    hm_block *b = (hm_block *)(first + (uintptr_t)i * s->block_size);
    b->next_enc = hm_encode(next, b);
    next = b;
  }
  hm_san_close((void *)first, (size_t)n * s->block_size);
  s->free = next;
  s->carved = (uint16_t)(s->carved + n);
}

/* Move the remote frees onto the local free list. The bitmap bit of each must still be set:
 * a clear bit is a double free by another thread. */
static void slab_drain(hm_slab *s) {
  uintptr_t head = atomic_exchange_explicit(&s->remote, 0, memory_order_acquire);
  uint32_t used = s->used, n = 0;
  while (head != 0) {
    hm_block *b = (hm_block *)head;
    hm_san_open(b, sizeof *b);
    hm_block *next = hm_decode(b->next_enc, b);
    uintptr_t off = head & (HM_SLAB_SIZE - 1);
    uint32_t idx = hm_block_index(s, head);
    HM_CHECK((head & ~(uintptr_t)(HM_SLAB_SIZE - 1)) == HM_UNHIDE(s->start) &&
                 (uintptr_t)idx * s->block_size == off && ++n <= s->capacity,
             "corrupted free list", b);
    uint32_t g = hm_granule(head);
    uint64_t m = 1ull << (g & 63);
    HM_CHECK(s->bitmap[g >> 6] & m, "double free", b);
    s->bitmap[g >> 6] &= ~m;
    b->next_enc = hm_encode(s->free, b);
    hm_san_close(b, sizeof *b);
    s->free = b;
    used--;
    head = (uintptr_t)next;
  }
  HM_STORE_RELAXED(s->used, used);
}

/* ---- heap lists ----------------------------------------------------------------------------------- */
static void list_link_head(hm_heap *h, hm_slab *s) {
  s->prev = NULL;
  s->next = h->list[s->cls];
  if (s->next) s->next->prev = s;
  h->list[s->cls] = s;
  s->in_list = 1;
  h->nslabs[s->cls]++;
}
static void list_unlink(hm_heap *h, hm_slab *s) {
  if (s->prev) s->prev->next = s->next; else h->list[s->cls] = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  s->in_list = 0;
  h->nslabs[s->cls]--;
}
static void list_move_tail(hm_heap *h, hm_slab *s) {
  if (s->next == NULL) return;
  list_unlink(h, s);
  hm_slab *t = h->list[s->cls];
  while (t->next) t = t->next;   /* lists are short: slabs of one class of one thread */
  t->next = s;
  s->prev = t;
  s->in_list = 1;
  h->nslabs[s->cls]++;
}

static hm_heap *heap_get(void) {
  hm_heap *h = hm_tl_heap;
  if (h != HM_NO_HEAP) return h;
  h = hm_meta_heap_alloc();
  if (h == NULL) return NULL;
  h->live = true;
  hm_tl_heap = h;
  pthread_setspecific(heap_key, h);
  return h;
}

/* ---- malloc slow path ------------------------------------------------------------------------------ */
/* Make `s` able to give a block: drain its remote frees, else carve. */
static bool slab_refill(hm_slab *s) {
  if (s->free != NULL) return true;
  if (atomic_load_explicit(&s->remote, memory_order_relaxed) != 0) slab_drain(s);
  if (s->free != NULL) return true;
  if (s->carved < s->capacity) {
    slab_carve(s);
    return true;
  }
  return false;
}

static hm_slab *heap_find_slab(hm_heap *h, unsigned cls) {
  hm_slab *cur = hm_tl_cur[cls];
  if (HM_HAS_SLAB(cur)) {
    if (slab_refill(cur)) return cur;
    list_move_tail(h, cur);
  }
  hm_slab *s = h->list[cls];
  for (unsigned i = 0; s != NULL && i < HM_SCAN_SLABS; i++) {
    hm_slab *next = s->next;
    if (s != cur) {
      if (slab_refill(s)) return s;
      list_move_tail(h, s);
    }
    s = next;
  }
  s = hm_pool_adopt_any(h, cls);
  if (s != NULL) {
    atomic_fetch_add_explicit(&hm_adopt_count, 1, memory_order_relaxed);
    list_link_head(h, s);
    if (slab_refill(s)) return s;
  }
  s = hm_pool_claim_slab(h, cls);
  if (s == NULL) return NULL;
  list_link_head(h, s);
  slab_carve(s);
  return s;
}

HM_NOINLINE void *hm_heap_malloc_slow(unsigned cls) {
  hm_ensure_init();
  hm_heap *h = heap_get();
  hm_slab *s = h ? heap_find_slab(h, cls) : NULL;
  if (s == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  hm_tl_cur[cls] = s;
  void *p = hm_slab_pop(s);
  HAK_ASSERT(p != NULL);
  return p;
}

/* An aligned small block: the first class at least as large whose block size is a multiple of
 * `align` (blocks sit at multiples of their size from a 64 KiB-aligned slab start). */
void *hm_small_alloc_aligned(size_t size, size_t align) {
  size_t need = size > align ? size : align;
  if (need > HM_SMALL_MAX) return NULL;
  for (unsigned cls = hm_size_class(need); cls < HM_CLASSES; cls++) {
    if (hm_class_size[cls] % align != 0) continue;
    void *p = hm_slab_pop(hm_tl_cur[cls]);
    return p ? p : hm_heap_malloc_slow(cls);
  }
  return NULL;
}

/* ---- free slow paths ------------------------------------------------------------------------------- */
/* A local free emptied `s`. Keep it if the thread allocates from it, else give it back. */
HM_NOINLINE void hm_slab_emptied(hm_slab *s) {
  if (hm_tl_cur[s->cls] == s) return;
  hm_heap *h = hm_tl_heap;
  list_unlink(h, s);
  hm_pool_release_slab(s);
}

/* The bitmap bit of `p` is clear or `p` is not at a block start. */
HM_COLD void hm_free_bad(const void *p, const hm_slab *s) {
  uintptr_t off = (uintptr_t)p & (HM_SLAB_SIZE - 1);
  uint32_t idx = hm_block_index(s, (uintptr_t)p);
  if ((uintptr_t)idx * s->block_size != off || idx >= s->carved) hm_fatal("invalid free", p);
  hm_fatal("double free", p);
}

/* `p` lies in SuperSlab `ss`, slab `s`, which the calling thread does not own: a remote free
 * into a live slab, a free into an abandoned slab, or a pointer into a free slot. */
HM_NOINLINE void hm_heap_free_slow(void *p, hm_superslab *ss, hm_slab *s) {
  (void)ss;
  if (atomic_load_explicit(&s->state, memory_order_acquire) != HM_SLOT_ACTIVE)
    hm_fatal("invalid free", p);
  uintptr_t off = (uintptr_t)p & (HM_SLAB_SIZE - 1);
  uint32_t idx = hm_block_index(s, (uintptr_t)p);
  if ((uintptr_t)idx * s->block_size != off || idx >= s->capacity) hm_fatal("invalid free", p);
  hm_block *b = p;
  hm_san_free(p, s->block_size);
  uintptr_t old = atomic_load_explicit(&s->remote, memory_order_relaxed);
  do {
    hm_san_open(b, sizeof *b);
    b->next_enc = hm_encode((hm_block *)old, b);
    hm_san_close(b, sizeof *b);
  } while (!atomic_compare_exchange_weak(&s->remote, &old, (uintptr_t)b));
  atomic_fetch_add_explicit(&hm_remote_free_count, 1, memory_order_relaxed);
  /* seq_cst push then load: either the abandoning owner's last drain sees the block, or we see
   * owner == NULL here and adopt the slab ourselves (pool.c: hm_pool_abandon_slab). */
  if (atomic_load(&s->owner) != NULL) return;
  hm_ensure_init();
  hm_heap *h = heap_get();
  if (h == NULL || !hm_pool_try_adopt(s, h)) return;
  atomic_fetch_add_explicit(&hm_adopt_count, 1, memory_order_relaxed);
  list_link_head(h, s);
  slab_drain(s);
  if (s->used == 0) hm_slab_emptied(s);
}

/* ---- flush and thread exit -------------------------------------------------------------------------- */
/* Give back every slab of `h` that holds no block; with `all`, abandon the others too. */
static void heap_release(hm_heap *h, bool all) {
  for (unsigned cls = 0; cls < HM_CLASSES; cls++) {
    hm_slab *s = h->list[cls];
    while (s != NULL) {
      hm_slab *next = s->next;
      slab_drain(s);
      if (s->used == 0) {
        if (hm_tl_cur[cls] == s) hm_tl_cur[cls] = &hm_empty_slab;
        list_unlink(h, s);
        hm_pool_release_slab(s);
      } else if (all) {
        list_unlink(h, s);
        hm_pool_abandon_slab(s);
        /* a remote free racing with the abandon either adopted the slab or left its block on
         * the list; take the slab back to drain it while that happens */
        while (atomic_load(&s->remote) != 0 && hm_pool_try_adopt(s, h)) {
          slab_drain(s);
          if (s->used == 0) {
            hm_pool_release_slab(s);
            break;
          }
          hm_pool_abandon_slab(s);
        }
      }
      s = next;
    }
    if (all) hm_tl_cur[cls] = &hm_empty_slab;
  }
}

void hm_heap_flush(hm_heap *h) {
  if (h == HM_NO_HEAP || h == NULL) return;
  heap_release(h, false);
  /* take over what exited threads left behind, so it can empty and go back too */
  for (unsigned cls = 0; cls < HM_CLASSES; cls++) {
    hm_slab *s;
    while ((s = hm_pool_adopt_any(h, cls)) != NULL) {
      atomic_fetch_add_explicit(&hm_adopt_count, 1, memory_order_relaxed);
      list_link_head(h, s);
    }
  }
  heap_release(h, false);
}

void hm_heap_thread_exit(void *heap) {
  hm_heap *h = heap;
  if (h == NULL || h == HM_NO_HEAP) return;
  heap_release(h, true);
  h->live = false;
  hm_tl_heap = HM_NO_HEAP;
  hm_meta_heap_free(h);
}

/* ---- validation ------------------------------------------------------------------------------------ */
bool hm_slab_is_valid(const hm_slab *s, const char **why) {
#if HAK_DEBUG >= 1
  if (s->capacity != HM_SLAB_SIZE / s->block_size || s->block_size != hm_class_size[s->cls]) {
    *why = "slab: geometry disagrees with its class";
    return false;
  }
  uint32_t bits = 0;
  for (uint32_t w = 0; w < HM_BITMAP_WORDS; w++) bits += (uint32_t)__builtin_popcountll(s->bitmap[w]);
  if (bits != s->used) {
    *why = "slab: used count disagrees with the bitmap";
    return false;
  }
  uint32_t len = 0;
  for (hm_block *b = s->free, *next; b != NULL; b = next) {
    hm_san_open(b, sizeof *b);
    next = hm_decode(b->next_enc, b);
    hm_san_close(b, sizeof *b);
    uintptr_t off = (uintptr_t)b - HM_UNHIDE(s->start);
    uint32_t idx = (uint32_t)(off / s->block_size);
    uint32_t g = (uint32_t)(off >> 3);
    if (off >= HM_SLAB_SIZE || off % s->block_size != 0 || idx >= s->carved ||
        (s->bitmap[g >> 6] >> (g & 63) & 1u) || ++len > s->capacity) {
      *why = "slab: free list holds a block that is not a free block of the slab";
      return false;
    }
  }
  if (s->used + len + (uint32_t)(s->capacity - s->carved) != s->capacity) {
    *why = "slab: used + free != capacity";
    return false;
  }
#else
  (void)s;
  (void)why;
#endif
  return true;
}

bool hm_heap_is_valid(hm_heap *h, const char **why) {
#if HAK_DEBUG >= 1
  if (h == HM_NO_HEAP || h == NULL) return true;
  for (unsigned cls = 0; cls < HM_CLASSES; cls++) {
    uint32_t n = 0;
    bool cur_found = !HM_HAS_SLAB(hm_tl_cur[cls]);
    for (hm_slab *s = h->list[cls]; s != NULL; s = s->next) {
      if (++n > h->nslabs[cls] || s->cls != cls || s->in_list != 1 ||
          atomic_load(&s->owner) != h || atomic_load(&s->state) != HM_SLOT_ACTIVE) {
        *why = "thread cache: class list holds a slab the thread does not own";
        return false;
      }
      cur_found |= s == hm_tl_cur[cls];
      if (!hm_slab_is_valid(s, why)) return false;
    }
    if (n != h->nslabs[cls] || !cur_found) {
      *why = "thread cache: current slab not in its class list, or count off";
      return false;
    }
  }
#else
  (void)h;
  (void)why;
#endif
  return true;
}
