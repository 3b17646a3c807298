/* free twice of a malloc(0) block (other zero-size blocks live around it): "double free". At the
 * strict levels the block is a PROT_NONE slot of zero.c, which keeps a bit per live slot. */
#include "detect.h"

int main(void) {
  char *a = malloc(0), *p = malloc(0), *b = malloc(0);
  SETUP(a != NULL && p != NULL && b != NULL && a != p && p != b);
  free(p);
  expect_pointer(p);
  free(launder(p));
  return survived();
}
