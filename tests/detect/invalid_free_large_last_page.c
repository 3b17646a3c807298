/* free the page-aligned address of a large block's last page. Expect SIGABRT, "invalid free". */
#include "detect.h"

int main(void) {
  char *p = malloc(40960);
  SETUP(p != NULL);
  expect_pointer(p + 40960 - 4096);
  free(launder(p + 40960 - 4096));
  return survived();
}
