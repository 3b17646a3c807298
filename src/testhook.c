/* testhook.c — hooks for hakmem's own tests, fuzzers and properties: built into hakmem_api (the
 * static core the tests link) and never into libhakmem.so / libhakmem.a, so a release library
 * exports no way to move the allocator's clock or to make its system calls fail (tests/abi checks
 * the exported names). The fault injection itself is in src/os.c, compiled in only where
 * HAK_TEST_HOOKS is defined (CMake: hakmem_os_test and the fuzz cores). */
#define HAK_TEST_HOOKS 1
#include "internal.h"

HAK_API void hak_test_advance_clock(uint64_t ns) {
  atomic_fetch_add_explicit(&hm_clock_offset_ns, ns, memory_order_relaxed);
}

HAK_API void hak_test_fail_nth(int kind, uint64_t n, uint64_t count) { hm_os_fail_nth(kind, n, count); }

HAK_API void hak_test_fail_reset(void) {
  for (int k = 0; k < HAK_FAULT_KINDS; k++) hm_os_fail_nth(k, 0, 0);
}

HAK_API uint64_t hak_test_fault_calls(int kind) { return hm_os_fault_calls(kind); }
HAK_API uint64_t hak_test_fault_hits(void) { return hm_os_fault_hits(); }
HAK_API size_t hak_test_fault_last_size(void) { return hm_os_fault_last_size(); }
HAK_API uint64_t hak_test_mapped_bytes(void) { return hm_os_mapped_bytes(); }
