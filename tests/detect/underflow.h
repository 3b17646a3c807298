/* underflow.h — the guard_large_underflow_* programs: each makes a large block one way, checks
 * that it is one (and that its first byte is writable), then writes before its first byte. How
 * far comes from DETECT_UNDERFLOW: "1" or "4096" (a store that many bytes before the block), or
 * "memcpy" (memcpy of 64 bytes to 32 bytes before the block). Every large block, however it was
 * made, has a PROT_NONE lead guard of at least a page right before it. Expect SIGSEGV (no
 * message); survived() if the write lands in some other mapping.
 * What precedes a mapping is whatever the kernel put there: often nothing, and then any write
 * faults, guard or not. So before the write the program maps the page before the block itself
 * (read-write, MAP_FIXED_NOREPLACE: only if that page is free), standing in for the unrelated
 * mapping an underflow corrupts in a real program. Only the lead guard, which occupies the page,
 * keeps that from succeeding and the write from landing. */
#ifndef HAK_DETECT_UNDERFLOW_H
#define HAK_DETECT_UNDERFLOW_H
#define _GNU_SOURCE
#include <sys/mman.h>
#include "detect.h"
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Map the page before p read-write if nothing is there; says (stderr) which it was. */
static inline void occupy_page_before(char *p) {
  char *want = p - DETECT_PAGE;
  void *got = mmap(want, DETECT_PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (got == MAP_FAILED) {
    fputs("detect: the page before the block is taken (the lead guard?)\n", stderr);
    return;
  }
  SETUP(got == want);   /* a kernel without MAP_FIXED_NOREPLACE took it as a hint elsewhere */
  fputs("detect: the page before the block was free: mapped it read-write\n", stderr);
}

/* malloc_usable_size of a large block: its page-rounded size (a medium block reports its class) */
#define LARGE_USABLE(n) (((n) + DETECT_PAGE - 1) & ~(DETECT_PAGE - 1))

static inline int underflow(char *p) {
  const char *how = getenv("DETECT_UNDERFLOW");
  SETUP(how != NULL);
  volatile char *v = launder(p);
  v[0] = 1;
  occupy_page_before(p);
  if (strcmp(how, "memcpy") == 0) {
    static char src[64];
    memcpy((char *)launder(p) - 32, src, sizeof src);
    return survived();
  }
  long back = strtol(how, NULL, 10);
  SETUP(back >= 1 && back <= (long)DETECT_PAGE);
  v[-back] = 1;
  return survived();
}
#endif
