/* realloc of a slot start in a zero-size chunk that was never handed out (4096 bytes past a
 * malloc(0) block: the cursor has not got there). At HAKMEM_HARDEN=strict or paranoid: SIGABRT,
 * "invalid pointer passed to realloc" (not "freed pointer": the slot never held a block). */
#include "detect.h"

int main(void) {
  char *p = malloc(0);
  SETUP(p != NULL);
  char *q = (char *)launder(p) + 4096;
  expect_pointer(q);
  void *r = realloc(q, 10);
  (void)r;
  return survived();
}
