/* san.c — the sanitizer and Valgrind hooks declared in san.h (compiled to nothing unless a
 * sanitizer or HAK_VALGRIND is on). */
#include "internal.h"
#include "san.h"

#if HM_SAN_ANY
#ifdef HM_ASAN
#include <sanitizer/asan_interface.h>
#endif
#ifdef HM_MSAN
#include <sanitizer/msan_interface.h>
#endif
#ifdef HM_VG
#include <valgrind/memcheck.h>
static bool on_vg;   /* RUNNING_ON_VALGRIND, read once at start-up */
#define VG(stmt) do { if (on_vg) { stmt; } } while (0)
#else
#define VG(stmt) do { } while (0)
#endif

void hm_san_init(void) {
#ifdef HM_VG
  on_vg = RUNNING_ON_VALGRIND != 0;
#endif
}

void hm_san_map(void *p, size_t n) {
#ifdef HM_ASAN
  __asan_poison_memory_region(p, n);
#endif
  VG(VALGRIND_MAKE_MEM_NOACCESS(p, n));
}

void hm_san_unmap(void *p, size_t n) {
#ifdef HM_ASAN
  __asan_unpoison_memory_region(p, n);
#endif
  (void)p;
  (void)n;
}

/* MSan: what the allocator opens it has written itself (a link, a canary, the zeroes of a freed
 * block), though a later hm_san_alloc or hm_san_free may have marked those bytes uninitialised. */
void hm_san_open(void *p, size_t n) {
#ifdef HM_ASAN
  __asan_unpoison_memory_region(p, n);
#endif
#ifdef HM_MSAN
  __msan_unpoison(p, n);
#endif
  VG(VALGRIND_MAKE_MEM_DEFINED(p, n));
  (void)p;
  (void)n;
}

void hm_san_close(void *p, size_t n) {
#ifdef HM_ASAN
  __asan_poison_memory_region(p, n);
#endif
  VG(VALGRIND_MAKE_MEM_NOACCESS(p, n));
  (void)p;
  (void)n;
}

void hm_san_alloc(void *p, size_t req, size_t usable, bool zeroed) {
#ifdef HM_ASAN
  __asan_poison_memory_region(p, usable);
  __asan_unpoison_memory_region(p, req);
#endif
#ifdef HM_MSAN
  if (!zeroed) __msan_allocated_memory(p, usable);
#endif
  /* memcheck gets the usable size: malloc_usable_size promises all of it to the program, and
   * hakmem does not record the requested size of a small block (ASan catches slack overflows) */
  VG(VALGRIND_MALLOCLIKE_BLOCK(p, usable, 0, zeroed));
  (void)p;
  (void)req;
  (void)usable;
  (void)zeroed;
}

void hm_san_free(void *p, size_t usable) {
#ifdef HM_ASAN
  __asan_poison_memory_region(p, usable);
#endif
#ifdef HM_MSAN
  __msan_poison(p, usable);   /* reads of freed memory show up as uninitialised */
#endif
  VG(VALGRIND_FREELIKE_BLOCK(p, 0));
  (void)p;
  (void)usable;
}

void hm_san_resize(void *p, size_t new_req, size_t usable) {
#ifdef HM_ASAN
  __asan_poison_memory_region(p, usable);
  __asan_unpoison_memory_region(p, new_req);
#endif
  VG(VALGRIND_FREELIKE_BLOCK(p, 0); VALGRIND_MALLOCLIKE_BLOCK(p, usable, 0, 0);
     VALGRIND_MAKE_MEM_DEFINED(p, usable));
  (void)p;
  (void)new_req;
  (void)usable;
}

/* A large block moved by mremap from `old` to `p`: the kernel moved the pages but not the
 * sanitizers' view of them. */
void hm_san_moved(void *old, size_t old_usable, void *p, size_t old_req, size_t new_req,
                  size_t usable) {
#ifdef HM_ASAN
  __asan_unpoison_memory_region(old, old_usable);
  __asan_poison_memory_region(p, usable);
  __asan_unpoison_memory_region(p, new_req);
#endif
#ifdef HM_MSAN
  if (new_req > old_req) __msan_allocated_memory((char *)p + old_req, new_req - old_req);
#endif
  VG(VALGRIND_FREELIKE_BLOCK(old, 0); VALGRIND_MALLOCLIKE_BLOCK(p, usable, 0, 0);
     VALGRIND_MAKE_MEM_DEFINED(p, old_req < new_req ? old_req : new_req));
  (void)old;
  (void)old_usable;
  (void)p;
  (void)old_req;
  (void)new_req;
  (void)usable;
}

/* Under ASan a block's requested size is where its shadow turns poisoned: malloc_usable_size
 * answers that, so a program that fills "usable" bytes is not reported. hm_san_alloc and
 * hm_san_resize leave the bytes below the request addressable and those above poisoned, so the
 * boundary is found by bisection: O(log usable) shadow reads where a scan of the region read
 * usable / 8 shadow bytes (a sixth of a fuzzing run, and megabytes per realloc of a large block). A
 * program that poisons part of its own block (container annotations) poisons its tail, which keeps
 * the shadow monotonic. */
size_t hm_san_requested(void *p, size_t usable) {
#ifdef HM_ASAN
  char *c = p;
  if (usable == 0 || !__asan_address_is_poisoned(c + usable - 1)) return usable;
  size_t lo = 0, hi = usable - 1;   /* c + hi is poisoned; the answer is in [lo, hi] */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (__asan_address_is_poisoned(c + mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
#else
  (void)p;
  return usable;
#endif
}
#endif
