/* realloc a freed large block. Expect SIGABRT, "freed pointer passed to realloc". */
#include "detect.h"

int main(void) {
  char *p = malloc(100000);
  SETUP(p != NULL);
  free(p);
  expect_pointer(p);
  char *q = realloc(launder(p), 200000);
  (void)q;
  return survived();
}
