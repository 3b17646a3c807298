/* realloc memory the program mapped itself. Expect SIGABRT,
 * "invalid pointer passed to realloc". */
#include <sys/mman.h>
#include "detect.h"

int main(void) {
  char *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  SETUP(m != MAP_FAILED);
  expect_pointer(m);
  char *q = realloc(launder(m), 100);
  (void)q;
  return survived();
}
