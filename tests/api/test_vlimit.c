/* The hak_* API under an address-space limit (run by ctest under `ulimit -v 100000`, KiB): small,
 * medium and large blocks are served, and a request larger than the limit fails cleanly with NULL
 * and ENOMEM instead of aborting. */
#include <sys/resource.h>
#include "hak_test.h"

int main(void) {
  struct rlimit rl;
  CHECK(getrlimit(RLIMIT_AS, &rl) == 0);
  if (rl.rlim_cur == RLIM_INFINITY) printf("vlimit: note: no address-space limit in force\n");
  static const size_t sizes[] = {1, 100, 4000, 32768, 40000, 100000, 500000, 600000, 4u << 20, 16u << 20};
  void *p[sizeof sizes / sizeof sizes[0]];
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    p[i] = hak_malloc(sizes[i]);
    CHECK(p[i] != NULL, "hak_malloc(%zu) failed: %s", sizes[i], strerror(errno));
    memset(p[i], (int)i, sizes[i]);
  }
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) hak_free(p[i]);
  size_t huge = (size_t)1 << 30;   /* 1 GiB: beyond a 100 MB limit */
  errno = 0;
  void *q = hak_malloc(huge);
  if (rl.rlim_cur != RLIM_INFINITY) CHECK(q == NULL && errno == ENOMEM, "hak_malloc(1 GiB): %p errno %d", q, errno);
  hak_free(q);
  CHECK(hak_check() == NULL, "%s", hak_check());
  printf("vlimit: small, medium and large blocks served; 1 GiB: NULL, ENOMEM\n");
  return 0;
}
