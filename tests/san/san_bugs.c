/* Programs with one planted bug each, on hakmem blocks (hak_* API), that a sanitizer or memcheck
 * must report: they prove hakmem describes its blocks to the tools. `clean` has no bug and must
 * pass everywhere (so the others fail for their bug, not for noise).
 * usage: san_bugs clean | uaf | overflow | overflow_next | overflow_canary | overflow_trailer | uninit |
 *                 race | leak | signed_overflow | usable
 * usable (ASan builds) is no bug: malloc_usable_size must answer exactly the request, the byte
 * where the block's shadow turns poisoned, for every tier and after an in-place shrink.  * overflow_canary and overflow_trailer are for HAKMEM_HARDEN=strict or paranoid: a 21-byte request
 * gets a 48-byte block there (21 + 4-byte size trailer + 8-byte end canary > 32), with canary bytes
 * at 21..35 and the trailer at 36..39; the caller's hook (hm_san_alloc) describes only the fast
 * level's 32-byte class, so bytes 24..39 are poisoned by mitigate.c alone, after it wrote them. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <hakmem.h>

static volatile char sink;
static int *shared;

/* The leak: the only pointer to the block dies with this frame; scrub() then overwrites the
 * dead stack so no stale copy makes the block look reachable. */
__attribute__((noinline)) static void leak_one(void) {
  char *volatile p = hak_malloc(100);
  memset(p, 0, 100);
  p = NULL;
}
__attribute__((noinline)) static void scrub(void) {
  volatile char junk[4096];
  memset((char *)junk, 0, sizeof junk);
}

static void *racer(void *arg) {
  for (int i = 0; i < 100000; i++) shared[0]++;   /* no lock: the planted race */
  return arg;
}

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "clean";
  if (strcmp(what, "uaf") == 0) {
    char *p = hak_malloc(32);
    memset(p, 1, 32);
    hak_free(p);
    sink = p[20];                      /* read of a freed hakmem block (past its link word) */
  } else if (strcmp(what, "overflow") == 0) {
    char *p = hak_malloc(20);          /* a 32-byte class: bytes 20..31 are slack */
    memset(p, 1, 20);
    p[20] = 2;                         /* one byte past the request, inside the block */
    hak_free(p);
  } else if (strcmp(what, "overflow_canary") == 0 || strcmp(what, "overflow_trailer") == 0) {
    char *p = hak_malloc(21);
    memset(p, 1, 21);
    if (what[9] == 'c') {
      p[24] = 2;   /* a canary byte, right after malloc wrote it: past the request, inside */
    } else {
      /* malloc_usable_size reads the trailer (and poisons the slack again after it) */
      if (hak_malloc_usable_size(p) != 21) return 3;   /* strict: the request */
      p[36] = 2;   /* the trailer, after malloc_usable_size read it */
    }
    hak_free(p);
  } else if (strcmp(what, "overflow_next") == 0) {
    /* blocks of a fresh class come in random order: find two adjacent ones (56 bytes: the
     * 64-byte class, whose last 8 bytes are the end canary) */
    char *blk[64], *a = NULL, *b = NULL;
    for (int i = 0; i < 64; i++) blk[i] = hak_malloc(56);
    for (int i = 0; i < 64 && !a; i++)
      for (int j = 0; j < 64; j++)
        if (blk[j] == blk[i] + 64) a = blk[i], b = blk[j];
    if (a == NULL) return 2;
    hak_free(b);
    a[64] = 3;                         /* one byte past a and its canary, into the freed block b */
    for (int i = 0; i < 64; i++)
      if (blk[i] != b) hak_free(blk[i]);
  } else if (strcmp(what, "uninit") == 0) {
    char *p = hak_malloc(64);          /* never written */
    if (p[7] == 42) write(1, "a\n", 2); else write(1, "b\n", 2);
    hak_free(p);
  } else if (strcmp(what, "race") == 0) {
    shared = hak_calloc(4, sizeof(int));
    pthread_t a, b;
    pthread_create(&a, NULL, racer, NULL);
    pthread_create(&b, NULL, racer, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    hak_free(shared);
  } else if (strcmp(what, "signed_overflow") == 0) {
    int *q = hak_malloc(4 * sizeof(int));
    q[0] = INT_MAX;
    q[1] = q[0] + argc;                /* INT_MAX + 2 in a hakmem block: signed overflow (UBSan) */
    sink = (char)q[1];
    hak_free(q);
  } else if (strcmp(what, "usable") == 0) {
    static const size_t sizes[] = {1, 7, 8, 9, 15, 16, 17, 100, 1000, 4095, 4096, 4097, 32000, 32760,
                                   40000, 300000, 524280, (1u << 20) + 3, 5u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      char *p = hak_malloc(sizes[i]);
      if (p == NULL || hak_malloc_usable_size(p) != sizes[i]) {
        printf("usable size of a %zu-byte block: %zu\n", sizes[i], p ? hak_malloc_usable_size(p) : 0);
        return 5;
      }
      size_t half = sizes[i] / 2 + 1;
      p = hak_realloc(p, half);
      if (p == NULL || hak_malloc_usable_size(p) != half) {
        printf("usable size after realloc to %zu: %zu\n", half, p ? hak_malloc_usable_size(p) : 0);
        return 6;
      }
      hak_free(p);
    }
  } else if (strcmp(what, "leak") == 0) {
    leak_one();                        /* never freed, last pointer dropped */
    scrub();
  } else {                             /* clean: the same operations without the bugs */
    char *p = hak_malloc(20);
    memset(p, 1, 20);
    sink = p[19];
    p = hak_realloc(p, 5000);
    sink = p[19];
    hak_free(p);
    int *q = hak_calloc(4, sizeof(int));
    if (q[2] == 0) sink = 1;
    hak_free(q);
    void *big = hak_malloc(1 << 20);
    memset(big, 3, 1 << 20);
    big = hak_realloc(big, 3 << 20);
    sink = ((char *)big)[(1 << 20) - 1];
    hak_free(big);
  }
  puts("done");
  return 0;
}
