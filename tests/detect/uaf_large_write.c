/* write into a large block after freeing it: its mapping is PROT_NONE in the cache of freed
 * mappings. Expect SIGSEGV (no message). */
#include "detect.h"

int main(void) {
  char *p = malloc(DETECT_LARGE);
  SETUP(p != NULL && DETECT_LARGE > DETECT_MID_MAX);
  p[0] = 1;
  free(p);
  volatile char *v = launder(p);
  v[0] = 2;
  return survived();
}
