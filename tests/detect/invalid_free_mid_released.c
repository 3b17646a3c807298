/* A known limit (SECURITY.md): a double free of a medium block whose SuperSlab has already gone
 * back to the pool is reported as "invalid free" (the SuperSlab is no longer medium), like a
 * small slab's. Class 512 KiB has 4 blocks per SuperSlab: the fifth block gets a second
 * SuperSlab, which goes back to the pool when that block is freed (the class keeps only one empty
 * SuperSlab, and the first is still in use). Expect SIGABRT, "invalid free". */
#include "detect.h"

int main(void) {
  char *p[5];
  for (int i = 0; i < 5; i++) {
    p[i] = malloc(DETECT_MID_MAX - 8);   /* the largest medium request: 512 KiB less the canary */
    SETUP(p[i] != NULL && malloc_usable_size(p[i]) == DETECT_MID_MAX - 8);
  }
  uintptr_t ss4 = (uintptr_t)p[4] & ~(DETECT_SS - 1);
  for (int i = 0; i < 4; i++) SETUP(((uintptr_t)p[i] & ~(DETECT_SS - 1)) != ss4);
  free(p[4]);
  expect_pointer(p[4]);
  free(launder(p[4]));
  return survived();
}
