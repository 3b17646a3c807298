/* malloc_usable_size of a freed medium block. Expect SIGABRT,
 * "freed pointer passed to malloc_usable_size". */
#include "detect.h"

int main(void) {
  char *p = malloc(DETECT_MID);
  SETUP(p != NULL && malloc_usable_size(p) == DETECT_MID_CLASS);
  free(p);
  expect_pointer(p);
  size_t n = malloc_usable_size(launder(p));
  fprintf(stderr, "detect: malloc_usable_size returned %zu\n", n);
  return survived();
}
