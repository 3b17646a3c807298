/* bench_rss: run a program and report its peak resident set, like `/usr/bin/time -f %M`, without
 * needing the `time` package.
 *
 *   bench_rss [NAME=VALUE ...] PROGRAM [ARGS...]
 *
 * Leading NAME=VALUE words are added to the program's environment only (so LD_PRELOAD given here
 * does not load the allocator under test into bench_rss itself). The program inherits stdout and
 * stderr; when it has exited, bench_rss prints one more line on stdout:
 *   rss_peak_kb=N wall_sec=F user_sec=F sys_sec=F
 * and exits with the program's status (128 + signal if it was killed). This file uses no
 * allocation of its own after the exec, and its own memory is not counted: the peak is the child's
 * (wait4's rusage). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int first = 1;
  while (first < argc && strchr(argv[first], '=') && argv[first][0] != '=') first++;
  if (first >= argc) {
    fprintf(stderr, "usage: bench_rss [NAME=VALUE ...] PROGRAM [ARGS...]\n");
    return 2;
  }
  fflush(stdout);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) {
    perror("bench_rss: fork");
    return 1;
  }
  if (pid == 0) {
    for (int i = 1; i < first; i++) putenv(argv[i]);
    execvp(argv[first], argv + first);
    fprintf(stderr, "bench_rss: cannot run %s\n", argv[first]);
    _exit(127);
  }
  int status;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0) {
    perror("bench_rss: wait4");
    return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("rss_peak_kb=%ld wall_sec=%.6f user_sec=%.3f sys_sec=%.3f\n", ru.ru_maxrss,
         (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9,
         (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6,
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}
