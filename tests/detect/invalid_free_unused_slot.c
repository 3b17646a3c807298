/* free an address in a never-used slab slot of the SuperSlab that holds a live block (slot 31:
 * slots are claimed lowest first). Expect SIGABRT, "invalid free". */
#include "detect.h"

int main(void) {
  char *p = malloc(64);
  SETUP(p != NULL);
  uintptr_t ss = (uintptr_t)p & ~(DETECT_SS - 1);
  unsigned slot = (unsigned)(((uintptr_t)p - ss) / DETECT_SLAB);
  SETUP(slot < 20);
  char *q = (char *)(ss + 31 * DETECT_SLAB + 64 * 3);
  SETUP((uintptr_t)q - (uintptr_t)p >= 64 * DETECT_KiB * 11 && (uintptr_t)q < ss + DETECT_SS);
  expect_pointer(q);
  free(launder(q));
  return survived();
}
