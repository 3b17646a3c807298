/* c_program.c — a C program on hakmem (linked with libhakmem.so, or preloaded): it must not load
 * libstdc++ (src/cxx.c reaches the C++ runtime through weak references only). With
 * DETECT_HOW=throw it
 * calls the throwing operator new (by its Itanium-ABI name) with an absurd size: with no C++
 * runtime to throw std::bad_alloc, hakmem aborts with one line (run_detect.py checks it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *operator_new(size_t size) __asm__("_Znwm") __attribute__((weak));

int main(void) {
  const char *how = getenv("DETECT_HOW");
  if (how != NULL && strcmp(how, "throw") == 0) {
    if (operator_new == NULL) {
      fputs("detect: set-up failed: no operator new in the process\n", stderr);
      return 2;
    }
    void *volatile p = operator_new(SIZE_MAX / 2);
    (void)p;
    fputs("detect: survived\n", stderr);
    return 0;
  }
  void *volatile p = malloc(100);
  free(p);
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL) return 2;
  char line[512];
  int bad = 0, hak = 0;
  while (fgets(line, sizeof line, f)) {
    if (strstr(line, "libstdc++")) bad = 1;
    if (strstr(line, "libhakmem")) hak = 1;
  }
  fclose(f);
  if (!hak) fputs("FAIL: libhakmem is not mapped\n", stderr);
  if (bad) fputs("FAIL: a C program on hakmem loaded libstdc++\n", stderr);
  if (hak && !bad) puts("c_program: libhakmem mapped, libstdc++ not loaded");
  return hak && !bad ? 0 : 1;
}
