/* A write after free that copies one freed block's encoded link into another freed block of the
 * same slab. A link is next ^ secret ^ (its own address), so the copy decodes at the second block
 * to w ^ x ^ y (the secret cancels): a block start of the same slab, chosen here to be one the
 * program holds. The range check passes; the allocation path must still refuse to hand out a
 * block whose bitmap bit says it is held. The blocks are aligned_alloc's, whose path pops with
 * hm_slab_pop (the malloc fast path has its own copy of the checks). Expect SIGABRT,
 * "corrupted free list", naming the live block. */
#include "detect.h"

enum { N = 48 };
#define SLAB_OF(p) ((uintptr_t)(p) / DETECT_SLAB)

int main(void) {
  static char *a[N];
  for (int i = 0; i < N; i++) {
    a[i] = aligned_alloc(64, 64);
    SETUP(a[i] != NULL);
  }
  int w = -1, x = -1, y = -1, live = -1;
  for (int i = 0; i < N && live < 0; i++)
    for (int j = 0; j < N && live < 0; j++)
      for (int k = 0; k < N && live < 0; k++) {
        if (i == j || j == k || i == k || SLAB_OF(a[i]) != SLAB_OF(a[j]) || SLAB_OF(a[j]) != SLAB_OF(a[k]))
          continue;
        uintptr_t l = (uintptr_t)a[i] ^ (uintptr_t)a[j] ^ (uintptr_t)a[k];
        for (int m = 0; m < N; m++)
          if ((uintptr_t)a[m] == l && m != i && m != j && m != k) {
            w = i, x = j, y = k, live = m;
            break;
          }
      }
  SETUP(live >= 0);
  free(a[w]);
  free(a[x]);   /* x's link: w */
  free(a[y]);   /* y heads the list, then x, then w */
  uintptr_t link;
  memcpy(&link, launder(a[x]), sizeof link);
  memcpy(launder(a[y]), &link, sizeof link);
  expect_pointer(a[live]);
  char *p1 = aligned_alloc(64, 64);   /* y */
  char *p2 = aligned_alloc(64, 64);   /* would be the live block */
  fprintf(stderr, "detect: got %p then %p (live block %p)\n", (void *)p1, (void *)p2, (void *)a[live]);
  return survived();
}
