/* At the strict levels a slab whose last block leaves the quarantine goes back to the pool: after
 * freeing some thirty slabs' worth of blocks and pushing them all out of the quarantine with
 * frees of another class, the active slab count is back near where it started (no flush, no
 * trim). Run at HAKMEM_HARDEN=strict or paranoid. */
#include "hak_test.h"
#include "internal.h"

enum { B = 2000, PUSH = 2000 };

int main(void) {
  hm_ensure_init();
  CHECK(hm_harden_level >= 2, "run at HAKMEM_HARDEN=strict or paranoid (level %d)", hm_harden_level);
  static void *b[B];
  uint64_t before = st().slabs_active;
  for (int i = 0; i < B; i++) {
    b[i] = hak_malloc(1000);
    CHECK(b[i] != NULL);
  }
  uint64_t full = st().slabs_active;
  CHECK(full >= before + 20, "%d blocks of 1000 bytes took %llu slabs", B,
        (unsigned long long)(full - before));
  for (int i = 0; i < B; i++) hak_free(b[i]);
  for (int i = 0; i < PUSH; i++) hak_free(hak_malloc(16));   /* PUSH > either quarantine's length */
  uint64_t after = st().slabs_active;
  CHECK(after <= before + 3, "slabs active: %llu before, %llu full, %llu after every free",
        (unsigned long long)before, (unsigned long long)full, (unsigned long long)after);
  CHECK_OK();
  printf("quarantine_release: ok\n");
  return 0;
}
