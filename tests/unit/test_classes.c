/* Size classes: the table agrees with "smallest class that fits", classes are increasing, every
 * class of 16 bytes or more is a multiple of 16, and aligned requests land on aligned classes. */
#include "hak_test.h"
#include "internal.h"

int main(void) {
  for (unsigned c = 1; c < HM_CLASSES; c++) {
    CHECK(hm_class_size[c] > hm_class_size[c - 1], "class %u not increasing", c);
    CHECK(hm_class_size[c] % 16 == 0, "class %u (%u) not a multiple of 16", c, hm_class_size[c]);
  }
  CHECK(hm_class_size[0] == 8 && hm_class_size[HM_CLASSES - 1] == HM_SMALL_MAX);
  /* the seed's eight tiny classes exist: blocks of 8 << k bytes serve requests of (8 << k) - 8 */
  for (unsigned k = 0; k < HAK_TINY_CLASSES; k++) {
    unsigned sz = 8u << k;
    CHECK(hm_class_size[hm_size_class(sz - HM_CANARY)] == sz, "tiny class %u bytes missing", sz);
  }
  unsigned prev = 0;
  /* a request of n bytes: the smallest class holding n and the end canary */
  for (size_t n = 0; n <= HM_SMALL_REQ_MAX; n++) {
    unsigned c = hm_size_class(n);
    size_t need = n + HM_CANARY;
    CHECK(c < HM_CLASSES);
    CHECK(hm_class_size[c] >= need, "size %zu -> class %u of %u bytes", n, c, hm_class_size[c]);
    CHECK(c == 0 || hm_class_size[c - 1] < need, "size %zu not in the smallest class (%u)", n, c);
    CHECK(c >= prev, "class not monotone at %zu", n);
    prev = c;
    /* waste bound: a block never exceeds the request by more than 25% past 128 bytes */
    if (n > 128) CHECK(hm_class_size[c] <= need + need / 4 + 16, "size %zu wastes too much", n);
  }
  CHECK(hm_size_class(0) == 0 && hm_class_size[0] == HM_CANARY, "malloc(0) has a class of its own");
  /* blocks of every class are as aligned as malloc promises, at any slab offset */
  for (unsigned c = 0; c < HM_CLASSES; c++) {
    unsigned bs = hm_class_size[c], need = bs >= 16 ? 16 : 8;
    for (unsigned i = 0; i * bs + bs <= HM_SLAB_SIZE; i++) CHECK((i * bs) % need == 0);
  }
  /* aligned small allocations */
  for (size_t align = 16; align <= 32768; align *= 2)
    for (size_t n = 0; n <= 4096; n += 97) {
      void *p = hak_aligned_alloc(align, n);
      CHECK(p != NULL && (uintptr_t)p % align == 0, "aligned_alloc(%zu, %zu) = %p", align, n, p);
      CHECK(hak_malloc_usable_size(p) >= n);
      hak_free_aligned_sized(p, align, n);
    }
  printf("classes: %d classes, sizes 0..%u checked\n", HM_CLASSES, HM_SMALL_MAX);
  return 0;
}
