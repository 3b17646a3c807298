/* A write into a freed block after it has left the paranoid level's quarantine (1024 later frees
 * push it out; it passed the release check untouched), in the second half of the block; the next
 * malloc of its class hands it out again. With HAKMEM_HARDEN=paranoid: SIGABRT, "write after
 * free" from the reuse check, naming the block. */
#include "detect.h"

enum { FILL = 1500 };

int main(void) {
  char *p = malloc(256);
  SETUP(p != NULL);
  static char *f[FILL];
  for (int i = 0; i < FILL; i++) {
    f[i] = malloc(16);   /* another class: p's slab keeps p at the head of its free list */
    SETUP(f[i] != NULL);
  }
  free(p);
  for (int i = 0; i < FILL; i++) free(f[i]);
  volatile char *v = launder(p);
  v[200] = (char)(v[200] ^ 0x5a);
  expect_pointer(p);
  for (int i = 0; i < 64; i++) SETUP(malloc(256) != NULL);
  return survived();
}
