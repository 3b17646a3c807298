/* a fresh large block (malloc, nothing freed before): write before its first byte. */
#include "underflow.h"

int main(void) {
  char *p = malloc(DETECT_LARGE);
  SETUP(p != NULL && malloc_usable_size(p) == LARGE_USABLE(DETECT_LARGE));
  return underflow(p);
}
