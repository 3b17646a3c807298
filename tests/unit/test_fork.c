/* Start-up and fork: an allocation from a constructor that runs before main (and before or
 * after hakmem's own constructor) works; a child forked while other threads are allocating and
 * freeing (so allocator locks may be held at the fork) can allocate, free and exit cleanly. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include "hak_test.h"

static void *early;
__attribute__((constructor(101))) static void early_ctor(void) {
  early = hak_malloc(100);
  memset(early, 7, 100);
}

static _Atomic int stop;
static void *churn(void *arg) {
  test_rng_t r;
  rng_seed(&r, (uint64_t)(uintptr_t)arg);
  void *slots[64] = {0};
  while (!stop) {
    unsigned i = (unsigned)(rng_next(&r) % 64);
    hak_free(slots[i]);
    /* sizes across small classes and large mappings, so pool, large and registry locks churn */
    size_t n = rng_next(&r) % 2 == 0 ? 40000 + rng_next(&r) % 300000 : rng_next(&r) % 2000;
    slots[i] = hak_malloc(n);
    if (rng_next(&r) % 4 == 0) hak_trim();
  }
  for (int i = 0; i < 64; i++) hak_free(slots[i]);
  return arg;
}

int main(void) {
  CHECK(early != NULL && ((char *)early)[99] == 7);
  hak_free(early);
  pthread_t t[3];
  for (uintptr_t i = 0; i < 3; i++) pthread_create(&t[i], NULL, churn, (void *)(i + 1));
  for (int round = 0; round < 300; round++) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      void *p[1000];
      for (int i = 0; i < 1000; i++) p[i] = hak_malloc((size_t)i * 37 % 5000 + (i % 50 == 0) * 100000);
      for (int i = 0; i < 1000; i++) hak_free(p[i]);
      hak_trim();
      const char *why = hak_check();
      if (why) fprintf(stderr, "child: %s\n", why);
      _exit(why == NULL ? 0 : 3);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %d", round, status);
  }
  stop = 1;
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  CHECK(hak_check() == NULL, "%s", hak_check());
  printf("fork: 300 children forked during allocation churn, all clean\n");
  return 0;
}
