/* free the same large block (its own mapping) twice. Expect SIGABRT, "double free". */
#include "detect.h"

int main(void) {
  char *p = malloc(100000);
  SETUP(p != NULL);
  p[0] = 1;
  free(p);
  expect_pointer(p);
  free(launder(p));
  return survived();
}
