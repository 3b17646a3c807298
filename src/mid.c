/* mid.c — the medium tier: 32 KiB < size <= 512 KiB, at the off and fast levels.
 *
 * A medium class takes a whole SuperSlab from the pool (every slot in state HM_SLOT_MID, no owner)
 * and cuts the 2 MiB into blocks of one size: four classes per power of two, 40 KiB (51 blocks)
 * to 512 KiB (4 blocks), every block 8 KiB-aligned and ending in its end canary (HM_CANARY bytes,
 * written by malloc, checked by free and realloc: a block serves requests up to its size - 8). A 64-bit mask per SuperSlab records its free
 * blocks, so a double free, or a pointer that is not a block start, is caught exactly. free gets
 * here from the fast path's "not my slab" branch: a MID slot is never owned.
 * Compared with a mapping per block (the large tier) a malloc/free pair makes no system call;
 * an emptied SuperSlab goes back to the pool's cache (count, memory and age limits apply), except
 * that each class keeps its last one, so a lone block allocated and freed in a loop does not
 * move a SuperSlab between the two every time; hak_trim and malloc_trim give those back too.
 * The strict levels send these sizes to the large tier instead (hm_mid_serves): there a block
 * ends at a guard page and is PROT_NONE once freed; only once the large tier's mappings reach
 * their budget (hm_large_crowded) do they come here again.
 * Invariants (mid_lock): per class, the list holds every SuperSlab of the class, those with a
 * free block first, linked through the pool's next / prev (free while the pool counts the
 * SuperSlab full); no bit of mid_free at or above mid_count; a listed SuperSlab is empty only if
 * it is the only one of its class.
 * Purge: a freed block's pages stay resident (its bit set in mid_dirty, an entry in the ring,
 * oldest first) until it has been free for HAKMEM_PURGE_DELAY_MS, or until more than
 * HAKMEM_PURGE_RETAIN_MB of freed blocks are resident; then the oldest are purged (the calls of
 * this tier drive it, a few entries per call). A block handed out again leaves mid_dirty; a ring
 * entry whose block is no longer dirty, or was freed again since (mid_seq differs), is dropped. resident == sum over the lists of dirty blocks * size.
 * Lock order: mid_lock, then the pool's (claim and release nest in it); the whole order, libc's
 * stdio list lock first, is in init.c.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"


static pthread_mutex_t mid_lock = PTHREAD_MUTEX_INITIALIZER;
static hm_ss_list lists[HM_MID_CLASSES];
static uint64_t mid_ss_n, mid_live, mid_live_bytes;
static uint64_t mid_allocs;   /* medium blocks handed out since start-up (frees: mid_allocs - mid_live) */
static uint64_t mid_rng;
static uint64_t resident;            /* bytes of the dirty blocks */
static uint64_t mid_purge_calls, mid_purged_bytes;
#define MID_RING 512u
static struct { hm_superslab *ss; uint64_t at_ns; uint32_t seq, i; } ring[MID_RING];
static unsigned ring_first, ring_len;
static uint32_t ring_seq;            /* numbers the frees queued */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* Deterministic fuzzing (docs/fuzzing.md): each input starts the picks from the same state, so an
 * input takes the same path however many inputs the process ran before it. */
void hm_mid_fuzz_reset(void) { mid_rng = 0; }
#endif

void hm_mid_lock(void) { hm_lock_take(&mid_lock, HM_HOLD_MID); }
/* A forked child's medium picks go on differently from the parent's (the child's only thread). */
void hm_mid_atfork_child(void) {
  mid_rng = hm_seed_mix((mid_rng ? mid_rng : hm_secret) ^ ((uint64_t)getpid() << 40));
}
void hm_mid_unlock(void) { hm_lock_drop(&mid_lock, HM_HOLD_MID); }
void hm_mid_atfork_reset(void) { pthread_mutex_init(&mid_lock, NULL); }

/* Class k (0..15) serves (size(k - 1), size(k)] where size(k) = (5 + k % 4) << (13 + k / 4). */
static uint32_t class_size(unsigned k) { return (uint32_t)(5u + k % 4u) << (13u + k / 4u); }
static unsigned class_of(size_t size) {
  size_t s = size - 1;
  unsigned e = 63u - (unsigned)__builtin_clzll((unsigned long long)s);   /* 15 .. 18 */
  return (e - 15u) * 4u + (unsigned)(s >> (e - 2u)) - 4u;
}
HM_STATIC_ASSERT(HM_SS_SIZE / (5u << 13) <= 64);   /* the free mask holds every block */

/* ---- the class lists (mid_lock held) ----------------------------------------------------------- */
/* the free mask of `ss` with every block free */
static uint64_t all_free(const hm_superslab *ss) {
  return ss->mid_count == 64 ? ~0ull : (1ull << ss->mid_count) - 1;
}

/* A free block of `ss`: the lowest, or with HM_MIT_RANDOM a random one of the (up to) MID_WINDOW
 * lowest dirty ones (resident: freed, not purged), topped up with the lowest clean ones to at
 * least two candidates, so the next block's address cannot be told from the last one's while
 * the blocks in use stay packed on the pages already resident: a clean block is touched only
 * when fewer than two dirty ones are left. (A window over every free block touched a new block
 * with most picks and, over time, kept every block of every class resident: peak RSS of
 * bench_size_sweep 150 42 22.8 MB that way, 15.2 MB this way, 12.6 MB for the lowest always.) */
#define MID_WINDOW 8u
static unsigned pick(const hm_superslab *ss) {
  uint64_t m = ss->mid_free;
  if (!(hm_mit & HM_MIT_RANDOM)) return (unsigned)__builtin_ctzll(m);
  uint64_t x = hm_xorshift64(mid_rng ? mid_rng : (hm_secret | 1u));
  mid_rng = x;
  uint64_t dirty = m & ss->mid_dirty, cand = 0;
  for (unsigned n = 0; dirty != 0 && n < MID_WINDOW; n++, dirty &= dirty - 1) cand |= dirty & -dirty;
  for (uint64_t clean = m & ~cand & ~ss->mid_dirty; clean != 0 && __builtin_popcountll(cand) < 2;
       clean &= clean - 1)
    cand |= clean & -clean;
  unsigned n = (unsigned)__builtin_popcountll(cand);
  for (unsigned r = (unsigned)(((x >> 32) * n) >> 32); r > 0; r--) cand &= cand - 1;   /* drop the r lowest */
  return (unsigned)__builtin_ctzll(cand);
}

/* ---- purge (mid_lock held) --------------------------------------------------------------------- */
/* Block i of `ss` stops being dirty: handed out (its pages will be written) or purged. */
static void undirty(hm_superslab *ss, unsigned i) {
  if (!((ss->mid_dirty >> i) & 1u)) return;
  ss->mid_dirty &= ~(1ull << i);
  resident -= ss->mid_size;
}

/* The ring's oldest entry leaves it; its block is purged if still free and dirty (returns
 * whether it was). An entry's SuperSlab header stays metadata (the arena never unmaps it) and a
 * released SuperSlab's mid_dirty is 0, so a stale entry finds nothing to do. */
static bool ring_pop_purge(void) {
  hm_superslab *ss = ring[ring_first].ss;
  unsigned i = ring[ring_first].i;
  uint32_t seq = ring[ring_first].seq;
  ring_first = (ring_first + 1) % MID_RING;
  ring_len--;
  if (atomic_load_explicit(&ss->slabs[0].state, memory_order_relaxed) != HM_SLOT_MID ||
      !((ss->mid_dirty & ss->mid_free) >> i & 1u) || ss->mid_seq[i] != seq)
    return false;
  hm_os_purge((void *)(HM_UNHIDE(ss->base) + (uintptr_t)i * ss->mid_size), ss->mid_size);
  mid_purge_calls++;
  mid_purged_bytes += ss->mid_size;
  undirty(ss, i);
  return true;
}

/* Purge what is due (HM_PURGE_BATCH blocks, past at most 16 times as many stale entries), then
 * the oldest while over the bound. */
static void purge_locked(void) {
  if (ring_len == 0) return;
  uint64_t now = hm_now_ns(), delay_ns = hm_cfg.purge_delay_ms * 1000000u;
  for (unsigned n = 0, steps = 0; n < HM_PURGE_BATCH && steps < 16 * HM_PURGE_BATCH && ring_len != 0; steps++) {
    uint64_t at = ring[ring_first].at_ns;
    if (now < at || now - at < delay_ns) break;
    n += ring_pop_purge();
  }
  while (resident > hm_retain_bytes() && ring_len != 0) ring_pop_purge();
}

/* Block i of `ss` was just freed: dirty, queued. */
static void queue(hm_superslab *ss, unsigned i) {
  if (ring_len == MID_RING) ring_pop_purge();
  ss->mid_dirty |= 1ull << i;
  resident += ss->mid_size;
  unsigned at = (ring_first + ring_len) % MID_RING;
  ring[at].ss = ss;
  ring[at].i = i;
  ring[at].seq = ss->mid_seq[i] = ++ring_seq;
  ring[at].at_ns = hm_now_ns();
  ring_len++;
}

/* A SuperSlab leaving the tier: its dirty blocks stop counting here (the pool counts it now). */
static void forget_dirty(hm_superslab *ss) {
  resident -= (uint64_t)__builtin_popcountll(ss->mid_dirty) * ss->mid_size;
  ss->mid_dirty = 0;
}

void *hm_mid_alloc(size_t size) {
  HAK_ASSERT(hm_mid_serves(size));
  unsigned k = class_of(size + HM_CANARY);   /* room for the end canary */
  uint32_t bs = class_size(k);
  hm_lock_take(&mid_lock, HM_HOLD_MID);
  hm_ss_list *l = &lists[k];
  hm_superslab *ss = l->head;
  if (ss == NULL || ss->mid_free == 0) {
    ss = hm_pool_claim_whole();
    if (ss == NULL) {
      hm_lock_drop(&mid_lock, HM_HOLD_MID);
      errno = ENOMEM;
      return NULL;
    }
    HM_STORE_RELAXED(ss->mid_size, bs);
    ss->mid_count = (uint32_t)(HM_SS_SIZE / bs);
    HM_STORE_RELAXED(ss->mid_free, all_free(ss));
    ss->mid_dirty = 0;
    hm_ss_list_push_head(l, ss);
    mid_ss_n++;
  }
  unsigned i = pick(ss);
  undirty(ss, i);
  HM_STORE_RELAXED(ss->mid_free, ss->mid_free & ~(1ull << i));
  mid_live++;
  mid_allocs++;
  mid_live_bytes += bs - HM_CANARY;
  if (ss->mid_free == 0 && ss != l->tail) {   /* full: behind the ones with room */
    hm_ss_list_remove(l, ss);
    hm_ss_list_push_tail(l, ss);
  }
  purge_locked();
  hm_lock_drop(&mid_lock, HM_HOLD_MID);
  void *p = (void *)(HM_UNHIDE(ss->base) + (uintptr_t)i * bs);
  hm_canary_set(p, bs);
  hm_san_alloc(p, size, bs - HM_CANARY, false);
  return p;
}

/* true if `p` is the start of a block of `ss` (live: one the program holds). No lock: callers
 * hold a block of `ss` (so its geometry is fixed) or are about to abort; free re-checks under it.
 * The fields it reads are written with HM_STORE_RELAXED for that reason. */
bool hm_mid_block_ok(const void *p, const hm_superslab *ss, bool live) {
  uintptr_t off = (uintptr_t)p - HM_UNHIDE(ss->base);
  uint32_t bs = HM_LOAD_RELAXED(ss->mid_size);
  if (bs == 0 || off % bs != 0 || off / bs >= HM_SS_SIZE / bs) return false;
  return !live || !((HM_LOAD_RELAXED(ss->mid_free) >> (off / bs)) & 1u);
}

void hm_mid_free(void *p, hm_superslab *ss) {
  hm_lock_take(&mid_lock, HM_HOLD_MID);
  /* re-checked under the lock: the SuperSlab may have gone back to the pool meanwhile */
  if (atomic_load_explicit(&ss->slabs[0].state, memory_order_relaxed) != HM_SLOT_MID) {
    hm_lock_drop(&mid_lock, HM_HOLD_MID);
    hm_fatal("invalid free", p);
  }
  uint32_t bs = ss->mid_size;
  uintptr_t off = (uintptr_t)p - HM_UNHIDE(ss->base);
  if (off % bs != 0 || off / bs >= ss->mid_count) {
    hm_lock_drop(&mid_lock, HM_HOLD_MID);
    hm_fatal("invalid free", p);
  }
  unsigned i = (unsigned)(off / bs);
  if ((ss->mid_free >> i) & 1u) {
    hm_lock_drop(&mid_lock, HM_HOLD_MID);
    hm_fatal("double free", p);
  }
  if (!hm_canary_ok(p, bs)) {
    hm_lock_drop(&mid_lock, HM_HOLD_MID);
    hm_canary_bad(p);
  }
  hm_san_free(p, bs - HM_CANARY);
  hm_ss_list *l = &lists[class_of(bs)];
  bool was_full = ss->mid_free == 0;
  HM_STORE_RELAXED(ss->mid_free, ss->mid_free | (1ull << i));
  mid_live--;
  mid_live_bytes -= bs - HM_CANARY;
  if (ss->mid_free == all_free(ss) && l->len > 1) {   /* empty, not the class's last: to the pool */
    hm_ss_list_remove(l, ss);
    mid_ss_n--;
    forget_dirty(ss);
    hm_pool_release_whole(ss);
  } else {
    queue(ss, i);
    if (was_full && ss != l->head) {
      hm_ss_list_remove(l, ss);
      hm_ss_list_push_head(l, ss);
    }
  }
  purge_locked();
  hm_lock_drop(&mid_lock, HM_HOLD_MID);
}

void hm_mid_purge(void) {
  hm_lock_take(&mid_lock, HM_HOLD_MID);
  purge_locked();
  hm_lock_drop(&mid_lock, HM_HOLD_MID);
}

size_t hm_mid_trim(void) {
  size_t n = 0;
  hm_lock_take(&mid_lock, HM_HOLD_MID);
  for (unsigned k = 0; k < HM_MID_CLASSES; k++) {
    hm_superslab *ss = lists[k].head;
    if (ss != NULL && ss->mid_free == all_free(ss)) {   /* the kept empty one is alone in its list */
      hm_ss_list_remove(&lists[k], ss);
      mid_ss_n--;
      forget_dirty(ss);
      hm_pool_release_whole(ss);
      n++;
    }
  }
  while (ring_len != 0) ring_pop_purge();   /* every free block of the SuperSlabs kept */
  hm_lock_drop(&mid_lock, HM_HOLD_MID);
  return n;
}

/* The pool's counters and the medium tier's in one snapshot: mid_lock is held across both (claims
 * and releases of medium SuperSlabs nest in it), so mid_superslabs <= ss_in_use holds in what a
 * caller sees even while other threads allocate. */
void hm_mid_pool_stats(hak_stats_t *st) {
  hm_lock_take(&mid_lock, HM_HOLD_MID);
  hm_pool_stats(st);
  st->mid_live = mid_live;
  st->mid_live_bytes = mid_live_bytes;
  st->mid_superslabs = mid_ss_n;
  st->mid_free_resident_bytes = resident;
  st->purge_calls += mid_purge_calls;
  st->purged_bytes += mid_purged_bytes;
  hm_lock_drop(&mid_lock, HM_HOLD_MID);
}

void hm_mid_counts(uint64_t *allocs, uint64_t *live) {
  hm_lock_take(&mid_lock, HM_HOLD_MID);
  *allocs = mid_allocs;
  *live = mid_live;
  hm_lock_drop(&mid_lock, HM_HOLD_MID);
}

HM_VALIDATOR bool hm_mid_is_valid(const char **why) {
#if HAK_DEBUG >= 1
  bool ok = true;
  uint64_t n = 0, live = 0, bytes = 0, dirty = 0;
  hm_lock_take(&mid_lock, HM_HOLD_MID);
  for (unsigned k = 0; k < HM_MID_CLASSES && ok; k++) {
    uint32_t len = 0;
    bool seen_full = false;
    hm_superslab *last = NULL;
    for (hm_superslab *ss = lists[k].head; ss != NULL && ok; last = ss, ss = ss->next) {
      len++;
      uint32_t bs = class_size(k), used = ss->mid_count - (uint32_t)__builtin_popcountll(ss->mid_free);
      bool every_mid = true;
      for (unsigned i = 0; i < HM_SLABS_PER_SS; i++)
        every_mid &= atomic_load_explicit(&ss->slabs[i].state, memory_order_relaxed) == HM_SLOT_MID;
      if (ss->magic != HM_SS_MAGIC || !every_mid || ss->mid_size != bs || ss->mid_count != HM_SS_SIZE / bs ||
          ss->prev != last || len > lists[k].len) {
        *why = "mid: SuperSlab in a class list is not a SuperSlab of that class";
        ok = false;
      } else if ((ss->mid_free & ~all_free(ss)) != 0) {
        *why = "mid: a free bit past the last block";
        ok = false;
      } else if ((ss->mid_dirty & ~ss->mid_free) != 0) {
        *why = "mid: a block in use is marked dirty (free and resident)";
        ok = false;
      } else if ((seen_full && ss->mid_free != 0) || (used == 0 && lists[k].len > 1)) {
        *why = "mid: class list out of order, or an empty SuperSlab kept beside others";
        ok = false;
      }
      seen_full |= ss->mid_free == 0;
      live += used;
      bytes += (uint64_t)used * (bs - HM_CANARY);
      dirty += (uint64_t)__builtin_popcountll(ss->mid_dirty) * bs;
    }
    n += len;
    if (ok && (len != lists[k].len || lists[k].tail != last)) {
      *why = "mid: class list length or tail";
      ok = false;
    }
  }
  if (ok && (n != mid_ss_n || live != mid_live || bytes != mid_live_bytes)) {
    *why = "mid: SuperSlab, block or byte count disagrees with the lists";
    ok = false;
  }
  if (ok && (dirty != resident || resident > hm_retain_bytes())) {
    *why = "mid: resident free bytes disagree with the lists, or exceed the retain bound";
    ok = false;
  }
  hm_lock_drop(&mid_lock, HM_HOLD_MID);
  return ok;
#else
  (void)why;
  return true;
#endif
}
