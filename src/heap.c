/* heap.c — size classes, thread heaps and the small-block slow paths.
 *
 * A thread's heap owns slabs; per size class the thread allocates from one current slab
 * (hm_tl_cur) whose local free list is the thread cache: owner-only, no lock, no atomic
 * read-modify-write. Refills come in batches (a page of freshly carved blocks, or blocks freed
 * back). A block freed by another thread goes lock-free into the owner heap's inbox; the owner
 * takes the whole inbox before it carves, adopts or claims, and gives back the slabs that emptied,
 * so memory freed by any thread is reused by its owner first. A thread's exit hands every slab
 * back: empty ones to the pool, the others abandoned. An abandoned slab is adopted by the next
 * thread that needs its class, and a thread freeing into it drains it on the spot and gives it to
 * the pool the moment it empties, whichever thread frees its last block. A thread that allocates
 * after its own teardown (a later TLS destructor) uses one shared heap under a lock: the record
 * of an exited thread is never reached through that thread's fast-path views again.
 * Invariants (per owned slab s): s->owner == heap, used == popcount(bitmap),
 *   used + len(free) + capacity - carved == capacity; a slab is in exactly one class list;
 *   remote_n == blocks of s freed by other threads and not yet taken (in an inbox or on s->remote).
 */
#include <errno.h>
#include <sched.h>
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
  HAK_INVARIANT(s->allocs == 0);   /* folded into the pool's totals when it was released */
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
  const uintptr_t ckey = hm_canary_key;
  /* each block's end canary, then its link (class 0: the link overwrites the canary, which
   * malloc writes when it hands the block out) */
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
      *(uintptr_t *)(b + bs - HM_CANARY) = b ^ ckey;   /* hm_canary_of */
      ((hm_block *)b)->next_enc = next ^ key ^ b;   /* hm_encode */
    }
    head = first + (uintptr_t)order[0] * bs;
    b = first + (uintptr_t)order[n - 1] * bs;
  } else {
    for (uint32_t k = 1; k < n; k++, b += bs) {
      *(uintptr_t *)(b + bs - HM_CANARY) = b ^ ckey;
      ((hm_block *)b)->next_enc = (b + bs) ^ key ^ b;
    }
    *(uintptr_t *)(b + bs - HM_CANARY) = b ^ ckey;   /* the tail's */
  }
  ((hm_block *)b)->next_enc = key ^ b;   /* the tail ends the list: hm_encode(NULL, b) */
  hm_san_close((void *)first, bytes);
  s->free = (hm_block *)head;
  s->carved = (uint16_t)(s->carved + n);
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
  return hm_seed_mix(hm_secret ^ (n * 0x9e3779b97f4a7c15ull)  /* fuzzing builds: no address, no pid */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
                     ^ (uintptr_t)h ^ ((uint64_t)getpid() << 40)
#endif
                     );
}

/* In a forked child, the forking thread's heap (the only one left) goes on with a sequence of its
 * own: without this, parent and child would carve the same blocks in the same order. */
void hm_heap_atfork_child(void) {
  hm_heap *h = hm_tl_self;
  if (h != HM_NO_HEAP) h->rng = hm_seed_mix(h->rng ^ ((uint64_t)getpid() << 40));
}

/* ---- blocks freed by other threads --------------------------------------------------------------
 * A remote free goes to the owner heap's inbox (one lock-free push); the owner takes every block
 * in it before it carves, adopts or claims (heap_collect). While the owner exits its inbox is
 * closed, and a slab with no owner has none: there the block goes onto the slab's own remote
 * list, and whoever sees it there takes it (the exiting owner, a thread that adopts the slab, or a
 * visitor: a freeing thread that claims the unowned slab for a moment, drains it and gives it back
 * to the pool if it emptied). Every hand-over between "pushed onto s->remote" and "looked at
 * s->remote" is a seq_cst store followed by a seq_cst load on each side, so one side sees the
 * other. used counts the blocks in flight (remote_n of them) until their owner takes them. */
#define INBOX_CLOSED ((uintptr_t)1)

/* The slab holding a block another thread freed (checked again: the link was in freed memory). */
static hm_slab *slab_of(hm_block *b) {
  uintptr_t e = hm_registry_lookup(b);
  HM_CHECK((e & HM_REG_SS) != 0, "corrupted free list", b);
  return hm_slab_at(e, b);
}

/* Put a block freed by another thread onto the free list of `s`, which the caller owns. Its bit
 * must still be set: a clear bit is a double free by another thread. */
static void slab_take(hm_slab *s, hm_block *b) {
  uintptr_t p = (uintptr_t)b, off = p & (HM_SLAB_SIZE - 1);
  HM_CHECK((p & ~(uintptr_t)(HM_SLAB_SIZE - 1)) == HM_UNHIDE(s->start) &&
               (uintptr_t)hm_block_index(s, p) * s->block_size == off,
           "corrupted free list", b);
  uint32_t g = hm_granule(p);
  uint64_t m = 1ull << (g & 63);
  HM_CHECK(s->bitmap[g >> 6] & m, "double free", b);
  s->bitmap[g >> 6] &= ~m;
  hm_san_open(b, sizeof *b);
  b->next_enc = hm_encode(s->free, b);
  hm_san_close(b, sizeof *b);
  s->free = b;
  HM_STORE_RELAXED(s->used, s->used - 1);
  atomic_fetch_sub_explicit(&s->remote_n, 1, memory_order_relaxed);
}

static hm_block *next_of(hm_block *b) {
  hm_san_open(b, sizeof *b);
  hm_block *next = hm_decode(b->next_enc, b);
  hm_san_close(b, sizeof *b);
  return next;
}

static void link_to(hm_block *b, uintptr_t next) {
  hm_san_open(b, sizeof *b);
  b->next_enc = hm_encode((hm_block *)next, b);
  hm_san_close(b, sizeof *b);
}

/* The last block of a chain (bounded: a slab holds at most HM_MAX_BLOCKS). */
static hm_block *chain_tail(hm_block *b) {
  uint32_t n = 0;
  for (hm_block *next; (next = next_of(b)) != NULL; b = next)
    HM_CHECK(++n <= HM_MAX_BLOCKS, "corrupted free list", b);
  return b;
}

/* Take every block on the slab's own remote list (the caller owns the slab). */
static void slab_drain(hm_slab *s) {
  uintptr_t head = atomic_exchange(&s->remote, 0);
  uint32_t n = 0;
  while (head != 0) {
    hm_block *b = (hm_block *)head;
    HM_CHECK(++n <= s->capacity, "corrupted free list", b);
    head = (uintptr_t)next_of(b);
    slab_take(s, b);
  }
}

/* Push the chain first..last onto h's inbox; false if the inbox is closed (h is exiting). */
static bool inbox_push(hm_heap *h, hm_block *first, hm_block *last) {
  uintptr_t top = atomic_load_explicit(&h->inbox, memory_order_relaxed);
  do {
    if (top == INBOX_CLOSED) return false;
    link_to(last, top);
  } while (!atomic_compare_exchange_weak_explicit(&h->inbox, &top, (uintptr_t)first,
                                                  memory_order_release, memory_order_relaxed));
  return true;
}

static void orphan_push(hm_slab *s, hm_block *first, hm_block *last) {
  uintptr_t top = atomic_load_explicit(&s->remote, memory_order_relaxed);
  do link_to(last, top);
  while (!atomic_compare_exchange_weak(&s->remote, &top, (uintptr_t)first));
}

static void remote_settle(hm_slab *s);

/* Claim the unowned slab `s` for a moment, take `b` (if any) and its remote list, give it back to
 * the pool if it emptied, else let go and look at the list once more. False if the slab was not
 * unowned (the caller looks at its owner again). */
static bool slab_visit(hm_slab *s, hm_block *b) {
  hm_heap *expected = NULL;
  if (!atomic_compare_exchange_strong(&s->owner, &expected, HM_VISITOR)) return false;
  if (atomic_load(&s->state) != HM_SLOT_ACTIVE) {   /* a free slot: its blocks were taken */
    atomic_store(&s->owner, NULL);
    if (b != NULL) hm_fatal("invalid free", b);   /* freed while its slab went back: a double free */
    return true;
  }
  for (;;) {
    if (b != NULL) slab_take(s, b);
    b = NULL;
    slab_drain(s);
    if (s->used == 0) {
      hm_pool_release_slab(s);   /* leaves the abandoned list for the pool */
      return true;
    }
    atomic_store(&s->owner, NULL);
    if (atomic_load(&s->remote) == 0) return true;
    expected = NULL;
    if (!atomic_compare_exchange_strong(&s->owner, &expected, HM_VISITOR)) {
      remote_settle(s);   /* adopted meanwhile: hand the list to the new owner */
      return true;
    }
  }
}

/* Blocks may sit on s->remote: see that the slab's owner (or a visitor) takes them. */
static void remote_settle(hm_slab *s) {
  for (;;) {
    hm_heap *h = atomic_load(&s->owner);
    if (h == NULL) {
      if (slab_visit(s, NULL)) return;
      continue;
    }
    if (h == HM_VISITOR) return;   /* it looks at the list after letting go */
    uintptr_t list = atomic_exchange(&s->remote, 0);
    if (list == 0) return;         /* the owner took it, or another thread forwards it */
    hm_block *tail = chain_tail((hm_block *)list);
    if (inbox_push(h, (hm_block *)list, tail)) return;
    orphan_push(s, (hm_block *)list, tail);   /* h is exiting: it looks after abandoning */
    if (atomic_load(&s->owner) == h) return;
  }
}

/* Free `b` of slab `s`, owned by another thread or by nobody. */
static void remote_free(hm_slab *s, hm_block *b) {
  for (;;) {
    hm_heap *h = atomic_load(&s->owner);
    if (h == NULL) {
      if (slab_visit(s, b)) return;
      continue;
    }
    if (h != HM_VISITOR && inbox_push(h, b, b)) return;
    orphan_push(s, b, b);   /* a visitor holds it, or the owner is exiting */
    remote_settle(s);
    return;
  }
}

/* Take the blocks of an inbox chain: onto their slabs' free lists if h still owns them, else on
 * to their owners (an inbox of a recycled record may hold blocks pushed for the record's last
 * owner). Empty slabs go back to the pool (the current ones excepted). */
static void heap_take(hm_heap *h, uintptr_t head) {
  while (head != 0) {
    hm_block *b = (hm_block *)head;
    head = (uintptr_t)next_of(b);
    hm_slab *s = slab_of(b);
    if (atomic_load_explicit(&s->owner, memory_order_relaxed) != h) {
      remote_free(s, b);
      continue;
    }
    slab_take(s, b);
    if (s->used == 0 && s->quarantined == 0 && h->cur[s->cls] != s) {
      list_unlink(h, s);
      hm_pool_release_slab(s);
    } else if (s->free == b && h->list[s->cls] != s) {   /* it had no free block: to the front */
      list_unlink(h, s);
      list_link_head(h, s);
    }
  }
}

static void heap_collect(hm_heap *h) {
  heap_take(h, atomic_exchange_explicit(&h->inbox, 0, memory_order_acquire));
}

HM_INLINE void heap_collect_if(hm_heap *h) {
  uintptr_t top = atomic_load_explicit(&h->inbox, memory_order_relaxed);
  if (top != 0 && top != INBOX_CLOSED) heap_collect(h);
}

/* A new heap record for the calling thread (NULL if metadata cannot be mapped). */
static hm_heap *heap_new(void) {
  hm_heap *h = hm_meta_heap_alloc();
  if (h == NULL) return NULL;
  h->rng = heap_seed(h);
  atomic_store(&h->inbox, 0);   /* open (a recycled record's was closed at its owner's exit) */
  return h;
}

/* Threads past their own teardown (a TLS destructor that runs after hakmem's) allocate from one
 * shared heap under late_lock; their frees are remote frees like any other thread's. */
static pthread_mutex_t late_lock = PTHREAD_MUTEX_INITIALIZER;
static hm_heap *late_heap;             /* created on first use, never torn down */
static __thread bool tl_exited;        /* this thread's heap has been torn down */
void hm_heap_late_lock(void) { hm_lock_take(&late_lock, HM_HOLD_LATE); }
void hm_heap_late_unlock(void) { hm_lock_drop(&late_lock, HM_HOLD_LATE); }
void hm_heap_late_atfork_reset(void) { pthread_mutex_init(&late_lock, NULL); }

/* The fast path's view of a current slab: empty for class 0 (malloc(0) writes the block's
 * canary on the slow path) and under strict levels. */
static hm_slab *cur_view(unsigned cls, hm_slab *s) {
  return (s == NULL || cls == 0 || (hm_mit & HM_MIT_PER_BLOCK)) ? &hm_empty_slab : s;
}

/* The class's current slab: the heap's record, and (for the calling thread's own heap) the fast
 * path's view of it. */
static void set_cur(hm_heap *h, unsigned cls, hm_slab *s) {
  h->cur[cls] = s;
  if (h == hm_tl_self) hm_tl_cur[cls] = cur_view(cls, s);
}

/* ---- malloc slow path ------------------------------------------------------------------------------ */
/* A slab of `cls` that can give a block, in order: blocks freed into the heap's slabs (after
 * taking the inbox), fresh blocks of a slab already owned, an abandoned slab, a new slab. */
static hm_slab *heap_find_slab(hm_heap *h, unsigned cls) {
  heap_collect_if(h);
  hm_slab *cur = h->cur[cls];
  if (cur != NULL && cur->free != NULL) return cur;
  /* of the first few slabs, the one with the most free blocks: freed blocks spread over many
   * slabs, and taking the first with any would leave the next malloc in the slow path again */
  hm_slab *s = h->list[cls], *fresh = NULL, *best = NULL;   /* fresh: blocks never carved */
  uint32_t most = 0;
  for (unsigned i = 0; s != NULL && i < HM_SCAN_SLABS; i++) {
    hm_slab *next = s->next;
    if (s != cur) {
      uint32_t n = (uint32_t)s->carved - s->used - s->quarantined;   /* len(free) */
      if (n > most) {
        most = n;
        best = s;
      }
      if (n == 0 && s->carved == s->capacity) list_move_tail(h, s);
      else if (n == 0 && fresh == NULL) fresh = s;
    }
    s = next;
  }
  if (best != NULL) return best;
  if (cur != NULL && cur->carved < cur->capacity) fresh = cur;
  if (fresh != NULL) {
    slab_carve(fresh);
    return fresh;
  }
  if (cur != NULL) list_move_tail(h, cur);
  s = hm_pool_adopt_any(h, cls);
  if (s != NULL) {
    atomic_fetch_add_explicit(&hm_adopt_count, 1, memory_order_relaxed);
    list_link_head(h, s);
    slab_drain(s);
    if (s->free != NULL) return s;
    if (s->carved < s->capacity) {
      slab_carve(s);
      return s;
    }
    list_move_tail(h, s);
  }
  s = hm_pool_claim_slab(h, cls);
  if (s == NULL) return NULL;
  list_link_head(h, s);
  slab_carve(s);
  return s;
}

static void *heap_alloc_in(hm_heap *h, unsigned cls) {
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

/* A block of class `cls` from the calling thread's heap (made on its first allocation), or from
 * the late heap once the thread's own is gone. */
void *hm_heap_alloc(unsigned cls) {
  hm_heap *h = hm_tl_self;
  if (hm_unlikely(h == HM_NO_HEAP)) {
    if (tl_exited) {
      hm_lock_take(&late_lock, HM_HOLD_LATE);
      if (late_heap == NULL) late_heap = heap_new();
      void *p = late_heap ? heap_alloc_in(late_heap, cls) : NULL;
      hm_lock_drop(&late_lock, HM_HOLD_LATE);
      return p;
    }
    h = heap_new();
    if (h == NULL) return NULL;
    hm_tl_self = h;
    hm_tl_heap = (hm_mit & HM_MIT_PER_BLOCK) ? HM_NO_HEAP : h;   /* see hm_tl_self */
    pthread_setspecific(heap_key, h);
  }
  return heap_alloc_in(h, cls);
}

HM_NOINLINE void *hm_heap_malloc_slow(unsigned cls, size_t size) {
  hm_ensure_init();
  if (hm_unlikely(hm_mit & HM_MIT_PER_BLOCK)) return hm_strict_malloc(size, 1);
  void *p = hm_heap_alloc(cls);
  if (p == NULL) errno = ENOMEM;
  else if (cls == 0) hm_canary_set(p, HM_MIN_BLOCK);   /* malloc(0): the whole block */
  return p;
}

/* The fast path's miss: the class is found again here, so that the fast path need not keep it in
 * a register of its own for this call (one instruction fewer on every malloc). */
HM_NOINLINE void *hm_heap_malloc_miss(size_t size) {
  return hm_heap_malloc_slow(hm_size_class(size), size);
}

/* The class serving `need` bytes at alignment `align`: the first class whose blocks hold `need`
 * and the end canary, at least `align` bytes, and whose block size is a multiple of `align`
 * (blocks sit at multiples of their size from a 64 KiB-aligned slab start; every class is a
 * multiple of 8). -1: the large tier. */
int hm_aligned_class(size_t need, size_t align) {
  HAK_ASSERT(align >= 1);
  if (need > HM_SMALL_REQ_MAX) return -1;
  if (align <= 8) return (int)hm_size_class(need);   /* every class is a multiple of 8 */
  size_t n = need + HM_CANARY > align ? need + HM_CANARY : align;
  if (n > HM_SMALL_MAX) return -1;
  for (unsigned cls = hm_class_lut[(n + 7) >> 3]; cls < HM_CLASSES; cls++)
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
HM_NOINLINE void hm_heap_free_slow(void *p, hm_slab *s) {
  hm_superslab *ss = s->ss;
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
    heap_collect_if(me);
    return;
  }
  uintptr_t off = (uintptr_t)p & (HM_SLAB_SIZE - 1);
  uint32_t idx = hm_block_index(s, (uintptr_t)p);
  if ((uintptr_t)idx * s->block_size != off || idx >= s->capacity) hm_fatal("invalid free", p);
  if (hm_unlikely(!hm_canary_ok(p, s->block_size))) hm_canary_bad(p);
  if (hm_mit & HM_MIT_PER_BLOCK) hm_strict_free(p, s, false);   /* canary check, zeroing */
  hm_san_free(p, s->block_size - HM_CANARY);
  atomic_fetch_add_explicit(&s->remote_n, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&hm_remote_free_count, 1, memory_order_relaxed);
  remote_free(s, p);
  if (me != HM_NO_HEAP) heap_collect_if(me);   /* a thread that mostly frees still takes its own */
}

/* ---- flush and thread exit -------------------------------------------------------------------------- */
/* Give back every slab of `h` that holds no block (the heap lives on). */
static void heap_release_empty(hm_heap *h) {
  hm_quarantine_flush(h);
  heap_collect(h);
  for (unsigned cls = 0; cls < HM_CLASSES; cls++) {
    hm_slab *s = h->list[cls];
    while (s != NULL) {
      hm_slab *next = s->next;
      slab_drain(s);
      if (s->used == 0) {
        if (h->cur[cls] == s) set_cur(h, cls, NULL);
        list_unlink(h, s);
        hm_pool_release_slab(s);
      }
      s = next;
    }
  }
}

void hm_heap_flush(hm_heap *h) {
  if (h == HM_NO_HEAP || h == NULL) return;
  heap_release_empty(h);
  /* take over what exited threads left behind, so it can empty and go back too */
  for (unsigned cls = 0; cls < HM_CLASSES; cls++) {
    hm_slab *s;
    while ((s = hm_pool_adopt_any(h, cls)) != NULL) {
      atomic_fetch_add_explicit(&hm_adopt_count, 1, memory_order_relaxed);
      list_link_head(h, s);
      slab_drain(s);
    }
  }
  heap_release_empty(h);
}

/* Thread exit: close the inbox (later remote frees go onto the slabs' own lists), take what it
 * holds, then give every slab up: to the pool if it holds no block, else abandoned. A block
 * pushed onto a slab after our last drain either saw us still owning it, and is seen by our look
 * at the list after letting go (seq_cst store of owner, then load of remote), or saw the slab
 * unowned, and its freer drains it. */
void hm_heap_thread_exit(void *heap) {
  hm_heap *h = heap;
  if (h == NULL || h == HM_NO_HEAP) return;
  hm_quarantine_flush(h);
  heap_take(h, atomic_exchange(&h->inbox, INBOX_CLOSED));
  for (unsigned cls = 0; cls < HM_CLASSES; cls++) {
    set_cur(h, cls, NULL);
    hm_slab *s;
    while ((s = h->list[cls]) != NULL) {
      slab_drain(s);
      list_unlink(h, s);
      if (s->used == 0) {
        hm_pool_release_slab(s);
        continue;
      }
      hm_pool_abandon_slab(s);
      if (atomic_load(&s->remote) != 0) remote_settle(s);
    }
  }
  hm_tl_self = HM_NO_HEAP;
  hm_tl_heap = HM_NO_HEAP;
  tl_exited = true;
  hm_meta_heap_free(h);
}

/* ---- validation ------------------------------------------------------------------------------------ */
HM_VALIDATOR bool hm_slab_is_valid(const hm_slab *s, const char **why) {
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

HM_VALIDATOR bool hm_heap_is_valid(hm_heap *h, const char **why) {
#if HAK_DEBUG >= 1
  if (h == HM_NO_HEAP || h == NULL) return true;
  if (atomic_load(&h->inbox) == INBOX_CLOSED) {
    *why = "thread cache: a live heap's inbox is closed";
    return false;
  }
  for (unsigned cls = 0; cls < HM_CLASSES; cls++) {
    uint32_t n = 0;
    bool cur_found = h->cur[cls] == NULL;
    hm_slab *view = cur_view(cls, h->cur[cls]);
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
