/* fork from a signal handler (issue 19). Single-threaded: a SIGALRM at a high rate forks from its
 * handler, which may interrupt a malloc or free of a medium block holding the medium lock; the
 * child allocates a medium block, frees it and _exits; the parent waits for it. (Not a small
 * block: the handler may interrupt the lock-free small fast path between its stores, and the
 * child inherits that thread cache half-updated; a small malloc there can abort with "corrupted
 * free list". That residue is documented in docs/design.md.)
 * Then the same with a second thread allocating beside the main loop (the forking thread may
 * hold a lock the handler interrupted; another thread may hold the rest). Only the main thread
 * takes SIGALRM: two threads forking from handlers at once, one of them inside the allocator,
 * deadlock on glibc's own stdio list lock, which fork takes (as with glibc's malloc). Each phase
 * runs until FORKS forks from the handler. A watchdog (its own POSIX timer) turns a hang into a
 * failure after WATCHDOG_S seconds.
 * Mode "mid" (default): after a warm-up the loops never reach the pool (each medium class keeps a
 * SuperSlab, a pinned small block keeps each small slab from emptying), so the handler interrupts
 * medium and small fast paths only. Mode "pool": the loops also claim and release slabs and
 * SuperSlabs, so the handler interrupts pool code too. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include "hak_test.h"

#define WATCHDOG_S 30
#define FORKS 200

static volatile sig_atomic_t child_pid, in_handler_forks;
static _Atomic int stop;

static void on_watchdog(int sig) {
  (void)sig;
  static const char msg[] = "fork_signal: DEADLOCK: the watchdog fired\n";
  ssize_t r = write(2, msg, sizeof msg - 1);
  (void)r;
  if (child_pid > 0) kill(child_pid, SIGKILL);
  _exit(1);
}

static void on_alarm(int sig) {
  (void)sig;
  int saved = errno;
  pid_t pid = fork();
  if (pid == 0) {
    void *m = API(malloc)(100000);   /* medium tier */
    if (m == NULL) _exit(3);
    memset(m, 1, 100000);
    API(free)(m);
    _exit(0);
  }
  if (pid > 0) {
    child_pid = pid;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    child_pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      static const char msg[] = "fork_signal: child failed\n";
      ssize_t r = write(2, msg, sizeof msg - 1);
      (void)r;
      _exit(1);
    }
    in_handler_forks++;
  }
  errno = saved;
}

static int pool_mode;
static const size_t mid_sizes[] = {40000, 60000, 100000};   /* both loops fit one SuperSlab each */
static void churn(uint64_t seed, int iters) {
  test_rng_t r;
  rng_seed(&r, seed);
  void *slot[8] = {0};
  for (int i = 0; i < iters; i++) {
    unsigned k = (unsigned)(rng_next(&r) % 8);
    API(free)(slot[k]);
    size_t n;
    if (pool_mode) n = k < 5 ? 33000 + rng_next(&r) % 400000 : rng_next(&r) % 3000 + 1;
    else n = k < 5 ? mid_sizes[rng_next(&r) % 3] : (k == 5 ? 100 : 1000);
    slot[k] = API(malloc)(n);
    CHECK(slot[k] != NULL);
  }
  for (int k = 0; k < 8; k++) API(free)(slot[k]);
}

/* Held for the thread's life: its small slabs never empty, so they never go back to the pool. */
static void pin_and_warm(uint64_t seed) {
  for (int i = 0; i < 2; i++) CHECK(API(malloc)(i == 0 ? 100 : 1000) != NULL);
  churn(seed, 1000);
}

static void *other(void *arg) {   /* started with SIGALRM blocked */
  pin_and_warm(6);
  while (!atomic_load(&stop)) churn(7, 1000);
  return arg;
}

int main(int argc, char **argv) {
  pool_mode = argc > 1 && strcmp(argv[1], "pool") == 0;
  struct sigaction sa = {0};
  sa.sa_handler = on_watchdog;
  sigaction(SIGUSR2, &sa, NULL);
  timer_t wd;
  struct sigevent ev = {0};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR2;
  CHECK(timer_create(CLOCK_MONOTONIC, &ev, &wd) == 0);
  struct itimerspec its = {{0, 0}, {WATCHDOG_S, 0}};
  CHECK(timer_settime(wd, 0, &its, NULL) == 0);

  pin_and_warm(41);   /* before the timer: the claims of the first slabs are pool code */
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 1000}, {0, 1000}};   /* every millisecond */
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
  long iters = 0;
  for (; in_handler_forks < FORKS; iters += 1000) churn(42 + (uint64_t)iters, 1000);
  long single = in_handler_forks;
  printf("fork_signal [%s]: single-threaded: %ld malloc/free, %ld forks from the handler\n",
         pool_mode ? "pool" : "mid", iters, single);

  pthread_t t;
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &set, &old);   /* the new thread inherits the mask */
  pthread_create(&t, NULL, other, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  while (in_handler_forks < single + FORKS) churn(43, 1000);
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  printf("fork_signal [%s]: with a second thread: %ld forks from the handler\n", pool_mode ? "pool" : "mid",
         (long)in_handler_forks - single);
  return 0;
}
