/* realloc moved a large block (> 512 KiB) to a new mapping; free the old pointer.
 * Expect SIGABRT, "double free". */
#include "detect.h"

int main(void) {
  char *p = malloc(DETECT_LARGE);
  SETUP(p != NULL && DETECT_LARGE > DETECT_MID_MAX);
  memset(p, 'a', DETECT_LARGE);
  char *q = realloc(p, (size_t)8 << 20);
  SETUP(q != NULL && q != p);
  expect_pointer(p);
  free(launder(p));
  return survived();
}
