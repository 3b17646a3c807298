/* One byte written just past the request of a small block whose strict layout has canary bytes
 * between the request and the size trailer (malloc(9): bytes 9 .. trailer), then free. With
 * HAKMEM_HARDEN=strict or paranoid: SIGABRT, "heap buffer overflow" (the first canary byte is
 * checked, not only the trailer). */
#include "detect.h"

int main(void) {
  char *p = malloc(9);
  SETUP(p != NULL);
  memset(p, 'a', 9);
  volatile char *v = launder(p);
  v[9] = (char)(v[9] ^ 0xff);
  expect_pointer(p);
  free(p);
  return survived();
}
