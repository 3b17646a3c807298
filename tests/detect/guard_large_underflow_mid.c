/* a 100000-byte block: medium at off and fast (no guard), large at strict, where this runs (the
 * usable size says which: a medium block reports its class size). Write before its first byte. */
#include "underflow.h"

int main(void) {
  char *p = malloc(DETECT_MID);
  SETUP(p != NULL && malloc_usable_size(p) == LARGE_USABLE(DETECT_MID));
  return underflow(p);
}
