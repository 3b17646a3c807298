/* run with HAKMEM_HARDEN=ultra: hakmem warns once (naming the variable, the value and the default
 * level it uses) and the program runs normally (exit 0). */
#include "detect.h"

int main(void) {
  for (int i = 0; i < 1000; i++) {
    char *p = malloc((size_t)i * 37 % 5000);
    char *q = malloc(100000);
    SETUP(p != NULL && q != NULL);
    free(q);
    free(p);
  }
  return survived();
}
