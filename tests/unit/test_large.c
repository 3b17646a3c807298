/* The large tier's mapping layout: every large block, however it was made (malloc, calloc, reuse
 * from the cache of freed mappings, realloc in place and by mremap, posix_memalign and
 * aligned_alloc up to 4 MiB), has a PROT_NONE lead guard right before its first byte (a page, the
 * alignment when larger, a whole 2 MiB chunk for 2 MiB and more) and a PROT_NONE guard page right
 * after its usable bytes, read from /proc/self/maps; its mapping starts on a 2 MiB boundary; the
 * large tier counts three mappings per guarded block (hak_stats: large_mappings) and none once
 * trimmed; a fresh block costs no mprotect; every invariant holds (hak_check) after each step. */
#include "hak_test.h"
#include "internal.h"

/* The protection ("rw", "r-", "--", ...) of the mapping holding `a`, or "" when none does. */

static int is_none(const char *p) { return strcmp(p, "--") == 0; }

/* p (usable bytes) must be read-write between a lead guard of `lead` bytes and a guard page. */
static void check_layout(const char *how, char *p, size_t lead) {
  uintptr_t a = (uintptr_t)p;
  /* the descriptor's usable bytes (malloc_usable_size says the request in ASan builds) */
  const hm_large *l = (const hm_large *)hm_registry_lookup(p);
  CHECK(l != NULL && (hm_registry_lookup(p) & HM_REG_SS) == 0, "%s: %p not a large block", how,
        (void *)p);
  size_t usable = l->usable;
  CHECK(strcmp(test_prot_at(a), "rw") == 0 && strcmp(test_prot_at(a + usable - 1), "rw") == 0,
        "%s: block %p not read-write (%s)", how, (void *)p, test_prot_at(a));
  CHECK(is_none(test_prot_at(a - 1)), "%s: the byte before %p is '%s', not a guard", how,
        (void *)p, test_prot_at(a - 1));
  CHECK(is_none(test_prot_at(a - lead)), "%s: %zu bytes before %p is '%s', not the lead guard",
        how, lead, (void *)p, test_prot_at(a - lead));
  CHECK((a - lead) % HM_SS_SIZE == 0, "%s: mapping start %p not 2 MiB aligned", how,
        (void *)(a - lead));
  CHECK(is_none(test_prot_at(a + usable)) && is_none(test_prot_at(a + usable + HM_PAGE_SIZE - 1)),
        "%s: the page after %p + %zu is '%s', not a guard", how, (void *)p, usable,
        test_prot_at(a + usable));
  p[0] = 1;
  p[hak_malloc_usable_size(p) - 1] = 1;   /* the last byte the program may use */
  CHECK_OK();
}

int main(void) {
  const size_t n = 600000, page = HM_PAGE_SIZE;
  hak_free(hak_malloc(n));   /* warm up: the metadata pools exist before anything is counted */
  hak_trim();
  uint64_t maps0 = st().large_mappings;

  uint64_t mmaps = hm_os_count.mmap, mprotects = hm_os_count.mprotect;
  char *p = hak_malloc(n);
  uint64_t d_mmap = hm_os_count.mmap - mmaps, d_mprotect = hm_os_count.mprotect - mprotects;
  printf("fresh large malloc: %llu mmap, %llu mprotect\n", (unsigned long long)d_mmap,
         (unsigned long long)d_mprotect);
  CHECK(p != NULL && d_mprotect == 0 && d_mmap >= 2 && d_mmap <= 3, "mmap %llu mprotect %llu",
        (unsigned long long)d_mmap, (unsigned long long)d_mprotect);
  check_layout("malloc", p, page);
  CHECK(st().large_mappings == maps0 + 3, "large_mappings %llu, expected %llu",
        (unsigned long long)st().large_mappings, (unsigned long long)maps0 + 3);

  char *c = hak_calloc(1, n);
  CHECK(c != NULL && c[n - 1] == 0);
  check_layout("calloc", c, page);
  CHECK(st().large_mappings == maps0 + 6);

  /* freed: the whole usable range is PROT_NONE in the cache, the guards stay; reused: same block */
  hak_free(p);
  CHECK(is_none(test_prot_at((uintptr_t)p)) && st().large_mappings == maps0 + 6);
  CHECK_OK();
  char *r = hak_malloc(n);
  CHECK(r == p, "reuse from the cache: %p, freed %p", (void *)r, (void *)p);
  check_layout("cache reuse", r, page);

  /* in place: a shrink over half, a growth within the pages */
  char *q = hak_realloc(r, n - 50000);
  CHECK(q == r);
  check_layout("realloc shrunk in place", q, page);
  q = hak_realloc(q, ((const hm_large *)hm_registry_lookup(q))->usable);
  CHECK(q == r);
  check_layout("realloc grown in place", q, page);

  /* by mremap into a new reservation: a one-page lead guard; the old guards are gone */
  q[0] = 42;
  mprotects = hm_os_count.mprotect;
  uint64_t remaps = hm_os_count.mremap;
  char *m = hak_realloc(q, 8 * MiB);
  CHECK(m != NULL && m != q && m[0] == 42 && hm_os_count.mremap == remaps + 1 &&
            hm_os_count.mprotect == mprotects,
        "realloc by mremap: %p from %p, mremap +%llu, mprotect +%llu", (void *)m, (void *)q,
        (unsigned long long)(hm_os_count.mremap - remaps),
        (unsigned long long)(hm_os_count.mprotect - mprotects));
  check_layout("realloc moved", m, page);
  CHECK(test_prot_at((uintptr_t)q - 1)[0] == '\0' && test_prot_at((uintptr_t)q + ((n + page - 1) & ~(page - 1)))[0] == '\0',
        "the old guards of %p are still mapped", (void *)q);
  CHECK(st().large_mappings == maps0 + 6);

  /* aligned: the lead guard is the alignment, a whole chunk from 2 MiB on */
  static const size_t aligns[] = {8 * KiB, 64 * KiB, 1 * MiB, 2 * MiB, 4 * MiB};
  void *al[5];
  for (int i = 0; i < 5; i++) {
    CHECK(hak_posix_memalign(&al[i], aligns[i], n) == 0 && (uintptr_t)al[i] % aligns[i] == 0,
          "posix_memalign(%zu)", aligns[i]);
    char how[48];
    snprintf(how, sizeof how, "posix_memalign(%zu)", aligns[i]);
    check_layout(how, al[i], aligns[i] < 2 * MiB ? aligns[i] : 2 * MiB);
  }
  CHECK(st().large_mappings == maps0 + 6 + 15);
  /* a cached 64 KiB-aligned mapping serves an aligned_alloc(64 KiB), never a 128 KiB one */
  hak_free(al[1]);
  void *a64 = hak_aligned_alloc(64 * KiB, n);
  CHECK(a64 == al[1], "aligned_alloc(64 KiB) did not reuse the cached 64 KiB-aligned mapping");
  check_layout("aligned_alloc(64 KiB) from the cache", a64, 64 * KiB);
  hak_free(a64);
  void *a128 = hak_aligned_alloc(128 * KiB, n);
  CHECK(a128 != NULL && (uintptr_t)a128 % (128 * KiB) == 0);
  check_layout("aligned_alloc(128 KiB)", a128, 128 * KiB);

  hak_free(a128);
  for (int i = 0; i < 5; i++)
    if (i != 1) hak_free(al[i]);
  hak_free(m);
  hak_free(c);
  CHECK_OK();
  hak_trim();
  CHECK(st().large_mappings == maps0 && st().large_unguarded == 0, "large_mappings %llu after trim",
        (unsigned long long)st().large_mappings);
  CHECK_OK();
  puts("large layout ok");
  return 0;
}
