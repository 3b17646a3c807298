/* malloc(100000) (medium, class 112 KiB), then free_sized with size 50000: no request of 50000
 * bytes gets a block of that class. Expect SIGABRT, "free_sized with a wrong size". */
#include "detect.h"

int main(void) {
  need_sized_frees();
  char *p = malloc(DETECT_MID);
  SETUP(p != NULL && malloc_usable_size(p) == DETECT_MID_CLASS);
  expect_pointer(p);
  free_sized(launder(p), 50000);
  return survived();
}
