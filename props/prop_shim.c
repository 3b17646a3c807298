/* prop_shim.c — see prop_shim.h. Compiled as C with the core's HAK_DEBUG. */
#include "prop_shim.h"
#include "internal.h"

void hp_init(void) { hm_ensure_init(); }
int hp_debug_level(void) { return HAK_DEBUG; }

unsigned hp_class_count(void) { return HM_CLASSES; }
uint32_t hp_class_size(unsigned cls) { return cls < HM_CLASSES ? hm_class_size[cls] : 0; }
unsigned hp_size_class(size_t size) { return hm_size_class(size); }
size_t hp_small_max(void) { return HM_SMALL_MAX; }

size_t hp_ss_size(void) { return HM_SS_SIZE; }
uintptr_t hp_reg_tag_ss(void) { return HM_REG_SS; }
bool hp_registry_set(uintptr_t addr, size_t size, uintptr_t entry) {
  return hm_registry_set(addr, size, entry);
}
void hp_registry_clear(uintptr_t addr, size_t size) { hm_registry_clear(addr, size); }
uintptr_t hp_registry_lookup(const void *p) { return hm_registry_lookup(p); }
size_t hp_registry_count(void) { return hm_registry_count(); }
static int block_tier(const void *p, size_t *size) {
  uintptr_t e = hm_registry_lookup(p);
  *size = 0;
  if (e == 0) return 0;
  if ((e & 3u) == HM_REG_ZERO) return 4;   /* a zero-size slot (strict levels): no bytes */
  if (!(e & HM_REG_SS)) {
    *size = ((const hm_large *)e)->usable;
    return 3;
  }
  hm_superslab *ss = (hm_superslab *)(e - HM_REG_SS);
  hm_slab *s = &ss->slabs[((uintptr_t)p >> HM_SLAB_SHIFT) & (HM_SLABS_PER_SS - 1)];
  if (atomic_load_explicit(&s->state, memory_order_acquire) == HM_SLOT_MID) {
    *size = HM_LOAD_RELAXED(ss->mid_size);
    return 2;
  }
  *size = s->block_size;
  return 1;
}
size_t hp_block_size(const void *p) {
  size_t n;
  block_tier(p, &n);
  return n;
}
size_t hp_block_usable(const void *p) {
  size_t n;
  int t = block_tier(p, &n);
  return (t == 1 || t == 2) ? n - HM_CANARY : n;
}
size_t hp_canary(void) { return HM_CANARY; }
size_t hp_small_req_max(void) { return HM_SMALL_REQ_MAX; }
int hp_block_tier(const void *p) {
  size_t n;
  return block_tier(p, &n);
}
uintptr_t hp_entry_ss_base(uintptr_t entry) {
  if (!(entry & HM_REG_SS)) return 0;
  return HM_UNHIDE(((const hm_superslab *)(entry - HM_REG_SS))->base);
}

void hp_bypass_enter(void) { atomic_fetch_add(&hm_prewarm_bypass, 1); }
void hp_bypass_leave(void) { atomic_fetch_sub(&hm_prewarm_bypass, 1); }
