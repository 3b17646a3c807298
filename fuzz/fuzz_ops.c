/* fuzz_ops — one thread, the whole hak_* API against a shadow model.
 *
 * Input: optionally a level byte (0xF0 + level: off, fast, strict, paranoid; fuzz_helpers.h
 * fz_take_level), then a sequence of ops (fuzz_helpers.h: fuzz_next_op with the single-thread kinds):
 * malloc / calloc / realloc / reallocarray / posix_memalign / aligned_alloc / memalign / valloc /
 * pvalloc with sizes biased to class, page, slab and SuperSlab edges and the small/medium/large
 * borders (every block's tier, medium class and in-place realloc checked against the reference); free and free_sized of a
 * live handle; bursts that fill slabs; prewarm, evict, trim, malloc_trim, new cache limits
 * (0 included), clock advances that expire the TTL, thread-cache flush, statistics, impossible
 * requests, a fork (the child checks the model), injected failures. Every live block carries a
 * pattern checked on free and realloc; the heap is checked after every op (FUZZ_CHECK_HEAP: the
 * light check, hak_check() every 16th op and at the end). At the end every block is freed, the limits are restored, the cache is trimmed, and
 * nothing may remain mapped: the next input starts from the same empty state.
 */
#include "fuzz_helpers.h"

#define SLOTS 256
#define MAX_OPS 512

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fz_warm_up();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static fz_block slots[SLOTS];
  fuzz_data d = {data, size};
  fz_level(fz_take_level(&d));   /* before the first allocation, and before the model's rules */
  fz_model m = {slots, SLOTS, 1, 32, true, fz_mid_level()};
  fuzz_op op;
  memset(slots, 0, sizeof slots);
  fz_begin();
  for (unsigned n = 0; n < MAX_OPS && fuzz_next_op(&d, &op, FOP_SINGLE_COUNT); n++) {
    fz_exec(&m, &op);
    FUZZ_CHECK_HEAP();
  }
  fz_stats(&m, false);
  for (unsigned i = 0; i < SLOTS; i++) fz_release(&slots[i], i & 1);
  fz_finish("a slab stayed active after flush");
  return 0;
}
