/* a write into the first byte of a malloc(0) block: SIGSEGV at strict and paranoid (a PROT_NONE
 * slot, zero.c) at the write itself, not at the free; "heap buffer overflow" below strict. */
#include "detect.h"

int main(void) {
  char *p = malloc(0);
  SETUP(p != NULL);
  volatile char *v = launder(p);
  v[0] = 1;
  fputs("detect: the write went through\n", stderr);
  free(p);
  return survived();
}
