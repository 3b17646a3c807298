/* Types shared by the modules and their cross-file prototypes, grouped by the file that defines
 * them, followed by the small inline helpers of the fast paths. */
#ifndef HM_INTERNAL_H
#define HM_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include "config.h"
#include "debug.h"
#include "hakmem.h"
#include "san.h"

#pragma GCC visibility push(hidden)   /* nothing below leaves the library: direct addressing */

/* Block addresses kept in metadata (a SuperSlab's base, a slab's start, a large block's base)
 * are stored through HM_HIDE: in Valgrind builds they are flipped into non-canonical values, so
 * memcheck's leak scan does not count the metadata as a pointer to the first block of a slab or
 * to a large block; elsewhere HM_HIDE is the identity. Read them back with HM_UNHIDE. */
#ifdef HM_VG
#define HM_HIDE(a) ((uintptr_t)(a) ^ ((uintptr_t)1 << 63))
#else
#define HM_HIDE(a) ((uintptr_t)(a))
#endif
#define HM_UNHIDE(a) HM_HIDE(a)

/* ---- types ------------------------------------------------------------------------------------ */
typedef struct hm_block { uintptr_t next_enc; } hm_block;   /* a free block: its encoded next */

/* MID: the whole SuperSlab serves one medium class (mid.c); such a slot has no owner. */
typedef enum { HM_SLOT_UNUSED = 0, HM_SLOT_ACTIVE = 1, HM_SLOT_EMPTY = 2, HM_SLOT_MID = 3 } hm_slot_state;

struct hm_heap;
struct hm_superslab;

/* One 64 KiB slab. Owner-only fields are written by the owning heap's thread alone;
 * invariant: used + len(free) + (capacity - carved) == capacity, used == popcount(bitmap);
 * used counts the blocks other threads freed that the owner has not taken yet (remote_n). */
typedef struct hm_slab {
  /* first cache line: what the owner's malloc and free touch */
  hm_block *free;                 /* local free list (next pointers encoded) */
  uint32_t used;                  /* blocks held by the program or freed remotely, not taken */
  uint32_t block_size;            /* bytes per block */
  uint32_t inv;                   /* ceil(2^32 / block_size): index = off * inv >> 32 */
  uint16_t capacity;              /* blocks that fit: HM_SLAB_SIZE / block_size */
  uint16_t carved;                /* blocks [0, carved) have been handed to the free list */
  uint8_t cls;                    /* size class while ACTIVE */
  uint8_t index;                  /* slot in the SuperSlab */
  _Atomic uint8_t state;          /* hm_slot_state; written under the pool lock */
  uint8_t in_list;                /* 1: in its owner's class list, 2: in the abandoned list */
  uint16_t quarantined;           /* freed blocks held back by the owner's quarantine */
  uintptr_t start;                /* first byte of the slab */
  uint64_t *bitmap;               /* 1 bit per block: 1 = held by the program */
  _Atomic(struct hm_heap *) owner;/* owning heap; NULL when unowned (free or abandoned) */
  uint64_t allocs;                /* blocks popped for the program since the slab was claimed
                                   * (its owner writes, HM_STORE_RELAXED; folded into the pool's
                                   * per-class totals when the slab is released) */
  /* second line: written by other threads */
  _Alignas(64) _Atomic uintptr_t remote; /* frees while unowned or the owner exits (heap.c) */
  struct hm_superslab *ss;        /* the SuperSlab holding the slab */
  _Atomic uint32_t remote_n;      /* blocks freed by other threads, not yet taken by the owner */
  struct hm_slab *next, *prev;    /* owner's class list, or the pool's abandoned list */
  uint64_t freed_at_ns;           /* last turned EMPTY in a SuperSlab still in use (pool lock) */
} hm_slab;
/* The owner of a slab that a thread is draining on behalf of nobody (an abandoned slab, heap.c);
 * never a heap's address, so no fast path matches it. */
#define HM_VISITOR ((struct hm_heap *)(uintptr_t)32)
HM_STATIC_ASSERT(sizeof(hm_slab) == 128);

/* A 2 MiB SuperSlab. Its header (this struct) lives out of line in the metadata arena. Pool-lock
 * fields: free_slots has bit i set iff slabs[i] is UNUSED or EMPTY; active == 32 - popcount. */
typedef struct hm_superslab {
  uintptr_t base;                 /* 2 MiB-aligned start of the 32 slabs */
  uint32_t magic;                 /* HM_SS_MAGIC while mapped */
  uint32_t free_slots;            /* bitmask of UNUSED | EMPTY slots */
  uint32_t unused_slots;          /* bitmask of never-used or purged slots (pages not resident) */
  uint32_t active;                /* ACTIVE slots */
  uint8_t where;                  /* hm_ss_where: partial list, full, or cache */
  uint8_t prewarmed;              /* mapped by prewarm and not used since */
  uint8_t purged;                 /* cached and its pages given back (hm_os_purge) since */
  uint8_t pad[1];
  uint32_t queued_slots;          /* EMPTY slots with resident pages, in the pool's slot ring */
  uint64_t cached_at_ns;          /* when it entered the cache */
  /* the one hm_ss_list it is on: the pool's partial or cache list (pool lock), or, claimed whole
   * by the medium tier, its class's list (mid lock); a full SuperSlab is on no pool list */
  struct hm_superslab *next, *prev;
  struct hm_superslab *all_next, *all_prev; /* every mapped SuperSlab (pool lock) */
  /* while every slot is MID (mid.c, its lock): blocks of one medium class over the 2 MiB */
  uint64_t mid_free;              /* bit i set: block i is free; no bit at or above mid_count */
  uint64_t mid_dirty;             /* of mid_free: freed since claimed or purged (pages resident) */
  uint32_t mid_seq[64];           /* per block: the purge ring's number for its last free */
  uint32_t mid_size;              /* bytes per block */
  uint32_t mid_count;             /* blocks that fit: 2 MiB / mid_size */
  hm_slab slabs[HM_SLABS_PER_SS];
  /* 1 bit per 8-byte granule of the 2 MiB: word (p & (2 MiB - 1)) >> 9, bit (p >> 3) & 63 */
  uint64_t bitmap[HM_SLABS_PER_SS * HM_BITMAP_WORDS];
} hm_superslab;
#define HM_SS_MAGIC 0x53537331u
typedef enum { HM_SS_PARTIAL = 1, HM_SS_FULL = 2, HM_SS_CACHED = 3 } hm_ss_where;

/* A thread's heap: per size class, the slab it allocates from and the list of slabs it owns.
 * Other threads touch only `inbox`: they push the blocks they free into its slabs (heap.c). The
 * record is recycled, never unmapped, and meta.c clears a recycled one only up to `inbox`. */
#define HM_QUARANTINE_MAX 1024
typedef struct hm_heap {
  hm_slab *cur[HM_CLASSES];       /* the slab the thread allocates from, per class (or NULL) */
  hm_slab *list[HM_CLASSES];      /* owned slabs of the class (cur included) */
  hm_slab *tail[HM_CLASSES];      /* last slab of each list */
  uint32_t nslabs[HM_CLASSES];
  uint64_t rng;                   /* per-thread xorshift state for randomised slot order */
  uint32_t quar_len, quar_next;   /* quarantine ring: quar_len entries, oldest at quar_next */
  void *quar[HM_QUARANTINE_MAX];  /* freed blocks whose reuse is delayed (strict levels) */
  _Atomic uintptr_t inbox;        /* blocks freed by other threads (encoded links); 1: closed */
} hm_heap;

/* A large allocation: its own mapping, 2 MiB-aligned, a guard page after it. */
typedef struct hm_large {
  uintptr_t base;                 /* the user pointer: mapping start + lead */
  size_t map_size;                /* bytes mapped from the mapping start: lead + usable + a guard
                                   * page, or usable alone (unguarded) */
  size_t usable;                  /* bytes the user may use: a page multiple */
  size_t requested;               /* bytes asked for */
  size_t align;                   /* alignment asked for, at least a page: base % align == 0 */
  uint32_t magic;                 /* HM_LARGE_MAGIC while live */
  uint32_t purged;                /* cached and its usable pages given back since (large lock) */
  uint64_t cached_at_ns;          /* when it entered the cache (large lock) */
  struct hm_large *next, *prev;   /* live list (large lock) */
  size_t lead;                    /* PROT_NONE bytes before base (0: unguarded): the mapping
                                   * starts at base - lead, 2 MiB aligned */
  uint8_t family;                 /* HM_FAM_* of the live block (strict levels), else 0 */
} hm_large;
#define HM_LARGE_MAGIC 0x4c617267u

/* A 2 MiB chunk of zero-size blocks (zero.c): reserved PROT_NONE, never committed; its registry
 * entry is the descriptor's address | HM_REG_ZERO. 16-byte slots, a bit each (zero_lock). */
#define HM_ZERO_SLOT 16u
#define HM_ZERO_SLOTS (HM_SS_SIZE / HM_ZERO_SLOT)
typedef struct hm_zero_chunk {
  uintptr_t base;                 /* the chunk's first byte (HM_HIDE) */
  uint32_t magic;                 /* HM_ZERO_MAGIC */
  uint32_t live_n;                /* popcount(live) */
  uint32_t cursor;                /* where the next search for a free slot starts */
  struct hm_zero_chunk *next;     /* every chunk, newest first */
  uint64_t live[HM_ZERO_SLOTS / 64];   /* slot held by the program */
  uint64_t ever[HM_ZERO_SLOTS / 64];   /* slot handed out at least once */
} hm_zero_chunk;
#define HM_ZERO_MAGIC 0x5a65726fu

/* ---- os.c: the only file making memory system calls ------------------------------------------- */
void *hm_os_map_aligned(size_t size, size_t align);   /* charged; NULL on failure */
void *hm_os_reserve_aligned(size_t size, size_t align);   /* PROT_NONE, not charged */
void *hm_os_map_guarded(size_t lead, size_t size, size_t tail, size_t align, size_t skew);   /* os.c */
uint64_t hm_os_max_map_count(uint64_t fallback);          /* vm.max_map_count */
void hm_os_unmap(void *p, size_t size);
void hm_os_purge(void *p, size_t size);   /* pages back to the kernel, range stays mapped */
void *hm_os_map(size_t size);
int hm_os_protect_none(void *p, size_t size);
int hm_os_protect_rw(void *p, size_t size);
void *hm_os_remap_to(void *old, size_t old_size, size_t new_size, void *target);
void hm_os_decommit(void *p, size_t size);
bool hm_os_random(void *buf, size_t size);   /* getrandom, non-blocking; false if none */
#ifdef HAK_TEST_HOOKS
void hm_os_fail_nth(int kind, uint64_t n, uint64_t count);   /* hak_test_fail_nth (testhook.c) */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
void hm_os_fuzz_reset(size_t offset);   /* fz_begin: mappings from a fixed address again */
#endif
uint64_t hm_os_fault_calls(int kind);
uint64_t hm_os_fault_hits(void);
size_t hm_os_fault_last_size(void);
uint64_t hm_os_mapped_bytes(void);
#endif
typedef struct hm_os_counters {
  _Atomic uint64_t mmap, munmap, mremap, madvise, mprotect;
} hm_os_counters;
extern hm_os_counters hm_os_count;

/* ---- registry.c: pointer -> owner, O(1), lock-free reads --------------------------------------- */
#define HM_REG_SS 1u                          /* tag bit of a registry entry for an hm_superslab */
#define HM_REG_ZERO 2u   /* tag of an hm_zero_chunk's entry (HM_REG_SS clear: hm_free_other) */
#define HM_REG_ENTRIES ((uintptr_t)1 << (HM_ADDR_BITS - HM_SS_SHIFT))  /* 2 MiB chunks covered */
#define HM_REG_LEAF_SHIFT 9                   /* a leaf: 512 entries = 4 KiB, 1 GiB of addresses */
#define HM_REG_LEAF ((uintptr_t)1 << HM_REG_LEAF_SHIFT)
#define HM_REG_TOP (HM_REG_ENTRIES / HM_REG_LEAF)
HM_STATIC_ASSERT(HM_REG_LEAF * sizeof(uintptr_t) == HM_PAGE_SIZE);
/* leaf pointers (NULL: no chunk of that GiB registered yet); a published leaf is never freed */
extern _Atomic(_Atomic uintptr_t *) hm_reg_top[HM_REG_TOP];
bool hm_registry_set(uintptr_t addr, size_t size, uintptr_t entry);  /* every 2 MiB chunk */
void hm_registry_clear(uintptr_t addr, size_t size);
size_t hm_registry_count(void);
bool hm_registry_is_valid(const char **why, bool light);   /* light: no leaf walk */
void hm_registry_lock(void);
void hm_registry_unlock(void);
void hm_registry_atfork_reset(void);

/* ---- meta.c: fixed-size metadata objects out of line from user blocks -------------------------- */
hm_superslab *hm_meta_ss_alloc(void);
void hm_meta_ss_free(hm_superslab *ss);
void hm_meta_ss_purge(hm_superslab *ss);   /* the bitmaps' pages back (every bit clear) */
hm_large *hm_meta_large_alloc(void);
void hm_meta_large_free(hm_large *l);
hm_heap *hm_meta_heap_alloc(void);
void hm_meta_heap_free(hm_heap *h);
void hm_meta_lock_all(uint32_t skip);     /* but the pools whose HM_HOLD_META_* bit is in skip */
void hm_meta_unlock_all(uint32_t skip);
void hm_meta_atfork_reset(uint32_t which); /* the child: re-initialise the pools of `which` */

/* ---- lists of SuperSlabs through next / prev (the owner's lock held) ---------------------------- */
typedef struct hm_ss_list { hm_superslab *head, *tail; size_t len; } hm_ss_list;
HM_INLINE void hm_ss_list_push_head(hm_ss_list *l, hm_superslab *ss) {
  ss->prev = NULL;
  ss->next = l->head;
  if (l->head) l->head->prev = ss; else l->tail = ss;
  l->head = ss;
  l->len++;
}
HM_INLINE void hm_ss_list_push_tail(hm_ss_list *l, hm_superslab *ss) {
  ss->next = NULL;
  ss->prev = l->tail;
  if (l->tail) l->tail->next = ss; else l->head = ss;
  l->tail = ss;
  l->len++;
}
HM_INLINE void hm_ss_list_remove(hm_ss_list *l, hm_superslab *ss) {
  if (ss->prev) ss->prev->next = ss->next; else l->head = ss->next;
  if (ss->next) ss->next->prev = ss->prev; else l->tail = ss->prev;
  ss->next = ss->prev = NULL;
  l->len--;
}

/* ---- pool.c: SuperSlabs, their slots, the LRU cache, prewarm ----------------------------------- */
hm_slab *hm_pool_claim_slab(struct hm_heap *h, unsigned cls);   /* ACTIVE, owned by h; or NULL */
hm_superslab *hm_pool_claim_whole(void);                        /* every slot MID; or NULL */
void hm_pool_release_whole(hm_superslab *ss);                   /* every slot MID -> EMPTY */
void hm_pool_release_slab(hm_slab *s);          /* ACTIVE (owned or abandoned) -> EMPTY */
void hm_pool_abandon_slab(hm_slab *s);                          /* owner gone, blocks remain */
hm_slab *hm_pool_adopt_any(struct hm_heap *h, unsigned cls);    /* an abandoned slab of cls */
size_t hm_pool_trim(void);
size_t hm_pool_evict(void);
void hm_pool_purge(void);   /* purge what is due (other tiers' slow paths drive it) */
int hm_pool_prewarm(int tiny_class, uint32_t count);
void hm_pool_get_limits(hak_limits_t *out);
void hm_pool_set_limits(const hak_limits_t *l);
void hm_pool_stats(hak_stats_t *st);
size_t hm_pool_mapped(void);
bool hm_pool_is_valid(const char **why);
void hm_pool_init(void);
void hm_pool_lock(void);
void hm_pool_unlock(void);
void hm_pool_atfork_reset(void);    /* the child of a fork that left pool_lock alone */
uint64_t hm_now_ns(void);
extern _Atomic uint64_t hm_clock_offset_ns;
extern _Atomic uint32_t hm_prewarm_bypass;

/* ---- heap.c: size classes, thread heaps, small malloc/free ------------------------------------ */
extern const uint32_t hm_class_size[HM_CLASSES];
extern const uint8_t hm_class_lut[HM_SMALL_MAX / 8 + 1];   /* by (need + 7) / 8 */
/* The calling thread's heap (hm_tl_self; HM_NO_HEAP before its first allocation and after its
 * exit) and the fast paths' view of it: hm_tl_heap and, per class, hm_tl_cur (the slab to pop
 * from; &hm_empty_slab, whose free list is always empty, when there is none). The views equal
 * the heap's own state at the fast level; under strict levels they stay empty, so every malloc
 * and free takes the slow path, where the per-block mitigations run. */
extern __thread hm_heap *hm_tl_self;
extern hm_slab hm_empty_slab;
#define HM_NO_HEAP ((hm_heap *)(uintptr_t)16)
extern __thread hm_heap *hm_tl_heap;
extern __thread hm_slab *hm_tl_cur[HM_CLASSES];
void *hm_heap_malloc_slow(unsigned cls, size_t size);
HM_COLD void hm_free_bad(const void *p, const hm_slab *s);
void hm_heap_free_slow(void *p, hm_slab *s);
void hm_slab_init(hm_slab *s, unsigned cls);
void hm_heap_flush(hm_heap *h);
void hm_heap_key_init(void);
void *hm_heap_alloc(unsigned cls);   /* a block of cls from the thread's heap; NULL: no memory */
HM_INLINE uint64_t hm_xorshift64(uint64_t x) {   /* one step of Marsaglia's xorshift64 */
  x ^= x << 13;
  x ^= x >> 7;
  return x ^ (x << 17);
}
uint64_t hm_seed_mix(uint64_t z);   /* splitmix64's finaliser, odd: a seed for an xorshift state */
void hm_heap_atfork_child(void);    /* reseed the forking thread's heap in the child */
void hm_heap_thread_exit(void *heap);
void hm_heap_late_lock(void);       /* fork: the heap of threads past their teardown (heap.c) */
void hm_heap_late_unlock(void);
void hm_heap_late_atfork_reset(void);
bool hm_heap_is_valid(hm_heap *h, const char **why);
bool hm_slab_is_valid(const hm_slab *s, const char **why);
int hm_aligned_class(size_t need, size_t align);
void *hm_small_alloc_aligned(size_t size, size_t align, unsigned cls);
extern _Atomic uint64_t hm_remote_free_count;
extern _Atomic uint64_t hm_adopt_count;

/* ---- hardening levels (harden.c; per-block mitigations in mitigate.c) ------------------------------- */
enum {
  HM_MIT_RANDOM = 1u,       /* randomised order of freshly carved blocks */
  HM_MIT_CANARY = 2u,       /* canary bytes in the slack after the request, checked on free */
  HM_MIT_ZERO = 4u,         /* freed blocks are zeroed */
  HM_MIT_REUSE_CHECK = 8u,  /* ... and checked to be still zero when handed out again */
  HM_MIT_QUARANTINE = 16u,  /* freed blocks wait in a per-thread ring before reuse */
};
/* Bits that need every small malloc and free on the slow path. */
#define HM_MIT_PER_BLOCK (HM_MIT_CANARY | HM_MIT_ZERO | HM_MIT_REUSE_CHECK | HM_MIT_QUARANTINE)
extern uint32_t hm_mit;           /* mitigations in force (set once at start-up) */
extern uint32_t hm_quarantine_len;
extern int hm_harden_level;       /* 0 off, 1 fast, 2 strict, 3 paranoid */
extern const char *const hm_harden_names[4];
void hm_harden_set_level(int level);

/* ---- stats.c: counts, always on ------------------------------------------------------------------
 * Allocations are counted where they happen, frees never: a small block popped from a slab adds
 * one to the slab's `allocs` (one instruction on the malloc fast path, none on free), the medium,
 * large and zero-size tiers count under the lock their allocation takes anyway. Per class,
 * frees = allocs - live, live being the exact count of blocks the program holds that every tier
 * keeps already (a slab's used - remote_n; the medium and large tiers' live counts). */
void hm_stats_init(void);
/* Work the thread does when it leaves its last lock (hm_lock_drop): a report whose signal came
 * while it held a lock, a sample of the live bytes for the peak that a growth event asked for. */
enum { HM_DUE_REPORT = 1u, HM_DUE_SAMPLE = 2u };
extern __thread uint8_t hm_tl_stats_due;   /* HM_DUE_* bits, set and taken with atomic operations
                                            * (a signal handler sets them too) */
void hm_stats_due(void);
void hm_stats_grew(void);   /* a slab, SuperSlab or large block was taken: maybe sample the peak */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
void hm_stats_fuzz_reset(void);   /* fz_begin: sampling and the peak from zero */
#endif
/* pool.c: per small class, allocations ever and blocks live now (adds to both arrays) */
void hm_pool_class_counts(uint64_t allocs[HM_CLASSES], uint64_t live[HM_CLASSES]);
void hm_mid_counts(uint64_t *allocs, uint64_t *live);     /* mid.c, one snapshot */
void hm_large_counts(uint64_t *allocs, uint64_t *live);   /* large.c, one snapshot */
void hm_zero_counts(uint64_t *allocs, uint64_t *live);    /* zero.c, one snapshot */
/* mitigate.c */
void hm_quarantine_flush(hm_heap *h);
void *hm_strict_malloc(size_t size, size_t align);
void hm_strict_free(void *p, hm_slab *s, bool local);
size_t hm_strict_requested(const void *p, const hm_slab *s);
bool hm_strict_size_ok(const void *p, const hm_slab *s, size_t size, size_t align);

/* ---- api.c: checked frees and allocation families (cxx.c's operators use them) ---------------- */
enum { HM_FAM_MALLOC = 0, HM_FAM_NEW = 1, HM_FAM_ARRAY = 2, HM_FAM_COUNT = 3 };
/* HM_FAM_* of the allocation or free the thread is in (strict levels; else HM_FAM_MALLOC) */
extern __thread uint8_t hm_tl_family;
void hm_free_checked(void *p, size_t size, bool sized, size_t align, const char *what);
__attribute__((noreturn, cold)) void hm_family_bad(const void *p, unsigned allocated);   /* aborts */

/* ---- mid.c: 32 KiB < size <= 512 KiB in SuperSlabs given whole to one medium class ---------- */
/* The strict levels' per-block mitigations. With any of them on, the sizes of the medium tier go
 * to the large tier (guard page, PROT_NONE after free) and a large block keeps no growth room
 * (slack past the request that no check covers); the medium tier serves the off and fast levels. */
#define HM_MIT_STRICT (HM_MIT_CANARY | HM_MIT_ZERO | HM_MIT_REUSE_CHECK | HM_MIT_QUARANTINE)
bool hm_large_crowded(void);   /* large.c: its mappings have reached the mapping budget */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
void hm_large_fuzz_reset(void);   /* fz_begin: the ring of freed bases emptied */
#endif
/* The medium tier serves 32 KiB < size <= 512 KiB at the off and fast levels, and at the strict
 * ones too once the large tier is at its mapping budget (each large block is a mapping). */
HM_INLINE bool hm_mid_serves(size_t size) {
  return size > HM_SMALL_REQ_MAX && size <= HM_MID_REQ_MAX &&
         (!(hm_mit & HM_MIT_STRICT) || hm_large_crowded());
}
void *hm_mid_alloc(size_t size);                /* NULL with errno ENOMEM */
void hm_mid_free(void *p, hm_superslab *ss);    /* aborts on a double or invalid free */
bool hm_mid_block_ok(const void *p, const hm_superslab *ss, bool live);  /* a (live) block start */
size_t hm_mid_trim(void);                       /* give back each class's kept empty SuperSlab */
void hm_mid_purge(void);                        /* purge the freed blocks that are due */
void hm_mid_pool_stats(hak_stats_t *st);   /* hm_pool_stats + the medium counters, one snapshot */
bool hm_mid_is_valid(const char **why);
void hm_mid_lock(void);
void hm_mid_atfork_child(void);     /* reseed the medium picks in the child (its only thread) */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
void hm_mid_fuzz_reset(void);       /* fz_begin: the medium picks from their first state */
#endif
void hm_mid_unlock(void);
void hm_mid_atfork_reset(void);     /* the child of a fork that took no locks: mid_lock free */

/* ---- large.c ---------------------------------------------------------------------------------- */
void *hm_large_alloc(size_t size, size_t align, bool zero);
void hm_large_free(hm_large *l, void *p);
bool hm_large_recently_freed(const void *p);
unsigned hm_large_window(void);   /* the large tier's reuse window (Q freed mappings), 0 below strict */
size_t hm_large_chunks(void);
size_t hm_large_trim(void);   /* unmap the cache of freed mappings; returns how many */
void hm_large_purge(void);    /* decommit cached mappings free for the purge delay */
void *hm_large_realloc(hm_large *l, void *p, size_t size);
void hm_large_stats(hak_stats_t *st);
bool hm_large_is_valid(const char **why);
void hm_large_lock(void);
void hm_large_unlock(void);
void hm_large_atfork_reset(void);   /* the child of a fork that took no locks: large_lock free */

/* ---- zero.c: zero-size blocks at the strict levels (PROT_NONE slots) -------------------------- */
void *hm_zero_alloc(size_t align);              /* NULL with errno ENOMEM */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
void hm_zero_fuzz_reset(void);       /* fz_begin: every chunk's cursor at slot 0 */
void hm_mitigate_fuzz_reset(void);   /* fz_begin: the quarantine scan from its head */
#endif
void hm_zero_free(void *p, uintptr_t entry);    /* aborts on a double or invalid free */
int hm_zero_state(const void *p, uintptr_t entry);   /* 1 live, 0 freed slot, -1 not a block */
size_t hm_zero_chunks(uint64_t *live);          /* registered chunks; *live: live blocks */
bool hm_zero_is_valid(const char **why, bool light);   /* light: no walk of the slot bitmaps */
const char *hm_check_light(void);   /* stats.c: hak_check without the whole-bitmap walks */
void hm_zero_lock(void);
void hm_zero_unlock(void);
void hm_zero_atfork_reset(void);

/* ---- harden.c --------------------------------------------------------------------------------- */
extern uintptr_t hm_secret;
void hm_harden_init(void);
void hm_harden_secrets(uintptr_t s[2]);   /* two odd words: getrandom's or the fallback's */
void hm_write_err(const char *s);         /* write(2) to stderr, no allocation */
size_t hm_fmt_u64(char *buf, uint64_t v); /* decimal, returns length */

/* ---- config.c --------------------------------------------------------------------------------- */
typedef struct hm_config {
  uint64_t max_cached;
  uint64_t max_memory_mb;
  uint64_t ttl_sec;
  uint64_t purge_delay_ms;        /* HAKMEM_PURGE_DELAY_MS */
  uint64_t purge_madv_free;       /* HAKMEM_PURGE_MADV_FREE: 1 MADV_FREE, 0 MADV_DONTNEED */
  uint64_t purge_retain_mb;       /* HAKMEM_PURGE_RETAIN_MB: free memory kept resident, at most */
  uint32_t prewarm[HAK_TINY_CLASSES];
  int harden;                     /* hardening level, 0-3 */
  uint64_t stats;                 /* HAKMEM_STATS: print a report at exit */
  const char *stats_file;         /* HAKMEM_STATS_FILE, or NULL for stderr */
  int stats_signal;               /* HAKMEM_STATS_SIGNAL: prints the report; 0 none */
} hm_config;
extern hm_config hm_cfg;
/* The retain bound in bytes, per tier (pool, medium, large); read where used, not cached, so that
 * the fuzzers can vary it between calls (fuzz_helpers.h, FOP_SET_LIMITS). */
static inline uint64_t hm_retain_bytes(void) { return hm_cfg.purge_retain_mb << 20; }
void hm_config_load(char **envp);
/* Parse one value; returns true and sets *out if valid, else warns (one line) and keeps def. */
bool hm_config_parse_u64(const char *name, const char *value, uint64_t lo, uint64_t hi,
                         uint64_t def, uint64_t *out);

/* ---- init.c ----------------------------------------------------------------------------------- */
extern _Atomic int hm_init_state;          /* 0 none, 1 running, 2 ready */
void hm_init_slow(void);
/* The locks the calling thread is inside, one bit each, so that a fork from a signal handler that
 * interrupted a critical section neither takes a lock its own thread holds (self-deadlock) nor
 * releases one it did not take. A bit is set before the lock is taken and cleared after it is
 * released: a bit may be set while the lock is not (yet, or any more) held, never the reverse. */
enum {
  HM_HOLD_MID = 1u, HM_HOLD_LARGE = 2u, HM_HOLD_REG = 4u,
  HM_HOLD_META_SS = 8u, HM_HOLD_META_HEAP = 16u, HM_HOLD_META_LARGE = 32u,
  HM_HOLD_POOL = 64u, HM_HOLD_LATE = 128u,
};
enum { HM_HOLD_ZERO = 256u };   /* zero.c's zero_lock */
extern __thread uint32_t hm_tl_locks;
HM_INLINE void hm_lock_take(pthread_mutex_t *m, uint32_t bit) {
  hm_tl_locks |= bit;
  atomic_signal_fence(memory_order_seq_cst);
  pthread_mutex_lock(m);
}
/* Statistics work left due while the thread held a lock (stats.c) runs as it leaves its last. */
HM_INLINE void hm_lock_drop(pthread_mutex_t *m, uint32_t bit) {
  pthread_mutex_unlock(m);
  atomic_signal_fence(memory_order_seq_cst);
  hm_tl_locks &= ~bit;
  atomic_signal_fence(memory_order_seq_cst);
  if (hm_unlikely(__atomic_load_n(&hm_tl_stats_due, __ATOMIC_RELAXED)) && hm_tl_locks == 0) hm_stats_due();
}

/* ---- inline helpers ---------------------------------------------------------------------------- */
HM_INLINE void hm_ensure_init(void) {
  if (hm_unlikely(atomic_load_explicit(&hm_init_state, memory_order_acquire) != 2)) hm_init_slow();
}

/* Size class of a request of `size` <= HM_SMALL_REQ_MAX bytes: the smallest class whose blocks
 * hold it and the end canary. malloc(0) lands in class 0 (8 bytes: all canary). */
HM_INLINE unsigned hm_size_class(size_t size) {
  HAK_ASSERT(size <= HM_SMALL_REQ_MAX);
  return hm_class_lut[(size + HM_CANARY + 7) >> 3];
}

/* ---- the end canary ------------------------------------------------------------------------------
 * The last HM_CANARY bytes of every small and medium block hold hm_canary_of(block): written when
 * the block is carved (small) or handed out (medium, and class 0, whose whole block is the
 * canary), checked when it is freed or reallocated, at every level. An overflow past the usable
 * size, an underflow into the block before, or any write into a malloc(0) block changes it;
 * without the key (getrandom, like hm_secret) a forged value matches with probability 2^-64.
 * The canary stays in place while the block is free (the free-list link is the first word), so
 * malloc writes nothing. */
extern uintptr_t hm_canary_key;
HM_INLINE uintptr_t *hm_canary_at(void *block, size_t block_size) {
  return (uintptr_t *)((char *)block + block_size - HM_CANARY);
}
HM_INLINE uintptr_t hm_canary_of(const void *block) { return (uintptr_t)block ^ hm_canary_key; }
HM_INLINE void hm_canary_set(void *block, size_t block_size) {
  uintptr_t *c = hm_canary_at(block, block_size);
  hm_san_open(c, HM_CANARY);
  *c = hm_canary_of(block);
  hm_san_close(c, HM_CANARY);
}
/* true if the canary of `block` is intact */
HM_INLINE bool hm_canary_ok(void *block, size_t block_size) {
  uintptr_t *c = hm_canary_at(block, block_size);
  hm_san_open(c, HM_CANARY);
  uintptr_t v = *c;
  hm_san_close(c, HM_CANARY);
  return (v ^ (uintptr_t)block) == hm_canary_key;
}
HM_COLD void hm_canary_bad(const void *p);   /* "heap buffer overflow"; does not return */

/* Registry lookup: the entry of the 2 MiB chunk holding `p`, or 0. */
HM_INLINE uintptr_t hm_registry_lookup(const void *p) {
  uintptr_t i = (uintptr_t)p >> HM_SS_SHIFT;
  if (hm_unlikely(i >= HM_REG_ENTRIES)) return 0;
  _Atomic uintptr_t *leaf = atomic_load_explicit(&hm_reg_top[i >> HM_REG_LEAF_SHIFT], memory_order_acquire);
  if (hm_unlikely(leaf == NULL)) return 0;
  return atomic_load_explicit(&leaf[i & (HM_REG_LEAF - 1)], memory_order_acquire);
}

/* The slab of SuperSlab registry entry `e` (HM_REG_SS set) that holds `p`. */
HM_INLINE hm_slab *hm_slab_at(uintptr_t e, const void *p) {
  hm_superslab *ss = (hm_superslab *)(e - HM_REG_SS);
  return &ss->slabs[((uintptr_t)p >> HM_SLAB_SHIFT) & (HM_SLABS_PER_SS - 1)];
}

HM_INLINE hm_block *hm_decode(uintptr_t enc, const void *at) {
  return (hm_block *)(enc ^ hm_secret ^ (uintptr_t)at);
}
HM_INLINE uintptr_t hm_encode(const hm_block *next, const void *at) {
  return (uintptr_t)next ^ hm_secret ^ (uintptr_t)at;
}
HM_INLINE uint32_t hm_block_index(const hm_slab *s, uintptr_t p) {
  return (uint32_t)(((uint64_t)(p & (HM_SLAB_SIZE - 1)) * s->inv) >> 32);
}

/* Single-writer fields other threads read for statistics (a slab's used and allocs counts): under
 * TSan the owner's stores are relaxed atomic stores (of its own plain read plus one: no other thread
 * writes them, so no read-modify-write is needed) and the readers' loads relaxed atomic loads, so
 * TSan sees no race; elsewhere the stores are plain aligned 32- and 64-bit stores, which x86-64
 * never tears, read with relaxed atomic loads: the owner's update stays one add to memory. */
#if defined(__SANITIZE_THREAD__)
#define HM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HM_TSAN 1
#endif
#endif
#define HM_LOAD_RELAXED(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#ifdef HM_TSAN
#define HM_STORE_RELAXED(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#else
#define HM_STORE_RELAXED(x, v) ((x) = (v))
#endif

#pragma GCC visibility pop
#endif

/* The bitmap has one bit per 8-byte granule of the slab; a block's bit is the bit of its first
 * granule, set while the program holds the block. A pointer into the middle of a block, or to a
 * free block, finds its bit clear, so free's double-free and interior-pointer checks are one bit
 * test with no division. */
HM_INLINE uint32_t hm_granule(uintptr_t p) {
  return (uint32_t)((p & (HM_SLAB_SIZE - 1)) >> 3);
}

/* `word` with bit `n` mod 64 cleared. One btr on x86-64, which takes the bit number mod 64 itself;
 * the C form has to mask it first (two more instructions on the free fast path). */
HM_INLINE uint64_t hm_bit_clear(uint64_t word, uint64_t n) {
#if defined(__x86_64__) && !defined(HM_TSAN)
  __asm__("btr %1, %0" : "+r"(word) : "r"(n) : "cc");
  return word;
#else
  return word & ~(1ull << (n & 63));
#endif
}

/* ... and with bit `n` mod 64 set (bts). */
HM_INLINE uint64_t hm_bit_set(uint64_t word, uint64_t n) {
#if defined(__x86_64__) && !defined(HM_TSAN)
  __asm__("bts %1, %0" : "+r"(word) : "r"(n) : "cc");
  return word;
#else
  return word | (1ull << (n & 63));
#endif
}

/* Aborts with "corrupted free list"; declared as returning so the fast path can tail-call it. */
void *hm_corrupt_list(void *b);

/* Pop a block from an owned slab's free list (NULL if empty). The decoded next pointer must stay
 * inside the slab and the popped block's bit must be clear: a write-after-free that overwrote a
 * next pointer aborts instead of steering an allocation (without the secret a forged value lands
 * in the slab with probability 2^-32). */
HM_INLINE void *hm_slab_pop(hm_slab *s) {
  hm_block *b = s->free;
  if (hm_unlikely(b == NULL)) return NULL;
  hm_san_open(b, sizeof *b);
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
  HM_STORE_RELAXED(s->allocs, s->allocs + 1);
  return b;
}

HM_NOINLINE void hm_slab_emptied(hm_slab *s);
