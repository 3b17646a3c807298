/* free the same medium block (32 KiB < size <= 512 KiB, default level) twice: its SuperSlab's free
 * mask already has the block's bit. Expect SIGABRT, "double free". */
#include "detect.h"

int main(void) {
  char *p = malloc(DETECT_MID);
  SETUP(p != NULL && malloc_usable_size(p) == DETECT_MID_CLASS);   /* really medium */
  p[0] = 1;
  free(p);
  expect_pointer(p);
  free(launder(p));
  return survived();
}
