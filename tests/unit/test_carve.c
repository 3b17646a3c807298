/* Carving (heap.c slab_carve): a fresh slab hands out its blocks a page at a time. Each batch of
 * HM_CARVE_BYTES / block-size mallocs from a new thread's first slab must be exactly the next
 * batch of block slots (a permutation: none lost, none twice, none outside it); with HM_MIT_RANDOM
 * (the fast level and up) the order is random — never whole batches in address order, and where
 * a batch's first block lands is spread evenly over the batch — and without it (HAKMEM_HARDEN=off,
 * a second ctest entry) the order is ascending. Block sizes 8 (512 per batch), 48 (85: an odd
 * count), 64, 2048 (2) and 4096 (1). With HM_MIT_RANDOM, a forked child and its parent carve
 * their next blocks in different orders, on a heap from before the fork and on one made after. */
#include <pthread.h>
#include <stdbool.h>
#include <sys/wait.h>
#include "hak_test.h"
#include "internal.h"

enum { THREADS = 24, MAXN = HM_CARVE_BYTES / HM_MIN_BLOCK, MAXCARVES = 16 };

typedef struct {
  size_t bs;                    /* block (class) size */
  unsigned carves;              /* full batches checked per thread */
  unsigned ascending;           /* batches handed out in address order */
  unsigned first_pos[MAXCARVES];/* per batch: index within the batch of the first block handed out */
} job;

static void *blk[MAXCARVES * MAXN];   /* one thread runs at a time */

static void *run(void *arg) {
  job *jb = arg;
  const size_t bs = jb->bs, n = HM_CARVE_BYTES / bs ? HM_CARVE_BYTES / bs : 1;
  uintptr_t base = 0;
  for (unsigned c = 0; c < jb->carves; c++) {
    bool seen[MAXN] = {false}, asc = true;
    size_t prev = 0;
    for (size_t k = 0; k < n; k++) {
      void *p = hak_malloc(bs - HM_CANARY);   /* a block of bs bytes */
      CHECK(p != NULL);
      blk[c * n + k] = p;
      if (c == 0 && k == 0) base = (uintptr_t)p & ~(uintptr_t)(HM_SLAB_SIZE - 1);
      CHECK(((uintptr_t)p & ~(uintptr_t)(HM_SLAB_SIZE - 1)) == base, "block %p outside the slab at %#lx", p,
            (unsigned long)base);
      size_t off = (uintptr_t)p - base;
      CHECK(off % bs == 0, "block %p not at a slot of %zu bytes", p, bs);
      size_t idx = off / bs;
      CHECK(idx >= c * n && idx < (c + 1) * n, "size %zu, batch %u: slot %zu outside [%zu, %zu)", bs, c, idx,
            c * n, (c + 1) * n);
      CHECK(!seen[idx - c * n], "size %zu: slot %zu handed out twice", bs, idx);
      seen[idx - c * n] = true;
      if (k == 0) jb->first_pos[c] = (unsigned)(idx - c * n);
      else if (idx < prev) asc = false;
      prev = idx;
    }
    jb->ascending += asc;
  }
  for (size_t k = 0; k < jb->carves * n; k++) hak_free(blk[k]);
  return NULL;
}

/* The addresses of the next FORK_N mallocs of 48 bytes (two batches), from this thread or a new one. */
enum { FORK_N = 170 };
static void *seq_of(void *out) {
  void **v = out;
  for (int i = 0; i < FORK_N; i++) v[i] = hak_malloc(48);
  for (int i = 0; i < FORK_N; i++) hak_free(v[i]);
  return NULL;
}
static void next_blocks(void **v, bool new_thread) {
  pthread_t t;
  if (!new_thread) seq_of(v);
  else CHECK(pthread_create(&t, NULL, seq_of, v) == 0 && pthread_join(t, NULL) == 0);
}
/* true if a child forked now allocates its next blocks in the parent's order */
static bool same_after_fork(bool new_thread) {
  int fd[2];
  CHECK(pipe(fd) == 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  void *v[FORK_N];
  if (pid == 0) {
    next_blocks(v, new_thread);
    ssize_t w = write(fd[1], v, sizeof v);
    _exit(w == (ssize_t)sizeof v ? 0 : 1);
  }
  close(fd[1]);
  next_blocks(v, new_thread);
  void *c[FORK_N];
  size_t got = 0;
  while (got < sizeof c) {
    ssize_t r = read(fd[0], (char *)c + got, sizeof c - got);
    CHECK(r > 0, "reading the child's addresses");
    got += (size_t)r;
  }
  close(fd[0]);
  int status;
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return memcmp(v, c, sizeof v) == 0;
}

int main(void) {
  hm_ensure_init();
  const bool random = (hm_mit & HM_MIT_RANDOM) != 0;
  static const size_t sizes[] = {8, 48, 64, 2048, 4096};
  for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    const size_t bs = sizes[s], n = HM_CARVE_BYTES / bs;
    CHECK(hm_class_size[hm_size_class(bs - HM_CANARY)] == bs, "%zu is not a class size", bs);
    unsigned carves = (unsigned)((HM_SLAB_SIZE / bs) / n);
    if (carves > MAXCARVES) carves = MAXCARVES;
    unsigned total = 0, asc = 0, quarter[4] = {0, 0, 0, 0};
    double mean = 0;
    for (int t = 0; t < THREADS; t++) {
      job jb = {.bs = bs, .carves = carves};
      pthread_t th;
      CHECK(pthread_create(&th, NULL, run, &jb) == 0 && pthread_join(th, NULL) == 0);
      total += carves;
      asc += jb.ascending;
      for (unsigned c = 0; c < carves; c++) {
        mean += jb.first_pos[c];
        quarter[jb.first_pos[c] * 4 / n]++;
      }
    }
    mean /= total;
    test_check_ok(__LINE__);
    if (!random || n == 1) {
      CHECK(asc == total, "size %zu: %u of %u batches out of address order without HM_MIT_RANDOM", bs,
            total - asc, total);
    } else if (n == 2) {
      /* two blocks: either order, each about half the time (binomial, 384 batches: > 14 sd margin) */
      CHECK(asc > total / 8 && asc < total - total / 8, "size %zu: %u of %u batches ascending", bs, asc, total);
    } else {
      /* a batch of >= 64 blocks in address order has probability 1/64!; the first block's place is
       * uniform over the batch: mean (n - 1) / 2 (sd of the mean n / sqrt(12 * total) < n / 40 here),
       * each quarter about a quarter of the batches (>= 96 here, sd < 9) */
      CHECK(asc == 0, "size %zu: %u of %u random batches came out in address order", bs, asc, total);
      double mid = (double)(n - 1) / 2;
      CHECK(mean > mid - (double)n / 8 && mean < mid + (double)n / 8, "size %zu: first block's mean place %.1f of %zu",
            bs, mean, n);
      for (int q = 0; q < 4; q++)
        CHECK(quarter[q] > total / 8, "size %zu: quarter %d holds the first block in %u of %u batches", bs, q,
              quarter[q], total);
    }
    printf("carve: size %zu, %zu per batch, %u batches: %u ascending, first block's mean place %.1f\n", bs, n,
           total, asc, mean);
  }
  if (random) {
    void *warm = hak_malloc(48);   /* this thread's heap exists before the fork */
    hak_free(warm);
    CHECK(!same_after_fork(false), "a forked child carved in its parent's order (heap from before the fork)");
    CHECK(!same_after_fork(true), "a forked child carved in its parent's order (new threads' heaps)");
    printf("carve: parent and forked child carve in different orders\n");
  }
  printf("carve: every batch a permutation of its slots, order %s (mitigations %#x)\n",
         random ? "random" : "ascending", hm_mit);
  return 0;
}
