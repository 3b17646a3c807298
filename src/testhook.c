/* testhook.c — hooks for hakmem's own tests, fuzzers and properties: built into hakmem_api (the
 * static core the tests link) and never into libhakmem.so / libhakmem.a, so a release library
 * exports no way to move the allocator's clock (tests/abi checks the exported names). */
#define HAK_TEST_HOOKS 1
#include "internal.h"

HAK_API void hak_test_advance_clock(uint64_t ns) {
  atomic_fetch_add_explicit(&hm_clock_offset_ns, ns, memory_order_relaxed);
}
