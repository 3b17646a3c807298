/* Two independent axes of checks.
 *   Invariants (is hakmem right?):   HAK_ASSERT (level 1), HAK_INVARIANT (2), HAK_EXPENSIVE (3).
 *     Below its level a macro expands to ((void)sizeof(!(x))): no code, no evaluation, but the
 *     expression still compiles. Release builds (HAK_DEBUG 0) carry none of them.
 *   Hardening (is the program misusing the heap?): HM_FATAL / HM_CHECK, always compiled in.
 */
#ifndef HM_DEBUG_H
#define HM_DEBUG_H

#include <stdint.h>
#include "config.h"

#define hm_likely(x)   __builtin_expect(!!(x), 1)
#define hm_unlikely(x) __builtin_expect(!!(x), 0)
#define HM_NOINLINE    __attribute__((noinline))
#define HM_COLD        __attribute__((cold, noinline))
#define HM_INLINE      static inline __attribute__((always_inline))
#define HM_HIDDEN      __attribute__((visibility("hidden")))
/* The validators (hak_check and the *_is_valid walks) compare every word of whole tables. In a
 * fuzzing build each of those comparisons went through libFuzzer's compare tracing, most of the
 * run's time, and told it nothing about the input: they are built without coverage
 * instrumentation (clang >= 13; source-based coverage, -fprofile-instr-generate, still counts them). */
#if defined(__clang__) && __clang_major__ >= 13
#define HM_VALIDATOR __attribute__((no_sanitize("coverage")))
#else
#define HM_VALIDATOR
#endif

/* fatal path (harden.c): writes one line with write(2), never allocates, aborts. */
__attribute__((noreturn, cold)) void hm_fatal(const char *what, const void *ptr);
__attribute__((noreturn, cold)) void hm_invariant_failed(const char *expr, const char *file, int line);

#define HM_NOCODE(x) ((void)sizeof(!(x)))
#define HM_CHECKED(x) (hm_likely(x) ? (void)0 : hm_invariant_failed(#x, __FILE__, __LINE__))

#if HAK_DEBUG >= 1
#define HAK_ASSERT(x) HM_CHECKED(x)
#else
#define HAK_ASSERT(x) HM_NOCODE(x)
#endif
#if HAK_DEBUG >= 2
#define HAK_INVARIANT(x) HM_CHECKED(x)
#else
#define HAK_INVARIANT(x) HM_NOCODE(x)
#endif
#if HAK_DEBUG >= 3
#define HAK_EXPENSIVE(x) HM_CHECKED(x)
#else
#define HAK_EXPENSIVE(x) HM_NOCODE(x)
#endif

/* Misuse of the heap by the program: always on. `what` is the stable message of the detect tests. */
#define HM_CHECK(cond, what, ptr) (hm_likely(cond) ? (void)0 : hm_fatal(what, ptr))

#endif
