/* cxx.c — the replaceable global operators new and delete of C++ (plain, array, nothrow, sized,
 * aligned and their combinations: the 20 names libstdc++ defines), for the drop-in libraries
 * only, beside shim.c.
 *
 * Written in C under their Itanium-ABI names, so that libhakmem.so gains no DT_NEEDED on
 * libstdc++ and a C program never loads it. The C++ runtime is reached only when an allocation
 * fails, through weak references: std::get_new_handler, __cxa_allocate_exception, __cxa_throw and
 * std::bad_alloc's typeinfo, vtable and destructor. In a process that has libstdc++ they resolve
 * to it (it is in the global scope of every C++ program), so the throwing forms loop on the
 * installed new_handler and then throw std::bad_alloc as the standard says. Where they are
 * absent (a C program that loaded no C++ at start-up: a later dlopen does not rebind them, the
 * library is linked -z now) a failed
 * throwing new aborts with "hakmem: operator new failed and no C++ runtime can throw
 * std::bad_alloc (pointer 0x0)". Built with -fexceptions: a new_handler's exception unwinds
 * through these frames.
 * The nothrow forms run the same handler loop and return NULL when no handler is left; a handler
 * that throws is not caught here (the standard's nothrow new catches it and returns NULL; that
 * needs C++ code): the exception leaves the noexcept operator, which terminates the program.
 *
 * Checks: a sized delete checks the size as free_sized does, an aligned delete the alignment as
 * free_aligned_sized does, each with its own message. At the strict levels every block records
 * its family (malloc, new, new[]) and every free checks it (hm_tl_family, api.c): new[]
 * freed by delete, new freed by free, ... abort with "<free> of a block allocated by <alloc>". */
#include "fastpath.h"

/* Anchors shim.o: a program linked with libhakmem.a that uses new but never names malloc still
 * gets hakmem's malloc, so both families share one allocator. */
extern const char hm_shim_anchor;
__attribute__((used)) static const char *const anchor = &hm_shim_anchor;

/* ---- the C++ runtime, weak ---------------------------------------------------------------------- */
typedef void (*new_handler)(void);
extern new_handler get_new_handler(void) __asm__("_ZSt15get_new_handlerv") __attribute__((weak));
extern void *cxa_allocate_exception(size_t) __asm__("__cxa_allocate_exception")
    __attribute__((weak));
extern void cxa_throw(void *, void *, void (*)(void *)) __asm__("__cxa_throw")
    __attribute__((weak, noreturn));
extern char bad_alloc_typeinfo[] __asm__("_ZTISt9bad_alloc") __attribute__((weak));
extern void *bad_alloc_vtable[] __asm__("_ZTVSt9bad_alloc") __attribute__((weak));
extern void bad_alloc_dtor(void *) __asm__("_ZNSt9bad_allocD1Ev") __attribute__((weak));

/* throw std::bad_alloc(): an object of one word, its vptr (the vtable's address point, past the
 * offset-to-top and typeinfo words) */
static __attribute__((noreturn, cold, noinline)) void throw_bad_alloc(void) {
  if (cxa_allocate_exception != NULL && cxa_throw != NULL && bad_alloc_typeinfo != NULL &&
      bad_alloc_vtable != NULL && bad_alloc_dtor != NULL) {
    void **e = cxa_allocate_exception(sizeof(void *));
    *e = bad_alloc_vtable + 2;
    cxa_throw(e, bad_alloc_typeinfo, bad_alloc_dtor);
  }
  hm_fatal("operator new failed and no C++ runtime can throw std::bad_alloc", NULL);
}

static new_handler current_handler(void) {
  return get_new_handler != NULL ? get_new_handler() : NULL;
}

/* align == 0: the default alignment (malloc's). The strict levels record `family` in the block
 * as it is handed out (hm_tl_family, api.c). */
HM_INLINE void *alloc_of(size_t size, size_t align, unsigned family) {
  if (hm_likely(!(hm_mit & HM_MIT_CANARY)))
    return align == 0 ? hm_malloc_entry(size) : hak_aligned_alloc(align, size);
  hm_tl_family = (uint8_t)family;
  void *p = align == 0 ? hak_malloc(size) : hak_aligned_alloc(align, size);
  hm_tl_family = HM_FAM_MALLOC;
  return p;
}

/* The standard's loop: call the new_handler while allocation fails; none left: throw (or NULL
 * for the nothrow forms). Unbounded as the standard has it: the handler frees memory, throws,
 * or removes itself. */
static HM_NOINLINE void *new_slow(size_t size, size_t align, unsigned family, bool nothrow) {
  for (;;) {
    new_handler h = current_handler();
    if (h == NULL) {
      if (nothrow) return NULL;
      throw_bad_alloc();
    }
    h();
    void *p = alloc_of(size, align, family);
    if (p != NULL) return p;
  }
}

HM_INLINE void *cxx_new(size_t size, size_t align, unsigned family, bool nothrow) {
  void *p = alloc_of(size, align, family);
  if (hm_unlikely(p == NULL)) return new_slow(size, align, family, nothrow);
  return p;
}

/* free with the family of the deallocation known to the strict levels' check */
HM_INLINE void cxx_delete(void *p, unsigned family) {
  if (hm_likely(!(hm_mit & HM_MIT_CANARY))) {
    hm_free_fast(p);
    return;
  }
  hm_tl_family = (uint8_t)family;
  hak_free(p);
  hm_tl_family = HM_FAM_MALLOC;
}

static const char *const wrong_size = "sized delete with a wrong size";
static const char *const wrong_align = "aligned delete with a wrong alignment";
static const char *const wrong_both = "aligned sized delete with a wrong size or alignment";

/* The common case of a sized delete, checked without hm_free_checked's full owner walk: a small
 * block of a slab the calling thread allocates from on the fast path (never at the strict levels,
 * whose hm_tl_heap matches no slab) and a size of its class, the rule of free_sized. hm_free_fast then makes
 * the block-start and double-free checks. Anything else takes the full check. */
HM_INLINE bool sized_fast_ok(void *p, size_t size) {
  if (hm_tl_heap == HM_NO_HEAP) return false;   /* the strict levels, or no heap yet */
  uintptr_t e = hm_registry_lookup(p);
  if (!(e & HM_REG_SS)) return false;
  const hm_slab *s = hm_slab_at(e, p);
  return atomic_load_explicit(&s->owner, memory_order_relaxed) == hm_tl_heap &&
         size <= HM_SMALL_REQ_MAX && hm_size_class(size) == s->cls;   /* free_sized's rule */
}

static void cxx_delete_checked(void *p, size_t size, bool sized, size_t align, unsigned family,
                               const char *what) {
  if (sized && align == 1 && sized_fast_ok(p, size)) {
    hm_free_fast(p);
    return;
  }
  hm_tl_family = (uint8_t)((hm_mit & HM_MIT_CANARY) ? family : HM_FAM_MALLOC);
  hm_free_checked(p, size, sized, align, what);
  hm_tl_family = HM_FAM_MALLOC;
}

#define CXX __attribute__((visibility("default")))
typedef struct nothrow_t nothrow_t;   /* std::nothrow_t: passed by reference, never read */

/* operator new / new[] (size), nothrow, aligned (std::align_val_t is a size_t), both */
CXX void *new_plain(size_t size) __asm__("_Znwm");
CXX void *new_array(size_t size) __asm__("_Znam");
CXX void *new_plain_nt(size_t size, const nothrow_t *nt) __asm__("_ZnwmRKSt9nothrow_t");
CXX void *new_array_nt(size_t size, const nothrow_t *nt) __asm__("_ZnamRKSt9nothrow_t");
CXX void *new_plain_al(size_t size, size_t align) __asm__("_ZnwmSt11align_val_t");
CXX void *new_array_al(size_t size, size_t align) __asm__("_ZnamSt11align_val_t");
CXX void *new_plain_al_nt(size_t size, size_t align, const nothrow_t *nt)
    __asm__("_ZnwmSt11align_val_tRKSt9nothrow_t");
CXX void *new_array_al_nt(size_t size, size_t align, const nothrow_t *nt)
    __asm__("_ZnamSt11align_val_tRKSt9nothrow_t");

void *new_plain(size_t size) { return cxx_new(size, 0, HM_FAM_NEW, false); }
void *new_array(size_t size) { return cxx_new(size, 0, HM_FAM_ARRAY, false); }
void *new_plain_nt(size_t size, const nothrow_t *nt) { return cxx_new(size, 0, HM_FAM_NEW, true); }
void *new_array_nt(size_t size, const nothrow_t *nt) { return cxx_new(size, 0, HM_FAM_ARRAY, true); }
void *new_plain_al(size_t size, size_t align) { return cxx_new(size, align, HM_FAM_NEW, false); }
void *new_array_al(size_t size, size_t align) { return cxx_new(size, align, HM_FAM_ARRAY, false); }
void *new_plain_al_nt(size_t size, size_t align, const nothrow_t *nt) {
  return cxx_new(size, align, HM_FAM_NEW, true);
}
void *new_array_al_nt(size_t size, size_t align, const nothrow_t *nt) {
  return cxx_new(size, align, HM_FAM_ARRAY, true);
}

/* operator delete / delete[] (pointer), sized, nothrow, aligned, sized and aligned, aligned nothrow */
CXX void del_plain(void *p) __asm__("_ZdlPv");
CXX void del_array(void *p) __asm__("_ZdaPv");
CXX void del_plain_sz(void *p, size_t size) __asm__("_ZdlPvm");
CXX void del_array_sz(void *p, size_t size) __asm__("_ZdaPvm");
CXX void del_plain_nt(void *p, const nothrow_t *nt) __asm__("_ZdlPvRKSt9nothrow_t");
CXX void del_array_nt(void *p, const nothrow_t *nt) __asm__("_ZdaPvRKSt9nothrow_t");
CXX void del_plain_al(void *p, size_t align) __asm__("_ZdlPvSt11align_val_t");
CXX void del_array_al(void *p, size_t align) __asm__("_ZdaPvSt11align_val_t");
CXX void del_plain_sz_al(void *p, size_t size, size_t align) __asm__("_ZdlPvmSt11align_val_t");
CXX void del_array_sz_al(void *p, size_t size, size_t align) __asm__("_ZdaPvmSt11align_val_t");
CXX void del_plain_al_nt(void *p, size_t align, const nothrow_t *nt)
    __asm__("_ZdlPvSt11align_val_tRKSt9nothrow_t");
CXX void del_array_al_nt(void *p, size_t align, const nothrow_t *nt)
    __asm__("_ZdaPvSt11align_val_tRKSt9nothrow_t");

void del_plain(void *p) { cxx_delete(p, HM_FAM_NEW); }
void del_array(void *p) { cxx_delete(p, HM_FAM_ARRAY); }
void del_plain_nt(void *p, const nothrow_t *nt) { cxx_delete(p, HM_FAM_NEW); }
void del_array_nt(void *p, const nothrow_t *nt) { cxx_delete(p, HM_FAM_ARRAY); }
void del_plain_sz(void *p, size_t size) {
  cxx_delete_checked(p, size, true, 1, HM_FAM_NEW, wrong_size);
}
void del_array_sz(void *p, size_t size) {
  cxx_delete_checked(p, size, true, 1, HM_FAM_ARRAY, wrong_size);
}
void del_plain_al(void *p, size_t align) {
  cxx_delete_checked(p, 0, false, align, HM_FAM_NEW, wrong_align);
}
void del_array_al(void *p, size_t align) {
  cxx_delete_checked(p, 0, false, align, HM_FAM_ARRAY, wrong_align);
}
void del_plain_al_nt(void *p, size_t align, const nothrow_t *nt) {
  cxx_delete_checked(p, 0, false, align, HM_FAM_NEW, wrong_align);
}
void del_array_al_nt(void *p, size_t align, const nothrow_t *nt) {
  cxx_delete_checked(p, 0, false, align, HM_FAM_ARRAY, wrong_align);
}
void del_plain_sz_al(void *p, size_t size, size_t align) {
  cxx_delete_checked(p, size, true, align, HM_FAM_NEW, wrong_both);
}
void del_array_sz_al(void *p, size_t size, size_t align) {
  cxx_delete_checked(p, size, true, align, HM_FAM_ARRAY, wrong_both);
}
