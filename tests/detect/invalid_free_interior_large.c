/* free a pointer into the middle (second page) of a large block. Expect SIGABRT, "invalid free". */
#include "detect.h"

int main(void) {
  char *p = malloc(DETECT_LARGE);
  SETUP(p != NULL && DETECT_LARGE > DETECT_MID_MAX);
  expect_pointer(p + 4096);
  free(launder(p + 4096));
  return survived();
}
