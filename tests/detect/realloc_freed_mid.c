/* realloc a freed medium block. Expect SIGABRT, "freed pointer passed to realloc". */
#include "detect.h"

int main(void) {
  char *p = malloc(DETECT_MID);
  char *keep = malloc(DETECT_MID);
  SETUP(p != NULL && keep != NULL && malloc_usable_size(p) == DETECT_MID_CLASS);
  free(p);
  expect_pointer(p);
  char *q = realloc(launder(p), 2 * DETECT_MID);
  (void)q;
  return survived();
}
