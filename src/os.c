/* os.c — the only file that makes memory system calls (and getrandom). Every call is counted
 * (hm_os_count) so the statistics and tests can see how often the allocator goes to the kernel.
 * Test and fuzz builds (HAK_TEST_HOOKS: hakmem_api and the fuzz cores, never the drop-in
 * libraries) can make the n-th call of a kind fail as the kernel would (hak_test_fail_nth):
 * mmap, mremap and mprotect with ENOMEM, madvise with EAGAIN, getrandom with ENOSYS; release
 * builds compile the test to a constant false.
 * Memory that will hold user data (SuperSlabs, large blocks: hm_os_map_aligned) is mapped
 * without MAP_NORESERVE, so the kernel's overcommit policy refuses what it cannot back and
 * malloc returns NULL + ENOMEM instead of a block the program dies touching. MAP_NORESERVE (and
 * PROT_NONE, which is never charged) is kept for pure reservations: the alignment over-reserve,
 * mremap targets (hm_os_reserve_aligned; mremap charges the growth itself) and the sparse tables
 * of hm_os_map (registry, metadata). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>
#include "internal.h"

hm_os_counters hm_os_count;

#define COUNT(field) atomic_fetch_add_explicit(&hm_os_count.field, 1, memory_order_relaxed)

#ifdef HAK_TEST_HOOKS
/* Injected failures, per kind and for any kind (slot HAK_FAULT_ANY): the calls numbered
 * [first, first + count) since the kind was armed fail (1-based; count 0: disarmed).
 * calls[k] == calls of kind k (any kind for HAK_FAULT_ANY) since hak_test_fail_nth(k, ...);
 * hits == failures injected since the process started, last_size == the size of the last;
 * mapped == bytes mapped through this file and not unmapped (a MAP_FIXED mapping replaces part
 * of a reservation already counted; mremap into a reservation frees the old range). */
static struct {
  _Atomic uint64_t calls[HAK_FAULT_KINDS], first[HAK_FAULT_KINDS], count[HAK_FAULT_KINDS];
  _Atomic uint64_t hits, last_size, mapped;
} fault;

static bool fault_slot(int k) {
  uint64_t n = atomic_fetch_add_explicit(&fault.calls[k], 1, memory_order_relaxed) + 1;
  uint64_t first = atomic_load_explicit(&fault.first[k], memory_order_relaxed);
  uint64_t count = atomic_load_explicit(&fault.count[k], memory_order_relaxed);
  return count != 0 && n >= first && n - first < count;
}

/* Whether this call of `kind` on `size` bytes fails; errno is then the kernel's `err`. */
static bool fault_inject(int kind, int err, size_t size) {
  bool own = fault_slot(kind), any = fault_slot(HAK_FAULT_ANY);
  if (!own && !any) return false;
  atomic_fetch_add_explicit(&fault.hits, 1, memory_order_relaxed);
  atomic_store_explicit(&fault.last_size, size, memory_order_relaxed);
  errno = err;
  return true;
}

void hm_os_fail_nth(int kind, uint64_t n, uint64_t count) {
  if (kind < 0 || kind >= HAK_FAULT_KINDS) return;
  atomic_store_explicit(&fault.count[kind], 0, memory_order_relaxed);
  atomic_store_explicit(&fault.calls[kind], 0, memory_order_relaxed);
  atomic_store_explicit(&fault.first[kind], n, memory_order_relaxed);
  atomic_store_explicit(&fault.count[kind], n != 0 ? count : 0, memory_order_relaxed);
}

uint64_t hm_os_fault_calls(int kind) {
  return kind >= 0 && kind < HAK_FAULT_KINDS ? atomic_load_explicit(&fault.calls[kind], memory_order_relaxed) : 0;
}

uint64_t hm_os_fault_hits(void) { return atomic_load_explicit(&fault.hits, memory_order_relaxed); }
size_t hm_os_fault_last_size(void) {
  return (size_t)atomic_load_explicit(&fault.last_size, memory_order_relaxed);
}
uint64_t hm_os_mapped_bytes(void) { return atomic_load_explicit(&fault.mapped, memory_order_relaxed); }
#define FAULT(kind, err, size) fault_inject(kind, err, size)
#define MAPPED(delta) atomic_fetch_add_explicit(&fault.mapped, (uint64_t)(delta), memory_order_relaxed)
#else
#define FAULT(kind, err, size) false
#define MAPPED(delta) ((void)0)
#endif

/* Where the next aligned mapping is hinted: just after the previous one, so the kernel usually
 * hands back an aligned range and no trimming is needed. */
static _Atomic uintptr_t next_hint;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* Deterministic fuzzing (docs/fuzzing.md): the hint the previous input left would decide where
 * this input's mappings land, whether they need the over-reserve and the trims, and which
 * registry leaves are new; each input starts at the same fixed address (offset 0; the warm-up
 * maps a little at each gigabyte above it, fz_warm_up). */
#define FUZZ_HINT_BASE ((uintptr_t)0x400000000000)   /* 64 TiB: nothing else is mapped there */
static _Atomic bool fuzz_fixed;   /* a harness asked for it: the others map as release does */
void hm_os_fuzz_reset(size_t offset) {
  atomic_store_explicit(&fuzz_fixed, true, memory_order_relaxed);
  atomic_store_explicit(&next_hint, FUZZ_HINT_BASE + offset, memory_order_relaxed);
}
#endif

#define MAP_CHARGED (MAP_PRIVATE | MAP_ANONYMOUS)
#define MAP_RESERVE (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)
#define PROT_RW (PROT_READ | PROT_WRITE)

static void *map_raw(void *hint, size_t size, int prot, int flags) {
  COUNT(mmap);
  if (FAULT(HAK_FAULT_MMAP, ENOMEM, size)) return NULL;
  void *p = mmap(hint, size, prot, flags, -1, 0);
  if (p == MAP_FAILED) return NULL;
  if (!(flags & MAP_FIXED)) MAPPED(size);
  return p;
}

void *hm_os_map(size_t size) {
  return map_raw(NULL, size, PROT_RW, MAP_RESERVE);
}

void hm_os_unmap(void *p, size_t size) {
  if (p == NULL || size == 0) return;
  COUNT(munmap);
  MAPPED(-size);
  munmap(p, size);
}

/* `size` bytes at an address p with (p + skew) % align == 0 (align a power of two >= the page
 * size; skew 0 for an aligned start), `prot` / `flags` as for mmap. The over-reserve that is
 * trimmed for the alignment is a PROT_NONE, MAP_NORESERVE reservation, so only `size` bytes are
 * ever charged; the aligned part is then mapped over it (MAP_FIXED) with the caller's flags, which
 * the kernel may refuse (a pure reservation is kept as it is: no second mmap). */
static void *map_aligned(size_t size, size_t align, size_t skew, int prot, int flags) {
  HAK_ASSERT((align & (align - 1)) == 0 && align >= HM_PAGE_SIZE && size % HM_PAGE_SIZE == 0);
  skew &= align - 1;
  uintptr_t hint = atomic_load_explicit(&next_hint, memory_order_relaxed);
  void *reserve_at = NULL;   /* the over-reserve's address hint: the kernel chooses */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  /* deterministic fuzzing, once a harness called hm_os_fuzz_reset: from the fixed base, each mapping at the first free
   * fitting address above the last one, never where the kernel would choose, so an input's
   * mappings land where they did in its previous run (what stays mapped between inputs, such as
   * the zero-size tier's reservation, is skipped the same way every time) */
  bool fixed = atomic_load_explicit(&fuzz_fixed, memory_order_relaxed);
  for (unsigned tries = 0; fixed && hint != 0 && tries < 4096; tries++, hint += align) {
    hint = ((hint + skew + align - 1) & ~(uintptr_t)(align - 1)) - skew;
    void *p = map_raw((void *)hint, size, prot, flags);
    if (p == (void *)hint) {
      atomic_store_explicit(&next_hint, hint + ((size + align - 1) & ~(align - 1)),
                            memory_order_relaxed);
      return p;
    }
    if (p == NULL) break;   /* refused (an injected fault): the over-reserve tries there too */
    hm_os_unmap(p, size);
  }
  if (fixed) {
    reserve_at = (void *)hint;
    hint = 0;
  }
#endif
  if (hint != 0 && (hint + skew) % align == 0) {
    void *p = map_raw((void *)hint, size, prot, flags);
    if (p != NULL && ((uintptr_t)p + skew) % align == 0) {
      atomic_store_explicit(&next_hint, (uintptr_t)p + ((size + align - 1) & ~(align - 1)),
                            memory_order_relaxed);
      return p;
    }
    hm_os_unmap(p, size);
  }
  if (size + align < size) return NULL;
  char *raw = map_raw(reserve_at, size + align, PROT_NONE, MAP_RESERVE);
  if (raw == NULL) return NULL;
  uintptr_t start = (((uintptr_t)raw + skew + align - 1) & ~(uintptr_t)(align - 1)) - skew;
  if (start < (uintptr_t)raw) start += align;
  if ((prot != PROT_NONE || flags != MAP_RESERVE) &&
      map_raw((void *)start, size, prot, flags | MAP_FIXED) == NULL) {
    hm_os_unmap(raw, size + align);   /* refused: the reservation goes too */
    return NULL;
  }
  size_t head = start - (uintptr_t)raw;
  size_t tail = align - head;
  if (head) hm_os_unmap(raw, head);
  if (tail) hm_os_unmap((char *)start + size, tail);
  atomic_store_explicit(&next_hint, start + ((size + align - 1) & ~(align - 1)),
                        memory_order_relaxed);
  return (void *)start;
}

/* Memory for user data, charged: NULL when the kernel will not back it. */
void *hm_os_map_aligned(size_t size, size_t align) {
  return map_aligned(size, align, 0, PROT_RW, MAP_CHARGED);
}

/* A PROT_NONE range to mremap into (hm_os_remap_to replaces it and charges what it grows). */
void *hm_os_reserve_aligned(size_t size, size_t align) {
  return map_aligned(size, align, 0, PROT_NONE, MAP_RESERVE);
}

/* A guarded range at s, (s + skew) % align == 0: [s, s+lead) and [s+lead+size, +tail) stay
 * PROT_NONE, MAP_NORESERVE reservation (guards: never charged, never backed, one mapping each),
 * [s+lead, s+lead+size) is charged read-write memory mapped over the reservation. Two mmaps
 * when the hint is free (plus two munmaps when it is not); NULL when refused. */
void *hm_os_map_guarded(size_t lead, size_t size, size_t tail, size_t align, size_t skew) {
  size_t total = lead + size + tail;
  if (total < size) return NULL;
  char *s = map_aligned(total, align, skew, PROT_NONE, MAP_RESERVE);
  if (s == NULL) return NULL;
  if (map_raw(s + lead, size, PROT_RW, MAP_CHARGED | MAP_FIXED) == NULL) {
    hm_os_unmap(s, total);
    return NULL;
  }
  return s;
}

/* 0, or -1 (errno ENOMEM: the split would pass vm.max_map_count) with the range unchanged. */
int hm_os_protect_none(void *p, size_t size) {
  COUNT(mprotect);
  if (FAULT(HAK_FAULT_MPROTECT, ENOMEM, size)) return -1;
  return mprotect(p, size, PROT_NONE);
}

int hm_os_protect_rw(void *p, size_t size) {
  COUNT(mprotect);
  if (FAULT(HAK_FAULT_MPROTECT, ENOMEM, size)) return -1;
  return mprotect(p, size, PROT_READ | PROT_WRITE);
}

/* Move the pages of [old, old+old_size) to `target` (a reserved range of new_size bytes), growing
 * the mapping; the kernel moves page tables, nothing is copied. NULL on failure. */
void *hm_os_remap_to(void *old, size_t old_size, size_t new_size, void *target) {
  COUNT(mremap);
  if (FAULT(HAK_FAULT_MREMAP, ENOMEM, new_size)) return NULL;
  void *p = mremap(old, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, target);
  if (p == MAP_FAILED) return NULL;
  MAPPED(-old_size);
  return p;
}

/* Give the pages back but keep the range mapped (reads return zeros afterwards, but only if it
 * worked: no caller may count on the zeros, since madvise may fail and nobody checks). */
void hm_os_decommit(void *p, size_t size) {
  COUNT(madvise);
  if (FAULT(HAK_FAULT_MADVISE, EAGAIN, size)) return;
  madvise(p, size, MADV_DONTNEED);
}

/* The purge of a free mapping: MADV_DONTNEED (the pages go at once, RSS falls, reads return
 * zeros) or, with HAKMEM_PURGE_MADV_FREE=1, MADV_FREE (the kernel takes them when it needs
 * memory; cheaper, but RSS stays until then; a kernel without it gets MADV_DONTNEED). */
void hm_os_purge(void *p, size_t size) {
  COUNT(madvise);
  if (FAULT(HAK_FAULT_MADVISE, EAGAIN, size)) return;
#ifdef MADV_FREE
  if (hm_cfg.purge_madv_free && madvise(p, size, MADV_FREE) == 0) return;
#endif
  madvise(p, size, MADV_DONTNEED);
}

/* `size` random bytes from the kernel without blocking or allocating; false if it has none to
 * give (no getrandom: ENOSYS; pool not initialised yet: EAGAIN). */
bool hm_os_random(void *buf, size_t size) {
  if (FAULT(HAK_FAULT_GETRANDOM, ENOSYS, size)) return false;
  return getrandom(buf, size, GRND_NONBLOCK) == (ssize_t)size;
}

/* vm.max_map_count, read with open/read (nothing allocated); `fallback` if it cannot be read. */
uint64_t hm_os_max_map_count(uint64_t fallback) {
  int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fallback;
  char buf[32];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  uint64_t v = 0;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9' && v < ((uint64_t)1 << 40); i++)
    v = v * 10 + (uint64_t)(buf[i] - '0');
  return v != 0 ? v : fallback;
}
