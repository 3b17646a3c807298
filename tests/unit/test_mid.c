/* The medium tier (mid.c), through the hak_* API and the statistics: class boundaries; a class
 * fills exactly one SuperSlab with 2 MiB / block-size blocks, every block a distinct 8 KiB-aligned
 * block start of that SuperSlab, and one block more takes a second; freeing everything keeps one
 * SuperSlab per class (so a lone block allocated and freed in a loop maps nothing) until hak_trim
 * gives it back; blocks freed by another thread; random block order at the fast level only.
 * Statistics snapshots stay consistent while another thread claims and releases medium SuperSlabs.
 * hak_check() after each step (debug builds validate the class lists and the free masks).
 * At strict and paranoid there is no medium tier: the test then checks the sizes go large.
 * Double and invalid frees are tests/detect's (double_free_mid, invalid_free_interior_mid, ...). */
#include <pthread.h>
#include <stdbool.h>
#include "hak_test.h"
#include "internal.h"

#define U(x) ((unsigned long long)(x))

static size_t class_size(unsigned k) { return (size_t)(5u + k % 4u) << (13u + k / 4u); }

/* malloc(n): the usable size and which tier's live count rose */
static void *alloc_expect(size_t n, size_t usable, bool medium) {
  hak_stats_t a = st();
  void *p = hak_malloc(n);
  hak_stats_t b = st();
  CHECK(p != NULL, "hak_malloc(%zu)", n);
  CHECK(b.mid_live == a.mid_live + medium && b.large_live == a.large_live + !medium,
        "malloc(%zu) should be %s: mid_live %llu -> %llu, large_live %llu -> %llu", n,
        medium ? "medium" : "large", U(a.mid_live), U(b.mid_live), U(a.large_live), U(b.large_live));
#ifdef TEST_ASAN
  const bool exact = false;   /* malloc_usable_size reports the request under ASan */
#else
  const bool exact = true;
#endif
  if (usable && exact)
    CHECK(hak_malloc_usable_size(p) == usable, "usable(malloc(%zu)) = %zu, expected %zu", n,
          hak_malloc_usable_size(p), usable);
  if (medium) {
    CHECK(b.mid_live_bytes == a.mid_live_bytes + usable, "malloc(%zu): mid_live_bytes %llu -> %llu", n,
          U(a.mid_live_bytes), U(b.mid_live_bytes));
    CHECK(((uintptr_t)p & 8191) == 0, "medium block %p not 8 KiB-aligned", p);
  }
  return p;
}

enum { MAXB = 64 };

static void *freer(void *arg) {
  void **v = arg;
  for (int i = 0; i < 40; i++) hak_free(v[i]);
  return NULL;
}

/* Section 6's churner: medium SuperSlabs claimed and released over and over (five 512 KiB blocks
 * need two SuperSlabs of four; freeing them releases the second, the first is kept). */
static _Atomic int churn_done;
static void *churner(void *arg) {
  (void)arg;
  for (int r = 0; r < 2000; r++) {
    void *b[5];
    for (int i = 0; i < 5; i++) b[i] = hak_malloc(HM_MID_REQ_MAX);
    for (int i = 0; i < 5; i++) hak_free(b[i]);
  }
  atomic_store(&churn_done, 1);
  return NULL;
}

int main(void) {
  hm_ensure_init();
  const bool medium = hm_mid_serves(40960);
  hak_trim();
  hak_stats_t s0 = st();
  CHECK(s0.mid_live == 0 && s0.mid_superslabs == 0, "at start: mid_live %llu mid_superslabs %llu",
        U(s0.mid_live), U(s0.mid_superslabs));
  CHECK(medium == (s0.harden_level < 2), "medium tier %s at level %llu", medium ? "on" : "off",
        U(s0.harden_level));
  CHECK(!hm_mid_serves(HM_SMALL_REQ_MAX) && hm_mid_serves(HM_SMALL_REQ_MAX + 1) == medium &&
        !hm_mid_serves(HM_MID_REQ_MAX + 1) && hm_mid_serves(HM_MID_REQ_MAX) == medium &&
        HM_MID_MAX == 524288 && HM_MID_REQ_MAX == HM_MID_MAX - HM_CANARY);

  /* 1. boundaries: a block of cls bytes serves requests up to cls - 8 (its end canary) */
  static const struct { size_t n, cls; } b[] = {
      {32761, 40960}, {40952, 40960}, {40953, 49152}, {57336, 57344}, {57337, 65536},
      {65529, 81920}, {131065, 163840}, {262137, 327680}, {458745, 524288}, {524280, 524288}};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
    void *p = alloc_expect(b[i].n, medium ? b[i].cls - HM_CANARY : 0, medium);
    memset(p, 0x5A, b[i].n);
    hak_free(p);
  }
  void *big = alloc_expect(524281, 0, false);
  CHECK(hak_malloc_usable_size(big) >= 524281);
  hak_free(big);
  CHECK_OK();
  if (!medium) {
    hak_stats_t s = st();
    CHECK(s.mid_superslabs == 0 && s.mid_live == 0, "level %llu made medium SuperSlabs", U(s.harden_level));
    printf("mid: level %llu has no medium tier; sizes up to 512 KiB went large\n", U(s.harden_level));
    return 0;
  }
  hak_trim();
  CHECK(st().mid_superslabs == 0, "hak_trim left medium SuperSlabs");

  /* 2. per class: 2 MiB / bs blocks fill exactly one SuperSlab; one more takes a second */
  static void *blk[MAXB + 1];
  for (unsigned k = 0; k < 16; k++) {
    size_t bs = class_size(k), per = HM_SS_SIZE / bs;
    CHECK(per >= 4 && per <= MAXB, "class %u: %zu blocks", k, per);
    hak_stats_t a = st();
    for (size_t i = 0; i < per; i++) {
      blk[i] = hak_malloc(bs - HM_CANARY);
      CHECK(blk[i] != NULL);
      memset(blk[i], (int)i, 64);
    }
    hak_stats_t f = st();
    CHECK(f.mid_superslabs == a.mid_superslabs + 1, "class %u (%zu B): %zu blocks took %llu SuperSlabs",
          k, bs, per, U(f.mid_superslabs - a.mid_superslabs));
    CHECK(f.mid_live == a.mid_live + per && f.mid_live_bytes == a.mid_live_bytes + per * (bs - HM_CANARY));
    CHECK(f.mid_superslabs <= f.ss_in_use);
    uintptr_t ss = (uintptr_t)blk[0] & ~(HM_SS_SIZE - 1);
    uint64_t seen = 0;
    bool ascending = true;
    for (size_t i = 0; i < per; i++) {
      uintptr_t off = (uintptr_t)blk[i] - ss;
      CHECK(((uintptr_t)blk[i] & ~(HM_SS_SIZE - 1)) == ss, "class %u: block %zu outside the SuperSlab", k, i);
      CHECK(off % bs == 0 && off / bs < per, "class %u: block %zu at offset %zu", k, i, (size_t)off);
      CHECK(!((seen >> (off / bs)) & 1u), "class %u: block index %zu handed out twice", k, (size_t)(off / bs));
      seen |= 1ull << (off / bs);
      if (i && blk[i] < blk[i - 1]) ascending = false;
      CHECK(*(unsigned char *)blk[i] == (unsigned char)i, "class %u: block %zu overwritten", k, i);
    }
    /* 51 blocks of 40 KiB: lowest first at off, a random one of the eight lowest free at fast */
    if (k == 0) CHECK(ascending == !(hm_mit & HM_MIT_RANDOM), "40 KiB blocks %s in address order at "
                      "mitigations %#x", ascending ? "were" : "were not", hm_mit);
    CHECK_OK();
    blk[per] = hak_malloc(bs - HM_CANARY);
    hak_stats_t g = st();
    CHECK(blk[per] && g.mid_superslabs == a.mid_superslabs + 2, "class %u: block %zu + 1 did not take a "
          "second SuperSlab (%llu)", k, per, U(g.mid_superslabs - a.mid_superslabs));
    CHECK(((uintptr_t)blk[per] & ~(HM_SS_SIZE - 1)) != ss);
    CHECK_OK();
    for (size_t i = 1; i <= per; i += 2) hak_free(blk[i]);   /* odd ones, then even ones */
    for (size_t i = 0; i <= per; i += 2) hak_free(blk[i]);
    hak_stats_t h = st();
    CHECK(h.mid_superslabs == a.mid_superslabs + 1 && h.mid_live == a.mid_live,
          "class %u freed: %llu SuperSlabs kept (one expected), %llu live", k,
          U(h.mid_superslabs - a.mid_superslabs), U(h.mid_live));
    CHECK_OK();
  }
  hak_stats_t s1 = st();
  CHECK(s1.mid_superslabs == 16 && s1.mid_live == 0 && s1.mid_live_bytes == 0,
        "every class used once: %llu SuperSlabs kept", U(s1.mid_superslabs));

  /* 3. the kept SuperSlab: a lone block allocated and freed in a loop maps nothing, caches nothing */
  for (int i = 0; i < 1000; i++) {
    void *p = hak_malloc(200000);
    CHECK(p);
    ((volatile char *)p)[199999] = 1;
    hak_free(p);
  }
  hak_stats_t s2 = st();
  CHECK(s2.ss_map_calls == s1.ss_map_calls && s2.cache_hits == s1.cache_hits &&
        s2.mmap_calls == s1.mmap_calls && s2.munmap_calls == s1.munmap_calls && s2.mid_superslabs == 16,
        "alloc/free of one 200000-byte block: maps %llu -> %llu, cache hits %llu -> %llu",
        U(s1.ss_map_calls), U(s2.ss_map_calls), U(s1.cache_hits), U(s2.cache_hits));

  /* 4. hak_trim gives the kept SuperSlabs back */
  hak_trim();
  hak_stats_t s3 = st();
  CHECK(s3.mid_superslabs == 0 && s3.ss_in_use == 0 && s3.ss_cached == 0,
        "after hak_trim: %llu medium SuperSlabs, %llu in use, %llu cached", U(s3.mid_superslabs),
        U(s3.ss_in_use), U(s3.ss_cached));
  CHECK_OK();
  void *p = hak_malloc(100000);   /* and the tier works again afterwards */
  CHECK(p && st().mid_superslabs == 1);
  hak_free(p);
  hak_trim();
  CHECK(st().mid_superslabs == 0);

  /* 5. freed by another thread: no owner, the same lock */
  static void *v[40];
  for (int i = 0; i < 40; i++) {
    v[i] = hak_malloc(33000 + (size_t)i * 11000);
    CHECK(v[i]);
  }
  pthread_t t;
  CHECK(pthread_create(&t, NULL, freer, v) == 0 && pthread_join(t, NULL) == 0);
  hak_stats_t s4 = st();
  CHECK(s4.mid_live == 0 && s4.mid_live_bytes == 0, "freed by another thread: mid_live %llu",
        U(s4.mid_live));
  CHECK_OK();
  hak_trim();
  CHECK(st().mid_superslabs == 0);

  /* 6. bursts stay on the blocks already resident: B blocks allocated and freed, 300 times, use
   * only the lowest B + 1 blocks of the class's SuperSlab (B at off: the lowest always; fast:
   * random among the dirty ones, topped up to two candidates with the lowest clean one), and the
   * freed blocks are dirty (resident) until purged: by the delay (the clock moved past it, then
   * hak_ss_evict), and by hak_trim */
  {
    enum { B = 6, ROUNDS = 300 };
    const size_t bs = 114688;   /* class of 100000 + the end canary */
    void *q[B];
    uintptr_t base = 0;
    unsigned highest = 0;
    for (int r = 0; r < ROUNDS; r++) {
      for (int i = 0; i < B; i++) {
        q[i] = hak_malloc(100000);
        CHECK(q[i]);
        memset(q[i], r & 0xff, 4096);
        ((volatile char *)q[i])[99999] = 1;
        if (base == 0) base = (uintptr_t)q[i] & ~(uintptr_t)(HM_SS_SIZE - 1);
        CHECK(((uintptr_t)q[i] & ~(uintptr_t)(HM_SS_SIZE - 1)) == base, "round %d: a second SuperSlab", r);
        unsigned idx = (unsigned)(((uintptr_t)q[i] - base) / bs);
        if (idx > highest) highest = idx;
      }
      for (int i = 0; i < B; i++) hak_free(q[i]);
    }
    hak_stats_t s5 = st();
    printf("mid: %d rounds of %d blocks used blocks 0..%u; %llu KiB free and resident\n", ROUNDS, B, highest,
           U(s5.mid_free_resident_bytes >> 10));
    CHECK(highest <= (hm_mit & HM_MIT_RANDOM ? B : B - 1), "rounds of %d blocks reached block %u", B, highest);
    CHECK(s5.mid_free_resident_bytes >= B * bs && s5.mid_free_resident_bytes <= (B + 1) * bs,
          "free and resident %llu", U(s5.mid_free_resident_bytes));
    uint64_t calls = s5.purge_calls;
    atomic_fetch_add(&hm_clock_offset_ns, (s5.purge_delay_ms + 1) * 1000000u);
    for (int i = 0; i < 64 && st().mid_free_resident_bytes != 0; i++) hak_ss_evict();
    hak_stats_t s6 = st();
    CHECK(s6.mid_free_resident_bytes == 0 && s6.purge_calls >= calls + B, "after the delay: %llu resident, %llu purges",
          U(s6.mid_free_resident_bytes), U(s6.purge_calls - calls));
    unsigned char *c = hak_calloc(1, 100000);   /* a purged block: zeros, then the program's data */
    CHECK(c && c[0] == 0 && c[99999] == 0);
    memset(c, 7, 100000);
    hak_free(c);
    CHECK(st().mid_free_resident_bytes == bs);
    CHECK_OK();
    hak_trim();
    CHECK(st().mid_free_resident_bytes == 0 && st().mid_superslabs == 0);
  }

  /* 7. one statistics snapshot is consistent while another thread claims and releases medium
   * SuperSlabs: they count in ss_in_use, so mid_superslabs <= ss_in_use in every snapshot */
  pthread_t c;
  unsigned long snaps = 0;
  CHECK(pthread_create(&c, NULL, churner, NULL) == 0);
  while (!atomic_load(&churn_done)) {
    hak_stats_t x = st();
    snaps++;
    CHECK(x.mid_superslabs <= x.ss_in_use && x.ss_mapped == x.ss_in_use + x.ss_cached,
          "snapshot %lu: mid_superslabs %llu, ss_in_use %llu, ss_mapped %llu, ss_cached %llu", snaps,
          U(x.mid_superslabs), U(x.ss_in_use), U(x.ss_mapped), U(x.ss_cached));
  }
  CHECK(pthread_join(c, NULL) == 0);
  CHECK_OK();
  hak_trim();
  CHECK(st().mid_superslabs == 0 && st().ss_in_use == 0);
  printf("mid: 16 classes, %d KiB .. %d KiB, boundaries, fill, keep and trim checked (mitigations %#x)\n",
         40, 512, hm_mit);
  return 0;
}
