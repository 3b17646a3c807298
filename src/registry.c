/* registry.c — the only oracle of "is this pointer ours".
 *
 * Two levels over the 47-bit user address space at 2 MiB granularity. The top level is a static
 * array of HM_REG_TOP leaf pointers (1 MiB of bss, touched only where a leaf is published); a leaf
 * is one 4 KiB page of HM_REG_LEAF entries covering 1 GiB of address space, mapped the first time
 * a chunk in its gigabyte is registered, published with a release CAS and never freed. So the
 * address space the registry holds grows with what the allocator maps (4 KiB per GiB in use), not
 * with the size of the address space. A lookup is a bound check and two acquire loads (leaf, then
 * entry); there is no probing. An entry is the address of the owning hm_superslab with HM_REG_SS
 * set, or of an hm_large, or 0. Before the first registration every leaf is NULL, so every lookup
 * answers "not ours".
 * Invariant: count == number of non-zero entries over all leaves; writers hold reg_lock, readers
 * take none; a published leaf pointer never changes.
 */
#include <string.h>
#include "internal.h"

_Atomic(_Atomic uintptr_t *) hm_reg_top[HM_REG_TOP];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t reg_count;   /* non-zero entries (reg_lock) */
#if HAK_DEBUG >= 1
/* Which top-level slots hold a leaf, for the validator: one bit per slot and one summary bit per
 * word of those, so a check visits the published leaves only (the top level has 2^17 slots; a
 * walk over all of them was most of a fuzzing run's time). Set once per leaf, never cleared. */
#define REG_BITS_WORDS (HM_REG_TOP / 64)
static _Atomic uint64_t leaf_bits[REG_BITS_WORDS], leaf_sum[(REG_BITS_WORDS + 63) / 64];
static void leaf_mark(uintptr_t t) {
  atomic_fetch_or_explicit(&leaf_bits[t / 64], (uint64_t)1 << (t % 64), memory_order_relaxed);
  atomic_fetch_or_explicit(&leaf_sum[t / 4096], (uint64_t)1 << (t / 64 % 64), memory_order_relaxed);
}
#else
#define leaf_mark(t) ((void)(t))
#endif

/* The leaf of top-level slot `t`, mapped and published if it was not: NULL if it cannot be. Two
 * threads may map one at once; the CAS keeps one and the loser unmaps its own. */
static _Atomic uintptr_t *leaf_get(uintptr_t t) {
  _Atomic uintptr_t *leaf = atomic_load_explicit(&hm_reg_top[t], memory_order_acquire);
  if (leaf != NULL) return leaf;
  _Atomic uintptr_t *fresh = hm_os_map(HM_REG_LEAF * sizeof(uintptr_t));   /* zero-filled */
  if (fresh == NULL) return NULL;
  leaf_mark(t);   /* before the publishing CAS: whoever fills the leaf later sees the mark too */
  if (atomic_compare_exchange_strong_explicit(&hm_reg_top[t], &leaf, fresh, memory_order_release,
                                              memory_order_acquire))
    return fresh;
  hm_os_unmap((void *)fresh, HM_REG_LEAF * sizeof(uintptr_t));
  return leaf;
}

/* Map every 2 MiB chunk of [addr, addr + size) to `entry`. false (nothing set) if the range is
 * outside the covered space or a leaf cannot be mapped. */
bool hm_registry_set(uintptr_t addr, size_t size, uintptr_t entry) {
  HAK_ASSERT(addr % HM_SS_SIZE == 0 && size > 0 && entry != 0);
  uintptr_t first = addr >> HM_SS_SHIFT, last = (addr + size - 1) >> HM_SS_SHIFT;
  if (last >= HM_REG_ENTRIES || last < first) return false;
  for (uintptr_t t = first / HM_REG_LEAF; t <= last / HM_REG_LEAF; t++)   /* leaves first: no undo */
    if (leaf_get(t) == NULL) return false;
  hm_lock_take(&reg_lock, HM_HOLD_REG);
  for (uintptr_t i = first; i <= last; i++) {
    _Atomic uintptr_t *leaf = atomic_load_explicit(&hm_reg_top[i / HM_REG_LEAF], memory_order_relaxed);
    HAK_INVARIANT(atomic_load_explicit(&leaf[i % HM_REG_LEAF], memory_order_relaxed) == 0);
    atomic_store_explicit(&leaf[i % HM_REG_LEAF], entry, memory_order_release);
    reg_count++;
  }
  hm_lock_drop(&reg_lock, HM_HOLD_REG);
  return true;
}

void hm_registry_clear(uintptr_t addr, size_t size) {
  uintptr_t first = addr >> HM_SS_SHIFT, last = (addr + size - 1) >> HM_SS_SHIFT;
  hm_lock_take(&reg_lock, HM_HOLD_REG);
  for (uintptr_t i = first; i <= last && i < HM_REG_ENTRIES; i++) {
    _Atomic uintptr_t *leaf = atomic_load_explicit(&hm_reg_top[i / HM_REG_LEAF], memory_order_relaxed);
    HAK_INVARIANT(leaf != NULL && atomic_load_explicit(&leaf[i % HM_REG_LEAF], memory_order_relaxed) != 0);
    if (leaf == NULL) continue;
    atomic_store_explicit(&leaf[i % HM_REG_LEAF], 0, memory_order_release);
    reg_count--;
  }
  hm_lock_drop(&reg_lock, HM_HOLD_REG);
}

void hm_registry_lock(void) { hm_lock_take(&reg_lock, HM_HOLD_REG); }
void hm_registry_unlock(void) { hm_lock_drop(&reg_lock, HM_HOLD_REG); }
/* The child of a fork that took no locks (init.c): nobody else can hold reg_lock there. */
void hm_registry_atfork_reset(void) { pthread_mutex_init(&reg_lock, NULL); }

size_t hm_registry_count(void) {
  hm_lock_take(&reg_lock, HM_HOLD_REG);
  size_t n = reg_count;
  hm_lock_drop(&reg_lock, HM_HOLD_REG);
  return n;
}

/* The table itself: count == the non-zero entries of the published leaves. Consistency with the
 * owners is checked from their side: pool.c and large.c check that every SuperSlab and large
 * mapping is registered to its header, and hak_check that the count equals the chunks they
 * cover, which together leave no room for a stray entry. */
/* light: nothing here (hak_check's cross-check of reg_count against the tiers' counts stays);
 * the full check walks every published leaf. */
HM_VALIDATOR bool hm_registry_is_valid(const char **why, bool light) {
#if HAK_DEBUG >= 1
  if (light) return true;
  size_t n = 0;
  hm_lock_take(&reg_lock, HM_HOLD_REG);
  /* a slot is marked before its leaf is published and filled, so every leaf holding an entry is
   * marked; a marked slot may still be NULL for a moment (its leaf not yet published) */
  for (size_t k = 0; k < sizeof leaf_sum / sizeof leaf_sum[0]; k++) {
    for (uint64_t sum = atomic_load_explicit(&leaf_sum[k], memory_order_relaxed); sum; sum &= sum - 1) {
      size_t w = k * 64 + (size_t)__builtin_ctzll(sum);
      for (uint64_t bits = atomic_load_explicit(&leaf_bits[w], memory_order_relaxed); bits; bits &= bits - 1) {
        uintptr_t t = w * 64 + (uintptr_t)__builtin_ctzll(bits);
        _Atomic uintptr_t *leaf = atomic_load_explicit(&hm_reg_top[t], memory_order_acquire);
        for (uintptr_t j = 0; leaf != NULL && j < HM_REG_LEAF; j++)
          n += atomic_load_explicit(&leaf[j], memory_order_relaxed) != 0;
      }
    }
  }
  bool ok = n == reg_count;
  hm_lock_drop(&reg_lock, HM_HOLD_REG);
  if (!ok) *why = "registry: count disagrees with the non-zero entries of the leaves";
  return ok;
#else
  (void)why;
  (void)light;
  return true;
#endif
}
