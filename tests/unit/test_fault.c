/* Out-of-memory and rollback paths, driven by the fault injection of src/os.c (hak_test_fail_nth):
 * each step makes the kernel refuse one system call (or every one from the n-th on), calls the
 * API, and checks that the call returns NULL with errno ENOMEM (or, where the refusal is
 * harmless, that the result is still right), that every invariant holds (hak_check), that no
 * mapping was left behind (hak_test_mapped_bytes, and /proc/self/maps where an address is known)
 * and that the next call, with the kernel willing again, succeeds. Paths: the SuperSlab mapping (small and medium requests),
 * the registry leaf of a fresh gigabyte, the metadata pool (its chunk and its guard pages), the
 * large tier (mapping; the cache's mprotect on reuse and on free), the large realloc's rollback
 * after mremap, the strict levels' zero-size chunks, purges whose madvise fails, and the secret's
 * getrandom fallback. Last, a loop: for n = 1 .. K the n-th call of each kind fails during a fixed
 * scenario (one block of each tier, a large realloc, a large calloc), and every call must either
 * succeed or fail with ENOMEM, leaving the heap consistent. */
#include "hak_test.h"
#include "internal.h"

#define FAIL_ON(kind) hak_test_fail_nth((kind), 1, UINT64_MAX)

static bool at_strict(void) { return (hm_mit & HM_MIT_STRICT) != 0; }

/* Bytes the allocator holds mapped (os.c's count, exact under every sanitizer; /proc/self/maps
 * also shows the runtimes' own mappings), less the published registry leaves: a leaf is never
 * unmapped (registry.c), and whether an operation needs a fresh one depends on the gigabyte the
 * kernel puts its mapping in, which moves with whatever else the machine runs. A leaf mapped but
 * left unpublished is still counted. */
static size_t leaf_bytes(void) {
  size_t n = 0;
  for (uintptr_t t = 0; t < HM_REG_TOP; t++) n += atomic_load(&hm_reg_top[t]) != NULL;
  return n * HM_REG_LEAF * sizeof(uintptr_t);
}
static size_t mapped_bytes(void) { return (size_t)hak_test_mapped_bytes() - leaf_bytes(); }

#define NO_LEAK(before, what)                                                                  \
  do {                                                                                         \
    size_t now_ = mapped_bytes();                                                                \
    CHECK(now_ <= (before), "%s: %zu KiB more mapped after the failure", (what),      \
          (now_ - (before)) >> 10);                                                            \
  } while (0)

static void expect_enomem(const void *p, const char *what) {
  CHECK(p == NULL, "%s: got %p, not NULL", what, (void *)p);
  CHECK(errno == ENOMEM, "%s: errno %d, not ENOMEM", what, errno);
  CHECK_OK();
}

/* A request that must fail while every call of `kind` from the first on fails, leave nothing
 * mapped, and succeed once the kernel is willing again. */
static void refused(int kind, size_t size, const char *what) {
  void *p = hak_malloc(size);   /* warm: metadata pools and registry leaves exist */
  CHECK(p != NULL, "%s: warm-up", what);
  hak_free(p);
  hak_trim();
  size_t before = mapped_bytes();
  uint64_t hits = hak_test_fault_hits();
  FAIL_ON(kind);
  errno = 0;
  p = hak_malloc(size);
  hak_test_fail_reset();
  CHECK(hak_test_fault_hits() > hits, "%s: no call was refused", what);
  expect_enomem(p, what);
  NO_LEAK(before, what);
  p = hak_malloc(size);
  CHECK(p != NULL, "%s: fails after the kernel is willing again", what);
  memset(p, 0x5a, size);
  hak_free(p);
  hak_trim();
  CHECK_OK();
}

/* Leaves with no entry are as good as none (a NULL leaf answers "not ours" too): unpublish and
 * unmap them, so that the next registration needs a fresh leaf (nothing else runs meanwhile). */
static unsigned detach_empty_leaves(void) {
  unsigned n = 0;
  for (uintptr_t t = 0; t < HM_REG_TOP; t++) {
    _Atomic uintptr_t *leaf = atomic_load(&hm_reg_top[t]);
    bool empty = leaf != NULL;
    for (uintptr_t j = 0; empty && j < HM_REG_LEAF; j++) empty = atomic_load(&leaf[j]) == 0;
    if (!empty) continue;
    atomic_store(&hm_reg_top[t], NULL);
    hm_os_unmap((void *)leaf, HM_REG_LEAF * sizeof(uintptr_t));
    n++;
  }
  return n;
}

/* The registry leaf of a fresh gigabyte: a SuperSlab (or a large block) mapped there must be
 * unmapped again when its leaf cannot be mapped. The n-th mmap of the request is refused, n = 1, 2, ..., until the one
 * refused is a leaf's (a page; the SuperSlab's mappings are 2 MiB and more). At the strict levels
 * the zero-size chunks keep their leaves, and the SuperSlab may land in one of their gigabytes. */
static void registry_leaf(size_t size) {
  for (uint64_t n = 1; n <= 8; n++) {
    hak_trim();
    detach_empty_leaves();
    size_t before = mapped_bytes(), regs = hm_registry_count();
    uint64_t hits = hak_test_fault_hits();
    hak_test_fail_nth(HAK_FAULT_MMAP, n, 1);
    errno = 0;
    void *p = hak_malloc(size);
    hak_test_fail_reset();
    bool leaf = hak_test_fault_hits() != hits &&
                hak_test_fault_last_size() == HM_REG_LEAF * sizeof(uintptr_t);
    if (!leaf) {
      CHECK(p != NULL || errno == ENOMEM);
      hak_free(p);
      continue;
    }
    expect_enomem(p, "a mapping in a fresh gigabyte, its registry leaf refused");
    CHECK(hm_registry_count() == regs, "registry changed by a failed registration");
    NO_LEAK(before, "registry leaf refused");
    p = hak_malloc(size);
    CHECK(p != NULL);
    hak_free(p);
    hak_trim();
    CHECK_OK();
    return;
  }
  CHECK(at_strict(), "no mapping of a %zu-byte request needed a fresh leaf", size);
  printf("registry_leaf(%zu): skipped (no fresh leaf needed at this level)\n", size);
}

/* The SuperSlab header pool (16 headers a chunk, each with a guard page): once its free list and
 * its chunk are used up, the next SuperSlab needs a chunk; with mmap refused, or one guard
 * page's mprotect, the request fails and the chunk is not kept. */
static void meta_pool(void) {
  hm_superslab *held[64];
  unsigned n = 0;
  hak_trim();
  do {   /* take headers until one comes from a fresh chunk */
    CHECK(n < 48, "no fresh header chunk after %u headers", n);
    hak_test_fail_nth(HAK_FAULT_MMAP, 0, 0);
    held[n++] = hm_meta_ss_alloc();
    CHECK(held[n - 1] != NULL);
  } while (hak_test_fault_calls(HAK_FAULT_MMAP) == 0);
  for (unsigned i = 1; i < 16; i++) held[n++] = hm_meta_ss_alloc();
  CHECK(hak_test_fault_calls(HAK_FAULT_MMAP) == 1, "a chunk holds 16 headers");
  size_t before = mapped_bytes();
  hak_test_fail_nth(HAK_FAULT_MMAP, 1, 1);
  errno = 0;
  void *p = hak_malloc(64);
  hak_test_fail_reset();
  expect_enomem(p, "SuperSlab header chunk refused");
  NO_LEAK(before, "header chunk refused");
  hak_test_fail_nth(HAK_FAULT_MPROTECT, 3, 1);   /* the third header's guard page */
  errno = 0;
  p = hak_malloc(64);
  hak_test_fail_reset();
  expect_enomem(p, "a header chunk's guard page refused");
  NO_LEAK(before, "guard page refused");
  while (n > 0) hm_meta_ss_free(held[--n]);
  p = hak_malloc(64);
  CHECK(p != NULL);
  hak_free(p);
  hak_trim();
  CHECK_OK();
}

/* A cached large mapping is made read-write again on reuse (one mprotect): refused, it must not
 * be handed out PROT_NONE; it is unmapped and a fresh block is mapped instead. */
static void large_reuse(void) {
  if (hm_large_window() > 0) return;   /* the strict levels do not hand the newest entry out */
  hak_trim();
  char *p = hak_malloc(4 * MiB);
  CHECK(p != NULL);
  hak_free(p);
  CHECK(st().large_cached == 1);
  hak_test_fail_nth(HAK_FAULT_MPROTECT, 1, 1);
  char *q = hak_malloc(4 * MiB);
  uint64_t calls = hak_test_fault_calls(HAK_FAULT_MPROTECT);
  hak_test_fail_reset();
  CHECK(calls >= 1, "the reuse made no mprotect");
  CHECK(q != NULL, "a refused reuse must fall back to a fresh mapping");
  CHECK(strcmp(test_prot_at((uintptr_t)q), "rw") == 0, "block %p handed out '%s'", (void *)q,
        test_prot_at((uintptr_t)q));
  memset(q, 0x33, 4 * MiB);
  CHECK(st().large_cached == 0, "the mapping that stayed PROT_NONE is still cached");
  CHECK_OK();
  hak_free(q);
  hak_trim();
}

/* A freed large mapping is cached PROT_NONE (one mprotect): refused, it is unmapped rather than
 * cached read-write, so a write after free still faults. */
static void large_free(void) {
  hak_trim();
  char *p = hak_malloc(4 * MiB);
  CHECK(p != NULL);
  uint64_t cached = st().large_cached;
  hak_test_fail_nth(HAK_FAULT_MPROTECT, 1, 1);
  hak_free(p);
  hak_test_fail_reset();
  CHECK_OK();
  CHECK(st().large_cached == cached, "a mapping that is not PROT_NONE was cached");
  const char *prot = test_prot_at((uintptr_t)p);
  CHECK(prot[0] == '\0' || strcmp(prot, "--") == 0, "freed block %p is '%s'", (void *)p, prot);
  hak_trim();
}

/* A large block grown past its mapping moves by mremap into a fresh reservation; the registry is
 * switched to the new range first and back when mremap fails. The block stays as it was. */
static void large_realloc(int kind, const char *what) {
  hak_trim();
  char *p = hak_malloc(4 * MiB);
  CHECK(p != NULL);
  pattern_fill(p, 4 * MiB, 41, 0);
  size_t before = mapped_bytes(), regs = hm_registry_count();
  FAIL_ON(kind);
  errno = 0;
  char *q = hak_realloc(p, 16 * MiB);
  hak_test_fail_reset();
  expect_enomem(q, what);
  CHECK(pattern_find_bad(p, 4 * MiB, 41) == 4 * MiB, "%s: the block changed", what);
  CHECK(hm_registry_count() == regs, "%s: registry entries %zu, were %zu", what,
        hm_registry_count(), regs);
  CHECK(strcmp(test_prot_at((uintptr_t)p), "rw") == 0);
  NO_LEAK(before, what);
  q = hak_realloc(p, 16 * MiB);
  CHECK(q != NULL && pattern_find_bad(q, 4 * MiB, 41) == 4 * MiB, "%s: the retry", what);
  memset(q + 4 * MiB, 0, 12 * MiB);
  CHECK_OK();
  hak_free(q);
  hak_trim();
}

/* The strict levels' zero-size blocks: a fresh chunk is a descriptor (mmap), a PROT_NONE
 * reservation (one mmap: no hint yet) and, the first time, the registry leaf of its gigabyte;
 * the n-th of them refused (n = 1, 2, 3), nothing stays mapped. Runs first (the first malloc(0)
 * of the process makes the first chunk, and no leaf exists yet). */
static void zero_chunk(void) {
  if (!(hm_mit & HM_MIT_CANARY)) return;
  size_t before = mapped_bytes();
  bool leaf = false;
  for (uint64_t n = 1; n <= 3; n++) {
    hak_test_fail_nth(HAK_FAULT_MMAP, n, 1);
    errno = 0;
    void *z = hak_malloc(0);
    hak_test_fail_reset();
    leaf |= hak_test_fault_last_size() == HM_REG_LEAF * sizeof(uintptr_t);
    expect_enomem(z, n == 1 ? "zero-size chunk descriptor refused"
                     : n == 2 ? "zero-size chunk reservation refused" : "zero-size chunk leaf refused");
    NO_LEAK(before, "zero-size chunk");
  }
  CHECK(leaf, "no zero-size chunk needed a fresh registry leaf");
  void *z = hak_malloc(0);
  CHECK(z != NULL && test_prot_at((uintptr_t)z)[0] == '-', "malloc(0) after the failures");
  hak_free(z);
  CHECK_OK();
}

/* madvise refused: the purges do nothing, and nothing depends on them (calloc still zeroes,
 * contents and invariants hold, reused mappings work). */
static void madvise_refused(void) {
  enum { N = 256 };
  char *b[N];
  hak_trim();
  uint64_t hits = hak_test_fault_hits();
  FAIL_ON(HAK_FAULT_MADVISE);
  for (int i = 0; i < N; i++) {
    b[i] = hak_malloc(4096);
    CHECK(b[i] != NULL);
    memset(b[i], 0xab, 4096);
  }
  for (int i = 0; i < N; i++) hak_free(b[i]);
  hak_trim();   /* purges the EMPTY slots, unmaps the cache (the headers' decommit) */
  for (int i = 0; i < N; i++) {
    b[i] = hak_calloc(1, 4096);
    CHECK(b[i] != NULL);
    for (int j = 0; j < 4096; j++) CHECK(b[i][j] == 0, "calloc block %d byte %d not zero", i, j);
  }
  for (int i = 0; i < N; i++) hak_free(b[i]);
  char *p = hak_malloc(4 * MiB);
  CHECK(p != NULL);
  memset(p, 0xcd, 4 * MiB);
  hak_free(p);
  hak_test_advance_clock(3600ull * 1000000000ull);
  hak_ss_evict();   /* purges the cached large mapping */
  p = hak_calloc(1, 4 * MiB);
  CHECK(p != NULL);
  for (size_t j = 0; j < 4 * MiB; j += 512) CHECK(p[j] == 0, "large calloc byte %zu not zero", j);
  hak_free(p);
  uint64_t calls = hak_test_fault_calls(HAK_FAULT_MADVISE);
  hak_test_fail_reset();
  CHECK(hak_test_fault_hits() - hits == calls && calls > 0, "no madvise was refused");
  CHECK_OK();
  hak_trim();
}

/* getrandom refused: the fallback still gives two odd, distinct words, another pair each call. */
static void getrandom_refused(void) {
  uintptr_t a[2] = {0, 0}, b[2] = {0, 0}, r[2] = {0, 0};
  FAIL_ON(HAK_FAULT_GETRANDOM);
  hm_harden_secrets(a);
  hm_harden_secrets(b);
  uint64_t calls = hak_test_fault_calls(HAK_FAULT_GETRANDOM);
  hak_test_fail_reset();
  CHECK(calls == 2, "%" PRIu64 " getrandom calls", calls);
  CHECK((a[0] & 1) && (a[1] & 1) && a[0] != a[1], "fallback secrets %#lx %#lx", (unsigned long)a[0],
        (unsigned long)a[1]);
  CHECK(a[0] != b[0] && a[1] != b[1], "two fallbacks gave the same secret");
  hm_harden_secrets(r);
  CHECK((r[0] & 1) && (r[1] & 1) && r[0] != r[1] && r[0] != a[0]);
}

/* ---- the loop ---------------------------------------------------------------------------------- */
static unsigned loop_nulls;

static void *ok_or_enomem(void *p, const char *what) {
  CHECK(p != NULL || errno == ENOMEM, "%s: NULL with errno %d", what, errno);
  loop_nulls += p == NULL;
  CHECK_OK();
  return p;
}

/* One block of each tier, a large realloc that moves, a large calloc; then everything freed. */
static void scenario(void) {
  errno = 0;
  char *s = ok_or_enomem(hak_malloc(64), "small");
  char *m = ok_or_enomem(hak_malloc(40 * KiB), "medium");
  char *l = ok_or_enomem(hak_malloc(4 * MiB), "large");
  char *z = ok_or_enomem(hak_malloc(0), "zero-size");
  char *a = ok_or_enomem(hak_aligned_alloc(64 * KiB, 3 * MiB), "aligned large");
  if (l != NULL) {
    pattern_fill(l, 4 * MiB, 7, 0);
    errno = 0;
    char *l2 = ok_or_enomem(hak_realloc(l, 12 * MiB), "large realloc");
    CHECK(pattern_find_bad(l2 ? l2 : l, 4 * MiB, 7) == 4 * MiB, "realloc lost the contents");
    if (l2 != NULL) l = l2;
  }
  char *c = ok_or_enomem(hak_calloc(1, 5 * MiB), "large calloc");
  if (c != NULL) CHECK(c[0] == 0 && c[5 * MiB - 1] == 0);
  if (s != NULL) memset(s, 1, 64);
  if (m != NULL) memset(m, 2, 40 * KiB);
  if (a != NULL) CHECK((uintptr_t)a % (64 * KiB) == 0);
  hak_free(s);
  hak_free(m);
  hak_free(l);
  hak_free(z);
  hak_free(a);
  hak_free(c);
  hak_trim();
  CHECK_OK();
}

static void loop(void) {
  static const int kinds[] = {HAK_FAULT_MMAP, HAK_FAULT_MREMAP, HAK_FAULT_MPROTECT,
                              HAK_FAULT_MADVISE, HAK_FAULT_ANY};
  scenario();   /* warm */
  size_t base = mapped_bytes();
  for (unsigned k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    hak_test_fail_reset();
    scenario();
    uint64_t calls = hak_test_fault_calls(kinds[k]);
    for (uint64_t n = 1; n <= calls + 1; n++)
      for (int sticky = 0; sticky < 2; sticky++) {
        hak_test_fail_nth(kinds[k], n, sticky ? UINT64_MAX : 1);
        scenario();
        hak_test_fail_reset();
        NO_LEAK(base, "the loop's scenario");
      }
  }
  CHECK(loop_nulls > 0, "no call of the loop failed");
  scenario();
  printf("loop: %u calls failed with ENOMEM\n", loop_nulls);
}

int main(void) {
  zero_chunk();
  getrandom_refused();
  refused(HAK_FAULT_MMAP, 64, "small request, SuperSlab mapping refused");
  if (!at_strict()) refused(HAK_FAULT_MMAP, 40 * KiB, "medium request, SuperSlab mapping refused");
  refused(HAK_FAULT_MMAP, 4 * MiB, "large request, mapping refused");
  registry_leaf(64);
  if (!at_strict()) registry_leaf(40 * KiB);
  registry_leaf(4 * MiB);
  meta_pool();
  large_reuse();
  large_free();
  large_realloc(HAK_FAULT_MREMAP, "large realloc, mremap refused");
  large_realloc(HAK_FAULT_MMAP, "large realloc, reservation refused");
  madvise_refused();
  loop();
  hak_stats_t s = st();
  CHECK(s.small_live_blocks == 0 && s.mid_live == 0 && s.large_live == 0, "blocks left live");
  printf("fault: every path passed at level %d\n", s.harden_level);
  return 0;
}
