/* realloc a pointer into the middle of a small block. Expect SIGABRT,
 * "invalid pointer passed to realloc". */
#include "detect.h"

int main(void) {
  char *p = malloc(64);
  SETUP(p != NULL);
  expect_pointer(p + 16);
  char *q = realloc(launder(p + 16), 100);
  (void)q;
  return survived();
}
