/* free a non-canonical address (above the 47-bit user address space).
 * Expect SIGABRT, "invalid free". */
#include "detect.h"

int main(void) {
  char *w = (char *)(uintptr_t)0xdead000000001000ull;
  expect_pointer(w);
  free(launder(w));
  return survived();
}
