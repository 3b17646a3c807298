/* Multi-threaded stress for hakmem: random malloc / calloc / posix_memalign / realloc / free of
 * 8 B .. 64 KiB blocks (and a few larger), contents checked on every free and realloc, a share of the
 * blocks handed to other threads through a locked exchange ring and freed there (remote frees), and
 * threads created and joined in waves so blocks of exited threads are freed later by new threads
 * (orphaned slabs). At the end everything is freed and the statistics must balance exactly.
 *
 * Built twice: stress_hak (hak_*, static core) and stress_libc (libc names via libhakmem.so).
 * Usage: test_stress [seed]; env STRESS_SEED (default 42), STRESS_SCALE (default 1: a few seconds on
 * 2 cores), STRESS_THREADS (default 4). Each thread's sequence of operations is a function of
 * (seed, wave, thread); the interleaving of threads is not. */
#define _GNU_SOURCE
#include "hak_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

enum { SLOTS = 256, RING_CAP = 16384, DENSE_MAX = 65536 };

typedef struct item {
  uint8_t *p;
  size_t n;       /* requested size */
  uint64_t tag;   /* (thread, slot, generation): drives the fill pattern */
  bool sparse;    /* filled only at sampled offsets (blocks that were ever > DENSE_MAX) */
  bool zeroed;    /* came from calloc and was not written yet */
} item_t;

/* ---- exchange ring: blocks in flight between threads, and blocks left by exited threads ------ */
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static item_t ring[RING_CAP];
static size_t ring_head, ring_len;   /* ring_len <= RING_CAP */

static bool ring_push(const item_t *it) {
  bool ok = false;
  pthread_mutex_lock(&ring_lock);
  if (ring_len < RING_CAP) {
    ring[(ring_head + ring_len++) % RING_CAP] = *it;
    ok = true;
  }
  pthread_mutex_unlock(&ring_lock);
  return ok;
}
static bool ring_pop(item_t *out) {
  bool ok = false;
  pthread_mutex_lock(&ring_lock);
  if (ring_len) {
    *out = ring[ring_head];
    ring_head = (ring_head + 1) % RING_CAP;
    ring_len--;
    ok = true;
  }
  pthread_mutex_unlock(&ring_lock);
  return ok;
}

/* ---- contents --------------------------------------------------------------------------------- */
static inline bool sampled(size_t i) { return i < 512 || (i & 1023) < 8; }

static void fill(item_t *it, size_t from) {
  if (!it->sparse) {
    pattern_fill(it->p, it->n, it->tag, from);
    return;
  }
  for (size_t i = from; i < it->n; i++) {
    if (!sampled(i)) {
      i = (i | 1023);   /* next 1024 boundary minus one; the loop adds 1 */
      continue;
    }
    it->p[i] = pattern_byte(it->tag, i);
  }
}

/* Checks the first `n` bytes of the block against its pattern (or zero if fresh from calloc). */
static void verify(const item_t *it, size_t n, const char *when) {
  if (it->zeroed) {
    for (size_t i = 0; i < n; i++)
      CHECK(it->p[i] == 0, "%s: calloc block %p (size %zu) byte %zu is %#x, not zero", when,
            (void *)it->p, it->n, i, it->p[i]);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    if (it->sparse && !sampled(i)) {
      i |= 1023;
      continue;
    }
    uint8_t want = pattern_byte(it->tag, i);
    CHECK(it->p[i] == want, "%s: block %p (size %zu, tag %#" PRIx64 ") byte %zu is %#x, expected %#x",
          when, (void *)it->p, it->n, it->tag, i, it->p[i], want);
  }
}

static void release(item_t *it, const char *when) {
  verify(it, it->n, when);
  API(free)(it->p);
  it->p = NULL;
}

/* ---- one thread --------------------------------------------------------------------------------- */
typedef struct worker {
  pthread_t th;
  uint64_t seed;
  unsigned id;       /* global thread number: wave * threads + index */
  long ops;
  /* results */
  long handed, adopted, reallocs;
} worker_t;

static size_t pick_size(test_rng_t *r) {
  uint64_t k = rng_next(r) % 1000;
  if (k < 600) return rng_range(r, 8, 256);
  if (k < 850) return rng_range(r, 257, 4096);
  if (k < 995) return rng_range(r, 4097, 65536);
  return rng_range(r, 65537, 1 << 20);
}

static void alloc_into(item_t *it, test_rng_t *r, uint64_t tag) {
  size_t n = pick_size(r);
  uint64_t how = rng_next(r) % 100;
  it->n = n;
  it->tag = tag;
  it->sparse = n > DENSE_MAX;
  it->zeroed = false;
  if (how < 80) {
    it->p = API(malloc)(n);
    CHECK(it->p, "malloc(%zu) failed", n);
  } else if (how < 90) {
    it->p = API(calloc)(1, n);
    CHECK(it->p, "calloc(1, %zu) failed", n);
    it->zeroed = true;
    if (rng_next(r) & 1) {   /* check now and then fill; else check at free */
      verify(it, n > 4096 ? 4096 : n, "fresh calloc");
      it->zeroed = false;
    }
  } else {
    size_t a = (size_t)16 << (rng_next(r) % 9);   /* 16 .. 4096 */
    void *p = NULL;
    int rc = API(posix_memalign)(&p, a, n);
    CHECK(rc == 0 && p && ((uintptr_t)p & (a - 1)) == 0, "posix_memalign(%zu, %zu) = %d, %p", a, n, rc, p);
    it->p = p;
  }
  size_t align = n >= 16 ? 16 : 8;
  CHECK(((uintptr_t)it->p & (align - 1)) == 0, "block of %zu bytes at %p is not %zu-byte aligned", n,
        (void *)it->p, align);
  if (!it->zeroed) fill(it, 0);
}

static void do_realloc(item_t *it, test_rng_t *r) {
  size_t m = (rng_next(r) & 1) ? pick_size(r) : it->n + rng_range(r, 0, it->n / 2 + 16);
  if (it->zeroed) {   /* materialise the pattern first so one rule checks the prefix */
    verify(it, it->n, "calloc before realloc");
    it->zeroed = false;
    fill(it, 0);
  }
  uint8_t *q = API(realloc)(it->p, m);
  CHECK(q, "realloc(%zu -> %zu) failed", it->n, m);
  item_t old = *it;
  old.p = q;
  size_t keep = it->n < m ? it->n : m;
  verify(&old, keep, "after realloc");
  it->p = q;
  it->n = m;
  it->sparse = it->sparse || m > DENSE_MAX;
  fill(it, keep);
}

static void *worker_main(void *arg) {
  worker_t *w = arg;
  test_rng_t r;
  rng_seed(&r, w->seed);
  item_t slot[SLOTS];
  memset(slot, 0, sizeof slot);
  uint64_t gen = 0;
  for (long op = 0; op < w->ops; op++) {
    uint64_t k = rng_next(&r) % 100;
    size_t s = (size_t)(rng_next(&r) % SLOTS);
    if (k < 5) {                      /* free blocks other threads (maybe exited ones) handed over */
      item_t it;
      for (int j = 0; j < 8 && ring_pop(&it); j++) {
        release(&it, "free of a block from another thread");
        w->adopted++;
      }
    } else if (!slot[s].p) {
      alloc_into(&slot[s], &r, ((uint64_t)w->id << 40) | ((uint64_t)s << 24) | (gen++ & 0xFFFFFF));
    } else if (k < 50) {
      release(&slot[s], "free by the owner");
    } else if (k < 65) {              /* hand the block to whoever pops it */
      verify(&slot[s], slot[s].n, "before hand-off");
      if (ring_push(&slot[s])) {
        slot[s].p = NULL;
        w->handed++;
      } else {
        release(&slot[s], "free by the owner (ring full)");
      }
    } else if (k < 90) {
      do_realloc(&slot[s], &r);
      w->reallocs++;
    } else {
      verify(&slot[s], slot[s].n, "spot check");
    }
  }
  /* exit with blocks still live: half freed here, half left in the ring for later threads */
  for (size_t s = 0; s < SLOTS; s++) {
    if (!slot[s].p) continue;
    if ((s & 1) && ring_push(&slot[s])) {
      w->handed++;
      continue;
    }
    release(&slot[s], "free at thread exit");
  }
  return NULL;
}

static long env_long(const char *name, long def, long lo, long hi) {
  const char *s = getenv(name);
  if (!s || !*s) return def;
  char *end;
  long v = strtol(s, &end, 0);
  CHECK(*end == '\0' && v >= lo && v <= hi, "%s=%s: expected an integer in [%ld, %ld]", name, s, lo, hi);
  return v;
}

static hak_stats_t stats_now(void) {
  hak_stats_t s;
  memset(&s, 0xEE, sizeof s);
  hak_stats(&s);
  return s;
}

static void *idle_thread(void *arg) { return arg; }

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  uint64_t seed = test_seed(argc, argv, "STRESS_SEED", 42);
  long scale = env_long("STRESS_SCALE", 1, 1, 1000);
  long nthreads = env_long("STRESS_THREADS", 4, 1, 256);
  long waves = 3 * scale;
  long ops = 25000 * scale;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);

  /* Baseline. The libc face shares the heap with libc itself (thread TLS vectors, stdio), so warm
   * that up with a wave of idle threads first and compare against the baseline at the end. */
  static worker_t w[256];   /* static: nothing of the test's own lives in the heap under test */
  for (long i = 0; i < nthreads; i++) pthread_create(&w[i].th, NULL, idle_thread, NULL);
  for (long i = 0; i < nthreads; i++) pthread_join(w[i].th, NULL);
  hak_thread_flush();
  hak_trim();
  hak_stats_t base = stats_now();
#ifndef API_LIBC
  CHECK(base.small_live_blocks == 0 && base.large_live == 0, "hak_* heap not empty at start");
#endif

  long handed = 0, adopted = 0, reallocs = 0;
  for (long wave = 0; wave < waves; wave++) {
    for (long i = 0; i < nthreads; i++) {
      memset(&w[i], 0, sizeof w[i]);
      w[i].id = (unsigned)(wave * nthreads + i);
      w[i].seed = seed * 1000003u + (uint64_t)w[i].id;
      w[i].ops = ops / 2 + ops * (i + 1) / (2 * nthreads);   /* staggered exits */
      int rc = pthread_create(&w[i].th, NULL, worker_main, &w[i]);
      CHECK(rc == 0, "pthread_create: %s", strerror(rc));
    }
    for (long i = 0; i < nthreads; i++) {
      pthread_join(w[i].th, NULL);
      handed += w[i].handed;
      adopted += w[i].adopted;
      reallocs += w[i].reallocs;
    }
    const char *bad = hak_check();
    CHECK(bad == NULL, "hak_check() after wave %ld: %s", wave, bad);
  }
  size_t left = 0;
  item_t it;
  while (ring_pop(&it)) {
    release(&it, "final drain by the main thread");
    left++;
  }

  hak_thread_flush();
  size_t unmapped = hak_trim();
  hak_stats_t s = stats_now();
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  printf("stress[%s]: seed=%" PRIu64 " threads=%ld waves=%ld ops/thread<=%ld handed=%ld freed-by-other=%ld "
         "drained-by-main=%zu reallocs=%ld seconds=%.2f\n", API_FACE, seed, nthreads, waves, ops, handed,
         adopted, left, reallocs, secs);
  printf("stats: ss_mapped=%" PRIu64 " ss_in_use=%" PRIu64 " ss_cached=%" PRIu64 " ss_map_calls=%" PRIu64
         " cache_hits=%" PRIu64 " remote_frees=%" PRIu64 " slabs_adopted=%" PRIu64 " small_live=%" PRIu64
         " large_live=%" PRIu64 " trim_unmapped=%zu\n", s.ss_mapped, s.ss_in_use, s.ss_cached, s.ss_map_calls,
         s.cache_hits, s.remote_frees, s.slabs_adopted, s.small_live_blocks, s.large_live, unmapped);

  CHECK(handed > 0 && adopted + (long)left == handed, "hand-offs do not add up: handed %ld, freed by "
        "others %ld, drained %zu", handed, adopted, left);
  CHECK(s.small_live_blocks == base.small_live_blocks, "everything freed but small_live_blocks = %" PRIu64
        " (baseline %" PRIu64 ")", s.small_live_blocks, base.small_live_blocks);
  CHECK(s.small_live_bytes == base.small_live_bytes, "everything freed but small_live_bytes = %" PRIu64
        " (baseline %" PRIu64 ")", s.small_live_bytes, base.small_live_bytes);
  CHECK(s.large_live == base.large_live && s.large_live_bytes == base.large_live_bytes,
        "everything freed but large_live = %" PRIu64 " (baseline %" PRIu64 ")", s.large_live, base.large_live);
  CHECK(s.ss_in_use <= base.ss_in_use, "everything freed and trimmed but ss_in_use = %" PRIu64
        " (baseline %" PRIu64 ")", s.ss_in_use, base.ss_in_use);
  CHECK(s.ss_cached == 0, "hak_trim() left %" PRIu64 " SuperSlabs cached", s.ss_cached);
  CHECK(s.ss_mapped == s.ss_in_use + s.ss_cached, "ss_mapped %" PRIu64 " != in_use + cached", s.ss_mapped);
  CHECK(s.remote_frees > base.remote_frees, "%ld blocks were freed by other threads but remote_frees = %"
        PRIu64, adopted + (long)left, s.remote_frees);
#ifndef API_LIBC
  CHECK(s.ss_in_use == 0 && s.slabs_active == 0, "empty hak_* heap but ss_in_use %" PRIu64
        " slabs_active %" PRIu64, s.ss_in_use, s.slabs_active);
  CHECK(s.ss_mapped == 0, "empty and trimmed hak_* heap but %" PRIu64 " SuperSlabs mapped", s.ss_mapped);
#endif
  const char *bad = hak_check();
  CHECK(bad == NULL, "hak_check() at the end: %s", bad);
  printf("stress[%s]: passed\n", API_FACE);
  return 0;
}
