/* malloc(100) (a small block of the 100-byte request's class), then free_aligned_sized with the
 * right size but alignment 4096: aligned_alloc(4096, 100) would have given a 4 KiB-class block.
 * Expect SIGABRT, "free_aligned_sized with a wrong size or alignment". */
#include "detect.h"

int main(void) {
  need_sized_frees();
  char *p = malloc(100);
  SETUP(p != NULL && malloc_usable_size(p) < 4096);
  expect_pointer(p);
  free_aligned_sized(launder(p), 4096, 100);
  return survived();
}
