/* matrix.c — the parameterised misuse programs of the detect matrix (matrix.txt, run_matrix.py).
 * One misuse per run; argv picks it:
 *   ovf  SIZE over|under DIST direct|memcpy
 *        an overflow past the request (over) or an underflow before the block (under) by DIST
 *        bytes: direct flips the one byte DIST bytes out; memcpy flips all DIST bytes in
 *        between (one memcpy). Small blocks are taken from the middle of a run of held blocks of the same size
 *        (so the bytes next to the block belong to blocks the program holds, whatever the carve
 *        order); then the block, and afterwards every held block, is freed, and the size is
 *        allocated and freed 1100 more times (past a 1024-entry quarantine).
 *   waf  SIZE OFFSET free|reuse|after
 *        a write into a freed block: OFFSET 0 writes 8 garbage bytes over its first word (where a
 *        free small block keeps its encoded link), another OFFSET flips the byte there.
 *        free:  the write, then no more allocations of the size; malloc_trim (which empties the
 *               quarantine) and the end.
 *        reuse: the write, then malloc and free the size until the written block is handed out
 *               again (at most 100000 rounds; a quarantine delays it), and the end.
 *        after: malloc the size until the freed block is handed out again (held), then the write
 *               through the stale pointer, into the new owner's block, which is then freed.
 *   dfr  SIZE
 *        double free after reuse: free, one malloc of the same size, then free the stale pointer
 *        again. Detected exactly when that malloc did not hand back the same block (a quarantine).
 *        Medium sizes first fill two SuperSlabs and free the first block of the first, so the
 *        medium tier's choice is forced whatever its random window.
 *   m0   write|read   a write into, or a read of, the first byte of a malloc(0) block, then free.
 * Exit 2: set-up failed; "detect: survived" and exit 0: the misuse went unnoticed. */
#include "detect.h"

#define CHURN 1100
#define HELD 400

static unsigned char src[(1u << 20) + 64];

static size_t num(const char *s) {
  char *end;
  unsigned long long v = strtoull(s, &end, 0);
  if (*end == 'K') v <<= 10;
  else if (*end == 'M') v <<= 20;
  return (size_t)v;
}

static void churn(size_t n) {
  for (int i = 0; i < CHURN; i++) {
    char *q = malloc(n);
    SETUP(q != NULL);
    free(q);
  }
}

/* The `n` bytes at `at`, each flipped: a memcpy of them changes every byte it writes (a constant
 * fill would leave a canary or trailer byte that happens to hold it unchanged, 1 time in 256).
 * Reading them first faults where the write would have. */
static const void *flipped(const char *at, size_t n) {
  const volatile char *a = launder((void *)at);
  for (size_t i = 0; i < n; i++) src[i] = (unsigned char)(a[i] ^ 0xff);
  return src;
}

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

static int do_ovf(size_t n, int over, size_t dist, int direct) {
  static char *held[HELD];
  size_t k = n <= DETECT_SMALL_MAX ? HELD : (n <= DETECT_MID_MAX ? 8 : 1);
  if (n <= DETECT_SMALL_MAX && n > 4096) k = 40;
  for (size_t i = 0; i < k; i++) {
    held[i] = malloc(n);
    SETUP(held[i] != NULL);
    memset(held[i], 'a', n);
  }
  qsort(held, k, sizeof held[0], cmp_ptr);   /* address order: the middle one has neighbours */
  size_t mid = k / 2;
  char *p = held[mid];
  volatile char *v = launder(p);
  if (over) {
    if (direct) v[n - 1 + dist] = (char)(v[n - 1 + dist] ^ 0xff);
    else memcpy(launder(p + n), flipped(p + n, dist), dist);
  } else {
    if (direct) v[-(ptrdiff_t)dist] = (char)(v[-(ptrdiff_t)dist] ^ 0xff);
    else memcpy(launder(p - dist), flipped(p - dist, dist), dist);
  }
  fputs("detect: written\n", stderr);
  free(p);
  for (size_t i = 0; i < k; i++)
    if (i != mid) free(held[i]);
  churn(n);
  return survived();
}

static void waf_write(char *p, size_t off) {
  volatile char *v = launder(p);
  if (off == 0) memset(launder(p), 0x41, 8);
  else v[off] = (char)(v[off] ^ 0xff);
  fputs("detect: written\n", stderr);
}

static int do_waf(size_t n, size_t off, const char *mode) {
  char *keep = malloc(n);   /* the slab never empties: the block stays a block of this class */
  char *p = malloc(n);
  SETUP(keep != NULL && p != NULL && off < n);
  memset(p, 'a', n);
  free(p);
  int after = strcmp(mode, "after") == 0;
  if (strcmp(mode, "free") == 0) {
    waf_write(p, off);
    malloc_trim(0);
    return survived();
  }
  SETUP(after || strcmp(mode, "reuse") == 0);
  if (!after) waf_write(p, off);
  for (int i = 0; i < 100000; i++) {
    char *q = malloc(n);
    SETUP(q != NULL);
    if (q == p) {
      fprintf(stderr, "detect: the block came back after %d mallocs\n", i + 1);
      if (after) waf_write(p, off);
      free(q);
      return survived();
    }
    free(q);
  }
  fputs("detect: the block did not come back in 100000 rounds\n", stderr);
  return survived();
}

static int do_dfr(size_t n) {
  char *p;
  if (n > DETECT_SMALL_MAX && n <= DETECT_MID_MAX) {
    /* 2 MiB / 112 KiB = 18 medium blocks a SuperSlab: 36 fill two (the first block of the
     * first SuperSlab is then the only free block of the list's head) */
    static char *fill[64];
    for (int i = 0; i < 36; i++) {
      fill[i] = malloc(n);
      SETUP(fill[i] != NULL);
    }
    qsort(fill, 36, sizeof fill[0], cmp_ptr);
    p = fill[0];
  } else {
    p = malloc(n);
    SETUP(p != NULL);
  }
  free(p);
  char *q = malloc(n);
  SETUP(q != NULL);
  fprintf(stderr, "detect: the malloc after free %s the block\n", q == p ? "handed back" : "did not hand back");
  free(launder(p));
  return survived();
}

static int do_m0(int write) {
  char *p = malloc(0);
  SETUP(p != NULL);
  volatile char *v = launder(p);
  if (write) v[0] = (char)(v[0] ^ 0xff);
  else {
    volatile char c = v[0];
    (void)c;
  }
  free(p);
  return survived();
}

int main(int argc, char **argv) {
  if (argc == 6 && strcmp(argv[1], "ovf") == 0)
    return do_ovf(num(argv[2]), strcmp(argv[3], "over") == 0, num(argv[4]), strcmp(argv[5], "direct") == 0);
  if (argc == 5 && strcmp(argv[1], "waf") == 0)
    return do_waf(num(argv[2]), num(argv[3]), argv[4]);
  if (argc == 3 && strcmp(argv[1], "dfr") == 0) return do_dfr(num(argv[2]));
  if (argc == 3 && strcmp(argv[1], "m0") == 0) return do_m0(strcmp(argv[2], "write") == 0);
  fputs("usage: see matrix.c\n", stderr);
  return 3;
}
