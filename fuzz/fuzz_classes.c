/* fuzz_classes — size-class and alignment arithmetic against a simple reference.
 *
 * The reference is the rule from tools/gen_class_table.py, written out again here: classes are
 * 8, the multiples of 16 up to 128, then 5/4, 6/4, 7/4 and 8/4 of every power of two up to 32 KiB;
 * every small and medium block ends in an 8-byte end canary (HM_CANARY), so a request gets the
 * smallest class that holds it and the canary (usable size: the class - 8); an aligned request the
 * first class at least max(size + 8, align) whose size is a multiple of the alignment; at the off
 * and fast levels a request of 32 KiB - 8 < size <= 512 KiB - 8 (alignment at most a page) the
 * smallest medium class ((5 + k % 4) << (13 + k / 4), fuzz_helpers.h) holding size + 8, 8 KiB-
 * aligned; everything larger its own mapping, page-rounded. Checked:
 *   - once: the class table equals the reference list, and the block-index arithmetic (multiply by
 *     the slab's inverse, no division) agrees with division at every offset of every class;
 *   - per input, for (size, alignment, offset) triples from the input: hm_size_class, the usable
 *     size (under ASan: between the request and the class size) and alignment of real malloc / aligned_alloc / posix_memalign blocks, free_sized and
 *     free_aligned_sized with the request accepted, block index and interior-pointer detection.
 * Levels: an input whose first byte is 0xF0 + level (0 off, 1 fast, 2 strict, 3 paranoid;
 * fz_take_level) runs at that level, any other first byte at the process's level (HAKMEM_HARDEN).
 * The rules per level, from what hakmem reports as in force (fz_level): below strict, as above; at
 * strict and paranoid a small request of n bytes (aligned: max(n + 12, align)) gets the smallest
 * class (a multiple of the alignment) holding n + 8 + 4 (the keyed size trailer,
 * fz_small_reserve), its usable size is exactly n, and the medium tier is off (fz_mid_level).
 */
#include "fuzz_helpers.h"

static uint32_t ref_size[64];
static unsigned ref_n;

static void ref_build(void) {
  ref_n = 0;
  ref_size[ref_n++] = 8;
  for (uint32_t s = 16; s <= 128; s += 16) ref_size[ref_n++] = s;
  for (uint32_t p2 = 128; p2 < HM_SMALL_MAX; p2 *= 2)
    for (uint32_t k = 5; k <= 8; k++) ref_size[ref_n++] = p2 * k / 4;
}

static unsigned ref_class(size_t n) {
  unsigned c = 0;
  while (ref_size[c] < n) c++;
  return c;
}

static bool mid_on;   /* the medium tier is on at this hardening level */

static size_t page_round(size_t n) { return (n + HM_PAGE_SIZE - 1) & ~(size_t)(HM_PAGE_SIZE - 1); }

/* The small class size the reference gives an aligned request (align <= 8: plain malloc), 0 if it
 * is not small: the smallest class holding max(size + 8 + the level's reserve, align) whose size is
 * a multiple of the alignment. */
static size_t ref_small_block(size_t size, size_t align) {
  if (fz_tier_for(mid_on, size, align) != FZ_SMALL) return 0;
  size_t need = size + HM_CANARY + fz_small_reserve;
  if (need < align) need = align;
  for (unsigned c = ref_class(need); c < ref_n; c++)
    if (align <= 8 || ref_size[c] % align == 0) return ref_size[c];
  return 0;
}

/* Usable size the allocator should give an aligned request (align <= 8: plain malloc): a small
 * block less its HM_CANARY-byte end canary below strict, the request itself at strict and paranoid;
 * a medium block less its canary; or the pages. */
static size_t ref_usable(size_t size, size_t align) {
  if (fz_tier_for(mid_on, size, align) == FZ_ZERO) return 0;   /* a PROT_NONE slot (zero.c) */
  size_t bs = ref_small_block(size, align);
  if (bs != 0) return fz_level_now >= 2 ? size : bs - HM_CANARY;
  if (fz_tier_for(mid_on, size, align) == FZ_MID)
    return fz_mid_class_size(fz_mid_class(size + HM_CANARY)) - HM_CANARY;
  return page_round(size ? size : 1);
}

/* Under ASan hakmem reports the requested size as usable (the slack is poisoned), as ASan's own
 * malloc does; elsewhere the whole block. */
static bool usable_ok_(size_t usable, size_t size, size_t align);
static bool usable_ok(size_t usable, size_t size, size_t align) {
  bool ok = usable_ok_(usable, size, align);
  if (!ok)
    fprintf(stderr, "fuzz_classes: size %zu, alignment %zu: usable %zu, the reference says %zu\n", size,
            align, usable, ref_usable(size, align));
  return ok;
}
static bool usable_ok_(size_t usable, size_t size, size_t align) {
  size_t want = ref_usable(size, align);
  /* a large request may reuse a cached mapping up to a quarter larger (large.c), or at the off
   * and fast levels up to 8 MiB larger (the block keeps the whole mapping to grow in place) */
  bool large = fz_tier_for(mid_on, size, align) == FZ_LARGE;
  size_t slack = want / 4;
  if (mid_on && slack < ((size_t)8 << 20)) slack = (size_t)8 << 20;
  if (large && usable > want && usable <= want + slack) return true;
#ifdef FZ_ASAN
  return usable == want || (usable >= size && usable < want);
#else
  return usable == want;
#endif
}

static uint64_t bitmap[HM_BITMAP_WORDS];

static void fake_slab(hm_slab *s, unsigned cls) {
  memset(s, 0, sizeof *s);
  s->bitmap = bitmap;
  s->start = (uintptr_t)1 << 40;   /* any 64 KiB-aligned address: only arithmetic is done */
  hm_slab_init(s, cls);
  FUZZ_ASSERT(s->block_size == ref_size[cls] && s->capacity == HM_SLAB_SIZE / ref_size[cls],
              "slab geometry");
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  ref_build();
  for (unsigned k = 1; k < FZ_MID_CLASSES; k++)
    FUZZ_ASSERT(fz_mid_class_size(k) > fz_mid_class_size(k - 1) && fz_mid_class_size(k) % FZ_MID_ALIGN == 0,
                "medium reference classes");
  FUZZ_ASSERT(fz_mid_class_size(0) > HM_SMALL_MAX && fz_mid_class_size(FZ_MID_CLASSES - 1) == FZ_MID_MAX,
              "medium reference range");
  FUZZ_ASSERT(ref_n == HM_CLASSES, "class count differs from the reference");
  for (unsigned c = 0; c < ref_n; c++) FUZZ_ASSERT(hm_class_size[c] == ref_size[c], "class table");
  for (unsigned c = 0; c < HM_CLASSES; c++) {
    hm_slab s;
    fake_slab(&s, c);
    for (uint32_t off = 0; off < (uint32_t)s.capacity * s.block_size; off += 8)
      FUZZ_ASSERT(hm_block_index(&s, s.start + off) == off / s.block_size, "block index");
  }
  return 0;
}

/* The block is in the tier the reference gives; a small one of the class it gives at this level,
 * a medium one of its class (also under ASan, where the usable size is the request), 8 KiB-aligned. */
static void check_tier(void *p, size_t size, size_t align) {
  size_t bs;
  fz_tier want = fz_tier_for(mid_on, size, align);
  FUZZ_ASSERT(fz_owner(p, &bs) == want, "block not in the tier the reference gives");
  if (want == FZ_SMALL) {
    if (bs != ref_small_block(size, align))
      fprintf(stderr, "fuzz_classes: level %d, size %zu, alignment %zu: block %zu, the reference says %zu\n",
              fz_level_now, size, align, bs, ref_small_block(size, align));
    FUZZ_ASSERT(bs == ref_small_block(size, align), "small block not of the class the reference gives");
  }
  if (want == FZ_MID) {
    FUZZ_ASSERT(bs == fz_mid_class_size(fz_mid_class(size + HM_CANARY)), "medium block not of the smallest class that fits");
    FUZZ_ASSERT((uintptr_t)p % FZ_MID_ALIGN == 0, "medium block not 8 KiB-aligned");
  }
}

static void check_size(size_t size) {
  if (size <= HM_SMALL_MAX - HM_CANARY) {
    unsigned c = hm_size_class(size);
    FUZZ_ASSERT(c == ref_class(size + HM_CANARY), "hm_size_class is not the smallest class that fits");
  }
  void *p = hak_malloc(size);
  FUZZ_ASSERT(p != NULL, "malloc failed");
  FUZZ_ASSERT((uintptr_t)p % (size >= 16 ? 16 : 8) == 0, "malloc alignment");
  FUZZ_ASSERT(usable_ok(hak_malloc_usable_size(p), size, 1), "usable size of malloc");
  check_tier(p, size, 1);
  if (size) memset(p, 0xa5, size <= FZ_MID_MAX ? size : 65536);
  hak_free_sized(p, size);
}

static void check_aligned(size_t size, size_t align) {
  void *p = hak_aligned_alloc(align, size);
  FUZZ_ASSERT(p != NULL && (uintptr_t)p % align == 0, "aligned_alloc alignment");
  FUZZ_ASSERT(usable_ok(hak_malloc_usable_size(p), size, align), "usable size of aligned_alloc");
  check_tier(p, size, align);
  hak_free_aligned_sized(p, align, size);
  if (align >= sizeof(void *)) {
    void *q = NULL;
    FUZZ_ASSERT(hak_posix_memalign(&q, align, size) == 0 && (uintptr_t)q % align == 0,
                "posix_memalign alignment");
    FUZZ_ASSERT(usable_ok(hak_malloc_usable_size(q), size, align), "usable size of posix_memalign");
    check_tier(q, size, align);
    hak_free(q);
  }
}

/* Block index of every offset near `off` in a slab of class `cls`, and the interior test
 * (idx * block_size == off) free() uses to reject pointers into the middle of a block. */
static void check_index(unsigned cls, uint32_t off) {
  hm_slab s;
  fake_slab(&s, cls);
  uint32_t end = (uint32_t)s.capacity * s.block_size;
  off %= end;
  uint32_t from = off >= 64 ? off - 64 : 0;
  for (uint32_t o = from; o < off + 64 && o < end; o++) {
    uint32_t idx = hm_block_index(&s, s.start + o);
    FUZZ_ASSERT(idx == o / s.block_size, "block index");
    FUZZ_ASSERT((idx * s.block_size == o) == (o % s.block_size == 0), "interior pointer test");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (ref_n == 0) LLVMFuzzerInitialize(NULL, NULL);
  /* mappings from the fixed base again (src/os.c, fuzzing builds): otherwise each one lands at a
   * fresh address above the last, and ASan's shadow of every range ever used stays resident */
  hm_os_fuzz_reset(0);
  fuzz_data d = {data, size};
  fz_checks = 0;
  fz_level(fz_take_level(&d));   /* before the first allocation, and before the reference's rules */
  mid_on = fz_mid_level();
  for (unsigned n = 0; n < 64 && !fd_done(&d); n++) {
    uint8_t sel = fd_u8(&d);
    size_t sz = (sel & 1) ? fd_size(&d) : (size_t)fd_range(&d, 0, HM_SMALL_MAX + 8);
    size_t align = (size_t)1 << (fd_u8(&d) % 23);
    check_size(sz);
    if (sel & 2) check_aligned(sz, align);
    check_index(fd_u8(&d) % HM_CLASSES, fd_u16(&d));
    FUZZ_CHECK_HEAP();
  }
  FUZZ_CHECK_HEAP_FULL();
  fz_restore_defaults();
  hak_trim();
  return 0;
}
