/* malloc(100), then free_sized with size 4000. Expect SIGABRT, "free_sized with a wrong size". */
#include "detect.h"

int main(void) {
  need_sized_frees();
  char *p = malloc(100);
  SETUP(p != NULL);
  expect_pointer(p);
  free_sized(launder(p), 4000);
  return survived();
}
