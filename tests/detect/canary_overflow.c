/* An overflow into the end canary of a small block, through every way a block is made and every
 * copy of the check. DETECT_HOW (environment) picks the case; each must die with SIGABRT,
 * "heap buffer overflow", naming the block, at every level that keeps the end canary (all):
 *   byte1      one byte past the usable size, then free (the owner's fast path)
 *   byte8      the whole 8 bytes past the usable size (a direct 64-bit write), then free
 *   memcpy32   memcpy of usable + 32 bytes (into the next block too), then free
 *   underflow  one byte before a live block b: the end of the block a just before it, then free(a)
 *   remote     the block of another thread, overflowed and freed here (the remote-free path)
 *   adopted    a block of a slab whose owner exited, overflowed and freed here (a visit)
 *   reused     a block freed and handed out again (its canary was kept while it was free)
 *   realloc    realloc in place (same class) of the overflowed block
 *   realloc_mv realloc that moves the overflowed block
 *   sized      free_sized of the overflowed block
 *   aligned    aligned_alloc(64, 40), overflowed, freed
 *   strict_end at the strict levels: the end canary itself, past the strict canary bytes and the
 *              size trailer of malloc(20) (class 32: request 20, trailer 20..23, end canary 24..31)
 * Sizes: a 24-byte request (class 32, usable 24 below strict). */
#include <pthread.h>
#include "detect.h"

static void *got;
static void *thread_alloc(void *arg) {
  (void)arg;
  got = malloc(24);
  return NULL;
}

static void flip(volatile char *v, size_t at) { v[at] = (char)(v[at] ^ 0x5a); }

int main(void) {
  const char *how = getenv("DETECT_HOW");
  SETUP(how != NULL);
  char *p;
  if (!strcmp(how, "underflow")) {
    /* two live neighbours of one class: a right before b */
    enum { N = 256 };
    char *blk[N];
    for (int i = 0; i < N; i++) SETUP((blk[i] = malloc(24)) != NULL);
    char *a = NULL, *b = NULL;
    for (int i = 0; i < N && !a; i++)
      for (int j = 0; j < N; j++)
        if (blk[j] == blk[i] + 32) {
          a = blk[i];
          b = blk[j];
          break;
        }
    SETUP(a != NULL);
    flip(launder(b), (size_t)-1);   /* b[-1]: the last byte of a's canary */
    expect_pointer(a);
    free(a);
    return survived();
  }
  if (!strcmp(how, "remote") || !strcmp(how, "adopted")) {
    pthread_t t;
    SETUP(pthread_create(&t, NULL, thread_alloc, NULL) == 0);
    if (!strcmp(how, "adopted")) {
      SETUP(pthread_join(t, NULL) == 0);   /* the owner exits: the slab is abandoned */
      p = got;
      SETUP(p != NULL);
    } else {
      /* keep the owner alive while the block is freed here */
      while (__atomic_load_n(&got, __ATOMIC_ACQUIRE) == NULL) {}
      p = got;
    }
    flip(launder(p), malloc_usable_size(p));
    expect_pointer(p);
    free(p);
    return survived();
  }
  if (!strcmp(how, "aligned")) {
    p = aligned_alloc(64, 40);
    SETUP(p != NULL && (uintptr_t)p % 64 == 0);
    flip(launder(p), malloc_usable_size(p));
    expect_pointer(p);
    free(p);
    return survived();
  }
  if (!strcmp(how, "strict_end")) {
    p = malloc(20);
    SETUP(p != NULL && malloc_usable_size(p) == 20);   /* the strict levels report the request */
    flip(launder(p), 27);
    expect_pointer(p);
    free(p);
    return survived();
  }
  p = malloc(24);
  SETUP(p != NULL);
  if (!strcmp(how, "reused")) {
    free(p);
    char *q = malloc(24);
    SETUP(q == p);   /* the block just freed comes back first */
  }
  size_t u = malloc_usable_size(p);
  SETUP(u >= 24);
  volatile char *v = launder(p);
  if (!strcmp(how, "byte8")) {
    volatile uint64_t *w = (volatile uint64_t *)(void *)(p + u);
    *w = 0;
  } else if (!strcmp(how, "memcpy32")) {
    char src[64 + 32];
    memset(src, 'x', sizeof src);
    memcpy(launder(p), src, u + 32);
  } else {
    flip(v, u);
  }
  expect_pointer(p);
  if (!strcmp(how, "realloc")) {
    if (realloc(p, u - 1) != NULL) return survived();
  } else if (!strcmp(how, "realloc_mv")) {
    if (realloc(p, 4 * u) != NULL) return survived();
  } else if (!strcmp(how, "sized")) {
    need_sized_frees();
    free_sized(p, 24);
  } else {
    free(p);
  }
  return survived();
}
