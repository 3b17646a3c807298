/* free the same large block (its own mapping, > 512 KiB) twice. Expect SIGABRT, "double free". */
#include "detect.h"

int main(void) {
  char *p = malloc(DETECT_LARGE);
  SETUP(p != NULL && DETECT_LARGE > DETECT_MID_MAX);
  p[0] = 1;
  free(p);
  expect_pointer(p);
  free(launder(p));
  return survived();
}
