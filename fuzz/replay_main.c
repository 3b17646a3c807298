/* replay_main.c — a main() for any compiler: feeds files and directories (recursively, in sorted
 * order; hidden files skipped) to LLVMFuzzerTestOneInput, so gcc builds, every sanitizer preset and Valgrind replay the
 * corpora without libFuzzer. Each input is copied into an exact-size heap buffer so a read past
 * its end is caught by ASan / memcheck. Exit status: 0 when every input ran, 1 on a read error
 * (a failing input aborts the process; a signal handler names it; -v names every input).
 *   usage: <target>_replay [-v] FILE_OR_DIR...
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int verbose;
static unsigned long executed;
static const char *current;   /* the input running now: named if it fails */

static void name_failing_input(void) {
  if (current != NULL) fprintf(stderr, "replay: input that did not finish: %s\n", current);
}

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    return 1;
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (buf == NULL) return 1;
  uint8_t *exact = malloc(n ? n : 1);   /* exact size: ASan sees reads past the end */
  if (exact == NULL) return 1;
  memcpy(exact, buf, n);
  free(buf);
  if (verbose) fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
  current = path;
  LLVMFuzzerTestOneInput(exact, n);
  current = NULL;
  free(exact);
  executed++;
  return 0;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int run_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    perror(path);
    return 1;
  }
  if (!S_ISDIR(st.st_mode)) return run_file(path);
  DIR *dir = opendir(path);
  if (dir == NULL) {
    perror(path);
    return 1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.') continue;   /* ., .., hidden files */
    if (n == cap) names = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
    size_t len = strlen(path) + strlen(e->d_name) + 2;
    names[n] = malloc(len);
    snprintf(names[n++], len, "%s/%s", path, e->d_name);
  }
  closedir(dir);
  if (n > 1) qsort(names, n, sizeof *names, cmp);
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    rc |= run_path(names[i]);
    free(names[i]);
  }
  free(names);
  return rc;
}

static void on_fatal(int sig) {
  name_failing_input();
  signal(sig, SIG_DFL);
  raise(sig);
}

int main(int argc, char **argv) {
  signal(SIGABRT, on_fatal);   /* FUZZ_ASSERT and hakmem's fatal path abort; sanitizers print their own */
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  int rc = 0, first = 1;
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    verbose = 1;
    first = 2;
  }
  if (first >= argc) {
    fprintf(stderr, "usage: %s [-v] FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  for (int i = first; i < argc; i++) {
    rc |= run_path(argv[i]);
  }
  fprintf(stderr, "replay: %lu inputs executed\n", executed);
  return rc;
}
