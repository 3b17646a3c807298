/* realloc a freed large block. Expect SIGABRT, "freed pointer passed to realloc". */
#include "detect.h"

int main(void) {
  char *p = malloc(DETECT_LARGE);
  SETUP(p != NULL && DETECT_LARGE > DETECT_MID_MAX);
  free(p);
  expect_pointer(p);
  char *q = realloc(launder(p), 2 * DETECT_LARGE);
  (void)q;
  return survived();
}
