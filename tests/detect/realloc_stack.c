/* realloc a stack address. Expect SIGABRT, "invalid pointer passed to realloc". */
#include "detect.h"

int main(void) {
  char buf[64];
  memset(buf, 0, sizeof buf);
  expect_pointer(buf);
  char *q = realloc(launder(buf), 100);
  (void)q;
  return survived();
}
