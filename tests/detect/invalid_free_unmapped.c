/* free an address where nothing is mapped (mapped by the program, then unmapped).
 * Expect SIGABRT, "invalid free". */
#include <sys/mman.h>
#include "detect.h"

int main(void) {
  char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  SETUP(m != MAP_FAILED);
  SETUP(munmap(m, 4096) == 0);
  expect_pointer(m);
  free(launder(m));
  return survived();
}
