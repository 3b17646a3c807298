/* free the address of the guard page just after a large block's usable bytes.
 * Expect SIGABRT, "invalid free". */
#include "detect.h"

int main(void) {
  const size_t n = DETECT_LARGE_PAGES;
  char *p = malloc(n);
  SETUP(p != NULL && n > DETECT_MID_MAX && malloc_usable_size(p) == n);
  expect_pointer(p + n);
  free(launder(p + n));
  return survived();
}
