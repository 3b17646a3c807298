/* thread B frees a pointer 16 bytes into a small block of thread A (8-byte aligned, not a block
 * start): the remote free path must reject it before it reads a canary or pushes anything.
 * Expect SIGABRT, "invalid free". */
#include <pthread.h>
#include "detect.h"

static void *free_inside(void *p) {
  free(p);
  return NULL;
}

int main(void) {
  char *p = malloc(64);
  SETUP(p != NULL);
  char *q = (char *)launder(p) + 16;
  expect_pointer(q);
  pthread_t t;
  SETUP(pthread_create(&t, NULL, free_inside, q) == 0);
  SETUP(pthread_join(t, NULL) == 0);
  return survived();
}
