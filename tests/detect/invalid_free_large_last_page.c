/* free the page-aligned address of a large block's last page. Expect SIGABRT, "invalid free". */
#include "detect.h"

int main(void) {
  const size_t n = DETECT_LARGE_PAGES;
  char *p = malloc(n);
  SETUP(p != NULL && n > DETECT_MID_MAX);
  expect_pointer(p + n - 4096);
  free(launder(p + n - 4096));
  return survived();
}
