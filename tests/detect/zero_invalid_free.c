/* free of a malloc(0) block's address + DETECT_ZERO_OFF (8: inside the 16-byte slot at strict;
 * 4096: a slot start never handed out): "invalid free". */
#include "detect.h"

int main(void) {
  const char *off = getenv("DETECT_ZERO_OFF");
  size_t n = off ? (size_t)strtoul(off, NULL, 0) : 8;
  char *p = malloc(0);
  SETUP(p != NULL);
  char *q = (char *)launder(p) + n;
  expect_pointer(q);
  free(q);
  return survived();
}
