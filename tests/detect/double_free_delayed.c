/* free a small block, churn through other sizes (never the freed block's class, so the block is
 * not handed out again), then free it again. Expect SIGABRT, "double free". */
#include "detect.h"

int main(void) {
  static const size_t sizes[] = {8, 100, 200, 1000, 5000, 20000, 100000};
  enum { ROUNDS = 200, N = sizeof sizes / sizeof sizes[0] };
  char *p = malloc(48);
  SETUP(p != NULL);
  free(p);
  for (int r = 0; r < ROUNDS; r++) {
    void *held[N];
    for (int i = 0; i < N; i++) {
      held[i] = malloc(sizes[i]);
      SETUP(held[i] != NULL);
    }
    for (int i = N; i-- > 0;)
      if ((r + i) % 3 != 0) free(held[i]);   /* keep a third of them live */
  }
  expect_pointer(p);
  free(launder(p));
  return survived();
}
