/* meta.c — metadata out of line from user blocks: SuperSlab headers, thread heaps and large
 * allocation descriptors come from their own mappings, never from a SuperSlab. SuperSlab headers
 * are page-aligned with a guard page after each, so an overflow out of one header faults before
 * reaching the next. Objects are recycled through a free list and never unmapped.
 * A chunk whose guard pages cannot all be protected is unmapped and the allocation fails (NULL).
 * Invariant: every object is either on its pool's free list or in use, never both. */
#include <stddef.h>
#include <string.h>
#include "internal.h"

typedef struct meta_pool {
  pthread_mutex_t lock;
  size_t obj_size;     /* bytes of one object (rounded) */
  size_t stride;       /* obj_size plus a guard page when guarded */
  size_t per_chunk;    /* objects mapped at once */
  bool guarded;
  size_t clear_size;   /* bytes zeroed on allocation (the rest is zeroed where it is used) */
  void *free_list;     /* first word of a free object links the next */
  char *cur, *end;     /* bump range of the newest chunk */
  uint32_t hold;       /* its HM_HOLD_META_* bit */
} meta_pool;

#define ROUND_UP(x, a) (((x) + (a) - 1) & ~((size_t)(a) - 1))

static meta_pool ss_pool = {PTHREAD_MUTEX_INITIALIZER, ROUND_UP(sizeof(hm_superslab), HM_PAGE_SIZE),
                            ROUND_UP(sizeof(hm_superslab), HM_PAGE_SIZE) + HM_PAGE_SIZE, 16, true,
                            offsetof(hm_superslab, bitmap), NULL, NULL, NULL, HM_HOLD_META_SS};
static meta_pool heap_pool = {PTHREAD_MUTEX_INITIALIZER, ROUND_UP(sizeof(hm_heap), 64),
                              ROUND_UP(sizeof(hm_heap), 64), 64, false,
                              offsetof(hm_heap, inbox), NULL, NULL, NULL, HM_HOLD_META_HEAP};
static meta_pool large_pool = {PTHREAD_MUTEX_INITIALIZER, ROUND_UP(sizeof(hm_large), 64),
                               ROUND_UP(sizeof(hm_large), 64), 1024, false,
                               sizeof(hm_large), NULL, NULL, NULL, HM_HOLD_META_LARGE};

static void *pool_alloc(meta_pool *mp) {
  hm_lock_take(&mp->lock, mp->hold);
  void *obj = mp->free_list;
  if (obj != NULL) {
    mp->free_list = *(void **)obj;
  } else {
    if (mp->cur == NULL || mp->cur + mp->stride > mp->end) {
      size_t bytes = ROUND_UP(mp->stride * mp->per_chunk, HM_PAGE_SIZE);
      char *chunk = hm_os_map(bytes);
      if (chunk == NULL) {
        hm_lock_drop(&mp->lock, mp->hold);
        return NULL;
      }
      for (size_t i = 0; mp->guarded && i < mp->per_chunk; i++)
        if (hm_os_protect_none(chunk + i * mp->stride + mp->obj_size, HM_PAGE_SIZE) != 0) {
          hm_os_unmap(chunk, bytes);   /* a header without its guard page is never handed out */
          hm_lock_drop(&mp->lock, mp->hold);
          return NULL;
        }
      mp->cur = chunk;
      mp->end = chunk + bytes;
    }
    obj = mp->cur;
    mp->cur += mp->stride;
  }
  hm_lock_drop(&mp->lock, mp->hold);
  memset(obj, 0, mp->clear_size);
  return obj;
}

static void pool_free(meta_pool *mp, void *obj) {
  hm_lock_take(&mp->lock, mp->hold);
  *(void **)obj = mp->free_list;
  mp->free_list = obj;
  hm_lock_drop(&mp->lock, mp->hold);
}

hm_superslab *hm_meta_ss_alloc(void) { return pool_alloc(&ss_pool); }
/* The bitmaps are most of a header (32 KiB of 40): all clear while no slab is ACTIVE, so their
 * pages can go back to the kernel (a later read finds zeros, the same clear bitmap). */
void hm_meta_ss_purge(hm_superslab *ss) {
  char *first_page = (char *)ROUND_UP((uintptr_t)ss->bitmap, HM_PAGE_SIZE);
  hm_os_decommit(first_page, (size_t)((char *)ss + ss_pool.obj_size - first_page));
}
void hm_meta_ss_free(hm_superslab *ss) {
  ss->magic = 0;
  hm_meta_ss_purge(ss);   /* while it waits for reuse */
  pool_free(&ss_pool, ss);
}
hm_large *hm_meta_large_alloc(void) { return pool_alloc(&large_pool); }
void hm_meta_large_free(hm_large *l) {
  l->magic = 0;
  pool_free(&large_pool, l);
}
hm_heap *hm_meta_heap_alloc(void) { return pool_alloc(&heap_pool); }
void hm_meta_heap_free(hm_heap *h) { pool_free(&heap_pool, h); }

/* fork: every pool's lock in a fixed order, but those of `skip` (held by the forking thread). */
static meta_pool *const all_pools[] = {&ss_pool, &heap_pool, &large_pool};
void hm_meta_lock_all(uint32_t skip) {
  for (int i = 0; i < 3; i++)
    if (!(skip & all_pools[i]->hold)) hm_lock_take(&all_pools[i]->lock, all_pools[i]->hold);
}
void hm_meta_unlock_all(uint32_t skip) {
  for (int i = 2; i >= 0; i--)
    if (!(skip & all_pools[i]->hold)) hm_lock_drop(&all_pools[i]->lock, all_pools[i]->hold);
}
void hm_meta_atfork_reset(uint32_t which) {
  for (int i = 0; i < 3; i++)
    if (which & all_pools[i]->hold) pthread_mutex_init(&all_pools[i]->lock, NULL);
}
