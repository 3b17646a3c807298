/* stats.c — statistics and the self-check. Both read shared state under the owning modules'
 * locks and allocate nothing. */
#include <string.h>
#include "internal.h"

HAK_API void hak_stats(hak_stats_t *out) {
  if (out == NULL) return;
  memset(out, 0, sizeof *out);
  hm_pool_stats(out);
  hm_large_stats(out);
  out->remote_frees = atomic_load_explicit(&hm_remote_free_count, memory_order_relaxed);
  out->slabs_adopted = atomic_load_explicit(&hm_adopt_count, memory_order_relaxed);
  out->mmap_calls = atomic_load_explicit(&hm_os_count.mmap, memory_order_relaxed);
  out->munmap_calls = atomic_load_explicit(&hm_os_count.munmap, memory_order_relaxed);
  out->mremap_calls = atomic_load_explicit(&hm_os_count.mremap, memory_order_relaxed);
  out->madvise_calls = atomic_load_explicit(&hm_os_count.madvise, memory_order_relaxed);
  out->mprotect_calls = atomic_load_explicit(&hm_os_count.mprotect, memory_order_relaxed);
}

HAK_API const char *hak_check(void) {
#if HAK_DEBUG >= 1
  const char *why = NULL;
  if (!hm_registry_is_valid(&why)) return why;
  if (!hm_pool_is_valid(&why)) return why;
  if (!hm_large_is_valid(&why)) return why;
  if (!hm_heap_is_valid(hm_tl_heap, &why)) return why;
  /* every registered chunk belongs to a SuperSlab or a large mapping (racy against other
   * threads mapping at the same moment: callers check when quiescent) */
  if (hm_registry_count() != hm_pool_mapped() + hm_large_chunks())
    return "registry: count disagrees with the mapped SuperSlabs and large allocations";
  return NULL;
#else
  return NULL;
#endif
}

HAK_API int hak_debug_level(void) { return HAK_DEBUG; }
