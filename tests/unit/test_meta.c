/* Metadata pools (meta.c): a freed object is the next one handed out (its pool's free list), for
 * SuperSlab headers, large-block descriptors and heap records; a reused object comes back cleared
 * up to its pool's clear size. */
#include "hak_test.h"
#include "internal.h"

int main(void) {
  hm_ensure_init();
  hm_large *l1 = hm_meta_large_alloc();
  CHECK(l1 != NULL);
  l1->requested = 12345;
  hm_meta_large_free(l1);
  hm_large *l2 = hm_meta_large_alloc();
  CHECK(l2 == l1, "a freed descriptor (%p) was not reused (%p)", (void *)l1, (void *)l2);
  CHECK(l2->requested == 0 && l2->magic == 0, "a reused descriptor was not cleared");
  hm_meta_large_free(l2);
  hm_superslab *s1 = hm_meta_ss_alloc();
  CHECK(s1 != NULL);
  hm_meta_ss_free(s1);
  hm_superslab *s2 = hm_meta_ss_alloc();
  CHECK(s2 == s1, "a freed SuperSlab header (%p) was not reused (%p)", (void *)s1, (void *)s2);
  hm_meta_ss_free(s2);
  hm_heap *h1 = hm_meta_heap_alloc();
  CHECK(h1 != NULL);
  hm_meta_heap_free(h1);
  hm_heap *h2 = hm_meta_heap_alloc();
  CHECK(h2 == h1, "a freed heap record (%p) was not reused (%p)", (void *)h1, (void *)h2);
  hm_meta_heap_free(h2);
  printf("meta: ok\n");
  return 0;
}
