/* api.c — the hak_* malloc family: argument rules, errno, and dispatch between the small tier
 * (size classes in SuperSlabs, heap.c), the medium tier (whole SuperSlabs per class, mid.c) and
 * the large tier (own mappings, large.c).
 * The malloc and free fast paths are here, inline: a table lookup plus a pop from (or push to)
 * the calling thread's current slab. Everything rare is in noinline functions. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include "fastpath.h"

#define PAGE_ROUND(x) (((x) + HM_PAGE_SIZE - 1) & ~(size_t)(HM_PAGE_SIZE - 1))

HM_NOINLINE void *hm_malloc_large(size_t size) {
  if (size > PTRDIFF_MAX) {
    errno = ENOMEM;
    return NULL;
  }
  hm_ensure_init();
  if (hm_mid_serves(size)) return hm_mid_alloc(size);
  return hm_large_alloc(size, HM_PAGE_SIZE, false);
}

HAK_API void *hak_malloc(size_t size) { return hm_malloc_entry(size); }

/* ---- ownership ----------------------------------------------------------------------------------- */
typedef struct owner_info {
  hm_slab *slab;      /* small block: its slab */
  hm_superslab *mid;  /* medium block: its SuperSlab */
  hm_large *large;    /* large block: its descriptor */
  bool zero;          /* zero-size block of the strict levels (zero.c) */
} owner_info;

/* What owns live block `p`; aborts with `what` if `p` is not a live block start, or with `freed`
 * if it is a block known to be free. */
static owner_info owner_of(void *p, const char *what, const char *freed) {
  owner_info o = {NULL, NULL, NULL, false};
  uintptr_t e = hm_registry_lookup(p);
  if (e == 0) hm_fatal(hm_large_recently_freed(p) ? freed : what, p);
  if ((e & 3u) == HM_REG_ZERO) {
    int st = hm_zero_state(p, e);
    HM_CHECK(st >= 0, what, p);
    HM_CHECK(st > 0, freed, p);
    o.zero = true;
    return o;
  }
  if (!(e & HM_REG_SS)) {
    o.large = (hm_large *)e;
    HM_CHECK(HM_UNHIDE(o.large->base) == (uintptr_t)p, what, p);
    HM_CHECK(o.large->magic == HM_LARGE_MAGIC, freed, p);   /* else cached after a free */
    return o;
  }
  hm_superslab *ss = (hm_superslab *)(e - HM_REG_SS);
  hm_slab *s = hm_slab_at(e, p);
  if (atomic_load_explicit(&s->state, memory_order_acquire) == HM_SLOT_MID) {
    HM_CHECK(hm_mid_block_ok(p, ss, false), what, p);
    HM_CHECK(hm_mid_block_ok(p, ss, true), freed, p);
    o.mid = ss;
    return o;
  }
  HM_CHECK(atomic_load_explicit(&s->state, memory_order_acquire) == HM_SLOT_ACTIVE, what, p);
  uintptr_t off = (uintptr_t)p & (HM_SLAB_SIZE - 1);
  uint32_t idx = hm_block_index(s, (uintptr_t)p);
  HM_CHECK((uintptr_t)idx * s->block_size == off && idx < s->capacity, what, p);
  /* the bitmap is the owner's: only the owner can tell a free block from a live one here */
  uint32_t g = hm_granule((uintptr_t)p);
  if (atomic_load_explicit(&s->owner, memory_order_relaxed) == hm_tl_self)
    HM_CHECK(s->bitmap[g >> 6] >> (g & 63) & 1u, freed, p);
  o.slab = s;
  return o;
}

HM_NOINLINE void hm_free_other(void *p, uintptr_t e) {
  if (p == NULL) return;
  if (e == 0) hm_fatal(hm_large_recently_freed(p) ? "double free" : "invalid free", p);
  if (e & HM_REG_ZERO) {   /* a zero-size block (strict levels) */
    hm_zero_free(p, e);
    return;
  }
  hm_large_free((hm_large *)e, p);
}

/* ---- allocation families (strict levels) ------------------------------------------------------------
 * A block's family is hm_tl_family when it was handed out: HM_FAM_MALLOC, except inside cxx.c's
 * new and new[], which set it around the allocation. A small block keeps it in its size trailer
 * (mitigate.c), a large one in its descriptor (large.c, at every hand-out, cache reuse included).
 * Medium blocks (the strict levels' medium tier past the large tier's mapping budget) and
 * zero-size slots record none, and are not checked. The free path compares it with hm_tl_family,
 * set by cxx.c's delete forms around the free. Below strict cxx.c leaves it 0, so the trailer does
 * not exist and every large block is HM_FAM_MALLOC. A signal handler that allocates or frees
 * while it interrupted a strict-level new or delete sees that operator's family (misreported, not
 * missed: heap calls in handlers are not async-signal-safe anyway). */
__thread uint8_t hm_tl_family;

/* [freed by][allocated by]; the diagonal never fails */
static const char *const family_msg[HM_FAM_COUNT][HM_FAM_COUNT] = {
  {"", "free of a block allocated by new", "free of a block allocated by new[]"},
  {"delete of a block allocated by malloc", "", "delete of a block allocated by new[]"},
  {"delete[] of a block allocated by malloc", "delete[] of a block allocated by new", ""},
};

void hm_family_bad(const void *p, unsigned allocated) {
  HAK_ASSERT(allocated < HM_FAM_COUNT && hm_tl_family < HM_FAM_COUNT);
  hm_fatal(family_msg[hm_tl_family][allocated], p);
}

HAK_API void hak_free(void *p) { hm_free_fast(p); }

/* free_sized / free_aligned_sized: the size and alignment must be ones the block can have been
 * requested with. Any tier: the alignment is a power of two and divides the address. A large
 * block records its request (compared page-rounded) and the alignment asked for (a smaller one
 * is fine: it would have got the same block). A medium block serves alignments up to a page
 * (alloc_aligned). A small block holds any size its class serves (with the end canary, class 32
 * serves 9 .. 24: more than half its usable size), or that realloc kept in place:
 * (usable / 2, usable], anything for <= 16 bytes; with an alignment above 8, exactly the class
 * aligned_alloc would have chosen (realloc never returns an over-aligned block). */
static size_t usable_of(void *p, owner_info o);

/* sized false (an unsized aligned delete): the alignment alone is checked, against the size the
 * block itself gives (usable_of, which passes every size check below). */
void hm_free_checked(void *p, size_t size, bool sized, size_t align, const char *what) {
  if (p == NULL) return;
  owner_info o = owner_of(p, "invalid free", "double free");
  HM_CHECK(align != 0 && (align & (align - 1)) == 0 && (uintptr_t)p % align == 0, what, p);
  if (!sized) size = usable_of(p, o);
  if (o.zero) {
    HM_CHECK(size == 0, what, p);   /* the alignment divides the address: checked above */
  } else if (o.large != NULL) {
    HM_CHECK(PAGE_ROUND(size ? size : 1) == PAGE_ROUND(o.large->requested ? o.large->requested : 1),
             what, p);
    HM_CHECK(align <= o.large->align, what, p);
  } else if (o.mid != NULL) {
    size_t usable = o.mid->mid_size - HM_CANARY;
    HM_CHECK(size <= usable && size > usable / 2 && align <= HM_PAGE_SIZE, what, p);
  } else if (hm_mit & HM_MIT_CANARY) {
    HM_CHECK(hm_strict_size_ok(p, o.slab, size, align), what, p);   /* the exact request is known */
  } else {
    size_t usable = o.slab->block_size - HM_CANARY;
    bool ok = align > 8 ? hm_aligned_class(size, align) == (int)o.slab->cls
                        : size <= usable && (size > usable / 2 || usable <= 16 ||
                                             hm_size_class(size) == o.slab->cls);
    HM_CHECK(ok, what, p);
  }
  hak_free(p);
}

HAK_API void hak_free_sized(void *p, size_t size) {
  hm_free_checked(p, size, true, 1, "free_sized with a wrong size");
}

HAK_API void hak_free_aligned_sized(void *p, size_t align, size_t size) {
  hm_free_checked(p, size, true, align, "free_aligned_sized with a wrong size or alignment");
}

/* ---- the rest of the family ----------------------------------------------------------------------- */
HAK_API void *hak_calloc(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total) || total > PTRDIFF_MAX) {
    errno = ENOMEM;
    return NULL;
  }
  if (total > HM_SMALL_REQ_MAX) {
    hm_ensure_init();
    if (!hm_mid_serves(total)) return hm_large_alloc(total, HM_PAGE_SIZE, true);
    void *p = hm_mid_alloc(total);
    if (p != NULL) memset(p, 0, total);
    return p;
  }
  void *p = hak_malloc(total);
  if (p != NULL) memset(p, 0, total);
  return p;
}

/* The bytes the program may use: a large block's pages; a small or medium block up to its end
 * canary, or a small block's exact request when the strict canaries guard the rest. */
static size_t usable_of(void *p, owner_info o) {
  if (o.zero) return 0;
  if (o.large) return o.large->usable;
  if (o.mid) return o.mid->mid_size - HM_CANARY;
  return (hm_mit & HM_MIT_CANARY) ? hm_strict_requested(p, o.slab) : o.slab->block_size - HM_CANARY;
}

/* The end canary of a small or medium block that realloc keeps or copies from. */
static void canary_check(void *p, owner_info o) {
  size_t bs = o.mid ? o.mid->mid_size : o.slab ? o.slab->block_size : 0;
  if (bs != 0 && !hm_canary_ok(p, bs)) hm_canary_bad(p);
}

HAK_API void *hak_realloc(void *p, size_t size) {
  if (p == NULL) return hak_malloc(size);
  if (size > PTRDIFF_MAX) {
    errno = ENOMEM;
    return NULL;
  }
  owner_info o = owner_of(p, "invalid pointer passed to realloc",
                          "freed pointer passed to realloc");
  canary_check(p, o);
  size_t usable = usable_of(p, o);
  if (o.large != NULL) {
    if (size > HM_SMALL_REQ_MAX) {
      void *q = hm_large_realloc(o.large, p, size);
      if (q != NULL) return q;
      if (PAGE_ROUND(size) > usable) {
        errno = ENOMEM;
        return NULL;
      }
    }
  } else if (size <= usable && (size > usable / 2 || usable <= 16) && !(hm_mit & HM_MIT_CANARY)) {
    hm_san_resize(p, size, usable);
    return p;   /* fits, and a smaller class would not save half */
  }
  void *q = hak_malloc(size);
  if (q == NULL) return NULL;
  usable = hm_san_requested(p, usable);   /* under ASan, do not read the poisoned slack */
  hm_san_open(p, usable);
  memcpy(q, p, size < usable ? size : usable);
  hak_free(p);
  return q;
}

/* glibc's realloc(p, 0) for the libc name: p is checked as realloc checks it, then freed. */
void hm_realloc_free(void *p) {
  (void)owner_of(p, "invalid pointer passed to realloc", "freed pointer passed to realloc");
  hak_free(p);
}

HAK_API void *hak_reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return hak_realloc(p, total);
}

static void *alloc_aligned(size_t align, size_t size) {
  if (size > PTRDIFF_MAX) {
    errno = ENOMEM;
    return NULL;
  }
  if (align <= 8) return hak_malloc(size);
  /* at the strict levels a zero-size request is an inaccessible slot at any alignment the slots
   * serve (half a chunk), as hak_malloc(0) is: not a small or large block that could be read */
  if (size == 0 && (hm_mit & HM_MIT_CANARY) && align <= HM_SS_SIZE / 2) return hm_zero_alloc(align);
  int cls = hm_aligned_class(size, align);
  if (cls >= 0) {
    void *p = hm_small_alloc_aligned(size, align, (unsigned)cls);
    if (p != NULL) hm_san_alloc(p, size, hm_class_size[cls] - HM_CANARY, false);
    return p;
  }
  hm_ensure_init();
  if (align <= HM_PAGE_SIZE && hm_mid_serves(size)) return hm_mid_alloc(size);  /* 8 KiB-aligned */
  return hm_large_alloc(size, align, false);
}

HAK_API int hak_posix_memalign(void **out, size_t align, size_t size) {
  if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
  int saved = errno;
  void *p = alloc_aligned(align, size);
  if (p == NULL) {
    int err = errno;
    errno = saved;
    return err ? err : ENOMEM;
  }
  *out = p;
  return 0;
}

HAK_API void *hak_aligned_alloc(size_t align, size_t size) {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  return alloc_aligned(align, size);
}

/* As glibc's: any alignment up to 2^63, a non-power rounded up; only one above 2^63 (no power of
 * two) is EINVAL. One that cannot be served is ENOMEM (hm_large_alloc), like an impossible size. */
HAK_API void *hak_memalign(size_t align, size_t size) {
  if (align > SIZE_MAX / 2 + 1) {
    errno = EINVAL;
    return NULL;
  }
  if (align & (align - 1)) align = (size_t)1 << (64 - __builtin_clzll((unsigned long long)align));
  return alloc_aligned(align, size);
}

HAK_API void *hak_valloc(size_t size) { return alloc_aligned(HM_PAGE_SIZE, size); }

HAK_API void *hak_pvalloc(size_t size) {
  if (size > PTRDIFF_MAX) {
    errno = ENOMEM;
    return NULL;
  }
  return alloc_aligned(HM_PAGE_SIZE, size ? PAGE_ROUND(size) : HM_PAGE_SIZE);
}

HAK_API size_t hak_malloc_usable_size(void *p) {
  if (p == NULL) return 0;
  owner_info o = owner_of(p, "invalid pointer passed to malloc_usable_size",
                          "freed pointer passed to malloc_usable_size");
#ifdef HM_ASAN
  if (o.large != NULL) return o.large->requested;   /* the rest of its pages is poisoned */
#endif
  return hm_san_requested(p, usable_of(p, o));
}

/* hak_trim's steps, keeping the count of large mappings unmapped too. */
static size_t trim_all(size_t *large) {
  hak_thread_flush();
  *large = hm_large_trim();
  hm_mid_trim();   /* its kept SuperSlabs go to the pool's cache, which is emptied next */
  return hm_pool_trim();
}

HAK_API int hak_malloc_trim(size_t pad) {
  (void)pad;
  size_t large, superslabs = trim_all(&large);
  return superslabs + large > 0;
}

/* ---- control API ---------------------------------------------------------------------------------- */
HAK_API int hak_ss_prewarm_class(int tiny_class, uint32_t count) {
  hm_ensure_init();
  return hm_pool_prewarm(tiny_class, count);
}

HAK_API int hak_ss_prewarm_all(const uint32_t counts[HAK_TINY_CLASSES]) {
  if (counts == NULL) {
    errno = EINVAL;
    return -1;
  }
  int total = 0;
  for (int k = 0; k < HAK_TINY_CLASSES; k++) total += hak_ss_prewarm_class(k, counts[k]);
  return total;
}

HAK_API void hak_ss_get_limits(hak_limits_t *out) {
  hm_ensure_init();
  hm_pool_get_limits(out);
}

HAK_API void hak_ss_set_limits(const hak_limits_t *limits) {
  hm_ensure_init();
  if (limits != NULL) hm_pool_set_limits(limits);
}

HAK_API size_t hak_ss_evict(void) {
  hm_ensure_init();
  hm_large_purge();
  hm_mid_purge();
  return hm_pool_evict();   /* purges the SuperSlab cache too */
}

HAK_API void hak_thread_flush(void) {
  hm_ensure_init();
  hm_heap_flush(hm_tl_self);
}

HAK_API size_t hak_trim(void) {
  size_t large;
  return trim_all(&large);
}
