/* fork against stdio (issue 19): one thread forks in a loop, one calls fflush(NULL), one reads
 * 50,000-byte lines with getline (glibc's getline grows its buffer with realloc, into the medium
 * tier) and frees them. With the allocator's fork locks taken before glibc's stdio list lock,
 * fflush(NULL) holds the list lock waiting for the FILE lock, the reader holds the FILE lock
 * waiting for an allocator lock, and the forker holds that one waiting for the list lock.
 * Built against the libc names only (getline calls malloc). A watchdog turns a hang into a
 * failure after WATCHDOG_S seconds. The live set is one line buffer: RSS and the mapping count
 * after the run stay within a slack of what they were after the first second. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include "hak_test.h"

#define RUN_S 3
#define WATCHDOG_S 30
#define LINE_BYTES 50000
#define LINES 40

static _Atomic int stop;
static _Atomic long forks, flushes, lines_read;
static char path[] = "/tmp/hakmem-fork-stdio.XXXXXX";

static void on_watchdog(int sig) {
  (void)sig;
  static const char msg[] = "fork_stdio: DEADLOCK: no progress before the watchdog fired\n";
  ssize_t r = write(2, msg, sizeof msg - 1);
  (void)r;
  unlink(path);
  _exit(1);
}

static void *forker(void *arg) {
  while (!atomic_load(&stop)) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    CHECK(pid > 0, "fork: %s", strerror(errno));
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    atomic_fetch_add(&forks, 1);
  }
  return arg;
}

static void *flusher(void *arg) {
  while (!atomic_load(&stop)) {
    fflush(NULL);
    atomic_fetch_add(&flushes, 1);
  }
  return arg;
}

static void *reader(void *arg) {
  while (!atomic_load(&stop)) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    for (;;) {
      char *line = NULL;   /* a fresh buffer each line: getline mallocs, then reallocs upwards */
      size_t cap = 0;
      ssize_t n = getline(&line, &cap, f);
      free(line);
      if (n < 0) break;
      CHECK(n == LINE_BYTES + 1, "line of %zd bytes", n);
      atomic_fetch_add(&lines_read, 1);
    }
    fclose(f);
  }
  return arg;
}

int main(void) {
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  char *line = malloc(LINE_BYTES + 1);
  CHECK(line != NULL);
  memset(line, 'x', LINE_BYTES);
  line[LINE_BYTES] = '\n';
  for (int i = 0; i < LINES; i++) CHECK(write(fd, line, LINE_BYTES + 1) == LINE_BYTES + 1);
  free(line);
  close(fd);
  signal(SIGALRM, on_watchdog);
  alarm(WATCHDOG_S);
  pthread_t t[3];
  pthread_create(&t[0], NULL, forker, NULL);
  pthread_create(&t[1], NULL, flusher, NULL);
  pthread_create(&t[2], NULL, reader, NULL);
  struct timespec one = {1, 0}, rest = {RUN_S - 1, 0};
  nanosleep(&one, NULL);
  long maps1 = test_maps_count(), rss1 = test_rss_kib();
  nanosleep(&rest, NULL);
  long maps2 = test_maps_count(), rss2 = test_rss_kib();
  atomic_store(&stop, 1);
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  printf("fork_stdio: mappings %ld -> %ld, RSS %ld -> %ld KiB (after 1 s and at the end)\n", maps1, maps2,
         rss1, rss2);
  CHECK(maps2 <= maps1 + 64, "mappings grew from %ld to %ld", maps1, maps2);
  CHECK(rss2 <= rss1 + 8192, "RSS grew from %ld to %ld KiB", rss1, rss2);
  alarm(0);
  unlink(path);
  CHECK(forks > 0 && flushes > 0 && lines_read > 0);
  printf("fork_stdio: %ld forks, %ld fflush(NULL), %ld lines read in %d s, no deadlock\n",
         (long)forks, (long)flushes, (long)lines_read, RUN_S);
  return 0;
}
