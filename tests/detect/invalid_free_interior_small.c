/* free a pointer into the middle of a small block. Expect SIGABRT, "invalid free". */
#include "detect.h"

int main(void) {
  char *p = malloc(64);
  SETUP(p != NULL);
  expect_pointer(p + 32);
  free(launder(p + 32));
  return survived();
}
