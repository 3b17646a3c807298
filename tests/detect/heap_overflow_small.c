/* one byte written past the requested size of a small block (inside the class's slack), then
 * free. With HAKMEM_HARDEN=paranoid: SIGABRT, "heap buffer overflow". At the default level the
 * slack is not checked and the program runs to the end (exit 0). The byte is flipped rather than
 * set, so the write changes it whatever canary value was there. */
#include "detect.h"

int main(void) {
  char *p = malloc(20);
  SETUP(p != NULL);
  memset(p, 'a', 20);
  volatile char *v = launder(p);
  v[20] = (char)(v[20] ^ 0xff);
  expect_pointer(p);
  free(p);
  return survived();
}
