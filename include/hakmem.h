/* hakmem — a hardened SuperSlab malloc.
 *
 * Three faces:
 *   - the libc names (malloc, free, ...) exported by libhakmem.so / libhakmem.a from src/shim.c;
 *   - the prefixed twins below (hak_malloc, ...), identical semantics, usable next to another malloc
 *     (sanitizer builds test these);
 *   - the control API (prewarm, trim, limits, statistics, self-check).
 *
 * Errors: impossible sizes return NULL with errno = ENOMEM; a bad alignment gives EINVAL
 * (posix_memalign returns it, the others set errno): posix_memalign wants a power of two
 * >= sizeof(void *), aligned_alloc a power of two, memalign anything <= 2^63 (rounded up to a
 * power). A valid alignment too large to serve is ENOMEM, like glibc's. Misuse (double free, foreign or interior
 * pointer, corrupted free list) prints one line "hakmem: <what> (pointer 0x...)" and aborts.
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HAK_API __attribute__((visibility("default")))
#else
#define HAK_API
#endif

/* ---- allocation API (same contracts as the libc functions) ---------------------------------- */
HAK_API void *hak_malloc(size_t size);
HAK_API void hak_free(void *ptr);
HAK_API void *hak_calloc(size_t count, size_t size);
/* hak_realloc(p, 0) frees p and returns a minimum-size block (free(p) + malloc(0)); the libc
 * name realloc(p, 0) frees p and returns NULL, as glibc's does (so `p = realloc(p, 0)` does not
 * leak). realloc(NULL, 0) is malloc(0) in both. reallocarray follows its face's realloc. */
HAK_API void *hak_realloc(void *ptr, size_t size);
HAK_API void *hak_reallocarray(void *ptr, size_t count, size_t size);
HAK_API int hak_posix_memalign(void **out, size_t alignment, size_t size);
HAK_API void *hak_aligned_alloc(size_t alignment, size_t size);
HAK_API void *hak_memalign(size_t alignment, size_t size);
HAK_API void *hak_valloc(size_t size);
HAK_API void *hak_pvalloc(size_t size);
HAK_API size_t hak_malloc_usable_size(void *ptr);
/* free with the size (and alignment) the block was requested with; a mismatch is misuse. */
HAK_API void hak_free_sized(void *ptr, size_t size);
HAK_API void hak_free_aligned_sized(void *ptr, size_t alignment, size_t size);
/* malloc_trim: returns 1 if memory was given back to the system, else 0. */
HAK_API int hak_malloc_trim(size_t pad);

/* ---- control API ------------------------------------------------------------------------------ */
/* The seed's eight tiny classes (8, 16, 32, ... 1024 bytes) name prewarm targets. SuperSlabs are
 * shared by every size class, so a prewarmed SuperSlab serves any class; the class only labels the
 * request in the statistics. */
#define HAK_TINY_CLASSES 8

/* Map `count` SuperSlabs for tiny class `tiny_class` and park them in the SuperSlab cache, raising
 * the cache limits to hold them. Returns how many were cached (less than `count` only if the system
 * refused memory); -1 with errno = EINVAL for a bad class. */
HAK_API int hak_ss_prewarm_class(int tiny_class, uint32_t count);
/* Same for every tiny class at once; returns the total cached, or -1 on a bad argument. */
HAK_API int hak_ss_prewarm_all(const uint32_t counts[HAK_TINY_CLASSES]);

/* SuperSlab cache limits; 0 for a limit means "cache nothing" (count or bytes) or "expire at once"
 * (TTL). Applying them evicts at once what no longer fits. */
typedef struct hak_limits {
  uint64_t max_cached;      /* SuperSlabs kept in the cache */
  uint64_t max_memory_mb;   /* bytes kept in the cache, in MiB */
  uint64_t ttl_sec;         /* a cached SuperSlab older than this is unmapped (a prewarmed one
                               is exempt until it is first used) */
} hak_limits_t;
HAK_API void hak_ss_get_limits(hak_limits_t *out);
HAK_API void hak_ss_set_limits(const hak_limits_t *limits);

/* Evict what is over the limits or past the TTL now, and purge (give the pages back, keep the
 * mapping) cached SuperSlabs and large mappings free for HAKMEM_PURGE_DELAY_MS, a few per call;
 * returns the number of SuperSlabs unmapped. */
HAK_API size_t hak_ss_evict(void);
/* Return the calling thread's idle memory (empty slabs it keeps for reuse, remote frees pending on
 * its slabs) to the shared pool, adopt orphaned slabs, then empty the SuperSlab cache.
 * Returns the number of SuperSlabs unmapped. */
HAK_API size_t hak_trim(void);
/* Only the first step of hak_trim: the calling thread hands back its idle slabs. */
HAK_API void hak_thread_flush(void);

#ifdef HAK_TEST_HOOKS
/* Test hook: the allocator's monotonic clock runs `ns` ahead (used to expire the cache TTL). Only
 * in the build tree's static core for tests (CMake target hakmem_api, which defines
 * HAK_TEST_HOOKS for its users); libhakmem.so and libhakmem.a do not have it. */
HAK_API void hak_test_advance_clock(uint64_t ns);
/* Test hook (same builds): fault injection into the system calls of src/os.c. After
 * hak_test_fail_nth(kind, n, count) the calls of `kind` numbered n .. n + count - 1 (1-based,
 * counted from this call; count UINT64_MAX: every call from the n-th on) fail as the kernel would
 * fail them: mmap, mremap and mprotect with ENOMEM, madvise with EAGAIN, getrandom with ENOSYS.
 * HAK_FAULT_ANY counts the calls of every kind together. n == 0 or count == 0 disarms the kind. */
enum {
  HAK_FAULT_MMAP, HAK_FAULT_MREMAP, HAK_FAULT_MADVISE, HAK_FAULT_MPROTECT, HAK_FAULT_GETRANDOM,
  HAK_FAULT_ANY, HAK_FAULT_KINDS
};
HAK_API void hak_test_fail_nth(int kind, uint64_t n, uint64_t count);
/* Disarms every kind and resets its call count. */
HAK_API void hak_test_fail_reset(void);
/* Calls of `kind` since it was last armed or reset (attempts, injected failures included). */
HAK_API uint64_t hak_test_fault_calls(int kind);
/* Failures injected since the process started, and the size (bytes) the last one was asked for. */
HAK_API uint64_t hak_test_fault_hits(void);
HAK_API size_t hak_test_fault_last_size(void);
/* Bytes the allocator has mapped and not unmapped (reservations included). */
HAK_API uint64_t hak_test_mapped_bytes(void);
#endif

typedef struct hak_stats_s {
  /* SuperSlabs */
  uint64_t ss_mapped;          /* currently mapped (in use or cached) */
  uint64_t ss_in_use;          /* mapped and not in the cache */
  uint64_t ss_cached;          /* in the cache now */
  uint64_t ss_cached_bytes;    /* bytes in the cache now */
  uint64_t ss_map_calls;       /* SuperSlabs ever mapped */
  uint64_t ss_unmap_calls;     /* SuperSlabs ever unmapped */
  uint64_t cache_hits;         /* SuperSlab requests served by the cache */
  uint64_t cache_misses;       /* SuperSlab requests that had to map */
  uint64_t evict_count;        /* evicted for the count limit */
  uint64_t evict_bytes;        /* evicted for the memory limit */
  uint64_t evict_ttl;          /* evicted for age */
  uint64_t evict_trim;         /* unmapped by hak_trim / malloc_trim */
  uint64_t prewarmed;          /* SuperSlabs mapped by prewarm */
  uint64_t limit_max_cached;   /* limits in force (prewarm may have raised them) */
  uint64_t limit_max_bytes;
  uint64_t limit_ttl_sec;
  /* slabs and blocks */
  uint64_t slabs_active;       /* 64 KiB slabs serving a size class */
  uint64_t small_live_blocks;  /* blocks held by the program in slabs (exact) */
  uint64_t small_live_bytes;   /* their usable bytes */
  uint64_t remote_frees;       /* frees of a block owned by another thread */
  uint64_t slabs_adopted;      /* slabs of exited threads taken over by a live thread */
  /* large */
  uint64_t large_live;         /* live large allocations (own mapping each) */
  uint64_t large_live_bytes;   /* their usable bytes */
  uint64_t large_cached;       /* freed large mappings kept for reuse (hak_trim unmaps them) */
  uint64_t large_cached_bytes;
  /* system calls */
  uint64_t mmap_calls;
  uint64_t munmap_calls;
  uint64_t mremap_calls;
  uint64_t madvise_calls;
  uint64_t mprotect_calls;
  uint64_t harden_level;       /* 0 off, 1 fast (default), 2 strict, 3 paranoid */
  /* counted at every setting (HAKMEM_STATS only prints the report at exit); snapshots, exact
   * when no thread is inside malloc or free */
  uint64_t counted_allocs;     /* blocks allocated since start-up, small, medium and large */
  uint64_t counted_frees;      /* blocks freed since start-up: counted_allocs - blocks live */
  uint64_t counted_live_bytes; /* usable bytes held by the program: small_live_bytes +
                                  mid_live_bytes + large_live_bytes */
  uint64_t counted_peak_bytes; /* the most counted_live_bytes was at a sampling point: every
                                  hak_stats call, and growth events as the heap grows (README,
                                  "Statistics"); a lower bound of the true peak */
  /* medium blocks (32 KiB < size <= 512 KiB at the off and fast levels) */
  uint64_t mid_live;           /* live medium blocks */
  uint64_t mid_live_bytes;     /* their usable bytes */
  uint64_t mid_superslabs;     /* SuperSlabs serving medium classes (counted in ss_in_use) */
  /* the large tier's mapping budget (a quarter of vm.max_map_count): past it large blocks get no
   * guard page and the strict levels serve medium sizes from the medium tier */
  uint64_t large_mappings;     /* mappings (VMAs) of live and cached large blocks */
  uint64_t large_map_budget;   /* the budget (0 until the first large block) */
  uint64_t large_unguarded;    /* large blocks mapped without a guard page, since start-up */
  /* purge: free memory kept mapped (cached SuperSlabs, cached large mappings) whose pages went
   * back to the kernel once free for HAKMEM_PURGE_DELAY_MS; trim and eviction unmap instead */
  uint64_t purge_calls;        /* madvise calls that purged, since start-up */
  uint64_t purged_bytes;       /* bytes they covered */
  uint64_t ss_cached_purged;   /* cached SuperSlabs purged now (of ss_cached) */
  uint64_t large_cached_purged; /* cached large mappings purged now (of large_cached) */
  uint64_t purge_delay_ms;     /* the delay in force */
  uint64_t slots_purged;       /* EMPTY 64 KiB slots of SuperSlabs still in use purged, ever */
  /* the retain bound (HAKMEM_PURGE_RETAIN_MB): past it the oldest free memory is purged at once,
   * whatever the delay, in the SuperSlab pool and in the large tier's cache, each */
  uint64_t purge_retain_bytes; /* the bound in force */
  uint64_t ss_free_resident_bytes;    /* free SuperSlab memory with its pages resident now:
                                         unpurged cached SuperSlabs and EMPTY slots not purged
                                         yet in SuperSlabs in use (at most the bound) */
  uint64_t large_free_resident_bytes; /* usable bytes of the unpurged cached large mappings */
  uint64_t mid_free_resident_bytes;   /* freed medium blocks not purged yet (in ss_in_use) */
} hak_stats_t;
HAK_API void hak_stats(hak_stats_t *out);
/* Write the readable report (the one HAKMEM_STATS=1 prints at exit) to `f` (NULL: stderr). It
 * flushes `f`, then writes to its descriptor with write(2): it allocates nothing. */
HAK_API void hak_stats_print(FILE *f);

/* Checks every internal invariant (registry, SuperSlab pool and cache accounting, prewarm bypass
 * flag, the calling thread's slabs). Returns NULL when all hold, else the name of the first broken
 * invariant. Built with HAK_DEBUG = 0 (release) the validators are compiled out and this returns
 * NULL. */
HAK_API const char *hak_check(void);
/* The HAK_DEBUG level the library was built with (0 in release). */
HAK_API int hak_debug_level(void);

#ifdef __cplusplus
}
#endif
#endif /* HAKMEM_H */
