/* A small block freed with free_sized one byte past its usable size (no request of that size
 * gets this block: it would not hold it with its end canary). Expect SIGABRT, "free_sized with a
 * wrong size". */
#include "detect.h"

int main(void) {
  need_sized_frees();
  char *p = malloc(24);
  SETUP(p != NULL);
  size_t u = malloc_usable_size(p);
  SETUP(u >= 24 && u < 4096);
  expect_pointer(p);
  free_sized(launder(p), u + 1);
  return survived();
}
