/* malloc(100), then free_sized with size 99 (the same size class): at HAKMEM_HARDEN=strict the
 * block records its exact request, so SIGABRT, "free_sized with a wrong size". */
#include "detect.h"

int main(void) {
  need_sized_frees();
  char *p = malloc(100);
  SETUP(p != NULL);
  expect_pointer(p);
  free_sized(launder(p), 99);
  return survived();
}
