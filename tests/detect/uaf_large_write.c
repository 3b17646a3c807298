/* write into a large block after freeing it: its mapping is gone. Expect SIGSEGV (no message). */
#include "detect.h"

int main(void) {
  char *p = malloc(100000);
  SETUP(p != NULL);
  p[0] = 1;
  free(p);
  volatile char *v = launder(p);
  v[0] = 2;
  return survived();
}
