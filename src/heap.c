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
#include <unistd.h>
#include "internal.h"
#include "class_table.h"

const uint32_t hm_class_size[HM_CLASSES] = {HM_CLASS_SIZES};
const uint8_t hm_class_lut[HM_SMALL_MAX / 8 + 1] = {HM_CLASS_LUT};
HM_STATIC_ASSERT(HM_CLASS_COUNT == HM_CLASSES);

__thread hm_heap *hm_tl_self = HM_NO_HEAP;
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

/* Hand about a page of never-used blocks to the free list, in random order when HM_MIT_RANDOM is
 * on (so the next allocation's address cannot be predicted from the last one). */
/* One inside-out Fisher-Yates step: index i goes to a uniform place j in [0, i] (a multiply-high of
 * 32 random bits, no division) and the index that was there moves to i. */
static inline void shuffle_in(uint16_t *order, uint32_t i, uint32_t random) {
  uint32_t j = (uint32_t)(((uint64_t)random * (i + 1)) >> 32);
  order[i] = order[j];
  order[j] = (uint16_t)i;
}

static void slab_carve(hm_slab *s) {
  HAK_ASSERT(s->free == NULL && s->carved < s->capacity);
  const uint32_t bs = s->block_size;
  /* about a page of blocks: HM_CARVE_BYTES / bs through the slab's reciprocal (exact for every
   * block size up to HM_CARVE_BYTES), or one block when it is larger */
  uint32_t n = bs <= HM_CARVE_BYTES ? (uint32_t)(((uint64_t)HM_CARVE_BYTES * s->inv) >> 32) : 1;
  if (n > (uint32_t)(s->capacity - s->carved)) n = s->capacity - s->carved;
  const uintptr_t first = HM_UNHIDE(s->start) + (uintptr_t)s->carved * bs;
  const size_t bytes = (size_t)n * bs;
  hm_san_open((void *)first, bytes);
  if (hm_mit & HM_MIT_REUSE_CHECK) memset((void *)first, 0, bytes);   /* a reused slot is dirty */
  const uintptr_t key = hm_secret;   /* read once: the stores below could alias it otherwise */
  hm_heap *h = hm_tl_self;
  uintptr_t head = first, b = first;
  if ((hm_mit & HM_MIT_RANDOM) && h != HM_NO_HEAP && n > 1) {
    /* A uniform random list order, written in address order. order[]: inside-out Fisher-Yates
     * over block indices (after step i, order[0..i] is a uniform permutation of 0..i), two picks
     * per 64-bit xorshift draw, each a multiply-high into [0, i] (no division). succ[k]: the index
     * of the block after block k. The blocks are then linked front to back, so the fresh memory
     * is written sequentially (the hardware prefetcher follows) rather than in list order. */
    uint16_t order[HM_CARVE_BYTES / HM_MIN_BLOCK], succ[HM_CARVE_BYTES / HM_MIN_BLOCK];
    uint64_t x = h->rng;
    order[0] = 0;
    uint32_t i = 1;
    for (; i + 1 < n; i += 2) {
      x = hm_xorshift64(x);
      shuffle_in(order, i, (uint32_t)x);
      shuffle_in(order, i + 1, (uint32_t)(x >> 32));
    }
    if (i < n) {
      x = hm_xorshift64(x);
      shuffle_in(order, i, (uint32_t)x);
    }
    h->rng = x;
    for (uint32_t k = 0; k + 1 < n; k++) succ[order[k]] = order[k + 1];
    succ[order[n - 1]] = 0;   /* the tail: overwritten with the end of the list below */
    for (uint32_t k = 0; k < n; k++, b += bs) {
      uintptr_t next = first + (uintptr_t)succ[k] * bs;
      ((hm_block *)b)->next_enc = next ^ key ^ b;   /* hm_encode */
    }
    head = first + (uintptr_t)order[0] * bs;
    b = first + (uintptr_t)order[n - 1] * bs;
  } else {
    for (uint32_t k = 1; k < n; k++, b += bs) ((hm_block *)b)->next_enc = (b + bs) ^ key ^ b;
  }
  ((hm_block *)b)->next_enc = key ^ b;   /* the tail ends the list: hm_encode(NULL, b) */
  hm_san_close((void *)first, bytes);
  s->free = (hm_block *)head;
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
  if (s->next) s->next->prev = s; else h->tail[s->cls] = s;
  h->list[s->cls] = s;
  s->in_list = 1;
  h->nslabs[s->cls]++;
}
static void list_unlink(hm_heap *h, hm_slab *s) {
  if (s->prev) s->prev->next = s->next; else h->list[s->cls] = s->next;
  if (s->next) s->next->prev = s->prev; else h->tail[s->cls] = s->prev;
  s->next = s->prev = NULL;
  s->in_list = 0;
  h->nslabs[s->cls]--;
}
/* O(1): a thread filling tens of MiB of one class owns hundreds of full slabs of it, and every
 * refill moves the ones it found full to the back. */
static void list_move_tail(hm_heap *h, hm_slab *s) {
  if (s->next == NULL) return;
  list_unlink(h, s);
  hm_slab *t = h->tail[s->cls];
  t->next = s;
  s->prev = t;
  h->tail[s->cls] = s;
  s->in_list = 1;
  h->nslabs[s->cls]++;
}

/* splitmix64's finaliser, made odd: xorshift needs a non-zero state. */
uint64_t hm_seed_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return (z ^ (z >> 31)) | 1u;
}

/* A heap's xorshift seed: not guessable without the secret, and distinct per heap even when a new
 * thread reuses an exited thread's heap record at the same address (a sequence number) or a
 * forked child creates a heap the parent creates too (the process id). */
static uint64_t heap_seed(const hm_heap *h) {
  static _Atomic uint64_t seq;
  uint64_t n = atomic_fetch_add_explicit(&seq, 1, memory_order_relaxed) + 1;
  return hm_seed_mix(hm_secret ^ (uintptr_t)h ^ ((uint64_t)getpid() << 40) ^ (n * 0x9e3779b97f4a7c15ull));
}

/* In a forked child, the forking thread's heap (the only one left) goes on with a sequence of its
 * own: without this, parent and child would carve the same blocks in the same order. */
void hm_heap_atfork_child(void) {
  hm_heap *h = hm_tl_self;
  if (h != HM_NO_HEAP) h->rng = hm_seed_mix(h->rng ^ ((uint64_t)getpid() << 40));
}

static hm_heap *heap_get(void) {
  hm_heap *h = hm_tl_self;
  if (h != HM_NO_HEAP) return h;
  h = hm_meta_heap_alloc();
  if (h == NULL) return NULL;
  h->rng = heap_seed(h);
  hm_tl_self = h;
  hm_tl_heap = (hm_mit & HM_MIT_PER_BLOCK) ? HM_NO_HEAP : h;   /* see hm_tl_self */
  pthread_setspecific(heap_key, h);
  return h;
}

/* The class's current slab: the heap's record, and the fast path's view of it. */
static void set_cur(hm_heap *h, unsigned cls, hm_slab *s) {
  h->cur[cls] = s;
  hm_tl_cur[cls] = (s == NULL || (hm_mit & HM_MIT_PER_BLOCK)) ? &hm_empty_slab : s;
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
  hm_slab *cur = h->cur[cls];
  if (cur != NULL) {
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

/* A block of class `cls` from the thread's slabs. */
static void *heap_alloc(unsigned cls) {
  hm_heap *h = heap_get();
  if (h == NULL) return NULL;
  hm_slab *s = h->cur[cls];
  void *p = s ? hm_slab_pop(s) : NULL;
  if (p != NULL) return p;
  s = heap_find_slab(h, cls);
  if (s == NULL) return NULL;
  set_cur(h, cls, s);
  p = hm_slab_pop(s);
  HAK_ASSERT(p != NULL);
  return p;
}

HM_NOINLINE void *hm_heap_malloc_slow(unsigned cls, size_t size) {
  hm_ensure_init();
  if (hm_unlikely(hm_mit & HM_MIT_PER_BLOCK)) return hm_strict_malloc(size, 1);
  void *p = heap_alloc(cls);
  if (p == NULL) errno = ENOMEM;
  return p;
}

/* The class serving `need` bytes at alignment `align`: the first class holding max(need, align)
 * whose block size is a multiple of `align` (blocks sit at multiples of their size from a 64 KiB-
 * aligned slab start; every class is a multiple of 8). -1: the large tier. */
int hm_aligned_class(size_t need, size_t align) {
  HAK_ASSERT(align >= 1);
  size_t n = need > align ? need : align;
  if (n > HM_SMALL_MAX) return -1;
  for (unsigned cls = hm_size_class(n); cls < HM_CLASSES; cls++)
    if (hm_class_size[cls] % align == 0) return (int)cls;
  return -1;
}

/* An aligned small block of class `cls` (from hm_aligned_class). */
void *hm_small_alloc_aligned(size_t size, size_t align, unsigned cls) {
  if (hm_mit & HM_MIT_PER_BLOCK) return hm_strict_malloc(size, align);
  void *p = hm_slab_pop(hm_tl_cur[cls]);
  return p ? p : hm_heap_malloc_slow(cls, size);
}

/* ---- free slow paths ------------------------------------------------------------------------------- */
/* A local free emptied `s`. Keep it if the thread allocates from it, else give it back. */
HM_NOINLINE void hm_slab_emptied(hm_slab *s) {
  hm_heap *h = hm_tl_self;
  if (h->cur[s->cls] == s || s->quarantined != 0) return;
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
 * into a live slab, a free into an abandoned slab, a medium block, or a pointer into a free slot. */
HM_NOINLINE void hm_heap_free_slow(void *p, hm_superslab *ss, hm_slab *s) {
  unsigned state = atomic_load_explicit(&s->state, memory_order_acquire);
  if (state == HM_SLOT_MID) {
    hm_mid_free(p, ss);   /* a medium block: no slot of its SuperSlab has an owner */
    return;
  }
  if (state != HM_SLOT_ACTIVE) hm_fatal("invalid free", p);
  hm_heap *me = hm_tl_self;
  if (me != HM_NO_HEAP && atomic_load_explicit(&s->owner, memory_order_relaxed) == me) {
    /* our own slab, reached here because the fast path is off (strict levels) */
    hm_strict_free(p, s, true);
    return;
  }
  uintptr_t off = (uintptr_t)p & (HM_SLAB_SIZE - 1);
  uint32_t idx = hm_block_index(s, (uintptr_t)p);
  if ((uintptr_t)idx * s->block_size != off || idx >= s->capacity) hm_fatal("invalid free", p);
  if (hm_mit & HM_MIT_PER_BLOCK) hm_strict_free(p, s, false);   /* canary check, zeroing */
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
static void quarantine_flush(hm_heap *h);

static void heap_release(hm_heap *h, bool all) {
  quarantine_flush(h);
  for (unsigned cls = 0; cls < HM_CLASSES; cls++) {
    hm_slab *s = h->list[cls];
    while (s != NULL) {
      hm_slab *next = s->next;
      slab_drain(s);
      if (s->used == 0) {
        if (h->cur[cls] == s) set_cur(h, cls, NULL);
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
    if (all) set_cur(h, cls, NULL);
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
  hm_tl_self = HM_NO_HEAP;
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
  if (s->used + len + s->quarantined + (uint32_t)(s->capacity - s->carved) != s->capacity) {
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
    bool cur_found = h->cur[cls] == NULL;
    hm_slab *view = (h->cur[cls] == NULL || (hm_mit & HM_MIT_PER_BLOCK)) ? &hm_empty_slab : h->cur[cls];
    if (hm_tl_cur[cls] != view) {
      *why = "thread cache: the fast path's view disagrees with the heap's current slab";
      return false;
    }
    hm_slab *last = NULL;
    for (hm_slab *s = h->list[cls]; s != NULL; last = s, s = s->next) {
      if (++n > h->nslabs[cls] || s->cls != cls || s->in_list != 1 || s->prev != last ||
          atomic_load(&s->owner) != h || atomic_load(&s->state) != HM_SLOT_ACTIVE) {
        *why = "thread cache: class list holds a slab the thread does not own";
        return false;
      }
      cur_found |= s == h->cur[cls];
      if (!hm_slab_is_valid(s, why)) return false;
    }
    if (n != h->nslabs[cls] || !cur_found || h->tail[cls] != last) {
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
  memcpy(&t, (const char *)p + s->block_size - TRAILER, TRAILER);
  /* a freed block was zeroed; a live one's trailer is 0 only with probability 2^-32 */
  if (t == 0 && (hm_mit & HM_MIT_ZERO)) hm_fatal("double free", p);
  uint32_t n = t ^ trailer_key(p);
  if (n > s->block_size - TRAILER) hm_fatal("heap buffer overflow", p);
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

static void quarantine_flush(hm_heap *h) {
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
  void *p = heap_alloc((unsigned)cls);
  if (p == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  uint32_t bs = hm_class_size[cls];
  if (hm_mit & HM_MIT_COUNT) hm_count_alloc((unsigned)cls, bs);
  if ((hm_mit & HM_MIT_REUSE_CHECK) && !bytes_are(p, sizeof(hm_block), bs, 0))
    hm_fatal("write after free", p);
  if (hm_mit & HM_MIT_CANARY) canary_write(p, size, bs);
  return p;
}
