/* write one byte past the usable size of a block of 40952 bytes (a medium block at off and fast:
 * 40 KiB less the end canary; a large one of 40 KiB at strict levels).
 * With HAKMEM_HARDEN=strict (or paranoid) the size is served by the large tier: the byte lands on
 * the guard page, SIGSEGV (no message). At the off and fast levels it is a medium block: the byte
 * lands in its end canary, and free aborts with "heap buffer overflow". */
#include "detect.h"

int main(void) {
  char *p = malloc(40952);
  size_t n = p ? malloc_usable_size(p) : 0;
  SETUP(p != NULL && n >= 40952 && n > DETECT_SMALL_MAX);
  volatile char *v = launder(p);
  v[n - 1] = 1;
  v[n] = (char)(v[n] ^ 0xff);
  expect_pointer(p);
  free(p);
  return survived();
}
