/* registry.c — the only oracle of "is this pointer ours".
 *
 * A flat table over the 47-bit user address space at 2 MiB granularity: 2^26 entries of 8 bytes,
 * one 512 MiB MAP_NORESERVE reservation whose pages are committed only where an entry is written
 * (a page of entries covers 1 GiB of address space). A lookup is a shift, a bound check and one
 * load; there is no probing. An entry is the address of the owning hm_superslab with HM_REG_SS
 * set, or of an hm_large, or 0. Before initialisation hm_reg_limit is 0, so every lookup
 * answers "not ours".
 * Invariant: count == number of non-zero entries; writers hold reg_lock, readers take none.
 */
#include <string.h>
#include "internal.h"

_Atomic uintptr_t *hm_reg_table;
uintptr_t hm_reg_limit;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t reg_count;   /* non-zero entries (reg_lock) */

bool hm_registry_init(void) {
  if (hm_reg_table != NULL) return true;
  void *t = hm_os_map(HM_REG_ENTRIES * sizeof(uintptr_t));
  if (t == NULL) return false;
  hm_reg_table = t;
  __atomic_store_n(&hm_reg_limit, HM_REG_ENTRIES, __ATOMIC_RELEASE);
  return true;
}

/* Map every 2 MiB chunk of [addr, addr + size) to `entry`. */
bool hm_registry_set(uintptr_t addr, size_t size, uintptr_t entry) {
  HAK_ASSERT(addr % HM_SS_SIZE == 0 && size > 0 && entry != 0);
  uintptr_t first = addr >> HM_SS_SHIFT, last = (addr + size - 1) >> HM_SS_SHIFT;
  if (last >= hm_reg_limit) return false;
  pthread_mutex_lock(&reg_lock);
  for (uintptr_t i = first; i <= last; i++) {
    HAK_INVARIANT(atomic_load_explicit(&hm_reg_table[i], memory_order_relaxed) == 0);
    atomic_store_explicit(&hm_reg_table[i], entry, memory_order_release);
    reg_count++;
  }
  pthread_mutex_unlock(&reg_lock);
  return true;
}

void hm_registry_clear(uintptr_t addr, size_t size) {
  uintptr_t first = addr >> HM_SS_SHIFT, last = (addr + size - 1) >> HM_SS_SHIFT;
  pthread_mutex_lock(&reg_lock);
  for (uintptr_t i = first; i <= last && i < hm_reg_limit; i++) {
    HAK_INVARIANT(atomic_load_explicit(&hm_reg_table[i], memory_order_relaxed) != 0);
    atomic_store_explicit(&hm_reg_table[i], 0, memory_order_release);
    reg_count--;
  }
  pthread_mutex_unlock(&reg_lock);
}

void hm_registry_lock(void) { pthread_mutex_lock(&reg_lock); }
void hm_registry_unlock(void) { pthread_mutex_unlock(&reg_lock); }

size_t hm_registry_count(void) {
  pthread_mutex_lock(&reg_lock);
  size_t n = reg_count;
  pthread_mutex_unlock(&reg_lock);
  return n;
}

/* The table itself. Consistency with the owners is checked from their side: pool.c and large.c
 * check that every SuperSlab and large mapping is registered to its header, and hak_check that
 * the count equals the chunks they cover, which together leave no room for a stray entry. */
bool hm_registry_is_valid(const char **why) {
#if HAK_DEBUG >= 1
  if (hm_reg_limit != 0 && (hm_reg_table == NULL || hm_reg_limit != HM_REG_ENTRIES)) {
    *why = "registry: table not mapped or limit wrong";
    return false;
  }
#else
  (void)why;
#endif
  return true;
}
