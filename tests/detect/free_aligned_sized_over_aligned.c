/* A large block from aligned_alloc(2 MiB, 3 MiB) whose address happens to be a multiple of 4 MiB,
 * freed with free_aligned_sized(p, 4 MiB, 3 MiB): the alignment divides the address but was never
 * asked for. Expect SIGABRT, "free_aligned_sized with a wrong size or alignment". */
#include "detect.h"

#define MiB ((size_t)1 << 20)

int main(void) {
  need_sized_frees();
  char *p = NULL;
  for (int i = 0; i < 32 && p == NULL; i++) {
    char *q = aligned_alloc(2 * MiB, 3 * MiB);
    SETUP(q != NULL);
    if ((uintptr_t)q % (4 * MiB) == 0) p = q;   /* the others stay allocated */
  }
  SETUP(p != NULL);
  expect_pointer(p);
  free_aligned_sized(launder(p), 4 * MiB, 3 * MiB);
  return survived();
}
