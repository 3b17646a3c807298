/* malloc(100000) (medium at off and fast, 8 KiB-aligned; large at strict, one lead guard page
 * past a 2 MiB boundary: page-aligned only, usable size 100 KiB), then
 * free_aligned_sized with the right size but alignment 8 KiB: aligned_alloc(8192, 100000) would
 * have been a large block of its own (the medium tier serves alignments up to a page), and a
 * large block remembers the alignment it was asked for. Expect SIGABRT,
 * "free_aligned_sized with a wrong size or alignment". */
#include "detect.h"

int main(void) {
  need_sized_frees();
  char *p = malloc(DETECT_MID);
  SETUP(p != NULL && ((uintptr_t)p % 8192 == 0 ||
                     ((uintptr_t)p % DETECT_PAGE == 0 && malloc_usable_size(p) == 102400)));
  expect_pointer(p);
  free_aligned_sized(launder(p), 8192, DETECT_MID);
  return survived();
}
