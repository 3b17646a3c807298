/* malloc(100000), then free_sized with size 50000. Expect SIGABRT,
 * "free_sized with a wrong size". */
#include "detect.h"

int main(void) {
  need_sized_frees();
  char *p = malloc(100000);
  SETUP(p != NULL);
  expect_pointer(p);
  free_sized(launder(p), 50000);
  return survived();
}
