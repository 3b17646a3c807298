/* The slab of a class empties and goes back to the pool (malloc_trim), then the same class takes
 * the same slot again: a stale pointer is now a carved-but-free block of the new slab.
 * Expect SIGABRT, "double free". */
#include "detect.h"

int main(void) {
  enum { N = 20 };
  char *keeper = malloc(1000);   /* another class in the same SuperSlab: it is not unmapped */
  SETUP(keeper != NULL);
  char *old[N];
  for (int i = 0; i < N; i++) {
    old[i] = malloc(64);
    SETUP(old[i] != NULL);
  }
  for (int i = 0; i < N; i++) free(old[i]);
  malloc_trim(0);
  char *fresh = malloc(64);
  SETUP(fresh != NULL);
  /* The slot came back to class 64 with its first page of blocks carved (in random order at the
   * default level): the old blocks are in that page, and all but `fresh` are free. */
  char *stale = old[9] != fresh ? old[9] : old[10];
  SETUP((uintptr_t)fresh / DETECT_SLAB == (uintptr_t)stale / DETECT_SLAB);
  SETUP(((uintptr_t)fresh & (DETECT_SLAB - 1)) < 4096 && ((uintptr_t)stale & (DETECT_SLAB - 1)) < 4096);
  expect_pointer(stale);
  free(launder(stale));
  return survived();
}
