/* realloc moved a large block to a new mapping; free the old pointer.
 * Expect SIGABRT, "double free". */
#include "detect.h"

int main(void) {
  char *p = malloc(100000);
  SETUP(p != NULL);
  memset(p, 'a', 100000);
  char *q = realloc(p, (size_t)8 << 20);
  SETUP(q != NULL && q != p);
  expect_pointer(p);
  free(launder(p));
  return survived();
}
