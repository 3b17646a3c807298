/* Registry: set / lookup / clear against a plain array model; foreign addresses (stack, globals,
 * libc heap, unmapped, kernel-half, NULL) are never found. */
#include "hak_test.h"
#include "internal.h"

static int global_var;

int main(void) {
  hm_ensure_init();
  size_t base_count = hm_registry_count();
  /* fake owners at 2 MiB-aligned addresses we never map: registry entries are just numbers */
  uintptr_t region = (uintptr_t)0x300000000000ull;
  enum { N = 64 };
  uintptr_t owner[N];
  for (int i = 0; i < N; i++) {
    owner[i] = ((uintptr_t)0x1000 * (i + 1)) | (i % 2 ? HM_REG_SS : 0);
    CHECK(hm_registry_set(region + (uintptr_t)i * 3 * HM_SS_SIZE, (i % 3 + 1) * HM_SS_SIZE - 4096, owner[i]));
  }
  size_t want = 0;
  for (int i = 0; i < N; i++) want += (size_t)(i % 3 + 1);
  CHECK(hm_registry_count() == base_count + want, "count %zu", hm_registry_count());
  for (int i = 0; i < N; i++) {
    uintptr_t a = region + (uintptr_t)i * 3 * HM_SS_SIZE;
    size_t chunks = (size_t)(i % 3 + 1);   /* k * 2 MiB - 4 KiB spans k chunks */
    for (size_t c = 0; c < 3; c++) {
      uintptr_t e = hm_registry_lookup((void *)(a + c * HM_SS_SIZE + 12345));
      if (c < chunks) CHECK(e == owner[i], "owner %d chunk %zu", i, c);
      else CHECK(e == 0, "chunk past owner %d found", i);
    }
  }
  for (int i = 0; i < N; i += 2) hm_registry_clear(region + (uintptr_t)i * 3 * HM_SS_SIZE, (i % 3 + 1) * HM_SS_SIZE - 4096);
  for (int i = 0; i < N; i++) {
    uintptr_t e = hm_registry_lookup((void *)(region + (uintptr_t)i * 3 * HM_SS_SIZE));
    CHECK(e == (i % 2 ? owner[i] : 0), "after clear, owner %d", i);
  }
  for (int i = 1; i < N; i += 2) hm_registry_clear(region + (uintptr_t)i * 3 * HM_SS_SIZE, (i % 3 + 1) * HM_SS_SIZE - 4096);
  CHECK(hm_registry_count() == base_count);
  /* foreign pointers */
  int local;
  void *libc_heap = malloc(100);
  const void *foreign[] = {NULL, &local, &global_var, libc_heap, (void *)0x1000, (void *)main,
                           (void *)(uintptr_t)0xffff800000001000ull, (void *)(uintptr_t)-1,
                           (void *)((uintptr_t)1 << 47)};
  for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++)
    CHECK(hm_registry_lookup(foreign[i]) == 0, "foreign %p found", foreign[i]);
  free(libc_heap);
  /* two levels: a range past the 47-bit space is refused with nothing set; a leaf, once mapped
   * for a gigabyte, answers 0 for its other chunks; the last chunk of the space is usable */
  size_t before = hm_registry_count();
  CHECK(!hm_registry_set((uintptr_t)1 << 47, HM_SS_SIZE, 0x1000));
  CHECK(!hm_registry_set(((uintptr_t)1 << 47) - HM_SS_SIZE, 2 * HM_SS_SIZE, 0x1000));
  CHECK(hm_registry_count() == before);
  uintptr_t last = ((uintptr_t)1 << 47) - HM_SS_SIZE;
  CHECK(hm_registry_set(last, HM_SS_SIZE, 0x2000));
  CHECK(hm_registry_lookup((void *)(last + HM_SS_SIZE - 1)) == 0x2000);
  CHECK(hm_registry_lookup((void *)(last - HM_SS_SIZE)) == 0);
  hm_registry_clear(last, HM_SS_SIZE);
  CHECK(hm_registry_lookup((void *)last) == 0 && hm_registry_count() == before);
  /* a real block is found, and the entry is its SuperSlab */
  void *p = hak_malloc(100);
  uintptr_t e = hm_registry_lookup(p);
  CHECK((e & HM_REG_SS) && HM_UNHIDE(((hm_superslab *)(e - HM_REG_SS))->base) == ((uintptr_t)p & ~(HM_SS_SIZE - 1)));
  hak_free(p);
  void *big = hak_malloc(5 << 20);
  e = hm_registry_lookup((char *)big + (4 << 20));
  CHECK(e != 0 && !(e & HM_REG_SS) && HM_UNHIDE(((hm_large *)e)->base) == (uintptr_t)big);
  hak_free(big);   /* cached: still registered (a second free is a double free) until trimmed */
  hak_trim();
  CHECK(hm_registry_lookup(big) == 0);
  CHECK(hak_check() == NULL, "%s", hak_check());
  /* the validator's clause: an entry written behind the registry's back (count not raised) is
   * seen, in the last leaf (mapped above for the space's last chunk), in the leaf of the fake
   * owners' region and in the one after it: the walk visits every published leaf, far apart or
   * next to each other */
  const uintptr_t next_gib = (uintptr_t)0x300000000000ull + ((uintptr_t)1 << 30);   /* the next bit */
  CHECK(hm_registry_set(next_gib, HM_SS_SIZE, 0x1000));   /* publishes its leaf */
  hm_registry_clear(next_gib, HM_SS_SIZE);
  const uintptr_t where[] = {((uintptr_t)1 << 47) - HM_SS_SIZE, (uintptr_t)0x300000000000ull, next_gib};
  for (size_t k = 0; k < sizeof where / sizeof where[0]; k++) {
    uintptr_t i = where[k] >> HM_SS_SHIFT;
    _Atomic uintptr_t *leaf = atomic_load(&hm_reg_top[i / HM_REG_LEAF]);
    CHECK(leaf != NULL && atomic_load(&leaf[i % HM_REG_LEAF]) == 0);
    atomic_store(&leaf[i % HM_REG_LEAF], 0x3000);
    const char *why = hak_check();
    CHECK(hak_debug_level() == 0 ||
              (why != NULL && strcmp(why, "registry: count disagrees with the non-zero entries of the leaves") == 0),
          "stray entry %zu: hak_check said %s", k, why ? why : "nothing");
    atomic_store(&leaf[i % HM_REG_LEAF], 0);
  }
  CHECK(hak_check() == NULL, "%s", hak_check());
  printf("registry: ok\n");
  return 0;
}
