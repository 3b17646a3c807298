/* realloc a small block its own thread has freed. Expect SIGABRT,
 * "freed pointer passed to realloc". */
#include "detect.h"

int main(void) {
  char *p = malloc(64);
  SETUP(p != NULL);
  free(p);
  expect_pointer(p);
  char *q = realloc(launder(p), 200);
  (void)q;
  return survived();
}
