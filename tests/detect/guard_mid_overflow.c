/* write one byte past the end of a 40960-byte block (a page multiple).
 * With HAKMEM_HARDEN=strict (or paranoid) the size is served by the large tier: the byte lands on
 * the guard page, SIGSEGV (no message). At the off and fast levels it is a medium block: the byte
 * lands in the next block of the same SuperSlab (or its unused tail), nothing notices, and the
 * program runs to the end (exit 0). */
#include "detect.h"

int main(void) {
  const size_t n = 40960;
  char *p = malloc(n);
  SETUP(p != NULL && n > DETECT_SMALL_MAX && malloc_usable_size(p) == n);
  volatile char *v = launder(p);
  v[n - 1] = 1;
  v[n] = (char)(v[n] ^ 0xff);
  free(p);
  return survived();
}
