/* a write into a malloc(0) block, then free: SIGABRT, "heap buffer overflow", at every level (the
 * block is all end canary below strict; strict levels add their own canary bytes). */
#include "detect.h"

int main(void) {
  char *p = malloc(0);
  SETUP(p != NULL);
  volatile char *v = launder(p);
  v[0] = (char)(v[0] ^ 0xff);
  expect_pointer(p);
  free(p);
  return survived();
}
