/* free the address of a global. Expect SIGABRT, "invalid free". */
#include "detect.h"

static char global[64];

int main(void) {
  expect_pointer(global);
  free(launder(global));
  return survived();
}
