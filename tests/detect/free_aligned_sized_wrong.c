/* aligned_alloc(4096, 100), then free_aligned_sized with alignment 64. Expect SIGABRT,
 * "free_aligned_sized with a wrong size or alignment". */
#include "detect.h"

int main(void) {
  need_sized_frees();
  char *p = aligned_alloc(4096, 100);
  SETUP(p != NULL && (uintptr_t)p % 4096 == 0);
  expect_pointer(p);
  free_aligned_sized(launder(p), 64, 100);
  return survived();
}
