/* detect.h — what the tests/detect programs share. Each program commits one heap misuse through the
 * libc names (malloc, free, ...) and must die: run_detect.py checks the signal and the one
 * "hakmem: <what> (pointer 0x...)" line. Built with -O0 -fno-builtin so the misuse stays in.
 *
 * Conventions: a program prints "detect: expect pointer 0x..." on stderr (unbuffered, no malloc)
 * just before the misuse when the report must name that pointer; it exits 2 when its set-up did
 * not produce the heap layout it needs (that is not a detection result); it prints
 * "detect: survived" and exits 0 if the misuse went unnoticed. */
#ifndef HAK_DETECT_H
#define HAK_DETECT_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>

/* C23 sized frees: glibc 2.36 neither declares nor defines them, libhakmem exports them. Weak, so
 * the program built without hakmem links, and LD_PRELOAD=libhakmem.so supplies them at run time
 * (need_sized_frees() checks that it did). */
void free_sized(void *ptr, size_t size) __attribute__((weak));
void free_aligned_sized(void *ptr, size_t alignment, size_t size) __attribute__((weak));

#define DETECT_KiB ((uintptr_t)1 << 10)
#define DETECT_SLAB ((uintptr_t)64 << 10)  /* hakmem slab: one size class, 64 KiB aligned */
#define DETECT_SS ((uintptr_t)2 << 20)     /* hakmem SuperSlab: 32 slabs, 2 MiB aligned */
/* Tiers at the off and fast levels: small <= 32 KiB < medium <= 512 KiB < large (own mapping,
 * guard page, PROT_NONE once freed). At strict and paranoid there is no medium tier: every size
 * over 32 KiB is large (until the large tier's mapping budget is reached, which no case does). The *_large programs use sizes over DETECT_MID_MAX, the *_mid ones sizes
 * in between. */
#define DETECT_SMALL_MAX ((size_t)32 << 10)
#define DETECT_MID_MAX ((size_t)512 << 10)
#define DETECT_PAGE ((size_t)4096)
#define DETECT_LARGE ((size_t)600000)      /* a large block at every level */
#define DETECT_LARGE_PAGES ((size_t)528384) /* 516 KiB: the smallest page multiple past medium */
#define DETECT_MID ((size_t)100000)        /* a medium block at off and fast: class 112 KiB */
#define DETECT_MID_CLASS ((size_t)114680)  /* ... its usable size: 112 KiB less the end canary */

static inline void expect_pointer(const void *p) {
  fprintf(stderr, "detect: expect pointer %p\n", p);
}

#define SETUP(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "detect: set-up failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);   \
      exit(2);                                                                             \
    }                                                                                      \
  } while (0)

#define need_sized_frees() SETUP(free_sized != NULL && free_aligned_sized != NULL)

static inline int survived(void) {
  fputs("detect: survived\n", stderr);
  return 0;
}

/* Keeps -O0 code honest and hides provenance from the compiler's free-nonheap checks. */
static inline void *launder(void *p) {
  void *volatile v = p;
  return v;
}
#endif
