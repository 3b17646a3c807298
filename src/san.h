/* san.h — telling ASan, MSan and Valgrind memcheck about hakmem's blocks, so a use-after-free,
 * an overflow into slack or an uninitialised read of a hakmem block is reported as such.
 *
 *   hm_san_map(p, n)      a range of user blocks was mapped: nothing in it is accessible
 *   hm_san_unmap(p, n)    about to unmap it: reset ASan's shadow for whoever maps there next
 *   hm_san_open(p, n)     the allocator itself is about to touch memory the program may not: a
 *                         free block's link word, or (strict levels) a freed block it checks or
 *                         zeroes, a live block's canary bytes and size trailer
 *   hm_san_close(p, n)    ... and is done with it: [p, p+n) is poisoned again (ASan keeps the
 *                         bytes of p's 8-byte granule below p, so closing a live block's slack
 *                         from the request's end leaves the request usable)
 *   hm_san_alloc(p, req, usable, zeroed)  a block is handed out: [p, p+req) usable, rest poisoned
 *   hm_san_free(p, usable)                a block comes back: none of it is usable
 *   hm_san_resize(p, new_req, usable)     realloc kept the block in place
 *   hm_san_requested(p, usable)           ASan builds: the requested size, from the shadow
 * Without a sanitizer and without HAK_VALGRIND every hook is an empty inline: no code. Valgrind
 * hooks are compiled in with HAK_VALGRIND and act only when the process runs under Valgrind.
 */
#ifndef HM_SAN_H
#define HM_SAN_H
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define HM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HM_ASAN 1
#endif
#endif
#if defined(__has_feature)
#if __has_feature(memory_sanitizer)
#define HM_MSAN 1
#endif
#endif
#if defined(HAK_VALGRIND) && HAK_VALGRIND
#define HM_VG 1
#endif

#if defined(HM_ASAN) || defined(HM_MSAN) || defined(HM_VG)
#define HM_SAN_ANY 1
void hm_san_init(void);
void hm_san_map(void *p, size_t n);
void hm_san_unmap(void *p, size_t n);
void hm_san_open(void *p, size_t n);
void hm_san_close(void *p, size_t n);
void hm_san_alloc(void *p, size_t req, size_t usable, bool zeroed);
void hm_san_free(void *p, size_t usable);
void hm_san_resize(void *p, size_t new_req, size_t usable);
void hm_san_moved(void *old, size_t old_usable, void *p, size_t old_req, size_t new_req, size_t usable);
size_t hm_san_requested(void *p, size_t usable);
#else
#define HM_SAN_ANY 0
static inline void hm_san_init(void) {}
static inline void hm_san_map(void *p, size_t n) { (void)p; (void)n; }
static inline void hm_san_unmap(void *p, size_t n) { (void)p; (void)n; }
static inline void hm_san_open(void *p, size_t n) { (void)p; (void)n; }
static inline void hm_san_close(void *p, size_t n) { (void)p; (void)n; }
static inline void hm_san_alloc(void *p, size_t req, size_t usable, bool zeroed) {
  (void)p; (void)req; (void)usable; (void)zeroed;
}
static inline void hm_san_free(void *p, size_t usable) { (void)p; (void)usable; }
static inline void hm_san_resize(void *p, size_t new_req, size_t usable) {
  (void)p; (void)new_req; (void)usable;
}
static inline void hm_san_moved(void *old, size_t old_usable, void *p, size_t old_req,
                                size_t new_req, size_t usable) {
  (void)old; (void)old_usable; (void)p; (void)old_req; (void)new_req; (void)usable;
}
static inline size_t hm_san_requested(void *p, size_t usable) { (void)p; return usable; }
#endif

#endif
