/* large.c — requests above the medium tier (above the slab tier at the strict levels): each gets
 * its own mapping, starting on a 2 MiB boundary (so the registry maps whole chunks to it alone),
 * laid out as [lead guard][usable bytes][guard page]: PROT_NONE on both sides, so an overflow
 * past the end and an underflow before the start both fault. The lead guard is a page, or the
 * requested alignment when that is larger (the user pointer, mapping start + lead, must be
 * aligned), or a whole 2 MiB chunk for alignments of 2 MiB and more (the chunk before the user
 * pointer must be this block's alone: a page of it would leave the rest to other mappings).
 * Both guards are left over from one PROT_NONE, MAP_NORESERVE reservation that the usable range
 * is mapped over (hm_os_map_guarded: two mmaps, no mprotect; the guards are never charged).
 * A block grows in place while it fits its mapping, else by mremap into a fresh aligned
 * reservation (pages move, nothing is copied), by at least half its size so a chain of small
 * growths remaps O(log n) times. The guards are separate VMAs (PROT_NONE, unlike the usable
 * range), so mremap moves the usable range alone, which is one VMA: the target is a reservation
 * of lead + usable + guard page, the pages move into its middle (MREMAP_FIXED), and what is left
 * of the reservation on either side is the new block's two guards; the old block's two guards
 * are then unmapped one by one (not as one range: the hole between them is free address space
 * that another thread may already have mapped).
 * Freed mappings up to 16 MiB wait in a small cache (64 entries, 64 MiB, newest first) for a
 * request they fit (cache_take), PROT_NONE meanwhile (a write after free still faults): reuse
 * costs one mprotect instead of mapping, trimming, guarding and registering. A cached mapping stays
 * registered to its descriptor (magic HM_LARGE_CACHED), so a second free of it is a "double
 * free"; hak_trim and malloc_trim unmap the cache.
 * The reuse window (strict and paranoid, hm_large_window: Q = 8 / 32): the Q newest cached mappings
 * are never handed out (cache_take skips them) nor unmapped by the limits (they are on top of the
 * 64 entries / 64 MiB; only hak_trim and malloc_trim unmap them), so a freed block comes back only
 * after Q later large frees, and until then a second free is "double free" and a write faults
 * (dfr.m100k, dfr.l1m in tests/detect/matrix.txt). At these levels a mapping over 16 MiB is kept
 * in the window too, its pages purged at once (one madvise, instead of the munmap), so its
 * addresses stay reserved and the kernel cannot map the next block there; once it leaves the
 * window the byte limit unmaps it (and every older entry first). Cost, measured (release, 100000-
 * byte blocks, strace -c, 10000 malloc/free pairs): 2 syscalls a pair (two mprotects) before and
 * after; the window's first Q mappings cost one-off (40 more at strict, 160 at paranoid, in all);
 * the cache then holds Q + 1 mappings instead of 1 (3 VMAs each: 27 / 99 instead of 3), resident
 * until purged (about Q times the block: max RSS 1.4 -> 2.3 MiB at strict, 4.8 MiB at paranoid,
 * for a 100000-byte block memset each time); held address space up to Q * 16 MiB more plus the
 * window's big blocks (purged: address space only). A mapping cached for HAKMEM_PURGE_DELAY_MS is
 * purged (its usable pages go back to the kernel, hm_os_purge) by the large-tier calls that
 * follow (alloc from the cache, free, hak_ss_evict: HM_PURGE_BATCH per call, under large_lock so
 * no request takes it half-purged); reuse then faults the pages in again, zeroed. Those calls
 * drive the SuperSlab pool's purge too (hm_pool_purge, after large_lock is dropped).
 * Mapping budget: each guarded block costs the process three mappings (VMAs: lead guard, usable,
 * guard page; one when unguarded) out of vm.max_map_count. While the large tier's own mappings are
 * under a quarter of it (budget, read once), new blocks get both guards; past it they get neither
 * (one mapping, no lead: the user pointer is the mapping start), and the strict levels
 * serve medium sizes from the medium tier (hm_mid_serves), so a program with many live blocks
 * degrades instead of failing (or leaking mappings munmap could no longer split).
 * Invariants (large_lock): live == len(live list), live_bytes == sum of their usable;
 * vmas == sum over live and cached blocks of (lead ? 3 : 1); a guarded block has lead >= a page,
 * a page multiple, base % lead == 0 and map_size == lead + usable + page, an unguarded one
 * lead == 0 and map_size == usable; the mapping start (base - lead) is 2 MiB aligned;
 * cached == len(cache list) <= 64 + Q, cached_bytes == sum of their usable, and that sum less the
 * Q newest entries' <= 64 MiB (Q = hm_large_window(), 0 below strict);
 * cache_purged == count(cached and purged); the cache list is ordered by cached_at_ns; every chunk of
 * a live or cached mapping, lead guard included, is registered to its descriptor.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include "internal.h"

static pthread_mutex_t large_lock = PTHREAD_MUTEX_INITIALIZER;
static hm_large *live_head;
static uint64_t live_n, live_bytes;
static uint64_t large_allocs;   /* large blocks handed out since start-up (frees: large_allocs - live_n) */
static hm_large *cache_head, *cache_tail;   /* newest first */
static uint64_t cache_n, cache_bytes, cache_purged;
static uint64_t cache_dirty_bytes;   /* usable bytes of the cached mappings not purged */
static uint64_t purge_calls, purged_bytes;
#define CACHE_MAX 64u
#define CACHE_BYTES ((size_t)64 << 20)
#define CACHE_BLOCK_MAX ((size_t)16 << 20)
#define HM_LARGE_CACHED 0x4c614361u
#define FREED_RING 64
static uintptr_t freed_ring[FREED_RING];   /* bases of recently freed mappings: "double free" */
static unsigned freed_pos;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* Deterministic fuzzing (docs/fuzzing.md): the previous input's freed bases would meet this
 * input's new mappings; each input starts with the ring empty (nothing is live between inputs). */
void hm_large_fuzz_reset(void) {
  memset(freed_ring, 0, sizeof freed_ring);
  freed_pos = 0;
}
#endif

/* The reuse window (the quarantine levels only): a freed mapping is handed out again only once at
 * least Q later large frees have happened. The cache list is newest first and every free pushes at
 * its head, so an entry with k entries before it has seen at least k later frees: cache_take skips
 * the first Q entries, and cache_shrink never unmaps one of them (they are on top of the count and
 * byte limits). Q = 8 at strict, 32 at paranoid: a large block is a mapping (three VMAs, at least
 * 12 KiB of address space, up to 16 MiB resident until purged), not an 8-byte ring slot, so the
 * small quarantine's 64 / 1024 would cost up to 1 GiB / 16 GiB; 8 and 32 are an eighth and a
 * thirty-second of them, and hold at most 3 * Q VMAs of the mapping budget. */
unsigned hm_large_window(void) {
  if (!(hm_mit & HM_MIT_QUARANTINE)) return 0;
  return hm_quarantine_len >= 1024 ? 32u : 8u;
}

#define PAGE_ROUND(x) (((x) + HM_PAGE_SIZE - 1) & ~(size_t)(HM_PAGE_SIZE - 1))

/* ---- the mapping budget ---- */
static _Atomic uint64_t vmas;         /* mappings of live and cached blocks */
static _Atomic uint64_t vma_budget;   /* max_map_count / 4; 0 until the first block */
static _Atomic uint64_t unguarded_n;  /* blocks mapped without a guard page, ever */
#define MAP_COUNT_DEFAULT 65530u      /* the kernel's default vm.max_map_count */

static uint64_t budget(void) {
  uint64_t b = atomic_load_explicit(&vma_budget, memory_order_relaxed);
  if (b == 0) {   /* racing first readers read the same file */
    b = hm_os_max_map_count(MAP_COUNT_DEFAULT) / 4;
    if (b < 64) b = 64;
    atomic_store_explicit(&vma_budget, b, memory_order_relaxed);
  }
  return b;
}

bool hm_large_crowded(void) {
  return atomic_load_explicit(&vmas, memory_order_relaxed) >= budget();
}

static unsigned vmas_of(const hm_large *l) { return l->lead ? 3u : 1u; }

/* Where the mapping starts: the lead guard's first byte (the user pointer when unguarded). */
static uintptr_t map_start(const hm_large *l) { return HM_UNHIDE(l->base) - l->lead; }

void hm_large_lock(void) { hm_lock_take(&large_lock, HM_HOLD_LARGE); }
void hm_large_unlock(void) { hm_lock_drop(&large_lock, HM_HOLD_LARGE); }
void hm_large_atfork_reset(void) { pthread_mutex_init(&large_lock, NULL); }

/* large_lock held. */
static void live_push(hm_large *l) {
  l->prev = NULL;
  l->next = live_head;
  if (live_head) live_head->prev = l;
  live_head = l;
  live_n++;
  large_allocs++;
  hm_stats_grew();
  live_bytes += l->usable;
  for (unsigned i = 0; i < FREED_RING; i++)
    if (freed_ring[i] == HM_UNHIDE(l->base)) freed_ring[i] = 0;
}

/* Registry entries and the live list change together under large_lock, so no fork can see one
 * without the other (lock order: large_lock, then the registry's). */
static bool live_link(hm_large *l) {
  hm_lock_take(&large_lock, HM_HOLD_LARGE);
  bool ok = hm_registry_set(map_start(l), l->map_size, (uintptr_t)l);
  if (ok) live_push(l);
  if (ok) atomic_fetch_add_explicit(&vmas, vmas_of(l), memory_order_relaxed);
  hm_lock_drop(&large_lock, HM_HOLD_LARGE);
  return ok;
}

/* large_lock held. */
static void live_remove(hm_large *l) {
  if (l->prev) l->prev->next = l->next; else live_head = l->next;
  if (l->next) l->next->prev = l->prev;
  live_n--;
  live_bytes -= l->usable;
}

/* large_lock held: the mapping leaves the registry (and the mapping count, as it is about to be
 * unmapped); its base is remembered as freed. */
static void forget(hm_large *l) {
  atomic_fetch_sub_explicit(&vmas, vmas_of(l), memory_order_relaxed);
  hm_registry_clear(map_start(l), l->map_size);
  freed_ring[freed_pos++ % FREED_RING] = HM_UNHIDE(l->base);
}

static void unmap_large(hm_large *l) {
  hm_san_unmap((void *)map_start(l), l->map_size);
  hm_os_unmap((void *)map_start(l), l->map_size);
  hm_meta_large_free(l);
}

/* ---- the cache of freed mappings (large_lock held) ---- */
static void cache_remove(hm_large *l) {
  if (l->prev) l->prev->next = l->next; else cache_head = l->next;
  if (l->next) l->next->prev = l->prev; else cache_tail = l->prev;
  cache_n--;
  cache_bytes -= l->usable;
  if (l->purged) cache_purged--;
  else cache_dirty_bytes -= l->usable;
  l->purged = 0;
}

/* A cached mapping whose pages have just been given back. */
static void mark_purged(hm_large *l) {
  l->purged = 1;
  cache_purged++;
  cache_dirty_bytes -= l->usable;
  purge_calls++;
  purged_bytes += l->usable;
}

static void cache_push(hm_large *l) {
  l->magic = HM_LARGE_CACHED;
  l->purged = 0;
  l->cached_at_ns = hm_now_ns();
  l->prev = NULL;
  l->next = cache_head;
  if (cache_head) cache_head->prev = l; else cache_tail = l;
  cache_head = l;
  cache_n++;
  cache_bytes += l->usable;
  cache_dirty_bytes += l->usable;
}

/* The newest cached mapping that fits `usable` bytes without wasting more than a quarter of them
 * or, at the off and fast levels, 8 MiB: the block keeps the whole mapping, so a block that then
 * grows (realloc by doubling) does so in place, on pages that are already resident, with no
 * system call. At most 8 MiB per block, out of at most CACHE_BYTES that were resident in the
 * cache anyway. The strict levels keep the quarter: there the bytes past the request up to the
 * guard page are slack no check covers. The user pointer must have the alignment asked for (its
 * lead guard decided it: a mapping made for a 64 KiB alignment serves any alignment up to it). */
#define WASTE_ABS ((size_t)8 << 20)
static hm_large *cache_take(size_t usable, size_t align) {
  size_t waste = usable / 4;
  if (!(hm_mit & HM_MIT_STRICT) && waste < WASTE_ABS) waste = WASTE_ABS;
  unsigned skip = hm_large_window();   /* the window: the newest entries are never handed out */
  for (hm_large *l = cache_head; l != NULL; l = l->next) {
    if (skip > 0) {
      skip--;
      continue;
    }
    if (l->usable >= usable && l->usable - usable <= waste && HM_UNHIDE(l->base) % align == 0) {
      cache_remove(l);
      return l;
    }
  }
  return NULL;
}

/* Purge up to HM_PURGE_BATCH of the oldest unpurged mappings cached for the purge delay, and
 * then, whatever their age, the oldest while more than HAKMEM_PURGE_RETAIN_MB stay resident (the
 * cache holds at most CACHE_MAX entries besides the window's: a short walk). */
static void purge_locked(void) {
  if (cache_purged == cache_n) return;
  uint64_t now = hm_now_ns(), delay_ns = hm_cfg.purge_delay_ms * 1000000u;
  uint64_t retain = hm_retain_bytes();
  unsigned n = 0;
  for (hm_large *l = cache_tail; l != NULL && cache_dirty_bytes > 0; l = l->prev) {
    if (l->purged) continue;
    bool due = now >= l->cached_at_ns && now - l->cached_at_ns >= delay_ns && n < HM_PURGE_BATCH;
    if (!due && cache_dirty_bytes <= retain) return;
    hm_os_purge((void *)HM_UNHIDE(l->base), l->usable);
    mark_purged(l);
    n++;
  }
}

void hm_large_purge(void) {
  hm_lock_take(&large_lock, HM_HOLD_LARGE);
  purge_locked();
  hm_lock_drop(&large_lock, HM_HOLD_LARGE);
}

/* Whether the cache is over `max_n` entries or `max_bytes` besides the window's (the first
 * hm_large_window() entries, which only hak_trim and malloc_trim unmap: both limits are 0). */
static bool over_limits(uint64_t max_n, size_t max_bytes) {
  unsigned win = max_n == 0 && max_bytes == 0 ? 0 : hm_large_window();
  if (cache_n <= win) return false;
  size_t win_bytes = 0;
  unsigned i = 0;
  for (hm_large *l = cache_head; l != NULL && i < win; l = l->next, i++) win_bytes += l->usable;
  return cache_n - win > max_n || cache_bytes - win_bytes > max_bytes;
}

/* Unmap the oldest cached mappings while over `max_n` entries or `max_bytes` (besides the
 * window), then purge. */
static size_t cache_shrink(uint64_t max_n, size_t max_bytes) {
  size_t n = 0;
  hm_lock_take(&large_lock, HM_HOLD_LARGE);
  while (cache_tail != NULL && over_limits(max_n, max_bytes)) {
    hm_large *l = cache_tail;
    cache_remove(l);
    forget(l);
    hm_lock_drop(&large_lock, HM_HOLD_LARGE);
    unmap_large(l);
    n++;
    hm_lock_take(&large_lock, HM_HOLD_LARGE);
  }
  purge_locked();
  hm_lock_drop(&large_lock, HM_HOLD_LARGE);
  return n;
}

size_t hm_large_trim(void) { return cache_shrink(0, 0); }

bool hm_large_recently_freed(const void *p) {
  bool hit = false;
  hm_lock_take(&large_lock, HM_HOLD_LARGE);
  for (unsigned i = 0; i < FREED_RING; i++) hit |= p != NULL && freed_ring[i] == (uintptr_t)p;
  hm_lock_drop(&large_lock, HM_HOLD_LARGE);
  return hit;
}

/* A usable range of `usable` bytes at a multiple of `align` (a power of two >= a page), with a
 * lead guard before it and a guard page after it while the budget allows, none past it; *lead and
 * *map_size say which (live_link counts it in vmas). Returns the user pointer. */
static char *map_with_guard(size_t usable, size_t align, size_t *lead, size_t *map_size) {
  if (hm_large_crowded()) {
    *lead = 0;
    *map_size = usable;
    atomic_fetch_add_explicit(&unguarded_n, 1, memory_order_relaxed);
    return hm_os_map_aligned(usable, align > HM_SS_SIZE ? align : HM_SS_SIZE);
  }
  /* the mapping starts on a chunk: a lead under 2 MiB at a 2 MiB boundary, else a whole chunk
   * just before a multiple of align */
  *lead = align < HM_SS_SIZE ? align : HM_SS_SIZE;
  *map_size = *lead + usable + HM_PAGE_SIZE;
  char *s = align < HM_SS_SIZE ? hm_os_map_guarded(*lead, usable, HM_PAGE_SIZE, HM_SS_SIZE, 0)
                               : hm_os_map_guarded(*lead, usable, HM_PAGE_SIZE, align, HM_SS_SIZE);
  return s != NULL ? s + *lead : NULL;
}

void *hm_large_alloc(size_t size, size_t align, bool zero) {
  (void)zero;   /* fresh mappings are zero */
  if (size > PTRDIFF_MAX - HM_SS_SIZE || align > ((size_t)1 << 40)) {
    errno = ENOMEM;
    return NULL;
  }
  size_t usable = PAGE_ROUND(size ? size : 1);
  size_t asked = align > HM_PAGE_SIZE ? align : HM_PAGE_SIZE;   /* free_aligned_sized checks it */
  if (asked <= HM_SS_SIZE) {   /* cache_n is read under the lock: no unlocked shortcut */
    hm_lock_take(&large_lock, HM_HOLD_LARGE);
    hm_large *c = cache_take(usable, asked);
    if (c != NULL) {
      c->magic = HM_LARGE_MAGIC;
      c->requested = size;
      c->align = asked;
      c->family = hm_tl_family;
      live_push(c);
    }
    purge_locked();
    hm_lock_drop(&large_lock, HM_HOLD_LARGE);
    hm_pool_purge();   /* with no lock of ours held */
    if (c != NULL && hm_os_protect_rw((void *)HM_UNHIDE(c->base), c->usable) != 0) {
      /* still PROT_NONE (the kernel refused the split): unmap it, map a fresh block */
      hm_lock_take(&large_lock, HM_HOLD_LARGE);
      live_remove(c);
      forget(c);
      hm_lock_drop(&large_lock, HM_HOLD_LARGE);
      unmap_large(c);
      c = NULL;
    }
    if (c != NULL) {
      void *p = (void *)HM_UNHIDE(c->base);
      hm_san_alloc(p, size, c->usable, false);
      if (zero) memset(p, 0, size);   /* a reused mapping holds old data */
      return p;
    }
  }
  hm_large *l = hm_meta_large_alloc();
  size_t map_size = 0, lead = 0;
  char *p = l ? map_with_guard(usable, asked, &lead, &map_size) : NULL;
  if (p == NULL) goto fail;
  l->base = HM_HIDE((uintptr_t)p);
  l->lead = lead;
  l->usable = usable;
  l->map_size = map_size;
  l->requested = size;
  l->align = asked;
  l->family = hm_tl_family;
  l->magic = HM_LARGE_MAGIC;
  if (!live_link(l)) {
    hm_os_unmap(p - lead, map_size);
    goto fail;
  }
  hm_san_alloc(p, size, usable, true);
  return p;
fail:
  if (l) hm_meta_large_free(l);
  errno = ENOMEM;
  return NULL;
}

void hm_large_free(hm_large *l, void *p) {
  bool at_base = (uintptr_t)p == HM_UNHIDE(l->base);
  if (!at_base || l->magic != HM_LARGE_MAGIC)
    hm_fatal(at_base && l->magic == HM_LARGE_CACHED ? "double free" : "invalid free", p);
  if (hm_unlikely(l->family != hm_tl_family)) hm_family_bad(p, l->family);   /* strict levels */
  hm_san_free(p, l->usable);
  /* at the quarantine levels a mapping over CACHE_BLOCK_MAX is cached too, its pages given back
   * at once: the window keeps its addresses reserved (PROT_NONE, registered) for Q frees, so the
   * kernel cannot map the next block there; past the window the byte limit unmaps it */
  bool big = l->usable > CACHE_BLOCK_MAX;
  bool keep = !big || hm_large_window() > 0;
  /* PROT_NONE before anyone can take it from the cache; a mapping that cannot be made PROT_NONE
   * is unmapped (a write after free must fault) */
  if (keep && hm_os_protect_none(p, l->usable) != 0) keep = false;
  if (keep && big) hm_os_purge(p, l->usable);
  hm_lock_take(&large_lock, HM_HOLD_LARGE);
  live_remove(l);
  if (keep) cache_push(l); else forget(l);
  if (keep && big) mark_purged(l);
  hm_lock_drop(&large_lock, HM_HOLD_LARGE);
  if (keep) cache_shrink(CACHE_MAX, CACHE_BYTES);
  else unmap_large(l);
  hm_pool_purge();
}

/* Grow or shrink in place when the page-rounded size allows, else move the pages into a new
 * aligned reservation by mremap. NULL (errno ENOMEM) leaves the block untouched; returns
 * HM_LARGE_MOVE when the caller should move the data to a small block instead. */
void *hm_large_realloc(hm_large *l, void *p, size_t size) {
  HM_CHECK((uintptr_t)p == HM_UNHIDE(l->base) && l->magic == HM_LARGE_MAGIC, "invalid pointer", p);
  size_t usable = PAGE_ROUND(size ? size : 1);
  if (usable <= l->usable) {
    /* a shrink to under half moves (the caller copies into a smaller block); growth stays */
    if (size <= HM_SMALL_REQ_MAX || (size < l->requested && usable < l->usable / 2)) return NULL;
    hm_lock_take(&large_lock, HM_HOLD_LARGE);
    l->requested = size;
    hm_lock_drop(&large_lock, HM_HOLD_LARGE);
    hm_san_resize(p, size, l->usable);
    return p;
  }
  if (size > PTRDIFF_MAX - HM_SS_SIZE) return NULL;
  size_t grown = PAGE_ROUND(l->usable + l->usable / 2);   /* room for the next growths */
  if (usable < grown && grown <= PTRDIFF_MAX - HM_SS_SIZE) usable = grown;
  /* the moved block has malloc's alignment only: a one-page lead guard (none past the budget) */
  bool guard = !hm_large_crowded();
  size_t lead = guard ? HM_PAGE_SIZE : 0;
  size_t map_size = lead + usable + (guard ? HM_PAGE_SIZE : 0);
  char *start = hm_os_reserve_aligned(map_size, HM_SS_SIZE);   /* mremap charges the growth */
  if (start == NULL) return NULL;
  char *target = start + lead;
  size_t old_usable = l->usable, old_map = l->map_size, old_lead = l->lead;
  unsigned old_vmas = vmas_of(l);
  uintptr_t old_base = HM_UNHIDE(l->base), old_start = map_start(l);
  /* Under large_lock, so registry and descriptor change together: register the new range, and
   * unregister the old chunks while they are still ours (once mremap has moved the pages the old
   * range is free, and another thread may map and register it). */
  hm_lock_take(&large_lock, HM_HOLD_LARGE);
  bool ok = hm_registry_set((uintptr_t)start, map_size, (uintptr_t)l);
  if (ok) {
    hm_registry_clear(old_start, old_map);
    /* the usable range alone: one VMA (the guards on either side are others) */
    ok = hm_os_remap_to((void *)old_base, old_usable, usable, target) != NULL;
    if (!ok) {
      hm_registry_set(old_start, old_map, (uintptr_t)l);
      hm_registry_clear((uintptr_t)start, map_size);
    }
  }
  if (ok) {
    freed_ring[freed_pos++ % FREED_RING] = old_base;   /* a later free(old) is a double free */
    live_bytes += usable - old_usable;
    l->base = HM_HIDE((uintptr_t)target);
    l->lead = lead;
    l->usable = usable;
    l->map_size = map_size;
    l->align = HM_PAGE_SIZE;   /* a realloc'd block has malloc's alignment only */
    atomic_fetch_add_explicit(&vmas, vmas_of(l), memory_order_relaxed);
    atomic_fetch_sub_explicit(&vmas, old_vmas, memory_order_relaxed);
  }
  hm_lock_drop(&large_lock, HM_HOLD_LARGE);
  if (!ok) {
    hm_os_unmap(start, map_size);
    return NULL;
  }
  /* the new guards are what is left of the reservation around the moved pages (PROT_NONE) */
  if (!guard) atomic_fetch_add_explicit(&unguarded_n, 1, memory_order_relaxed);
  if (old_lead) {   /* the old guards, each on its own: the pages between them are gone */
    hm_os_unmap((void *)old_start, old_lead);
    hm_os_unmap((void *)(old_base + old_usable), old_map - old_lead - old_usable);
  }
  hm_san_moved((void *)old_base, old_usable, target, l->requested, size, usable);
  hm_lock_take(&large_lock, HM_HOLD_LARGE);
  l->requested = size;
  hm_lock_drop(&large_lock, HM_HOLD_LARGE);
  return target;
}

void hm_large_stats(hak_stats_t *st) {
  hm_lock_take(&large_lock, HM_HOLD_LARGE);
  st->large_live = live_n;
  st->large_live_bytes = live_bytes;
  st->large_cached = cache_n;
  st->large_cached_bytes = cache_bytes;
  st->large_cached_purged = cache_purged;
  st->large_free_resident_bytes = cache_dirty_bytes;
  st->purge_calls += purge_calls;
  st->purged_bytes += purged_bytes;
  hm_lock_drop(&large_lock, HM_HOLD_LARGE);
  st->large_mappings = atomic_load_explicit(&vmas, memory_order_relaxed);
  st->large_map_budget = atomic_load_explicit(&vma_budget, memory_order_relaxed);
  st->large_unguarded = atomic_load_explicit(&unguarded_n, memory_order_relaxed);
}

void hm_large_counts(uint64_t *allocs, uint64_t *live) {
  hm_lock_take(&large_lock, HM_HOLD_LARGE);
  *allocs = large_allocs;
  *live = live_n;
  hm_lock_drop(&large_lock, HM_HOLD_LARGE);
}

/* Registered 2 MiB chunks that belong to large allocations. */
size_t hm_large_chunks(void) {
  size_t n = 0;
  hm_lock_take(&large_lock, HM_HOLD_LARGE);
  for (hm_large *l = live_head; l != NULL; l = l->next) n += (l->map_size + HM_SS_SIZE - 1) >> HM_SS_SHIFT;
  for (hm_large *l = cache_head; l != NULL; l = l->next) n += (l->map_size + HM_SS_SIZE - 1) >> HM_SS_SHIFT;
  hm_lock_drop(&large_lock, HM_HOLD_LARGE);
  return n;
}

#if HAK_DEBUG >= 1
/* The layout of a live or cached block: its mapping starts on a chunk; a guarded block has a lead
 * guard of whole pages (at least the alignment asked for, at most a chunk) to which the user
 * pointer is aligned and one guard page after the usable bytes, an unguarded block neither; every
 * chunk of the mapping is registered to it. */
static bool layout_ok(const hm_large *l, const char **why) {
  uintptr_t base = HM_UNHIDE(l->base);
  bool guarded = l->lead != 0;
  if (map_start(l) % HM_SS_SIZE != 0 || l->usable % HM_PAGE_SIZE != 0 || l->usable == 0 ||
      (guarded && (l->lead % HM_PAGE_SIZE != 0 || l->lead > HM_SS_SIZE || base % l->lead != 0 ||
                   l->map_size != l->lead + l->usable + HM_PAGE_SIZE)) ||
      (!guarded && l->map_size != l->usable) || base % l->align != 0 ||
      (guarded && l->lead < HM_SS_SIZE && l->lead < l->align)) {
    *why = "large: mapping layout (lead guard, usable, guard page)";
    return false;
  }
  for (uintptr_t a = map_start(l); a < map_start(l) + l->map_size; a += HM_SS_SIZE)
    if (hm_registry_lookup((void *)a) != ((uintptr_t)l)) {
      *why = "registry: a large mapping is not registered to its descriptor";
      return false;
    }
  return true;
}
#endif

HM_VALIDATOR bool hm_large_is_valid(const char **why) {
#if HAK_DEBUG >= 1
  bool ok = true;
  uint64_t n = 0, bytes = 0, maps = 0;
  hm_lock_take(&large_lock, HM_HOLD_LARGE);
  for (hm_large *l = live_head; l != NULL && ok; l = l->next) {
    n++;
    bytes += l->usable;
    maps += vmas_of(l);
    if (l->magic != HM_LARGE_MAGIC || l->requested > l->usable) {
      *why = "large: descriptor fields";
      ok = false;
    }
    if (ok) ok = layout_ok(l, why);
  }
  if (ok && (n != live_n || bytes != live_bytes)) {
    *why = "large: live count or bytes disagree with the list";
    ok = false;
  }
  n = bytes = 0;
  uint64_t purged = 0, dirty = 0, prev_at = UINT64_MAX;
  for (hm_large *l = cache_head; l != NULL && ok; l = l->next) {
    n++;
    purged += l->purged;
    dirty += l->purged ? 0 : l->usable;
    if (l->cached_at_ns > prev_at) {
      *why = "large: cache not ordered newest to oldest";
      ok = false;
    }
    prev_at = l->cached_at_ns;
    bytes += l->usable;
    maps += vmas_of(l);
    if (l->magic != HM_LARGE_CACHED || (l->next == NULL) != (l == cache_tail)) {
      *why = "large: cached mapping not cached, or not registered";
      ok = false;
    }
    if (ok) ok = layout_ok(l, why);
  }
  if (ok && (n != cache_n || bytes != cache_bytes || purged != cache_purged || over_limits(CACHE_MAX, CACHE_BYTES))) {
    *why = "large: cache count or bytes disagree with the list or the limits";
    ok = false;
  }
  if (ok && (dirty != cache_dirty_bytes || dirty > hm_retain_bytes())) {
    *why = "large: resident cached bytes disagree with the cache, or exceed the retain bound";
    ok = false;
  }
  if (ok && maps != atomic_load_explicit(&vmas, memory_order_relaxed)) {
    *why = "large: mapping count disagrees with the live and cached blocks";
    ok = false;
  }
  hm_lock_drop(&large_lock, HM_HOLD_LARGE);
  return ok;
#else
  (void)why;
  return true;
#endif
}
