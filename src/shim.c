/* shim.c — the libc names, for LD_PRELOAD or linking. The only file that defines them; it is
 * left out of sanitizer builds, whose runtimes own malloc.
 * Besides the C and POSIX family it serves glibc's internal names (__libc_malloc, ...), which
 * some programs and libraries call directly and then free with free(), and glibc's extensions
 * (mallinfo, mallinfo2, malloc_stats, malloc_info, mallopt), answered from hak_stats. The field
 * mapping is in README.md ("glibc extensions"); mallinfo_fill is its single source. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include "fastpath.h"

#define SHIM __attribute__((visibility("default")))

/* cxx.c refers to it, so a static link that takes the C++ operators takes these names too. */
HM_HIDDEN const char hm_shim_anchor = 0;

SHIM void *malloc(size_t size) { return hm_malloc_entry(size); }
SHIM void free(void *p) { hm_free_fast(p); }
SHIM void *calloc(size_t n, size_t size) { return hak_calloc(n, size); }
/* realloc(p, 0) with p != NULL frees p and returns NULL, as glibc's does, so `p = realloc(p, 0)`
 * does not leak (hak_realloc returns a minimum-size block instead); realloc(NULL, 0) is malloc(0). */
SHIM void *realloc(void *p, size_t size) {
  if (p != NULL && size == 0) {
    hm_realloc_free(p);
    return NULL;
  }
  return hak_realloc(p, size);
}
SHIM void *reallocarray(void *p, size_t n, size_t size) {
  if (p != NULL && (n == 0 || size == 0)) {
    hm_realloc_free(p);
    return NULL;
  }
  return hak_reallocarray(p, n, size);
}
SHIM int posix_memalign(void **out, size_t align, size_t size) {
  return hak_posix_memalign(out, align, size);
}
SHIM void *aligned_alloc(size_t align, size_t size) { return hak_aligned_alloc(align, size); }
SHIM void *memalign(size_t align, size_t size) { return hak_memalign(align, size); }
SHIM void *valloc(size_t size) { return hak_valloc(size); }
SHIM void *pvalloc(size_t size) { return hak_pvalloc(size); }
SHIM size_t malloc_usable_size(void *p) { return hak_malloc_usable_size(p); }
SHIM void free_sized(void *p, size_t size) { hak_free_sized(p, size); }
SHIM void free_aligned_sized(void *p, size_t align, size_t size) {
  hak_free_aligned_sized(p, align, size);
}
SHIM int malloc_trim(size_t pad) { return hak_malloc_trim(pad); }
SHIM void cfree(void *p) { hak_free(p); }

/* ---- glibc's internal names: the same blocks as the public ones ---------------------------- */
SHIM void *__libc_malloc(size_t size) { return hm_malloc_entry(size); }
SHIM void __libc_free(void *p) { hm_free_fast(p); }
SHIM void *__libc_calloc(size_t n, size_t size) { return hak_calloc(n, size); }
SHIM void *__libc_realloc(void *p, size_t size) { return realloc(p, size); }
SHIM void *__libc_memalign(size_t align, size_t size) { return hak_memalign(align, size); }
SHIM void *__libc_valloc(size_t size) { return hak_valloc(size); }
SHIM void *__libc_pvalloc(size_t size) { return hak_pvalloc(size); }

/* ---- glibc's statistics ------------------------------------------------------------------------- */
typedef struct info {
  size_t arena;      /* SuperSlab bytes mapped (in use or cached) */
  size_t ordblks;    /* active slabs + medium SuperSlabs: the chunks that hold small blocks */
  size_t hblks;      /* live large blocks (one mapping each) */
  size_t hblkhd;     /* their usable bytes */
  size_t uordblks;   /* live bytes in SuperSlabs (small + medium) */
  size_t fordblks;   /* arena - uordblks */
  size_t keepcost;   /* cached bytes malloc_trim would unmap (SuperSlab and large caches) */
  size_t free_count; /* cached SuperSlabs and large mappings */
} info;

static info mallinfo_fill(void) {
  hak_stats_t st;
  hak_stats(&st);
  info i;
  i.arena = (size_t)st.ss_mapped * HM_SS_SIZE;
  i.ordblks = (size_t)(st.slabs_active + st.mid_superslabs);
  i.hblks = (size_t)st.large_live;
  i.hblkhd = (size_t)st.large_live_bytes;
  i.uordblks = (size_t)(st.small_live_bytes + st.mid_live_bytes);
  i.fordblks = i.arena > i.uordblks ? i.arena - i.uordblks : 0;
  i.keepcost = (size_t)(st.ss_cached_bytes + st.large_cached_bytes);
  i.free_count = (size_t)(st.ss_cached + st.large_cached);
  return i;
}

SHIM struct mallinfo2 mallinfo2(void) {
  info i = mallinfo_fill();
  struct mallinfo2 m = {0};
  m.arena = i.arena;
  m.ordblks = i.ordblks;
  m.hblks = i.hblks;
  m.hblkhd = i.hblkhd;
  m.uordblks = i.uordblks;
  m.fordblks = i.fordblks;
  m.keepcost = i.keepcost;
  return m;   /* smblks, usmblks, fsmblks: 0 (no fastbins; glibc's usmblks is 0 too) */
}

static int clamp_int(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

/* The int fields saturate at INT_MAX (glibc's wrap around). */
SHIM struct mallinfo mallinfo(void) {
  struct mallinfo2 m2 = mallinfo2();
  struct mallinfo m = {0};
  m.arena = clamp_int(m2.arena);
  m.ordblks = clamp_int(m2.ordblks);
  m.hblks = clamp_int(m2.hblks);
  m.hblkhd = clamp_int(m2.hblkhd);
  m.uordblks = clamp_int(m2.uordblks);
  m.fordblks = clamp_int(m2.fordblks);
  m.keepcost = clamp_int(m2.keepcost);
  return m;
}

SHIM void malloc_stats(void) { hak_stats_print(stderr); }

/* glibc's layout with one heap; "max" repeats "current" (hakmem keeps no peak of its mappings). */
SHIM int malloc_info(int options, FILE *fp) {
  if (options != 0 || fp == NULL) {
    errno = EINVAL;
    return -1;
  }
  info i = mallinfo_fill();
  size_t system = i.arena + i.hblkhd;
  fprintf(fp, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n</sizes>\n"
              "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
              "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
              "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
              "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n"
              "</heap>\n",
          i.free_count, i.fordblks, i.arena, i.arena, i.arena, i.arena);
  return fprintf(fp, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
                     "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
                     "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
                     "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
                     "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n"
                     "</malloc>\n",
                 i.free_count, i.fordblks, i.hblks, i.hblkhd, system, system, system, system) < 0
             ? -1 : 0;
}

/* mallopt: 1 = accepted, 0 = rejected. M_TRIM_THRESHOLD is the SuperSlab cache's byte limit
 * (rounded down to MiB; hakmem gives back what is over it). The others are accepted and ignored:
 * hakmem has no top pad, a fixed large-tier threshold and no mapping count limit, per-thread heaps
 * instead of arenas, no perturb fill, and always aborts on misuse. Unknown parameters: 0. */
SHIM int mallopt(int param, int value) {
  switch (param) {
    case M_TRIM_THRESHOLD: {
      if (value < 0) return 0;
      hak_limits_t l;
      hak_ss_get_limits(&l);
      l.max_memory_mb = (uint64_t)value >> 20;
      hak_ss_set_limits(&l);
      return 1;
    }
    case M_MXFAST:
      return value >= 0 && (size_t)value <= 80 * sizeof(size_t) / 4;
    case M_TOP_PAD:
    case M_MMAP_THRESHOLD:
    case M_MMAP_MAX:
    case M_ARENA_MAX:
    case M_ARENA_TEST:
    case M_PERTURB:
    case M_CHECK_ACTION:
      return 1;
    default:
      return 0;
  }
}
