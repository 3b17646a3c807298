/* malloc(600000) (large: its own mapping, the user pointer one lead guard page past a 2 MiB
 * boundary), then free_aligned_sized with the right size but alignment 4 MiB, which the block was
 * not asked for (the large block also remembers the alignment requested). Expect SIGABRT,
 * "free_aligned_sized with a wrong size or alignment". */
#include "detect.h"

int main(void) {
  need_sized_frees();
  char *p = malloc(DETECT_LARGE);
  SETUP(p != NULL && (uintptr_t)p % DETECT_PAGE == 0);
  expect_pointer(p);
  free_aligned_sized(launder(p), (size_t)4 << 20, DETECT_LARGE);
  return survived();
}
