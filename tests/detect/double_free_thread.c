/* thread B frees a block of thread A twice. B cannot see A's bitmap, so both frees go onto the
 * slab's remote list; A finds the second when it drains the list (malloc_trim(0) makes A drain).
 * Deterministic: A drains only after joining B. Expect SIGABRT, "double free". */
#include <pthread.h>
#include "detect.h"

static void *twice(void *p) {
  free(p);
  free(launder(p));
  return NULL;
}

int main(void) {
  char *p = malloc(64);
  char *keep = malloc(64);   /* the slab stays in use: A really drains it */
  SETUP(p != NULL && keep != NULL);
  pthread_t t;
  SETUP(pthread_create(&t, NULL, twice, p) == 0);
  SETUP(pthread_join(t, NULL) == 0);
  expect_pointer(p);
  malloc_trim(0);
  for (int i = 0; i < 10000; i++) (void)malloc(64);   /* the other way to drain, if trim did not */
  return survived();
}
