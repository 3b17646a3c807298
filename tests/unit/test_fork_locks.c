/* fork while the calling thread is inside one of hakmem's locks, as when a signal handler forks
 * in the middle of an allocation (init.c): the test takes the lock itself, as the interrupted call
 * would have, then forks.
 *   single-threaded, inside reg_lock: fork takes no lock; the child re-initialises every lock, so
 *   its own large allocation (which registers the mapping) goes through.
 *   multi-threaded, inside pool_lock: fork's prepare leaves pool_lock alone (taking it would
 *   deadlock on the thread's own lock) and takes the others; the child re-initialises pool_lock,
 *   so its small allocation from a fresh class (a slab claim) goes through.
 * A hang is a failure: an alarm in the parent (SIGALRM ends it) and a bounded wait for the child. */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include "hak_test.h"
#include "internal.h"

static void wait_child(pid_t pid, const char *what) {
  int status = 0;
  for (int i = 0; i < 1000; i++) {   /* 10 s */
    pid_t r = waitpid(pid, &status, WNOHANG);
    CHECK(r >= 0, "%s: waitpid", what);
    if (r == pid) {
      CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child status %#x", what, status);
      return;
    }
    usleep(10000);
  }
  kill(pid, SIGKILL);
  CHECK(false, "%s: the child hung", what);
}

static void *nothing(void *arg) { return arg; }

int main(void) {
  hm_ensure_init();
  alarm(30);
  hm_registry_lock();
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    alarm(5);
    void *p = hak_malloc((size_t)4 << 20);
    hak_free(p);
    _exit(p != NULL ? 0 : 1);
  }
  hm_registry_unlock();
  wait_child(pid, "single-threaded fork inside reg_lock");

  pthread_t t;   /* from now on the process is multi-threaded for glibc */
  CHECK(pthread_create(&t, NULL, nothing, NULL) == 0 && pthread_join(t, NULL) == 0);
  hm_pool_lock();
  pid = fork();   /* prepare must not take pool_lock again */
  CHECK(pid >= 0);
  if (pid == 0) {
    alarm(5);
    void *p = hak_malloc(3000);   /* a class this process has not used: a slab claim */
    _exit(p != NULL ? 0 : 1);
  }
  hm_pool_unlock();
  wait_child(pid, "multi-threaded fork inside pool_lock");
  alarm(0);
  void *q = hak_malloc(3000);
  CHECK(q != NULL);
  hak_free(q);
  CHECK_OK();
  printf("fork_locks: ok\n");
  return 0;
}
