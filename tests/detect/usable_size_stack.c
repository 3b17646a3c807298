/* malloc_usable_size of a stack address. Expect SIGABRT,
 * "invalid pointer passed to malloc_usable_size". */
#include "detect.h"

int main(void) {
  char buf[64];
  memset(buf, 0, sizeof buf);
  expect_pointer(buf);
  size_t n = malloc_usable_size(launder(buf));
  fprintf(stderr, "detect: malloc_usable_size returned %zu\n", n);
  return survived();
}
