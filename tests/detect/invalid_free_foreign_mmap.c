/* free memory the program mapped itself. Expect SIGABRT, "invalid free". */
#include <sys/mman.h>
#include "detect.h"

int main(void) {
  char *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  SETUP(m != MAP_FAILED);
  m[0] = 1;
  expect_pointer(m);
  free(launder(m));
  return survived();
}
