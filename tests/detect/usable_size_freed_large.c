/* malloc_usable_size of a freed large block. Expect SIGABRT,
 * "freed pointer passed to malloc_usable_size". */
#include "detect.h"

int main(void) {
  char *p = malloc(DETECT_LARGE);
  SETUP(p != NULL && DETECT_LARGE > DETECT_MID_MAX);
  free(p);
  expect_pointer(p);
  size_t n = malloc_usable_size(launder(p));
  fprintf(stderr, "detect: malloc_usable_size returned %zu\n", n);
  return survived();
}
