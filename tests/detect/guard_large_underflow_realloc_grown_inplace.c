/* a large block grown by realloc within its mapping (600000 to 602112 bytes, the same pages):
 * write before its first byte. */
#include "underflow.h"

int main(void) {
  const size_t grown = 602112;   /* 600000 page-rounded */
  char *p = malloc(DETECT_LARGE);
  SETUP(p != NULL);
  char *q = realloc(p, grown);
  SETUP(q == p && malloc_usable_size(q) == grown);
  return underflow(q);
}
