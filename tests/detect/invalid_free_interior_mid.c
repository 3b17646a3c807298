/* free a pointer 8 KiB into a medium block: 8 KiB-aligned like every block start, but not one.
 * Expect SIGABRT, "invalid free". */
#include "detect.h"

int main(void) {
  char *p = malloc(DETECT_MID);
  SETUP(p != NULL && malloc_usable_size(p) == DETECT_MID_CLASS);
  expect_pointer(p + 8192);
  free(launder(p + 8192));
  return survived();
}
