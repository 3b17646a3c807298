/* thread B frees a medium block of thread A twice. Medium blocks have no owner (one lock per
 * tier), so unlike a small block's remote double free this one is caught at the second free
 * itself, in B. Expect SIGABRT, "double free". */
#include <pthread.h>
#include "detect.h"

static void *twice(void *p) {
  free(p);
  expect_pointer(p);
  free(launder(p));
  fputs("detect: second free returned\n", stderr);
  return NULL;
}

int main(void) {
  char *p = malloc(DETECT_MID);
  char *keep = malloc(DETECT_MID);   /* the SuperSlab stays in use */
  SETUP(p != NULL && keep != NULL && malloc_usable_size(p) == DETECT_MID_CLASS);
  pthread_t t;
  SETUP(pthread_create(&t, NULL, twice, p) == 0);
  SETUP(pthread_join(t, NULL) == 0);
  return survived();
}
