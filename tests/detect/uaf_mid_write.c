/* write into a freed 40960-byte block.
 * With HAKMEM_HARDEN=strict (or paranoid) it is a large block, PROT_NONE once freed: SIGSEGV (no
 * message). At the off and fast levels it is a medium block, whose SuperSlab stays mapped
 * read-write (the class keeps it): nothing notices, and the program runs to the end (exit 0). */
#include "detect.h"

int main(void) {
  const size_t n = 40960;
  char *p = malloc(n);
  SETUP(p != NULL && n > DETECT_SMALL_MAX && malloc_usable_size(p) >= n);
  p[0] = 1;
  free(p);
  volatile char *v = launder(p);
  v[100] = 2;
  return survived();
}
