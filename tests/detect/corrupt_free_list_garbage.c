/* write-after-free: overwrite a freed small block's first 8 bytes with garbage, then malloc
 * that class twice. Expect SIGABRT, "corrupted free list". */
#include "detect.h"

int main(void) {
  char *a = malloc(128);
  char *p = malloc(128);
  SETUP(a != NULL && p != NULL);
  free(p);
  memset(launder(p), 0x41, 8);
  expect_pointer(p);
  char *x = malloc(128);
  char *y = malloc(128);
  fprintf(stderr, "detect: malloc returned %p then %p\n", (void *)x, (void *)y);
  return survived();
}
