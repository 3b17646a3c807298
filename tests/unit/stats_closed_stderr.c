/* Allocates, closes its stderr and exits: with HAKMEM_STATS=1 the exit report still reaches the
 * file the program's stderr was (ctest: `2>file`, then the header is looked for there). */
#include <unistd.h>
#include <hakmem.h>

int main(void) {
  void *p = hak_malloc(100);
  hak_free(p);
  hak_free(hak_malloc(1000));
  close(2);
  return 0;
}
