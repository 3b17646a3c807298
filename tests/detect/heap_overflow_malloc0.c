/* a write into a malloc(0) block, then free. With HAKMEM_HARDEN=paranoid: SIGABRT,
 * "heap buffer overflow". At the default level: runs to the end (exit 0). */
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
