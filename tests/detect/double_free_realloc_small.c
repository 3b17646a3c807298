/* realloc moved a small block; free the old pointer. Expect SIGABRT, "double free". */
#include "detect.h"

int main(void) {
  char *p = malloc(16);
  SETUP(p != NULL);
  memset(p, 'a', 16);
  char *q = realloc(p, 1000);
  SETUP(q != NULL && q != p);
  expect_pointer(p);
  free(launder(p));
  return survived();
}
