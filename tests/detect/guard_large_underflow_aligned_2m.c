/* a large block from aligned_alloc with a 2 MiB alignment: write before its first byte. */
#include "underflow.h"

int main(void) {
  char *p = aligned_alloc(DETECT_SS, DETECT_LARGE);
  SETUP(p != NULL && (uintptr_t)p % DETECT_SS == 0 &&
        malloc_usable_size(p) == LARGE_USABLE(DETECT_LARGE));
  return underflow(p);
}
