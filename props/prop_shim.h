/* prop_shim.h — the few internals the module properties need, as plain C functions.
 * src/internal.h uses C11 _Atomic, which C++ does not compile, so prop_shim.c (compiled as C)
 * includes it and re-exports what the properties drive or observe. */
#ifndef HAK_PROP_SHIM_H
#define HAK_PROP_SHIM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void hp_init(void);                       /* hm_ensure_init() */
int hp_debug_level(void);                 /* HAK_DEBUG the core was built with */

/* size classes (heap.c, class_table.h) */
unsigned hp_class_count(void);            /* HM_CLASSES */
uint32_t hp_class_size(unsigned cls);     /* hm_class_size[cls] */
unsigned hp_size_class(size_t size);      /* hm_size_class(size), size <= hp_small_req_max() */
size_t hp_small_max(void);                /* HM_SMALL_MAX: the largest small block */

/* registry (registry.c): 2 MiB chunks -> entry */
size_t hp_ss_size(void);                  /* HM_SS_SIZE */
uintptr_t hp_reg_tag_ss(void);            /* HM_REG_SS */
bool hp_registry_set(uintptr_t addr, size_t size, uintptr_t entry);
void hp_registry_clear(uintptr_t addr, size_t size);
uintptr_t hp_registry_lookup(const void *p);
size_t hp_registry_count(void);
/* The allocator's own size of live block `p`: its slab's block size (the size class), a medium
 * block's class size, or a large block's page-rounded usable bytes. 0 if `p` is not in a hakmem
 * mapping. */
size_t hp_block_size(const void *p);
/* The usable bytes of live block `p`: a small or medium block's size less its end canary
 * (HM_CANARY), a large block's page-rounded usable bytes; what hak_stats counts in
 * small_live_bytes / mid_live_bytes / large_live_bytes. (hak_malloc_usable_size returns the same
 * outside ASan builds and the strict levels; under ASan it returns the requested size, because
 * the slack is poisoned.) 0 if `p` is not in a hakmem mapping. */
size_t hp_block_usable(const void *p);
size_t hp_canary(void);                   /* HM_CANARY: the end canary of small and medium blocks */
size_t hp_small_req_max(void);            /* HM_SMALL_REQ_MAX: the largest small request */
/* Which tier holds live block `p`, by hakmem's own structures (registry entry, slot state):
 * 1 small (slab), 2 medium (a SuperSlab given whole to a medium class), 3 large, 4 a zero-size
 * slot (strict levels; size and usable bytes 0); 0 not hakmem's. */
int hp_block_tier(const void *p);
/* base address of the SuperSlab a registry entry names (0 if the entry is not a SuperSlab) */
uintptr_t hp_entry_ss_base(uintptr_t entry);

/* prewarm bypass flag (pool.c): set while prewarm maps; the cache must not be popped */
void hp_bypass_enter(void);
void hp_bypass_leave(void);

#ifdef __cplusplus
}
#endif
#endif
