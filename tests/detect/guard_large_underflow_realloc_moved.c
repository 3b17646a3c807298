/* a large block grown by realloc past its mapping (moved by mremap to a new address, contents
 * kept): write before its first byte. */
#include "underflow.h"

int main(void) {
  const size_t big = (size_t)8 << 20;
  char *p = malloc(DETECT_LARGE);
  SETUP(p != NULL);
  p[0] = 42;
  char *q = realloc(p, big);
  SETUP(q != NULL && q != p && q[0] == 42 && malloc_usable_size(q) == big);
  return underflow(q);
}
