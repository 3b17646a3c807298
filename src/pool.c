/* pool.c — the SuperSlab pool shared by every size class and thread.
 *
 * Owns (under pool_lock): every mapped SuperSlab (all list), the partial list (SuperSlabs with a
 * free slot and at least one ACTIVE slab), the LRU cache of SuperSlabs whose 32 slots are all free,
 * the lists of slabs abandoned by exited threads, the cache limits and the pool statistics.
 * Invariants:
 *   mapped == len(all) == partial + full + cached;  cached == len(cache), cached_bytes == cached * 2 MiB
 *   cached <= max_cached and cached_bytes <= max_bytes once a public call returns;
 *   a SuperSlab is in the cache iff active == 0, and then it is in no other list;
 *   active == 32 - popcount(free_slots); slot i is ACTIVE iff bit i of free_slots is clear;
 *   the cache is never popped while the prewarm bypass flag is set (pops_in_bypass == 0).
 * Purge (decommit): the cache, newest to oldest, is unpurged entries then purged ones, and
 *   purge_next == the oldest unpurged entry (NULL when none);  cache_purged == count(purged);
 *   purged => unused_slots == ALL_SLOTS (the next claim treats every slot as never used);
 *   an entry is purged once now - cached_at_ns >= purge_ns, by the pool calls that follow
 *   (claim, release, evict, large alloc and free: HM_PURGE_BATCH per call), under pool_lock
 *   so no claim can take it half-purged. trim and the limits unmap purged and unpurged alike.
 * A slot that turns EMPTY in a SuperSlab that stays in use is queued (slot_ring, oldest first,
 * freed_at_ns ascending); once free for purge_ns its 64 KiB are purged (SLOT_BATCH per call)
 * and its unused_slots bit set, if it is still EMPTY since that time (s->freed_at_ns == the
 * entry's) in a partial SuperSlab; a full ring purges its oldest entry early to make room.
 * trim purges every EMPTY slot of the partial SuperSlabs at once.
 * Slab metadata belongs to the owning thread; the pool touches a slab only to claim or release it
 * and for the read-only statistics walk. System calls that unmap happen after the lock is dropped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <time.h>
#include "internal.h"


static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static hm_ss_list all_list, partial_list, cache_list;  /* cache: head = newest, tail = oldest */
static size_t ss_full;                              /* SuperSlabs with no free slot */
static hm_slab *abandoned[HM_CLASSES];              /* slabs of exited threads, per class */
static _Atomic size_t abandoned_n;                  /* written under pool_lock */
static uint64_t max_cached, max_bytes, ttl_ns;      /* limits in force */
static uint64_t purge_ns;                           /* HAKMEM_PURGE_DELAY_MS */
static size_t cache_dirty;                          /* cache entries unpurged and not prewarmed */
static size_t ring_dirty;                           /* bits set in every queued_slots */
static hm_superslab *purge_next;                    /* oldest unpurged cache entry */
static size_t cache_purged;                         /* cache entries purged */
static uint64_t released_allocs[HM_CLASSES];        /* allocs of slabs released since start-up */
static struct {
  uint64_t map_calls, unmap_calls, hits, misses, ev_count, ev_bytes, ev_ttl, ev_trim, prewarmed;
  uint64_t pops_in_bypass, purge_calls, purged_bytes, slots_purged;
} pst;
#define SLOT_RING 1024u
#define SLOT_BATCH (HM_PURGE_BATCH * 8u)   /* 64 KiB slots purged per call: 2 MiB */
static struct { hm_slab *s; uint64_t at_ns; } slot_ring[SLOT_RING];
static unsigned ring_first, ring_len;               /* oldest entry at ring_first */
_Atomic uint32_t hm_prewarm_bypass;      /* > 0 while a prewarm maps: the cache is not popped */
static _Atomic uint32_t prewarm_running; /* prewarm calls in progress */
_Atomic uint64_t hm_clock_offset_ns;

#define ALL_SLOTS 0xFFFFFFFFu
#define SEC_NS 1000000000ull

uint64_t hm_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * SEC_NS + (uint64_t)ts.tv_nsec +
         atomic_load_explicit(&hm_clock_offset_ns, memory_order_relaxed);
}

void hm_pool_lock(void) { hm_lock_take(&pool_lock, HM_HOLD_POOL); }
void hm_pool_unlock(void) { hm_lock_drop(&pool_lock, HM_HOLD_POOL); }
void hm_pool_atfork_reset(void) { pthread_mutex_init(&pool_lock, NULL); }

/* ---- the list of every mapped SuperSlab (all_next / all_prev; the others are hm_ss_list's) ------- */
static void all_push(hm_superslab *ss) {
  ss->all_prev = NULL;
  ss->all_next = all_list.head;
  if (all_list.head) all_list.head->all_prev = ss; else all_list.tail = ss;
  all_list.head = ss;
  all_list.len++;
}
static void all_remove(hm_superslab *ss) {
  if (ss->all_prev) ss->all_prev->all_next = ss->all_next; else all_list.head = ss->all_next;
  if (ss->all_next) ss->all_next->all_prev = ss->all_prev; else all_list.tail = ss->all_prev;
  all_list.len--;
}

/* ---- mapping ------------------------------------------------------------------------------------ */
static hm_superslab *ss_map_new(void) {
  hm_superslab *ss = hm_meta_ss_alloc();
  if (ss == NULL) return NULL;
  void *base = hm_os_map_aligned(HM_SS_SIZE, HM_SS_SIZE);
  if (base == NULL) {
    hm_meta_ss_free(ss);
    return NULL;
  }
  ss->base = HM_HIDE((uintptr_t)base);
  hm_san_map(base, HM_SS_SIZE);
  ss->free_slots = ALL_SLOTS;
  ss->unused_slots = ALL_SLOTS;
  ss->queued_slots = 0;   /* a reused header keeps its last value; it was 0 when freed */
  for (unsigned i = 0; i < HM_SLABS_PER_SS; i++) {
    hm_slab *s = &ss->slabs[i];
    s->index = (uint8_t)i;
    s->start = HM_HIDE(HM_UNHIDE(ss->base) + ((uintptr_t)i << HM_SLAB_SHIFT));
    s->ss = ss;
    s->bitmap = &ss->bitmap[i * HM_BITMAP_WORDS];
  }
  ss->magic = HM_SS_MAGIC;
  if (!hm_registry_set(HM_UNHIDE(ss->base), HM_SS_SIZE, (uintptr_t)ss | HM_REG_SS)) {
    hm_os_unmap(base, HM_SS_SIZE);
    hm_meta_ss_free(ss);
    return NULL;
  }
  all_push(ss);
  pst.map_calls++;
  return ss;
}

/* Called without pool_lock: the SuperSlab is already out of every list and the registry. */
static void ss_unmap(hm_superslab *ss) {
  hm_san_unmap((void *)HM_UNHIDE(ss->base), HM_SS_SIZE);
  hm_os_unmap((void *)HM_UNHIDE(ss->base), HM_SS_SIZE);
  hm_meta_ss_free(ss);
}

/* ---- the cache ---------------------------------------------------------------------------------- */
typedef struct victims { hm_superslab *ss[HM_EVICT_BATCH]; unsigned n; } victims;

/* Every removal from the cache goes through here (keeps purge_next and cache_purged). */
static void cache_unlink(hm_superslab *ss) {
  if (ss == purge_next) purge_next = ss->prev;   /* the next newer entry: unpurged */
  if (ss->purged) cache_purged--;
  else if (!ss->prewarmed) cache_dirty--;
  ss->purged = 0;
  hm_ss_list_remove(&cache_list, ss);
}

static void cache_take(hm_superslab *ss, victims *v, uint64_t *reason) {
  cache_unlink(ss);
  all_remove(ss);
  hm_registry_clear(HM_UNHIDE(ss->base), HM_SS_SIZE);   /* with the list, so a fork never sees one alone */
  ss->where = 0;
  (*reason)++;
  pst.unmap_calls++;
  v->ss[v->n++] = ss;
}

/* Move to `v` what is over the limits (oldest first) or past the TTL. Returns true if more
 * remain to evict once `v` is full. */
static bool cache_collect(victims *v, uint64_t now) {
  while (v->n < HM_EVICT_BATCH && cache_list.tail != NULL) {
    if (cache_list.len > max_cached) {
      cache_take(cache_list.tail, v, &pst.ev_count);
    } else if ((uint64_t)cache_list.len * HM_SS_SIZE > max_bytes) {
      cache_take(cache_list.tail, v, &pst.ev_bytes);
    } else {
      /* TTL: the oldest entries are at the tail; untouched prewarmed entries are exempt. */
      hm_superslab *ss = cache_list.tail;
      while (ss != NULL && ss->prewarmed) ss = ss->prev;
      if (ss == NULL || now - ss->cached_at_ns <= ttl_ns) return false;
      cache_take(ss, v, &pst.ev_ttl);
    }
  }
  return v->n == HM_EVICT_BATCH;
}

/* Drops the lock to unmap the victims, then re-takes it. Returns how many were unmapped. */
static size_t unmap_victims(victims *v) {
  size_t n = v->n;
  if (n == 0) return 0;
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
  for (unsigned i = 0; i < v->n; i++) ss_unmap(v->ss[i]);
  v->n = 0;
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  return n;
}

/* Decommit the oldest unpurged entry. A prewarmed entry was never touched: it is marked
 * without a system call. */
static void purge_oldest(void) {
  hm_superslab *ss = purge_next;
  HAK_INVARIANT(ss->where == HM_SS_CACHED && !ss->purged && ss->free_slots == ALL_SLOTS);
  if (!ss->prewarmed) {
    hm_os_purge((void *)HM_UNHIDE(ss->base), HM_SS_SIZE);
    hm_meta_ss_purge(ss);   /* its header's bitmaps too: 32 KiB per SuperSlab */
    pst.purge_calls++;
    pst.purged_bytes += HM_SS_SIZE;
    cache_dirty--;
  }
  ss->purged = 1;
  ss->unused_slots = ALL_SLOTS;
  cache_purged++;
  purge_next = ss->prev;
}

/* Decommit up to HM_PURGE_BATCH of the oldest unpurged entries free for purge_ns. */
static void purge_locked(uint64_t now) {
  for (unsigned n = 0; n < HM_PURGE_BATCH && purge_next != NULL; n++) {
    hm_superslab *ss = purge_next;
    if (now < ss->cached_at_ns || now - ss->cached_at_ns < purge_ns) return;
    purge_oldest();
  }
}

/* ---- purge of EMPTY slots in SuperSlabs still in use ------------------------------------------ */
/* The slots of `bits` no longer count as free memory kept resident (claimed, purged, or their
 * SuperSlab cached whole). */
static void slot_unqueue(hm_superslab *ss, uint32_t bits) {
  bits &= ss->queued_slots;
  ss->queued_slots &= ~bits;
  ring_dirty -= (unsigned)__builtin_popcount(bits);
}

static void slot_purge(hm_slab *s) {
  HAK_INVARIANT(atomic_load_explicit(&s->state, memory_order_relaxed) == HM_SLOT_EMPTY);
  hm_os_purge((void *)HM_UNHIDE(s->start), HM_SLAB_SIZE);
  s->ss->unused_slots |= 1u << s->index;
  slot_unqueue(s->ss, 1u << s->index);
  pst.purge_calls++;
  pst.purged_bytes += HM_SLAB_SIZE;
  pst.slots_purged++;
}

static bool slot_still_free(const hm_slab *s, uint64_t at_ns);

/* The ring's oldest entry leaves it, its slot purged now if still free since it was queued. */
static void ring_pop_purge(void) {
  if (slot_still_free(slot_ring[ring_first].s, slot_ring[ring_first].at_ns))
    slot_purge(slot_ring[ring_first].s);
  ring_first = (ring_first + 1) % SLOT_RING;
  ring_len--;
}

static void slot_queue(hm_slab *s) {
  s->freed_at_ns = hm_now_ns();
  if (ring_len == SLOT_RING) ring_pop_purge();
  if ((s->ss->queued_slots & 1u << s->index) == 0) ring_dirty++;
  s->ss->queued_slots |= 1u << s->index;
  slot_ring[(ring_first + ring_len) % SLOT_RING].s = s;
  slot_ring[(ring_first + ring_len) % SLOT_RING].at_ns = s->freed_at_ns;
  ring_len++;
}

static bool slot_still_free(const hm_slab *s, uint64_t at_ns) {
  const hm_superslab *ss = s->ss;
  uint32_t bit = 1u << s->index;
  return ss->where == HM_SS_PARTIAL && s->freed_at_ns == at_ns && (ss->free_slots & bit) != 0 &&
         (ss->unused_slots & bit) == 0;
}

static void purge_slots_locked(uint64_t now) {
  unsigned done = 0;
  for (unsigned steps = 0; ring_len != 0 && done < SLOT_BATCH && steps < 4 * SLOT_BATCH; steps++) {
    hm_slab *s = slot_ring[ring_first].s;
    uint64_t at = slot_ring[ring_first].at_ns;
    if (slot_still_free(s, at)) {
      if (now < at || now - at < purge_ns) return;
      slot_purge(s);
      done++;
    }
    ring_first = (ring_first + 1) % SLOT_RING;
    ring_len--;
  }
}

/* Free memory kept resident: unpurged cached SuperSlabs and the queued EMPTY slots. */
static uint64_t dirty_bytes(void) {
  return (uint64_t)cache_dirty * HM_SS_SIZE + (uint64_t)ring_dirty * HM_SLAB_SIZE;
}

/* Both purges, one clock read, nothing to do the common case; then, whatever the delay, the
 * oldest free memory past the retain bound (cached SuperSlabs first: one call per 2 MiB). */
static void purge_all_locked(void) {
  if (purge_next == NULL && ring_len == 0) return;
  uint64_t now = hm_now_ns();
  if (purge_next != NULL) purge_locked(now);
  if (ring_len != 0) purge_slots_locked(now);
  while (dirty_bytes() > hm_retain_bytes()) {
    if (cache_dirty != 0) {
      while (purge_next->prewarmed) purge_oldest();   /* marks, no system call */
      purge_oldest();
    } else {
      HAK_INVARIANT(ring_len != 0);   /* a queued slot's newest ring entry is still in the ring */
      if (ring_len == 0) break;
      ring_pop_purge();
    }
  }
}

static size_t enforce_limits_locked(void) {
  victims v = {.n = 0};
  size_t total = 0;
  uint64_t now = hm_now_ns();
  bool more;
  do {
    more = cache_collect(&v, now);
    total += unmap_victims(&v);
  } while (more);
  purge_all_locked();
  return total;
}

static void cache_push_locked(hm_superslab *ss, bool prewarmed) {
  HAK_INVARIANT(ss->active == 0 && ss->free_slots == ALL_SLOTS && ss->where != HM_SS_CACHED);
  ss->where = HM_SS_CACHED;
  ss->prewarmed = prewarmed;
  ss->purged = 0;
  ss->cached_at_ns = hm_now_ns();
  if (!prewarmed) cache_dirty++;
  hm_ss_list_push_head(&cache_list, ss);
  if (purge_next == NULL) purge_next = ss;   /* every older entry is purged */
}

static hm_superslab *cache_pop_locked(void) {
  hm_superslab *ss = cache_list.head;
  if (ss == NULL) return NULL;
  if (atomic_load_explicit(&hm_prewarm_bypass, memory_order_acquire) != 0) pst.pops_in_bypass++;
  cache_unlink(ss);
  ss->where = 0;
  ss->prewarmed = 0;
  return ss;
}

/* A SuperSlab to carve slabs from: the cache's newest entry unless prewarm is mapping, else a
 * new mapping. */
static hm_superslab *ss_acquire_locked(void) {
  hm_superslab *ss = NULL;
  if (atomic_load_explicit(&hm_prewarm_bypass, memory_order_acquire) == 0) ss = cache_pop_locked();
  if (ss != NULL) {
    pst.hits++;
    return ss;
  }
  pst.misses++;
  return ss_map_new();
}

/* ---- slots -------------------------------------------------------------------------------------- */
hm_slab *hm_pool_claim_slab(hm_heap *h, unsigned cls) {
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  purge_all_locked();
  hm_superslab *ss = partial_list.head;
  if (ss == NULL) {
    ss = ss_acquire_locked();
    if (ss == NULL) {
      hm_lock_drop(&pool_lock, HM_HOLD_POOL);
      return NULL;
    }
    ss->where = HM_SS_PARTIAL;
    hm_ss_list_push_head(&partial_list, ss);
  }
  HAK_INVARIANT(ss->free_slots != 0 && ss->where == HM_SS_PARTIAL);
  /* prefer a slot used before (its pages are resident) over a never-used one; a slot a visitor
   * holds (heap.c: it found the slot free and lets go at once) is passed over */
  uint32_t dirty = ss->free_slots & ~ss->unused_slots, avail = dirty;
  unsigned i = 0;
  hm_slab *s = NULL;
  while (s == NULL) {
    if (avail == 0) avail = ss->free_slots;
    i = (unsigned)__builtin_ctz(avail);
    avail &= avail - 1;
    hm_heap *expected = NULL;
    if (atomic_compare_exchange_strong(&ss->slabs[i].owner, &expected, h)) s = &ss->slabs[i];
  }
  ss->free_slots &= ~(1u << i);
  ss->unused_slots &= ~(1u << i);
  slot_unqueue(ss, 1u << i);
  ss->active++;
  if (ss->free_slots == 0) {
    hm_ss_list_remove(&partial_list, ss);
    ss->where = HM_SS_FULL;
    ss_full++;
  }
  hm_slab_init(s, cls);
  atomic_store_explicit(&s->state, HM_SLOT_ACTIVE, memory_order_release);
  hm_stats_grew();   /* the peak may be sampled as the lock is left */
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
  return s;
}

static void abandoned_unlink(hm_slab *s);

/* By the owner, or by a visitor of an abandoned slab (heap.c). The state turns EMPTY before the
 * owner is cleared: a visitor that then claims the free slot sees it free and lets go. */
void hm_pool_release_slab(hm_slab *s) {
  HAK_INVARIANT(s->used == 0 && atomic_load(&s->remote) == 0 && atomic_load(&s->remote_n) == 0);
  hm_superslab *ss = s->ss;
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  if (s->in_list == 2) abandoned_unlink(s);
  released_allocs[s->cls] += s->allocs;   /* the slot's count leaves the walk with it */
  HM_STORE_RELAXED(s->allocs, 0);
  atomic_store_explicit(&s->state, HM_SLOT_EMPTY, memory_order_release);
  atomic_store(&s->owner, NULL);
  s->free = NULL;
  ss->free_slots |= 1u << s->index;
  ss->active--;
  if (ss->where == HM_SS_FULL) {
    ss_full--;
    ss->where = HM_SS_PARTIAL;
    hm_ss_list_push_head(&partial_list, ss);
  }
  if (ss->active == 0) {
    hm_ss_list_remove(&partial_list, ss);
    slot_unqueue(ss, ALL_SLOTS);   /* the whole SuperSlab counts in the cache now */
    cache_push_locked(ss, false);
    enforce_limits_locked();
  } else {
    slot_queue(s);
    purge_all_locked();
  }
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
}

/* A whole SuperSlab for the medium tier (mid.c, which holds its own lock around this): every
 * slot MID and unowned, so the pool counts it full and free's fast path never matches an owner. */
hm_superslab *hm_pool_claim_whole(void) {
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  hm_superslab *ss = ss_acquire_locked();
  if (ss != NULL) {
    hm_stats_grew();
    HAK_INVARIANT(ss->active == 0 && ss->free_slots == ALL_SLOTS);
    ss->free_slots = 0;
    ss->unused_slots = 0;   /* its pages will be written */
    ss->active = HM_SLABS_PER_SS;
    ss->where = HM_SS_FULL;
    ss_full++;
    for (unsigned i = 0; i < HM_SLABS_PER_SS; i++) {
      atomic_store_explicit(&ss->slabs[i].owner, NULL, memory_order_relaxed);
      atomic_store_explicit(&ss->slabs[i].state, HM_SLOT_MID, memory_order_release);
    }
  }
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
  return ss;
}

void hm_pool_release_whole(hm_superslab *ss) {
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  HAK_INVARIANT(ss->where == HM_SS_FULL && ss->free_slots == 0);
  for (unsigned i = 0; i < HM_SLABS_PER_SS; i++)
    atomic_store_explicit(&ss->slabs[i].state, HM_SLOT_EMPTY, memory_order_release);
  HM_STORE_RELAXED(ss->mid_size, 0);   /* hm_mid_block_ok reads it without mid.c's lock */
  ss->free_slots = ALL_SLOTS;
  ss->active = 0;
  ss_full--;
  cache_push_locked(ss, false);
  enforce_limits_locked();
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
}

/* ---- abandoned slabs ---------------------------------------------------------------------------- */
static void abandoned_unlink(hm_slab *s) {
  if (s->prev) s->prev->next = s->next; else abandoned[s->cls] = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  s->in_list = 0;
  atomic_store_explicit(&abandoned_n, atomic_load_explicit(&abandoned_n, memory_order_relaxed) - 1,
                        memory_order_relaxed);
}

void hm_pool_abandon_slab(hm_slab *s) {
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  s->prev = NULL;
  s->next = abandoned[s->cls];
  if (s->next) s->next->prev = s;
  abandoned[s->cls] = s;
  s->in_list = 2;
  atomic_store_explicit(&abandoned_n, atomic_load_explicit(&abandoned_n, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  /* seq_cst: pairs with a remote free's push-then-load of owner (heap.c) */
  atomic_store(&s->owner, NULL);
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
}

/* An abandoned slab of `cls`, now owned by h; one a visitor holds for a moment is passed over. */
hm_slab *hm_pool_adopt_any(hm_heap *h, unsigned cls) {
  if (atomic_load_explicit(&abandoned_n, memory_order_relaxed) == 0) return NULL;
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  hm_slab *s = abandoned[cls];
  for (; s != NULL; s = s->next) {
    hm_heap *expected = NULL;
    if (atomic_compare_exchange_strong(&s->owner, &expected, h)) break;
  }
  if (s != NULL) abandoned_unlink(s);
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
  return s;
}

/* ---- prewarm ------------------------------------------------------------------------------------ */
static uint64_t prewarmed_by_class[HAK_TINY_CLASSES];

/* Two phases, as the seed allocator did: map `count` SuperSlabs with the bypass flag set (so no
 * request, ours or another thread's, takes them back out of the cache half-way), then park them
 * all in the cache, raising its limits to hold them. */
int hm_pool_prewarm(int tiny_class, uint32_t count) {
  if (tiny_class < 0 || tiny_class >= HAK_TINY_CLASSES) {
    errno = EINVAL;
    return -1;
  }
  if (count == 0) return 0;
  atomic_fetch_add(&prewarm_running, 1);
  atomic_fetch_add(&hm_prewarm_bypass, 1);
  hm_superslab *chain = NULL;
  uint32_t got = 0;
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  for (; got < count; got++) {
    hm_superslab *ss = ss_acquire_locked();
    if (ss == NULL) break;
    ss->next = chain;
    chain = ss;
  }
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
  atomic_fetch_sub(&hm_prewarm_bypass, 1);

  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  uint64_t want = (uint64_t)cache_list.len + got;
  if (max_cached < want) max_cached = want;
  if (max_bytes < want * HM_SS_SIZE) max_bytes = want * HM_SS_SIZE;
  while (chain != NULL) {
    hm_superslab *next = chain->next;
    cache_push_locked(chain, true);
    chain = next;
  }
  pst.prewarmed += got;
  prewarmed_by_class[tiny_class] += got;
  enforce_limits_locked();
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
  atomic_fetch_sub(&prewarm_running, 1);
  return (int)got;
}

/* ---- limits, eviction, trim --------------------------------------------------------------------- */
void hm_pool_get_limits(hak_limits_t *out) {
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  out->max_cached = max_cached;
  out->max_memory_mb = max_bytes >> 20;
  out->ttl_sec = ttl_ns / SEC_NS;
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
}

static uint64_t clamp(uint64_t v, uint64_t hi) { return v > hi ? hi : v; }

void hm_pool_set_limits(const hak_limits_t *l) {
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  max_cached = clamp(l->max_cached, HM_MAX_MAX_CACHED);
  max_bytes = clamp(l->max_memory_mb, HM_MAX_MAX_MEMORY_MB) << 20;
  ttl_ns = clamp(l->ttl_sec, HM_MAX_TTL_SEC) * SEC_NS;
  enforce_limits_locked();
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
}

size_t hm_pool_evict(void) {
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  size_t n = enforce_limits_locked();
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
  return n;
}

size_t hm_pool_trim(void) {
  size_t total = 0;
  victims v = {.n = 0};
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  for (hm_superslab *ss = partial_list.head; ss != NULL; ss = ss->next)
    for (uint32_t dirty = ss->free_slots & ~ss->unused_slots; dirty != 0; dirty &= dirty - 1)
      slot_purge(&ss->slabs[__builtin_ctz(dirty)]);
  ring_len = 0;
  while (cache_list.tail != NULL) {
    while (v.n < HM_EVICT_BATCH && cache_list.tail != NULL) cache_take(cache_list.tail, &v, &pst.ev_trim);
    total += unmap_victims(&v);
  }
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
  return total;
}

/* For the other tiers' slow paths (large alloc and free): purge what is due, if anything. */
void hm_pool_purge(void) {
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  purge_all_locked();
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
}

void hm_pool_init(void) {
  max_cached = hm_cfg.max_cached;
  max_bytes = hm_cfg.max_memory_mb << 20;
  ttl_ns = hm_cfg.ttl_sec * SEC_NS;
  purge_ns = hm_cfg.purge_delay_ms * (SEC_NS / 1000);
}

static bool ss_is_mid(const hm_superslab *ss) {
  return atomic_load_explicit(&ss->slabs[0].state, memory_order_relaxed) == HM_SLOT_MID;
}

/* ---- statistics and validation ------------------------------------------------------------------ */
/* Blocks the program holds in `s`: used, less those other threads freed that the owner has not
 * taken yet (a snapshot; exact when no thread is inside malloc or free). */
static uint64_t slab_live(const hm_slab *s) {
  uint32_t used = HM_LOAD_RELAXED(s->used);
  uint32_t freed = atomic_load_explicit(&s->remote_n, memory_order_relaxed);
  return used > freed ? used - freed : 0;
}

void hm_pool_stats(hak_stats_t *st) {
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  st->ss_mapped = all_list.len;
  st->ss_cached = cache_list.len;
  st->ss_in_use = all_list.len - cache_list.len;
  st->ss_cached_bytes = (uint64_t)cache_list.len * HM_SS_SIZE;
  st->ss_map_calls = pst.map_calls;
  st->ss_unmap_calls = pst.unmap_calls;
  st->cache_hits = pst.hits;
  st->cache_misses = pst.misses;
  st->evict_count = pst.ev_count;
  st->evict_bytes = pst.ev_bytes;
  st->evict_ttl = pst.ev_ttl;
  st->evict_trim = pst.ev_trim;
  st->prewarmed = pst.prewarmed;
  st->limit_max_cached = max_cached;
  st->limit_max_bytes = max_bytes;
  st->limit_ttl_sec = ttl_ns / SEC_NS;
  st->ss_cached_purged = cache_purged;
  st->purge_calls += pst.purge_calls;
  st->purged_bytes += pst.purged_bytes;
  st->purge_delay_ms = purge_ns / (SEC_NS / 1000);
  st->slots_purged = pst.slots_purged;
  st->purge_retain_bytes = hm_retain_bytes();
  st->ss_free_resident_bytes = dirty_bytes();
  for (hm_superslab *ss = all_list.head; ss != NULL; ss = ss->all_next) {
    if (ss->active == 0 || ss_is_mid(ss)) continue;
    for (unsigned i = 0; i < HM_SLABS_PER_SS; i++) {
      const hm_slab *s = &ss->slabs[i];
      if (ss->free_slots & (1u << i)) continue;
      uint64_t used = slab_live(s);
      st->slabs_active++;
      st->small_live_blocks += used;
      st->small_live_bytes += used * (s->block_size - HM_CANARY);
    }
  }
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
}

/* Per class: blocks ever allocated (the released slabs' folded counts plus every active slab's)
 * and blocks held right now (exact; read without the owners' cooperation, so a snapshot: exact
 * when no thread is inside malloc or free). Adds to both arrays. */
void hm_pool_class_counts(uint64_t allocs[HM_CLASSES], uint64_t live[HM_CLASSES]) {
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  for (unsigned c = 0; c < HM_CLASSES; c++) allocs[c] += released_allocs[c];
  for (hm_superslab *ss = all_list.head; ss != NULL; ss = ss->all_next)
    for (unsigned i = 0; i < HM_SLABS_PER_SS && ss->active && !ss_is_mid(ss); i++)
      if (!(ss->free_slots & (1u << i))) {
        const hm_slab *s = &ss->slabs[i];
        live[s->cls] += slab_live(s);
        allocs[s->cls] += HM_LOAD_RELAXED(s->allocs);
      }
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
}

#if HAK_DEBUG >= 1
#define FAIL(msg) do { *why = (msg); goto out; } while (0)
static bool ss_is_valid(const hm_superslab *ss, const char **why) {
  if (ss->magic != HM_SS_MAGIC) FAIL("pool: SuperSlab header magic");
  if (HM_UNHIDE(ss->base) % HM_SS_SIZE != 0) FAIL("pool: SuperSlab base not 2 MiB aligned");
  if (hm_registry_lookup((void *)HM_UNHIDE(ss->base)) != ((uintptr_t)ss | HM_REG_SS) ||
      hm_registry_lookup((void *)(HM_UNHIDE(ss->base) + HM_SS_SIZE - 1)) != ((uintptr_t)ss | HM_REG_SS))
    FAIL("registry: a mapped SuperSlab is not registered to its header");
  if (ss->active != HM_SLABS_PER_SS - (uint32_t)__builtin_popcount(ss->free_slots))
    FAIL("pool: active slab count disagrees with the free-slot mask");
  if ((ss->unused_slots & ~ss->free_slots) != 0) FAIL("pool: an ACTIVE slot is marked never-used");
  if ((ss->queued_slots & ~(ss->free_slots & ~ss->unused_slots)) != 0 ||
      (ss->queued_slots != 0 && ss->where != HM_SS_PARTIAL))
    FAIL("purge: a queued slot is not an EMPTY resident slot of a partial SuperSlab");
  bool mid = ss_is_mid(ss);
  if (mid && (ss->free_slots != 0 || ss->where != HM_SS_FULL))
    FAIL("pool: medium SuperSlab not claimed whole");
  for (unsigned i = 0; i < HM_SLABS_PER_SS; i++) {
    unsigned st = atomic_load_explicit(&ss->slabs[i].state, memory_order_relaxed);
    bool free_bit = (ss->free_slots >> i) & 1u;
    if (free_bit == (st == HM_SLOT_ACTIVE || st == HM_SLOT_MID) || mid != (st == HM_SLOT_MID))
      FAIL("pool: slot state disagrees with the free-slot mask");
    uintptr_t start = HM_UNHIDE(ss->base) + ((uintptr_t)i << HM_SLAB_SHIFT);
    if (ss->slabs[i].ss != ss || HM_UNHIDE(ss->slabs[i].start) != start) FAIL("pool: slab geometry");
  }
  switch (ss->where) {
    case HM_SS_CACHED:
      if (ss->active != 0) FAIL("cache: a cached SuperSlab has ACTIVE slabs (cached and in use)");
      break;
    case HM_SS_PARTIAL:
      if (ss->active == 0 || ss->free_slots == 0) FAIL("pool: partial SuperSlab not partial");
      break;
    case HM_SS_FULL:
      if (ss->free_slots != 0) FAIL("pool: full SuperSlab has a free slot");
      break;
    default: FAIL("pool: SuperSlab in no list");
  }
  return true;
out:
  return false;
}
#endif

HM_VALIDATOR bool hm_pool_is_valid(const char **why) {
#if HAK_DEBUG >= 1
  bool ok = false;
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  size_t n = 0, cached = 0, partial = 0, full = 0, queued = 0;
  for (hm_superslab *ss = all_list.head; ss != NULL; ss = ss->all_next) {
    if (++n > all_list.len) FAIL("pool: all list longer than its count");
    if (!ss_is_valid(ss, why)) goto out;
    cached += ss->where == HM_SS_CACHED;
    queued += (unsigned)__builtin_popcount(ss->queued_slots);
    partial += ss->where == HM_SS_PARTIAL;
    full += ss->where == HM_SS_FULL;
  }
  if (n != all_list.len) FAIL("pool: all list count");
  if (cached + partial + full != n || full != ss_full) FAIL("pool: list counts do not add up");
  n = 0;
  uint64_t prev_at = UINT64_MAX;
  size_t purged = 0, dirty = 0;
  const hm_superslab *oldest_unpurged = NULL;
  for (hm_superslab *ss = cache_list.head; ss != NULL; ss = ss->next) {
    if (++n > cache_list.len || ss->where != HM_SS_CACHED) FAIL("cache: list and count disagree");
    if (ss->cached_at_ns > prev_at) FAIL("cache: not ordered newest to oldest");
    prev_at = ss->cached_at_ns;
    if (!ss->purged && purged != 0) FAIL("purge: an unpurged cache entry older than a purged one");
    if (ss->purged && ss->unused_slots != ALL_SLOTS) FAIL("purge: a purged SuperSlab has used slots");
    purged += ss->purged;
    dirty += !ss->purged && !ss->prewarmed;
    if (!ss->purged) oldest_unpurged = ss;
  }
  if (purged != cache_purged || oldest_unpurged != purge_next)
    FAIL("purge: purged count or cursor disagrees with the cache");
  if (queued != ring_dirty) FAIL("purge: count of queued slots disagrees with the SuperSlabs");
  if (dirty != cache_dirty) FAIL("purge: count of unpurged cache entries disagrees with the cache");
  if (dirty_bytes() > hm_retain_bytes()) FAIL("purge: more free memory kept resident than the retain bound");
  if (n != cache_list.len || n != cached) FAIL("cache: entry count disagrees with the list");
  if (cache_list.len > max_cached) FAIL("cache: more entries than max_cached");
  if ((uint64_t)cache_list.len * HM_SS_SIZE > max_bytes) FAIL("cache: more bytes than the memory limit");
  n = 0;
  for (hm_superslab *ss = partial_list.head; ss != NULL; ss = ss->next)
    if (++n > partial_list.len || ss->where != HM_SS_PARTIAL) FAIL("pool: partial list corrupt");
  if (n != partial) FAIL("pool: partial count");
  if (pst.pops_in_bypass != 0) FAIL("prewarm: the cache was popped while the bypass flag was set");
  if (atomic_load(&hm_prewarm_bypass) > atomic_load(&prewarm_running))
    FAIL("prewarm: bypass flag set outside prewarm");
  n = 0;
  for (unsigned c = 0; c < HM_CLASSES; c++)
    for (hm_slab *s = abandoned[c]; s != NULL; s = s->next) {
      n++;
      if (s->in_list != 2 || s->cls != c || atomic_load(&s->owner) != NULL ||
          atomic_load(&s->state) != HM_SLOT_ACTIVE)
        FAIL("pool: abandoned slab not abandoned");
      if (!hm_slab_is_valid(s, why)) goto out;
    }
  if (n != atomic_load(&abandoned_n)) FAIL("pool: abandoned count");
  ok = true;
out:
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
  return ok;
#else
  (void)why;
  return true;
#endif
}

/* Registered 2 MiB chunks that belong to SuperSlabs (for the registry count cross-check). */
size_t hm_pool_mapped(void) {
  hm_lock_take(&pool_lock, HM_HOLD_POOL);
  size_t n = all_list.len;
  hm_lock_drop(&pool_lock, HM_HOLD_POOL);
  return n;
}
