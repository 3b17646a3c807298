/* write one byte past the end of a large block whose size is a page multiple (516 KiB, just past
 * the medium tier): the guard page. Expect SIGSEGV (no message). */
#include "detect.h"

int main(void) {
  const size_t n = DETECT_LARGE_PAGES;
  char *p = malloc(n);
  SETUP(p != NULL && n > DETECT_MID_MAX && n % DETECT_PAGE == 0 && malloc_usable_size(p) == n);
  volatile char *v = launder(p);
  v[n - 1] = 1;
  v[n] = 1;
  return survived();
}
