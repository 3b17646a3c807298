/* shim.c — the libc names, for LD_PRELOAD or linking. The only file that defines them; it is
 * left out of sanitizer builds, whose runtimes own malloc. */
#define _GNU_SOURCE
#include <stddef.h>
#include "fastpath.h"

#define SHIM __attribute__((visibility("default")))

SHIM void *malloc(size_t size) { return hm_malloc_entry(size); }
SHIM void free(void *p) { hm_free_fast(p); }
SHIM void *calloc(size_t n, size_t size) { return hak_calloc(n, size); }
/* realloc(p, 0) with p != NULL frees p and returns NULL, as glibc's does, so `p = realloc(p, 0)`
 * does not leak (hak_realloc returns a minimum-size block instead); realloc(NULL, 0) is malloc(0). */
SHIM void *realloc(void *p, size_t size) {
  if (p != NULL && size == 0) {
    hm_realloc_free(p);
    return NULL;
  }
  return hak_realloc(p, size);
}
SHIM void *reallocarray(void *p, size_t n, size_t size) {
  if (p != NULL && (n == 0 || size == 0)) {
    hm_realloc_free(p);
    return NULL;
  }
  return hak_reallocarray(p, n, size);
}
SHIM int posix_memalign(void **out, size_t align, size_t size) {
  return hak_posix_memalign(out, align, size);
}
SHIM void *aligned_alloc(size_t align, size_t size) { return hak_aligned_alloc(align, size); }
SHIM void *memalign(size_t align, size_t size) { return hak_memalign(align, size); }
SHIM void *valloc(size_t size) { return hak_valloc(size); }
SHIM void *pvalloc(size_t size) { return hak_pvalloc(size); }
SHIM size_t malloc_usable_size(void *p) { return hak_malloc_usable_size(p); }
SHIM void free_sized(void *p, size_t size) { hak_free_sized(p, size); }
SHIM void free_aligned_sized(void *p, size_t align, size_t size) {
  hak_free_aligned_sized(p, align, size);
}
SHIM int malloc_trim(size_t pad) { return hak_malloc_trim(pad); }
SHIM void cfree(void *p) { hak_free(p); }
