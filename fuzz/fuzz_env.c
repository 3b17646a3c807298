/* fuzz_env — the environment parser (config.c) with arbitrary strings, against a reference.
 *
 * Input: environment entries separated by '\n' or '\0'. An entry whose first byte is below 0x10
 * is a known variable name (that byte picks it) followed by '=' and the rest of the entry;
 * others are taken literally (so "HAKMEM_FOO=1", "PATH=/bin" and "HAKMEM_X" without '=' occur).
 * The entries go to hm_config_load(envp) and each value also to hm_config_parse_u64 with bounds
 * from the input. Checked against a reference written separately from config.c:
 *   - it never crashes, never reads past a string (ASan), allocates nothing from hakmem;
 *   - every value is taken iff it is a whole number (blanks around allowed) within its range;
 *     otherwise the default is used — a later entry of the same name wins, a bad one included;
 *   - one warning line per bad value and per unknown HAKMEM_* name, each "hakmem: ...\n",
 *     and nothing else (stderr is captured in a memfd while the parser runs).
 * hm_cfg is saved and restored around the call: the allocator read it at start-up only.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include "fuzz_helpers.h"

#define MAX_ENTRIES 64

static const char *const names[] = {
    "HAKMEM_SUPERSLAB_MAX_CACHED",    "HAKMEM_SUPERSLAB_MAX_MEMORY_MB", "HAKMEM_SUPERSLAB_TTL_SEC",
    "HAKMEM_PREWARM_SUPERSLABS",      "HAKMEM_PREWARM_SUPERSLABS_C0",   "HAKMEM_PREWARM_SUPERSLABS_C3",
    "HAKMEM_PREWARM_SUPERSLABS_C7",   "HAKMEM_PREWARM_SUPERSLABS_C8",   "HAKMEM_PREWARM_SUPERSLABS_",
    "HAKMEM_",                        "HAKMEM_SUPERSLAB_MAX_CACHEDX",   "hakmem_superslab_ttl_sec",
    "HAKMEM_PREWARM_SUPERSLABS_C",    "HAKMEM_PREWARM_SUPERSLABS_C00",  "PATH",
    "HAKMEM_SUPERSLAB_TTL_SE",
};
_Static_assert(sizeof names / sizeof names[0] <= 0x10, "a name byte is below 0x10");

/* ---- reference --------------------------------------------------------------------------------- */
static bool ref_parse(const char *v, uint64_t lo, uint64_t hi, uint64_t def, uint64_t *out) {
  size_t b = 0, e = strlen(v);
  while (b < e && (v[b] == ' ' || v[b] == '\t')) b++;
  while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
  bool ok = e > b;
  for (size_t i = b; i < e; i++) ok &= v[i] >= '0' && v[i] <= '9';
  while (ok && b + 1 < e && v[b] == '0') b++;   /* leading zeros */
  unsigned __int128 x = 0;
  if (ok && e - b > 20) ok = false;             /* >= 10^20: above every 64-bit bound */
  for (size_t i = b; ok && i < e; i++) x = x * 10 + (unsigned)(v[i] - '0');
  ok = ok && x >= lo && x <= hi;
  *out = ok ? (uint64_t)x : def;
  return ok;
}

/* HAKMEM_STATS_SIGNAL: digits alone naming a catchable signal that no fault raises and glibc does
 * not reserve, or glibc's abbreviation of one (also IO), with or without "SIG"; else 0. */
static int ref_signal(const char *v) {
  uint64_t n = 0;
  bool digits = *v != '\0' && strspn(v, "0123456789") == strlen(v);
  if (digits && !ref_parse(v, 1, (uint64_t)SIGRTMAX, 0, &n)) return 0;
  const char *name = strncmp(v, "SIG", 3) == 0 ? v + 3 : v;
  for (int sig = 1; sig <= SIGRTMAX && !digits; sig++) {
    const char *abbrev = sigabbrev_np(sig);
    if ((abbrev != NULL && strcmp(name, abbrev) == 0) || (sig == SIGIO && strcmp(name, "IO") == 0)) n = (uint64_t)sig;
  }
  static const int refused[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    if (n == (uint64_t)refused[i]) return 0;
  return n > 31 && n < (uint64_t)SIGRTMIN ? 0 : (int)n;
}

typedef struct ref_var { const char *name; uint64_t hi, def; } ref_var;
static const ref_var known[] = {
    {"HAKMEM_SUPERSLAB_MAX_CACHED", 1048576, 256},
    {"HAKMEM_SUPERSLAB_MAX_MEMORY_MB", 2097152, 512},
    {"HAKMEM_SUPERSLAB_TTL_SEC", 31536000, 60},
    {"HAKMEM_PREWARM_SUPERSLABS", 4096, 0},
    {"HAKMEM_STATS", 1, 0},
    {"HAKMEM_PURGE_DELAY_MS", 3600000, 250},
    {"HAKMEM_PURGE_MADV_FREE", 1, 0},
    {"HAKMEM_PURGE_RETAIN_MB", 2097152, 32},
};
enum { N_KNOWN = sizeof known / sizeof known[0] };

/* Expected configuration and number of warnings for envp (README, "Environment"). */
static unsigned ref_load(char **envp, hm_config *cfg) {
  static const char *const levels[] = {"off", "fast", "strict", "paranoid"};
  memset(cfg, 0, sizeof *cfg);   /* padding too: the result is compared with memcmp */
  cfg->harden = HAK_HARDEN_DEFAULT_LEVEL;
  uint64_t val[N_KNOWN];
  for (int i = 0; i < N_KNOWN; i++) val[i] = known[i].def;
  const char *per_class[HAK_TINY_CLASSES] = {NULL};
  unsigned warnings = 0;
  for (char **e = envp; *e != NULL; e++) {
    const char *eq = strchr(*e, '=');
    if (strncmp(*e, "HAKMEM_", 7) != 0 || eq == NULL) continue;
    size_t len = (size_t)(eq - *e);
    int k = -1;
    for (int i = 0; i < N_KNOWN; i++)
      if (strlen(known[i].name) == len && memcmp(*e, known[i].name, len) == 0) k = i;
    if (k >= 0) {
      warnings += !ref_parse(eq + 1, 0, known[k].hi, known[k].def, &val[k]);
    } else if (len == 17 && memcmp(*e, "HAKMEM_STATS_FILE", 17) == 0) {
      cfg->stats_file = eq[1] != '\0' ? eq + 1 : NULL;
    } else if (len == 19 && memcmp(*e, "HAKMEM_STATS_SIGNAL", 19) == 0) {
      cfg->stats_signal = ref_signal(eq + 1);
      warnings += cfg->stats_signal == 0;
    } else if (len == 13 && memcmp(*e, "HAKMEM_HARDEN", 13) == 0) {
      int level = -1;
      for (int i = 0; i < 4; i++)
        if (strcmp(eq + 1, levels[i]) == 0 || (eq[1] == '0' + i && eq[2] == '\0')) level = i;
      if (level < 0) warnings++;
      cfg->harden = level < 0 ? HAK_HARDEN_DEFAULT_LEVEL : level;
    } else if (len == 28 && memcmp(*e, "HAKMEM_PREWARM_SUPERSLABS_C", 27) == 0 && (*e)[27] >= '0' &&
               (*e)[27] <= '7') {
      per_class[(*e)[27] - '0'] = eq + 1;
    } else {
      warnings++;
    }
  }
  cfg->max_cached = val[0];
  cfg->max_memory_mb = val[1];
  cfg->ttl_sec = val[2];
  cfg->stats = val[4];
  cfg->purge_delay_ms = val[5];
  cfg->purge_madv_free = val[6];
  cfg->purge_retain_mb = val[7];
  for (unsigned k = 0; k < HAK_TINY_CLASSES; k++) {
    uint64_t v = val[3];
    if (per_class[k] != NULL) warnings += !ref_parse(per_class[k], 0, 4096, val[3], &v);
    cfg->prewarm[k] = (uint32_t)v;
  }
  return warnings;
}

/* ---- stderr capture ---------------------------------------------------------------------------- */
static int capture_fd = -1, saved_stderr = -1;
static char captured[1 << 16];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  capture_fd = memfd_create("fuzz_env_stderr", 0);
  return 0;
}

static void capture_begin(void) {
  if (capture_fd < 0) return;
  fflush(stderr);
  saved_stderr = dup(STDERR_FILENO);
  dup2(capture_fd, STDERR_FILENO);
}

/* Restores stderr; returns the bytes captured (in `captured`), or -1 without capture. */
static ssize_t capture_end(void) {
  if (capture_fd < 0 || saved_stderr < 0) return -1;
  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr);
  saved_stderr = -1;
  off_t n = lseek(capture_fd, 0, SEEK_CUR);
  FUZZ_ASSERT(n >= 0 && (size_t)n < sizeof captured, "warnings larger than expected");
  ssize_t got = pread(capture_fd, captured, (size_t)n, 0);
  FUZZ_ASSERT(got == n, "reading the captured stderr");
  FUZZ_ASSERT(ftruncate(capture_fd, 0) == 0 && lseek(capture_fd, 0, SEEK_SET) == 0, "memfd reset");
  return got;
}

/* Warning lines: each "hakmem: <printable>\n". Returns the count. */
static unsigned count_lines(ssize_t n) {
  unsigned lines = 0;
  for (ssize_t i = 0; i < n;) {
    FUZZ_ASSERT(n - i >= 8 && memcmp(captured + i, "hakmem: ", 8) == 0, "a warning line without the prefix");
    ssize_t j = i;
    while (j < n && captured[j] != '\n') {
      FUZZ_ASSERT(captured[j] >= 0x20 && captured[j] < 0x7f, "unprintable byte in a warning");
      j++;
    }
    FUZZ_ASSERT(j < n, "warning not terminated by a newline");
    lines++;
    i = j + 1;
  }
  return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 8192) return 0;
  char *buf = malloc(size * 2 + 64 * MAX_ENTRIES + 1);   /* libc malloc: the harness's own memory */
  char *envp[MAX_ENTRIES + 1];
  uint64_t bounds[MAX_ENTRIES][2];
  unsigned n = 0;
  char *w = buf;
  for (size_t i = 0; i < size && n < MAX_ENTRIES;) {
    size_t j = i;
    while (j < size && data[j] != '\n' && data[j] != '\0') j++;
    envp[n] = w;
    size_t from = i;
    if (j > i && data[i] < 0x10) {
      size_t l = strlen(names[data[i]]);
      memcpy(w, names[data[i]], l);
      w += l;
      *w++ = '=';
      from = i + 1;
    }
    memcpy(w, data + from, j - from);
    w += j - from;
    *w++ = '\0';
    /* bounds for the direct parse call, from the entry's length and first bytes */
    bounds[n][0] = (j - i) % 7 == 0 ? 0 : (uint64_t)(j - i) % 5;
    /* below 10^19: config.c's overflow guard rejects a few values in [UINT64_MAX - 5, UINT64_MAX]
     * that fit; no variable has such a bound, so the direct calls stay below it */
    bounds[n][1] = (j - i) % 3 == 0 ? 9999999999999999999ull : 1000 + (uint64_t)(j - i) * 977;
    n++;
    i = j + 1;
  }
  envp[n] = NULL;

  hm_config want, saved = hm_cfg;
  unsigned warnings = ref_load(envp, &want);
  capture_begin();
  hm_config_load(envp);
  hm_config got = hm_cfg;
  hm_cfg = saved;
  unsigned bad_direct = 0;
  bool agree = true;
  for (unsigned i = 0; i < n; i++) {
    const char *eq = strchr(envp[i], '=');
    if (eq == NULL) continue;
    uint64_t lo = bounds[i][0], hi = bounds[i][1], def = lo + 1, a = 0, b = 0;
    bool ra = hm_config_parse_u64("FUZZ_VALUE", eq + 1, lo, hi, def, &a);
    bool rb = ref_parse(eq + 1, lo, hi, def, &b);
    agree &= ra == rb && a == b;
    bad_direct += !ra;
  }
  ssize_t captured_n = capture_end();
  FUZZ_ASSERT(agree, "hm_config_parse_u64 disagrees with the reference");
  FUZZ_ASSERT(memcmp(&got, &want, sizeof got) == 0, "hm_config_load disagrees with the reference");
  if (captured_n >= 0)   /* one line per bad value or unknown name, from both calls */
    FUZZ_ASSERT(count_lines(captured_n) == warnings + bad_direct,
                "warning count disagrees with the reference");
  free(buf);
  return 0;
}
