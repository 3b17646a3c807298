/* A forked child carves blocks in an order of its own: the same allocations in parent and child
 * after a fork (the same heap state, the same slabs) return different address sequences once they
 * reach freshly carved blocks, because the child reseeds its heap's random sequence (at the
 * levels with randomised order). */
#include <sys/wait.h>
#include "hak_test.h"
#include "internal.h"

enum { N = 300 };

static void run(void *out[N]) {
  for (int i = 0; i < N; i++) out[i] = hak_malloc(40);
}

int main(void) {
  hm_ensure_init();
  if (!(hm_mit & HM_MIT_RANDOM)) {
    printf("fork_seed: no randomised order at this level, nothing to check\n");
    return 0;
  }
  (void)hak_malloc(40);   /* the thread has its heap before the fork */
  int fds[2];
  CHECK(pipe(fds) == 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  static void *mine[N], *theirs[N];
  if (pid == 0) {
    run(mine);
    ssize_t w = write(fds[1], mine, sizeof mine);
    _exit(w == (ssize_t)sizeof mine ? 0 : 1);
  }
  run(mine);
  size_t got = 0;
  while (got < sizeof theirs) {
    ssize_t r = read(fds[0], (char *)theirs + got, sizeof theirs - got);
    CHECK(r > 0, "read from the child: %zd", r);
    if (r <= 0) break;
    got += (size_t)r;
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(memcmp(mine, theirs, sizeof mine) != 0,
        "parent and child got the same %d addresses after the fork", N);
  for (int i = 0; i < N; i++) hak_free(mine[i]);
  CHECK_OK();
  printf("fork_seed: ok\n");
  return 0;
}
