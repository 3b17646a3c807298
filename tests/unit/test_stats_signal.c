/* HAKMEM_STATS_SIGNAL (ctest sets it to USR1, and HAKMEM_STATS_FILE): the signal writes the report
 * to the stats file; a signal that arrives while the thread holds one of the allocator's locks
 * leaves the report due, and it is written the moment the thread leaves its last lock. The handler
 * is installed with SA_RESTART. */
#include <fcntl.h>
#include <signal.h>
#include "hak_test.h"
#include "internal.h"

static char text[1 << 16];

/* reports in the stats file, checking each is this process's */
static int reports(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  text[n > 0 ? n : 0] = '\0';
  char head[64];
  snprintf(head, sizeof head, "hakmem statistics (pid %d, hardening ", (int)getpid());
  int k = 0;
  for (const char *p = text; (p = strstr(p, "hakmem statistics")) != NULL; p++, k++)
    CHECK(strncmp(p, head, strlen(head)) == 0, "a report of another process: %.60s", p);
  return k;
}

int main(void) {
  hm_ensure_init();
  const char *path = getenv("HAKMEM_STATS_FILE");
  CHECK(path != NULL && *path != '\0', "run with HAKMEM_STATS_FILE set");
  CHECK(hm_cfg.stats_signal == SIGUSR1, "run with HAKMEM_STATS_SIGNAL=USR1 (signal %d)", hm_cfg.stats_signal);
  struct sigaction sa;
  CHECK(sigaction(SIGUSR1, NULL, &sa) == 0);
  CHECK(sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN && (sa.sa_flags & SA_RESTART),
        "handler %p, flags %#x", (void *)(uintptr_t)sa.sa_handler, (unsigned)sa.sa_flags);
  unlink(path);
  void *p[100];
  for (int i = 0; i < 100; i++) CHECK((p[i] = hak_malloc(48)) != NULL);
  raise(SIGUSR1);
  CHECK(reports(path) == 1, "after the signal: %d reports", reports(path));
  char row[64];
  snprintf(row, sizeof row, "  %-7u %8u %14llu", hm_size_class(48), hm_class_size[hm_size_class(48)], 100ull);
  CHECK(strstr(text, row) != NULL, "no row \"%s\" in:\n%s", row, text);
  /* inside a lock: nothing yet, the report comes when the lock is left */
  hm_mid_lock();
  raise(SIGUSR1);
  int inside = reports(path);
  hm_mid_unlock();
  CHECK(inside == 1, "a report written inside the lock (%d reports)", inside);
  CHECK(reports(path) == 2, "after leaving the lock: %d reports", reports(path));
  CHECK(__atomic_load_n(&hm_tl_stats_due, __ATOMIC_RELAXED) == 0);
  for (int i = 0; i < 100; i++) hak_free(p[i]);
  printf("stats_signal: ok\n");
  return 0;
}
