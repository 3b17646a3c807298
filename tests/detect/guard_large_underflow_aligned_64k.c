/* a large block from posix_memalign with a 64 KiB alignment: write before its first byte. */
#include "underflow.h"

int main(void) {
  const size_t align = (size_t)64 << 10;
  void *p = NULL;
  SETUP(posix_memalign(&p, align, DETECT_LARGE) == 0);
  SETUP((uintptr_t)p % align == 0 && malloc_usable_size(p) == LARGE_USABLE(DETECT_LARGE));
  return underflow(p);
}
