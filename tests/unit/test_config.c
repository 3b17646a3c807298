/* Configuration parsing: valid values are taken, and each bad value (not a number, negative,
 * overflowing, out of range, empty) gets exactly one stderr line naming the variable, the value
 * and the default used; unknown HAKMEM_* names get one line too; nothing crashes. */
#include <fcntl.h>
#include <signal.h>
#include "hak_test.h"
#include "internal.h"

static char captured[8192];

/* Run hm_config_load on `env` with stderr captured; returns the number of lines written. */
static int load(char **env) {
  char path[] = "/tmp/hakmem-config-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  hm_config_load(env);
  dup2(saved, 2);
  close(saved);
  lseek(fd, 0, SEEK_SET);
  ssize_t n = read(fd, captured, sizeof captured - 1);
  captured[n > 0 ? n : 0] = '\0';
  close(fd);
  unlink(path);
  int lines = 0;
  for (char *c = captured; *c; c++) lines += *c == '\n';
  return lines;
}

static void reset(void) {
  hm_cfg = (hm_config){.max_cached = HM_DEF_MAX_CACHED, .max_memory_mb = HM_DEF_MAX_MEMORY_MB,
                       .ttl_sec = HM_DEF_TTL_SEC, .purge_delay_ms = HM_DEF_PURGE_DELAY_MS};
}

int main(void) {
  uint64_t v;
  CHECK(hm_config_parse_u64("X", "42", 0, 100, 7, &v) && v == 42);
  CHECK(hm_config_parse_u64("X", " 42 ", 0, 100, 7, &v) && v == 42);
  CHECK(hm_config_parse_u64("X", "0", 0, 100, 7, &v) && v == 0);
  const char *bad[] = {"", "abc", "-1", "+5", "4x", "1e3", "31536001", "0x10", "99999999999999999999999",
                       "18446744073709551616", "1 2", " "};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *env[] = {NULL, NULL};
    char buf[128];
    snprintf(buf, sizeof buf, "HAKMEM_SUPERSLAB_TTL_SEC=%s", bad[i]);
    env[0] = buf;
    reset();
    CHECK(load(env) == 1, "value '%s': %s", bad[i], captured);
    CHECK(hm_cfg.ttl_sec == HM_DEF_TTL_SEC, "value '%s' not replaced by the default", bad[i]);
    CHECK(strncmp(captured, "hakmem: HAKMEM_SUPERSLAB_TTL_SEC=\"", 34) == 0 &&
              strstr(captured, "using the default 60\n") != NULL,
          "message: %s", captured);
  }
  /* good values, per-class prewarm overrides, unknown names */
  char *env[] = {"PATH=/bin", "HAKMEM_SUPERSLAB_MAX_CACHED=7", "HAKMEM_SUPERSLAB_MAX_MEMORY_MB=64",
                 "HAKMEM_SUPERSLAB_TTL_SEC=3", "HAKMEM_PREWARM_SUPERSLABS=2",
                 "HAKMEM_PREWARM_SUPERSLABS_C5=9", "HAKMEM_PREWARM_SUPERSLABS_C6=oops",
                 "HAKMEM_PREWARM_SUPERSLABS_C8=1", "HAKMEM_NOPE=1", "HAKMEM_SUPERSLAB_MAX_CACHED_X=1", NULL};
  reset();
  int lines = load(env);
  CHECK(lines == 4, "%d lines: %s", lines, captured);   /* C6 bad, C8 / NOPE / _X unknown */
  CHECK(hm_cfg.max_cached == 7 && hm_cfg.max_memory_mb == 64 && hm_cfg.ttl_sec == 3);
  for (int k = 0; k < HAK_TINY_CLASSES; k++)
    CHECK(hm_cfg.prewarm[k] == (k == 5 ? 9u : 2u), "prewarm[%d] = %u", k, hm_cfg.prewarm[k]);
  CHECK(strstr(captured, "HAKMEM_PREWARM_SUPERSLABS_C6=\"oops\"") && strstr(captured, "using the default 2"));
  CHECK(strstr(captured, "unknown variable HAKMEM_NOPE ignored"));
  CHECK(strstr(captured, "unknown variable HAKMEM_PREWARM_SUPERSLABS_C8 ignored"));
  /* absurd prewarm, long and binary values are cut and cleaned in the message */
  char longv[300];
  memset(longv, '9', sizeof longv - 1);
  longv[sizeof longv - 1] = '\0';
  char buf1[400], buf2[64];
  snprintf(buf1, sizeof buf1, "HAKMEM_PREWARM_SUPERSLABS=%s", longv);
  snprintf(buf2, sizeof buf2, "HAKMEM_SUPERSLAB_MAX_CACHED=\x01\x7f\xff");
  char *env2[] = {buf1, buf2, "HAKMEM_PREWARM_SUPERSLABS_C1=5000", NULL};
  reset();
  CHECK(load(env2) == 3, "%s", captured);
  CHECK(strstr(captured, "...\"") != NULL && strstr(captured, "\"???\"") != NULL, "%s", captured);
  for (int k = 0; k < HAK_TINY_CLASSES; k++) CHECK(hm_cfg.prewarm[k] == 0);
  CHECK(hm_cfg.max_cached == HM_DEF_MAX_CACHED);
  CHECK(load((char *[]){NULL}) == 0 && load(NULL) == 0);
  /* the purge delay: taken in range, one warning naming it, the value and the default otherwise */
  const char *bad_delay[] = {"3600001", "-5", "1s", "", "99999999999999999999"};
  for (size_t i = 0; i < sizeof bad_delay / sizeof bad_delay[0]; i++) {
    char buf[96];
    snprintf(buf, sizeof buf, "HAKMEM_PURGE_DELAY_MS=%s", bad_delay[i]);
    reset();
    hm_cfg.purge_delay_ms = 7;
    CHECK(load((char *[]){buf, NULL}) == 1, "value '%s': %s", bad_delay[i], captured);
    CHECK(hm_cfg.purge_delay_ms == HM_DEF_PURGE_DELAY_MS, "value '%s' not replaced", bad_delay[i]);
    char want[160];
    snprintf(want, sizeof want, "hakmem: HAKMEM_PURGE_DELAY_MS=\"%s\" is not a whole number in [0, 3600000]; "
             "using the default %u\n", bad_delay[i], HM_DEF_PURGE_DELAY_MS);
    CHECK(strcmp(captured, want) == 0, "message: %s", captured);
  }
  reset();
  CHECK(load((char *[]){"HAKMEM_PURGE_DELAY_MS=0", "HAKMEM_PURGE_MADV_FREE=1", NULL}) == 0, "%s", captured);
  CHECK(hm_cfg.purge_delay_ms == 0 && hm_cfg.purge_madv_free == 1);
  CHECK(load((char *[]){"HAKMEM_PURGE_DELAY_MS=3600000", "HAKMEM_PURGE_MADV_FREE=2", NULL}) == 1, "%s", captured);
  CHECK(hm_cfg.purge_delay_ms == 3600000 && hm_cfg.purge_madv_free == 0, "%s", captured);
  /* the retain bound: 0 (purge at once) to 2097152 MiB; junk warns once and keeps the default */
  reset();
  CHECK(load((char *[]){"HAKMEM_PURGE_RETAIN_MB=0", NULL}) == 0 && hm_cfg.purge_retain_mb == 0, "%s", captured);
  CHECK(load((char *[]){"HAKMEM_PURGE_RETAIN_MB=2097152", NULL}) == 0 && hm_cfg.purge_retain_mb == 2097152);
  const char *bad_retain[] = {"2097153", "8M", "-1", ""};
  for (size_t i = 0; i < sizeof bad_retain / sizeof bad_retain[0]; i++) {
    char buf[96], want[160];
    snprintf(buf, sizeof buf, "HAKMEM_PURGE_RETAIN_MB=%s", bad_retain[i]);
    hm_cfg.purge_retain_mb = 7;
    CHECK(load((char *[]){buf, NULL}) == 1, "value '%s': %s", bad_retain[i], captured);
    CHECK(hm_cfg.purge_retain_mb == HM_DEF_PURGE_RETAIN_MB, "value '%s' not replaced", bad_retain[i]);
    snprintf(want, sizeof want, "hakmem: HAKMEM_PURGE_RETAIN_MB=\"%s\" is not a whole number in [0, 2097152]; "
             "using the default %u\n", bad_retain[i], HM_DEF_PURGE_RETAIN_MB);
    CHECK(strcmp(captured, want) == 0, "message: %s", captured);
  }
  /* HAKMEM_STATS_SIGNAL: a name with or without SIG, or a number; anything else (unknown, a fault
   * or uncatchable signal, one glibc reserves, out of range, empty) warns once, naming the
   * variable and the value, and leaves no signal */
  const struct { const char *v; int sig; } good_sig[] = {
      {"USR1", SIGUSR1}, {"SIGUSR1", SIGUSR1}, {"USR2", SIGUSR2}, {"SIGHUP", SIGHUP},
      {"10", 10}, {"12", 12}, {"64", 64}, {"WINCH", SIGWINCH}};
  for (size_t i = 0; i < sizeof good_sig / sizeof good_sig[0]; i++) {
    char buf[64];
    snprintf(buf, sizeof buf, "HAKMEM_STATS_SIGNAL=%s", good_sig[i].v);
    reset();
    CHECK(load((char *[]){buf, NULL}) == 0, "value '%s': %s", good_sig[i].v, captured);
    CHECK(hm_cfg.stats_signal == good_sig[i].sig, "value '%s': signal %d", good_sig[i].v, hm_cfg.stats_signal);
  }
  const char *bad_sig[] = {"USR9", "", "0", "9", "SIGKILL", "STOP", "SEGV", "11", "SIGABRT", "32",
                           "6", "5", "65", "99999999999999999999", "usr1", "SIG", "-10", "10 ", "SIGSIGUSR1"};
  for (size_t i = 0; i < sizeof bad_sig / sizeof bad_sig[0]; i++) {
    char buf[64];
    snprintf(buf, sizeof buf, "HAKMEM_STATS_SIGNAL=%s", bad_sig[i]);
    reset();
    hm_cfg.stats_signal = SIGUSR1;
    CHECK(load((char *[]){buf, NULL}) == 1, "value '%s': %s", bad_sig[i], captured);
    CHECK(hm_cfg.stats_signal == 0, "value '%s' left signal %d", bad_sig[i], hm_cfg.stats_signal);
    char want[96];
    snprintf(want, sizeof want, "hakmem: HAKMEM_STATS_SIGNAL=\"%s\" is not a signal", bad_sig[i]);
    CHECK(strncmp(captured, want, strlen(want)) == 0 && strstr(captured, "no statistics signal\n"),
          "message: %s", captured);
  }
  /* HAKMEM_HARDEN: a level name or its single digit; anything else warns once and gives the
   * build's default level, whatever the level was before */
  const struct { const char *v; int level; } good_lvl[] = {
      {"off", 0}, {"fast", 1}, {"strict", 2}, {"paranoid", 3}, {"0", 0}, {"1", 1}, {"2", 2}, {"3", 3}};
  for (size_t i = 0; i < sizeof good_lvl / sizeof good_lvl[0]; i++) {
    char buf[64];
    snprintf(buf, sizeof buf, "HAKMEM_HARDEN=%s", good_lvl[i].v);
    reset();
    hm_cfg.harden = good_lvl[i].level == 3 ? 0 : 3;
    CHECK(load((char *[]){buf, NULL}) == 0, "value '%s': %s", good_lvl[i].v, captured);
    CHECK(hm_cfg.harden == good_lvl[i].level, "value '%s': level %d", good_lvl[i].v, hm_cfg.harden);
  }
  const char *bad_lvl[] = {"2x", "4", "33", "", "Strict", "strict ", "-1", "paranoid2"};
  for (size_t i = 0; i < sizeof bad_lvl / sizeof bad_lvl[0]; i++) {
    for (int before = 0; before < 4; before++) {
      char buf[64];
      snprintf(buf, sizeof buf, "HAKMEM_HARDEN=%s", bad_lvl[i]);
      reset();
      hm_cfg.harden = before;
      CHECK(load((char *[]){buf, NULL}) == 1, "value '%s': %s", bad_lvl[i], captured);
      CHECK(hm_cfg.harden == HAK_HARDEN_DEFAULT_LEVEL, "value '%s' after level %d left level %d",
            bad_lvl[i], before, hm_cfg.harden);
      CHECK(strstr(captured, "is not one of off, fast, strict, paranoid; using the default ") != NULL,
            "message: %s", captured);
    }
  }
  /* HAKMEM_STATS_FILE: a path, or empty for stderr (NULL) */
  reset();
  hm_cfg.stats_file = "x";
  CHECK(load((char *[]){"HAKMEM_STATS_FILE=", NULL}) == 0 && hm_cfg.stats_file == NULL, "%s", captured);
  CHECK(load((char *[]){"HAKMEM_STATS_FILE=/tmp/s", NULL}) == 0 && hm_cfg.stats_file != NULL &&
            strcmp(hm_cfg.stats_file, "/tmp/s") == 0, "%s", captured);
  hm_cfg.stats_file = NULL;
  reset();
  printf("config: ok\n");
  return 0;
}
