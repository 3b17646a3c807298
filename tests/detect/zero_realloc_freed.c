/* realloc of a freed malloc(0) block: "freed pointer passed to realloc" at strict (zero.c). */
#include "detect.h"

int main(void) {
  char *keep = malloc(0), *p = malloc(0);
  SETUP(keep != NULL && p != NULL);
  free(p);
  expect_pointer(p);
  p = realloc(launder(p), 32);
  return survived();
}
