/* free the same small block twice in a row. Expect SIGABRT, "double free". */
#include "detect.h"

int main(void) {
  char *p = malloc(32);
  SETUP(p != NULL);
  free(p);
  expect_pointer(p);
  free(launder(p));
  return survived();
}
