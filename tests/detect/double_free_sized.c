/* free, then free_sized of the same block with its right size. Expect SIGABRT, "double free". */
#include "detect.h"

int main(void) {
  need_sized_frees();
  char *p = malloc(32);
  SETUP(p != NULL);
  free(p);
  expect_pointer(p);
  free_sized(launder(p), 32);
  return survived();
}
