/* free the address of the guard page just after a large block's usable bytes.
 * Expect SIGABRT, "invalid free". */
#include "detect.h"

int main(void) {
  char *p = malloc(40960);
  SETUP(p != NULL && malloc_usable_size(p) == 40960);
  expect_pointer(p + 40960);
  free(launder(p + 40960));
  return survived();
}
