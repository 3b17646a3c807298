/* a large block from calloc: write before its first byte. */
#include "underflow.h"

int main(void) {
  char *p = calloc(1, DETECT_LARGE);
  SETUP(p != NULL && malloc_usable_size(p) == LARGE_USABLE(DETECT_LARGE) &&
        p[DETECT_LARGE - 1] == 0);
  return underflow(p);
}
