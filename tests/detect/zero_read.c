/* a read of the first byte of a malloc(0) block. At strict and paranoid the block is a slot of a
 * PROT_NONE chunk (zero.c): SIGSEGV. Below strict it reads the end canary and goes unnoticed. */
#include "detect.h"

int main(void) {
  char *p = malloc(0);
  SETUP(p != NULL);
  volatile char *v = launder(p);
  volatile char c = v[0];
  (void)c;
  free(p);
  return survived();
}
