/* config.c — run-time configuration from the environment, read once at start-up without
 * allocating (the heap is not ready yet). A bad value gets one line on stderr naming the
 * variable, the value and the default used instead; an unknown HAKMEM_* name gets one line too.
 */
#include <signal.h>
#include <string.h>
#include "internal.h"

hm_config hm_cfg = {
    .max_cached = HM_DEF_MAX_CACHED,
    .max_memory_mb = HM_DEF_MAX_MEMORY_MB,
    .ttl_sec = HM_DEF_TTL_SEC,
    .purge_delay_ms = HM_DEF_PURGE_DELAY_MS,
    .purge_retain_mb = HM_DEF_PURGE_RETAIN_MB,
    .harden = HAK_HARDEN_DEFAULT_LEVEL,
};

/* Copy at most 40 characters of `v` into `out`, replacing what a terminal should not see. */
static void quote(char *out, const char *v) {
  size_t i = 0;
  for (; v[i] != '\0' && i < 40; i++) out[i] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
  if (v[i] != '\0') {
    memcpy(out + i, "...", 3);
    i += 3;
  }
  out[i] = '\0';
}

static void warn(const char *name, const char *value, uint64_t lo, uint64_t hi, uint64_t def) {
  char q[48], n[24];
  quote(q, value);
  hm_write_err("hakmem: ");
  hm_write_err(name);
  hm_write_err("=\"");
  hm_write_err(q);
  hm_write_err("\" is not a whole number in [");
  hm_fmt_u64(n, lo);
  hm_write_err(n);
  hm_write_err(", ");
  hm_fmt_u64(n, hi);
  hm_write_err(n);
  hm_write_err("]; using the default ");
  hm_fmt_u64(n, def);
  hm_write_err(n);
  hm_write_err("\n");
}

bool hm_config_parse_u64(const char *name, const char *value, uint64_t lo, uint64_t hi,
                         uint64_t def, uint64_t *out) {
  const char *p = value;
  while (*p == ' ' || *p == '\t') p++;
  uint64_t v = 0;
  bool digits = false, ok = true;
  for (; *p >= '0' && *p <= '9'; p++) {
    digits = true;
    uint64_t d = (uint64_t)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) ok = false;   /* would overflow: keep scanning, reject */
    else v = v * 10 + d;
  }
  while (*p == ' ' || *p == '\t') p++;
  if (!digits || *p != '\0' || !ok || v < lo || v > hi) {
    warn(name, value, lo, hi, def);
    *out = def;
    return false;
  }
  *out = v;
  return true;
}

typedef struct var {
  const char *name;
  uint64_t lo, hi, def;
  uint64_t *dst;
} var;

static bool prefix(const char *s, const char *pre, const char **rest) {
  size_t n = strlen(pre);
  if (strncmp(s, pre, n) != 0) return false;
  *rest = s + n;
  return true;
}

/* HAKMEM_HARDEN: a level name (or its number 0-3). */
static void parse_harden(const char *value) {
  for (int i = 0; i < 4; i++)
    if (strcmp(value, hm_harden_names[i]) == 0 || (value[0] == '0' + i && value[1] == '\0')) {
      hm_cfg.harden = i;
      return;
    }
  char q[48];
  quote(q, value);
  hm_write_err("hakmem: HAKMEM_HARDEN=\"");
  hm_write_err(q);
  hm_write_err("\" is not one of off, fast, strict, paranoid; using the default ");
  hm_write_err(hm_harden_names[HAK_HARDEN_DEFAULT_LEVEL]);
  hm_write_err("\n");
  hm_cfg.harden = HAK_HARDEN_DEFAULT_LEVEL;
}

/* HAKMEM_STATS_SIGNAL: a signal number or name (USR1 or SIGUSR1) the report can be written on:
 * one that can be caught and is not raised by a fault (returning from a SIGSEGV handler repeats the
 * fault) nor reserved by the C library (glibc takes the numbers below SIGRTMIN past 31). */
static const struct { const char *name; int sig; } signal_names[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU}, {"URG", SIGURG},       {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"POLL", SIGPOLL}, {"PWR", SIGPWR},       {"STKFLT", SIGSTKFLT},
};

static bool signal_usable(uint64_t n) {
  if (n == 0 || n > (uint64_t)SIGRTMAX || (n > 31 && n < (uint64_t)SIGRTMIN)) return false;
  switch ((int)n) {
    case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE:
    case SIGABRT: case SIGTRAP: case SIGSYS:
      return false;
    default:
      return true;
  }
}

static void parse_signal(const char *value) {
  const char *name = strncmp(value, "SIG", 3) == 0 ? value + 3 : value;
  int sig = 0;
  uint64_t n = 0;
  bool digits = value[0] != '\0';
  for (const char *p = value; *p != '\0' && digits; p++) {
    digits = *p >= '0' && *p <= '9';
    if (digits && n < 1000) n = n * 10 + (uint64_t)(*p - '0');
  }
  if (digits && signal_usable(n)) sig = (int)n;
  for (size_t i = 0; !digits && i < sizeof signal_names / sizeof signal_names[0]; i++)
    if (strcmp(name, signal_names[i].name) == 0) sig = signal_names[i].sig;
  hm_cfg.stats_signal = sig;
  if (sig != 0) return;
  char q[48];
  quote(q, value);
  hm_write_err("hakmem: HAKMEM_STATS_SIGNAL=\"");
  hm_write_err(q);
  hm_write_err("\" is not a signal that can carry the report (a name such as USR1 or SIGUSR1, or a "
               "number); no statistics signal\n");
}

void hm_config_load(char **envp) {
  uint64_t prewarm_all = 0;
  const char *prewarm_k[HAK_TINY_CLASSES] = {NULL};   /* per-class overrides, parsed last */
  var vars[] = {
      {"HAKMEM_SUPERSLAB_MAX_CACHED", 0, HM_MAX_MAX_CACHED, HM_DEF_MAX_CACHED, &hm_cfg.max_cached},
      {"HAKMEM_SUPERSLAB_MAX_MEMORY_MB", 0, HM_MAX_MAX_MEMORY_MB, HM_DEF_MAX_MEMORY_MB,
       &hm_cfg.max_memory_mb},
      {"HAKMEM_SUPERSLAB_TTL_SEC", 0, HM_MAX_TTL_SEC, HM_DEF_TTL_SEC, &hm_cfg.ttl_sec},
      {"HAKMEM_PURGE_DELAY_MS", 0, HM_MAX_PURGE_DELAY_MS, HM_DEF_PURGE_DELAY_MS,
       &hm_cfg.purge_delay_ms},
      {"HAKMEM_PURGE_RETAIN_MB", 0, HM_MAX_PURGE_RETAIN_MB, HM_DEF_PURGE_RETAIN_MB,
       &hm_cfg.purge_retain_mb},
      {"HAKMEM_PURGE_MADV_FREE", 0, 1, 0, &hm_cfg.purge_madv_free},
      {"HAKMEM_PREWARM_SUPERSLABS", 0, HM_MAX_PREWARM_PER_CLASS, 0, &prewarm_all},
      {"HAKMEM_STATS", 0, 1, 0, &hm_cfg.stats},
  };
  for (char **e = envp; e != NULL && *e != NULL; e++) {
    const char *entry = *e, *rest;
    if (strncmp(entry, "HAKMEM_", 7) != 0) continue;
    const char *eq = strchr(entry, '=');
    if (eq == NULL) continue;
    size_t name_len = (size_t)(eq - entry);
    bool known = false;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0] && !known; i++)
      if (strlen(vars[i].name) == name_len && strncmp(entry, vars[i].name, name_len) == 0) {
        hm_config_parse_u64(vars[i].name, eq + 1, vars[i].lo, vars[i].hi, vars[i].def, vars[i].dst);
        known = true;
      }
    if (!known && strncmp(entry, "HAKMEM_STATS_FILE=", 18) == 0) {
      hm_cfg.stats_file = entry[18] != '\0' ? entry + 18 : NULL;   /* empty: stderr */
      known = true;
    }
    if (!known && strncmp(entry, "HAKMEM_STATS_SIGNAL=", 20) == 0) {
      parse_signal(entry + 20);
      known = true;
    }
    if (!known && strncmp(entry, "HAKMEM_HARDEN=", 14) == 0) {
      parse_harden(entry + 14);
      known = true;
    }
    if (!known && prefix(entry, "HAKMEM_PREWARM_SUPERSLABS_C", &rest) && rest[0] >= '0' &&
        rest[0] < '0' + HAK_TINY_CLASSES && rest[1] == '=') {
      prewarm_k[rest[0] - '0'] = rest + 2;
      known = true;
    }
    if (!known) {
      char q[48];
      char name[64];
      size_t n = name_len < sizeof name - 1 ? name_len : sizeof name - 1;
      memcpy(name, entry, n);
      name[n] = '\0';
      quote(q, name);
      hm_write_err("hakmem: unknown variable ");
      hm_write_err(q);
      hm_write_err(" ignored\n");
    }
  }
  for (unsigned k = 0; k < HAK_TINY_CLASSES; k++) {
    uint64_t v = prewarm_all;
    if (prewarm_k[k] != NULL) {
      char name[] = "HAKMEM_PREWARM_SUPERSLABS_C0";
      name[sizeof name - 2] = (char)('0' + k);
      hm_config_parse_u64(name, prewarm_k[k], 0, HM_MAX_PREWARM_PER_CLASS, prewarm_all, &v);
    }
    hm_cfg.prewarm[k] = (uint32_t)v;
  }
}
