/* a large block freed, then taken again from the cache of freed mappings (same address): write
 * before its first byte. */
#include "underflow.h"

int main(void) {
  char *p = malloc(DETECT_LARGE);
  SETUP(p != NULL);
  p[0] = 1;
  free(p);
  char *q = malloc(DETECT_LARGE);
  SETUP(q == p && malloc_usable_size(q) == LARGE_USABLE(DETECT_LARGE));
  return underflow(q);
}
