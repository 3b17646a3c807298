/* a large block shrunk by realloc in place (1 MiB to 700000 bytes: over half, so it stays,
 * and keeps its pages):
 * write before its first byte. */
#include "underflow.h"

int main(void) {
  const size_t small = 700000;
  char *p = malloc((size_t)1 << 20);
  SETUP(p != NULL);
  char *q = realloc(p, small);
  SETUP(q == p && malloc_usable_size(q) == ((size_t)1 << 20));
  return underflow(q);
}
