/* malloc_usable_size of a pointer into a large block. Expect SIGABRT,
 * "invalid pointer passed to malloc_usable_size". */
#include "detect.h"

int main(void) {
  char *p = malloc(DETECT_LARGE);
  SETUP(p != NULL && DETECT_LARGE > DETECT_MID_MAX);
  expect_pointer(p + 8192);
  size_t n = malloc_usable_size(launder(p + 8192));
  fprintf(stderr, "detect: malloc_usable_size returned %zu\n", n);
  return survived();
}
