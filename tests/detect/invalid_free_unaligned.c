/* free a small block's address plus one byte (same 8-byte granule as the block start).
 * Expect SIGABRT, "invalid free". */
#include "detect.h"

int main(void) {
  char *p = malloc(64);
  SETUP(p != NULL);
  expect_pointer(p + 1);
  free(launder(p + 1));
  return survived();
}
