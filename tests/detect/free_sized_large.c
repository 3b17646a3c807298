/* malloc(1000000) (large), then free_sized with size 500000 (another page count).
 * Expect SIGABRT, "free_sized with a wrong size". */
#include "detect.h"

int main(void) {
  need_sized_frees();
  char *p = malloc(1000000);
  SETUP(p != NULL);
  expect_pointer(p);
  free_sized(launder(p), 500000);
  return survived();
}
