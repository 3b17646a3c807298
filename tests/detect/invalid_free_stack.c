/* free a stack address. Expect SIGABRT, "invalid free". */
#include "detect.h"

int main(void) {
  char buf[64];
  memset(buf, 0, sizeof buf);
  expect_pointer(buf);
  free(launder(buf));
  return survived();
}
