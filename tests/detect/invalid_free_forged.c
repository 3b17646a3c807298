/* free a forged pointer that looks like a block of a live slab: block-aligned, inside the slab,
 * but never carved (blocks are carved a page at a time). Expect SIGABRT, "invalid free". */
#include "detect.h"

int main(void) {
  char *p = malloc(64);
  SETUP(p != NULL);
  uintptr_t slab = (uintptr_t)p & ~(DETECT_SLAB - 1);
  SETUP((uintptr_t)p - slab < 64 * 900);   /* at most ~900 blocks carved before p's page */
  char *forged = (char *)(slab + 64 * 1000);
  expect_pointer(forged);
  free(launder(forged));
  return survived();
}
