/* os.c — the only file that makes memory system calls. Every call is counted (hm_os_count) so
 * the statistics and tests can see how often the allocator goes to the kernel. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include "internal.h"

hm_os_counters hm_os_count;

#define COUNT(field) atomic_fetch_add_explicit(&hm_os_count.field, 1, memory_order_relaxed)

/* Where the next aligned mapping is hinted: just after the previous one, so the kernel usually
 * hands back an aligned range and no trimming is needed. */
static _Atomic uintptr_t next_hint;

static void *map_raw(void *hint, size_t size) {
  COUNT(mmap);
  void *p = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void *hm_os_map(size_t size) {
  return map_raw(NULL, size);
}

void hm_os_unmap(void *p, size_t size) {
  if (p == NULL || size == 0) return;
  COUNT(munmap);
  munmap(p, size);
}

/* `size` bytes at an address that is a multiple of `align` (a power of two >= the page size). */
void *hm_os_map_aligned(size_t size, size_t align) {
  HAK_ASSERT((align & (align - 1)) == 0 && align >= HM_PAGE_SIZE && size % HM_PAGE_SIZE == 0);
  uintptr_t hint = atomic_load_explicit(&next_hint, memory_order_relaxed);
  if (hint != 0 && hint % align == 0) {
    void *p = map_raw((void *)hint, size);
    if (p != NULL && (uintptr_t)p % align == 0) {
      atomic_store_explicit(&next_hint, (uintptr_t)p + ((size + align - 1) & ~(align - 1)),
                            memory_order_relaxed);
      return p;
    }
    hm_os_unmap(p, size);
  }
  if (size + align < size) return NULL;
  char *raw = map_raw(NULL, size + align);
  if (raw == NULL) return NULL;
  uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
  size_t head = start - (uintptr_t)raw;
  size_t tail = align - head;
  if (head) hm_os_unmap(raw, head);
  if (tail) hm_os_unmap((char *)start + size, tail);
  atomic_store_explicit(&next_hint, start + ((size + align - 1) & ~(align - 1)),
                        memory_order_relaxed);
  return (void *)start;
}

int hm_os_protect_none(void *p, size_t size) {
  COUNT(mprotect);
  return mprotect(p, size, PROT_NONE);
}

int hm_os_protect_rw(void *p, size_t size) {
  COUNT(mprotect);
  return mprotect(p, size, PROT_READ | PROT_WRITE);
}

/* Move the pages of [old, old+old_size) to `target` (a reserved range of new_size bytes), growing
 * the mapping; the kernel moves page tables, nothing is copied. NULL on failure. */
void *hm_os_remap_to(void *old, size_t old_size, size_t new_size, void *target) {
  COUNT(mremap);
  void *p = mremap(old, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, target);
  return p == MAP_FAILED ? NULL : p;
}

/* Give the pages back but keep the range mapped (reads return zeros afterwards). */
void hm_os_decommit(void *p, size_t size) {
  COUNT(madvise);
  madvise(p, size, MADV_DONTNEED);
}
