/* write-after-free: overwrite a freed small block's first 8 bytes (its encoded next pointer)
 * with the address of a global, then malloc that class twice. Without validation the second
 * malloc would return the global. Expect SIGABRT, "corrupted free list". */
#include "detect.h"

static char target[256];

int main(void) {
  char *a = malloc(64);
  char *p = malloc(64);
  SETUP(a != NULL && p != NULL);
  free(p);   /* p heads its slab's free list */
  uintptr_t forged = (uintptr_t)target;
  memcpy(launder(p), &forged, sizeof forged);
  expect_pointer(p);
  char *x = malloc(64);
  char *y = malloc(64);
  fprintf(stderr, "detect: malloc returned %p then %p (global at %p)\n", (void *)x, (void *)y,
          (void *)target);
  return survived();
}
