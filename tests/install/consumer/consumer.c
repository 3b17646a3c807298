/* A program built against the installed hakmem (pkg-config or find_package): it must get hakmem's
 * malloc, not glibc's. hak_stats counts the blocks a program holds in slabs, so N blocks from
 * plain malloc must show up there, and go away after free.
 * usage: consumer [LIBDIR]   with LIBDIR, libhakmem.so must be mapped from LIBDIR (shared build);
 *                            without, no libhakmem.so may be mapped (static build). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hakmem.h>

#define N 1000

static int fail(const char *what) {
  fprintf(stderr, "consumer: FAIL: %s\n", what);
  return 1;
}

/* The libhakmem.so mapped into this process, checked against the expected directory. */
static int check_maps(const char *libdir) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL) return fail("cannot read /proc/self/maps");
  char line[4096];
  int found = 0, foreign = 0;
  size_t n = libdir ? strlen(libdir) : 0;
  while (fgets(line, sizeof line, f) != NULL) {
    const char *path = strchr(line, '/');
    if (path == NULL || strstr(path, "/libhakmem.so") == NULL) continue;
    found = 1;
    if (libdir == NULL || strncmp(path, libdir, n) != 0 || path[n] != '/') foreign = 1;
  }
  fclose(f);
  if (libdir != NULL && !found) return fail("libhakmem.so is not mapped");
  if (foreign) return fail("a libhakmem.so from elsewhere is mapped");
  return 0;
}

int main(int argc, char **argv) {
  static void *volatile blocks[N];   /* volatile: the compiler may not elide the malloc/free pairs */
  hak_stats_t before, held, after;

  void *p = hak_malloc(100);
  if (p == NULL) return fail("hak_malloc");
  memset(p, 0xab, 100);
  if (hak_malloc_usable_size(p) < 100) return fail("hak_malloc_usable_size");
  hak_free(p);

  hak_stats(&before);
  for (int i = 0; i < N; i++)
    if ((blocks[i] = malloc(48)) == NULL) return fail("malloc");
  hak_stats(&held);
  for (int i = 0; i < N; i++) free(blocks[i]);
  hak_stats(&after);

  if (held.small_live_blocks != before.small_live_blocks + N)
    return fail("hak_stats does not count the blocks from malloc: malloc is not hakmem's");
  if (after.small_live_blocks != before.small_live_blocks)
    return fail("hak_stats still counts the blocks after free: free is not hakmem's");
  if (held.ss_mapped == 0) return fail("no SuperSlab mapped");
  if (check_maps(argc > 1 ? argv[1] : NULL) != 0) return 1;
  printf("consumer: ok (malloc is hakmem's: +%d live blocks, %llu SuperSlabs mapped, level %llu)\n",
         N, (unsigned long long)held.ss_mapped, (unsigned long long)held.harden_level);
  return 0;
}
