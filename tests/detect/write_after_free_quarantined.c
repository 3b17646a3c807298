/* A write into a block while it waits in the strict levels' quarantine, caught by one of the
 * quarantine's own checks. DETECT_HOW (environment):
 *   scan     the first word of the freed block is changed, then only mallocs follow (no free, so
 *            nothing leaves the quarantine): the per-malloc scan of one quarantined block finds it
 *   release  the first word is changed, then only frees follow (no malloc, so no scan): the check
 *            of a block leaving the full quarantine finds it
 *   tail     a byte near the end of a 4000-byte block is changed, then only frees follow: the
 *            release check of a big block's last bytes finds it
 * Each: SIGABRT, "write after free", naming the block. Run at HAKMEM_HARDEN=strict. */
#include "detect.h"

enum { N = 400 };

int main(void) {
  const char *how = getenv("DETECT_HOW");
  SETUP(how != NULL);
  size_t size = strcmp(how, "tail") == 0 ? 4000 : 64;
  static char *a[N];
  for (int i = 0; i < N; i++) {
    a[i] = malloc(size);
    SETUP(a[i] != NULL);
  }
  char *p = a[0];
  free(p);
  volatile char *v = launder(p);
  expect_pointer(p);
  if (strcmp(how, "scan") == 0) {
    v[0] = (char)(v[0] ^ 0x5a);
    for (int i = 0; i < N; i++) a[i] = malloc(size);   /* a[0] was freed: the slots are reused */
  } else {
    if (strcmp(how, "tail") == 0) v[3990] = (char)(v[3990] ^ 0x5a);
    else v[0] = (char)(v[0] ^ 0x5a);
    for (int i = 1; i < N; i++) free(a[i]);
  }
  return survived();
}
