/* write into a freed small block beyond its first 8 bytes (the encoded next pointer is left
 * alone), then malloc and free the same size until the block is handed out again: a quarantine
 * delays reuse, and only later frees push the block out of it (mallocs alone never would).
 * With HAKMEM_HARDEN=strict: SIGABRT, "write after free", when the block leaves the quarantine
 * (paranoid: there, or when it is handed out again).
 * At the default level: the block comes back at once, silently, and the program runs to the end
 * (exit 0). The byte is flipped rather than set, so the write changes whatever fill was there. */
#include "detect.h"

int main(void) {
  enum { MAX_ROUNDS = 100000 };
  char *keep = malloc(40);   /* the slab never empties: the block stays a block of this class */
  char *p = malloc(40);
  SETUP(keep != NULL && p != NULL);
  memset(p, 'a', 40);
  free(p);
  volatile char *v = launder(p);
  v[12] = (char)(v[12] ^ 0xff);
  expect_pointer(p);
  for (int i = 0; i < MAX_ROUNDS; i++) {
    char *q = malloc(40);
    SETUP(q != NULL);
    if (q == p) {
      fprintf(stderr, "detect: the written block came back after %d mallocs\n", i + 1);
      return survived();
    }
    free(q);
  }
  fprintf(stderr, "detect: the written block did not come back in %d rounds\n", MAX_ROUNDS);
  return survived();
}
