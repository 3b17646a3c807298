/* write one byte past the page-rounded end of a large block: the guard page.
 * Expect SIGSEGV (no message). */
#include "detect.h"

int main(void) {
  char *p = malloc(40960);
  SETUP(p != NULL && malloc_usable_size(p) == 40960);
  volatile char *v = launder(p);
  v[40959] = 1;
  v[40960] = 1;
  return survived();
}
