/* stats.c — statistics, the reports and the self-check. They read shared state under the
 * owning modules' locks and allocate nothing (a report is formatted into stack buffers and
 * written with write(2)).
 *
 * Counts are always on and cost the fast paths one add per malloc (the slab's `allocs`) and
 * nothing per free: per class, frees = allocs - live, where live is the exact number of blocks
 * the program holds, which every tier keeps anyway (internal.h, "stats.c"). A slab's count is
 * written by its owner alone, plainly, and read here under the pool lock with relaxed atomic
 * loads (HM_STORE_RELAXED / HM_LOAD_RELAXED: relaxed atomic stores under TSan); a released slab's
 * count is folded into the pool's per-class total in the same lock hold that takes the slot out of
 * the walk, so nothing is lost or counted twice when threads exit. Every figure is a snapshot:
 * exact when no thread is inside malloc or free, and never negative (a free read before the
 * allocation it undoes is clamped).
 *
 * The peak (counted_peak_bytes) is sampled, not tracked (tracking it would cost the fast paths a
 * running byte count): the largest counted_live_bytes seen at a sampling point, which is every
 * hak_stats call (every report makes one) and, when the heap grows, one growth event in
 * max(1, SuperSlabs mapped / 4): a slab or a whole SuperSlab claimed from the pool, a large block
 * handed out. A sample walks every mapped SuperSlab, so that rate keeps its cost per growth event
 * constant (about 128 slot reads); it runs when the thread leaves its last lock. The peak is thus
 * a lower bound of the true one, off by at most what the program allocated since the last sample.
 *
 * Reports: at exit (HAKMEM_STATS=1), on a signal (HAKMEM_STATS_SIGNAL), and hak_stats_print. Without
 * HAKMEM_STATS_FILE they go to a copy of the descriptor 2 the program started with, taken at
 * start-up (at 100 or above, close-on-exec), so a program that closes or redirects its stderr
 * still gets its report where stderr pointed. The signal handler runs the report only when the
 * interrupted thread holds none of the allocator's locks (hm_tl_locks == 0): then every lock it
 * takes is held, if at all, by a thread that is running and lets go; otherwise it marks the report
 * due and the thread writes it as it leaves its last lock (hm_lock_drop). What the report calls
 * besides those locks is async-signal-safe in practice: open, write, close and getpid are, and
 * vsnprintf into a stack buffer with integer and string conversions takes no lock and allocates
 * nothing in glibc. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

#define ROW_MID HM_CLASSES          /* the row of medium blocks */
#define ROW_LARGE (HM_CLASSES + 1)  /* ... and of large ones */
#define ROWS (HM_CLASSES + 2)

typedef struct counts {
  uint64_t allocs[ROWS];   /* blocks handed out since start-up */
  uint64_t live[ROWS];     /* blocks the program holds now */
} counts_t;

static _Atomic uint64_t peak_bytes;   /* the most counted_live_bytes a sample saw */
static _Atomic uint64_t grow_events, next_sample;   /* growth events; the one that samples next */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* Deterministic fuzzing (docs/fuzzing.md): when the peak is sampled, and whether a sample raises
 * it, would depend on the inputs run before; each input starts from zero. */
void hm_stats_fuzz_reset(void) {
  atomic_store_explicit(&grow_events, 0, memory_order_relaxed);
  atomic_store_explicit(&next_sample, 0, memory_order_relaxed);
  atomic_store_explicit(&peak_bytes, 0, memory_order_relaxed);
}
#endif
static int stderr_copy = -1;          /* the starting fd 2, duplicated (HAKMEM_STATS or a signal) */
__thread uint8_t hm_tl_stats_due;

static void counts_read(counts_t *c) {
  memset(c, 0, sizeof *c);
  hm_pool_class_counts(c->allocs, c->live);
  uint64_t a, l;
  hm_zero_counts(&a, &l);   /* zero-size blocks of the strict levels: class 0 */
  c->allocs[0] += a;
  c->live[0] += l;
  hm_mid_counts(&c->allocs[ROW_MID], &c->live[ROW_MID]);
  hm_large_counts(&c->allocs[ROW_LARGE], &c->live[ROW_LARGE]);
}

static uint64_t frees_of(const counts_t *c, unsigned row) {
  return c->allocs[row] > c->live[row] ? c->allocs[row] - c->live[row] : 0;
}

static uint64_t live_bytes_of(const hak_stats_t *st) {
  return st->small_live_bytes + st->mid_live_bytes + st->large_live_bytes;
}

static void peak_sample(uint64_t now) {
  uint64_t peak = atomic_load_explicit(&peak_bytes, memory_order_relaxed);
  while (now > peak && !atomic_compare_exchange_weak_explicit(&peak_bytes, &peak, now,
                                                              memory_order_relaxed,
                                                              memory_order_relaxed)) {
  }
}

/* hak_stats without the memset, filling `c` too (the report's rows). */
static void stats_read(hak_stats_t *out, counts_t *c) {
  hm_mid_pool_stats(out);
  hm_large_stats(out);
  out->remote_frees = atomic_load_explicit(&hm_remote_free_count, memory_order_relaxed);
  out->slabs_adopted = atomic_load_explicit(&hm_adopt_count, memory_order_relaxed);
  out->mmap_calls = atomic_load_explicit(&hm_os_count.mmap, memory_order_relaxed);
  out->munmap_calls = atomic_load_explicit(&hm_os_count.munmap, memory_order_relaxed);
  out->mremap_calls = atomic_load_explicit(&hm_os_count.mremap, memory_order_relaxed);
  out->madvise_calls = atomic_load_explicit(&hm_os_count.madvise, memory_order_relaxed);
  out->mprotect_calls = atomic_load_explicit(&hm_os_count.mprotect, memory_order_relaxed);
  out->harden_level = (uint64_t)hm_harden_level;
  counts_read(c);
  for (unsigned r = 0; r < ROWS; r++) {
    out->counted_allocs += c->allocs[r];
    out->counted_frees += frees_of(c, r);
  }
  out->counted_live_bytes = live_bytes_of(out);
  peak_sample(out->counted_live_bytes);
  out->counted_peak_bytes = atomic_load_explicit(&peak_bytes, memory_order_relaxed);
}

HAK_API void hak_stats(hak_stats_t *out) {
  if (out == NULL) return;
  counts_t c;
  memset(out, 0, sizeof *out);
  stats_read(out, &c);
}

/* hak_check, or with `light` without its walks of whole tables (the registry's published leaves,
 * the zero-size chunks' slot maps): the fuzzers' check after every operation, with the full one
 * every few operations and at the end of each input (fuzz_helpers.h). */
HM_VALIDATOR static const char *check(bool light) {
#if HAK_DEBUG >= 1
  const char *why = NULL;
  if (!hm_registry_is_valid(&why, light)) return why;
  if (!hm_pool_is_valid(&why)) return why;
  if (!hm_large_is_valid(&why)) return why;
  if (!hm_mid_is_valid(&why)) return why;
  if (!hm_zero_is_valid(&why, light)) return why;
  if (!hm_heap_is_valid(hm_tl_self, &why)) return why;
  /* every registered chunk belongs to a SuperSlab or a large mapping (racy against other
   * threads mapping at the same moment: callers check when quiescent) */
  if (hm_registry_count() != hm_pool_mapped() + hm_large_chunks() + hm_zero_chunks(NULL))
    return "registry: count disagrees with the mapped SuperSlabs, large allocations and zero-size chunks";
  return NULL;
#else
  (void)light;
  return NULL;
#endif
}

HM_VALIDATOR HAK_API const char *hak_check(void) { return check(false); }
HM_VALIDATOR const char *hm_check_light(void) { return check(true); }

HAK_API int hak_debug_level(void) { return HAK_DEBUG; }

/* ---- the report -------------------------------------------------------------------------------- */
typedef struct out { int fd; } out_t;

static void say(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(out_t *o, const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);   /* integer formats only: no allocation */
  va_end(ap);
  if (n < 0) return;
  size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
  for (size_t done = 0; done < len;) {
    ssize_t w = write(o->fd, line + done, len - done);
    if (w <= 0) return;
    done += (size_t)w;
  }
}

#define U(x) ((unsigned long long)(x))

static void report(int fd) {
  out_t o = {fd};
  hak_stats_t st;
  counts_t c;
  memset(&st, 0, sizeof st);
  stats_read(&st, &c);
  say(&o, "hakmem statistics (pid %d, hardening %s)\n", (int)getpid(), hm_harden_names[hm_harden_level]);
  say(&o, "  %-7s %8s %14s %14s %12s\n", "class", "size", "allocs", "frees", "live");
  for (unsigned r = 0; r < ROWS; r++) {
    uint64_t a = c.allocs[r], f = frees_of(&c, r), l = c.live[r];
    if (a == 0 && l == 0) continue;
    if (r < HM_CLASSES)
      say(&o, "  %-7u %8u %14llu %14llu %12llu\n", r, hm_class_size[r], U(a), U(f), U(l));
    else if (r == ROW_MID)
      say(&o, "  %-7s %8s %14llu %14llu %12llu\n", "medium", "<=512K", U(a), U(f), U(l));
    else
      say(&o, "  %-7s %8s %14llu %14llu %12llu\n", "large", ">512K", U(a), U(f), U(l));
  }
  say(&o, "  live bytes %llu (small %llu, medium %llu, large %llu)", U(st.counted_live_bytes),
      U(st.small_live_bytes), U(st.mid_live_bytes), U(st.large_live_bytes));
  say(&o, ", peak %llu", U(st.counted_peak_bytes));
  say(&o, "\n  SuperSlabs: %llu mapped (%llu in use, %llu of them medium; %llu cached = %llu MiB), "
          "%llu slabs active\n",
      U(st.ss_mapped), U(st.ss_in_use), U(st.mid_superslabs), U(st.ss_cached),
      U(st.ss_cached_bytes >> 20), U(st.slabs_active));
  say(&o, "  SuperSlabs ever mapped %llu, unmapped %llu, prewarmed %llu\n", U(st.ss_map_calls),
      U(st.ss_unmap_calls), U(st.prewarmed));
  say(&o, "  cache: %llu hits, %llu misses; evictions %llu by count, %llu by bytes, %llu by TTL, "
          "%llu by trim; limits %llu SuperSlabs, %llu MiB, %llu s\n",
      U(st.cache_hits), U(st.cache_misses), U(st.evict_count), U(st.evict_bytes), U(st.evict_ttl),
      U(st.evict_trim), U(st.limit_max_cached), U(st.limit_max_bytes >> 20), U(st.limit_ttl_sec));
  say(&o, "  purge: %llu calls, %llu MiB given back (%llu empty slots of SuperSlabs in use); purged "
          "now %llu of %llu cached SuperSlabs, %llu of %llu cached large mappings; delay %llu ms\n",
      U(st.purge_calls), U(st.purged_bytes >> 20), U(st.slots_purged), U(st.ss_cached_purged),
      U(st.ss_cached), U(st.large_cached_purged), U(st.large_cached), U(st.purge_delay_ms));
  say(&o, "  free and resident: %llu KiB of SuperSlabs, %llu KiB of medium blocks, %llu KiB of "
          "cached large mappings; retain bound %llu MiB each\n",
      U(st.ss_free_resident_bytes >> 10), U(st.mid_free_resident_bytes >> 10),
      U(st.large_free_resident_bytes >> 10),
      U(st.purge_retain_bytes >> 20));
  say(&o, "  remote frees %llu, slabs adopted %llu\n", U(st.remote_frees), U(st.slabs_adopted));
  say(&o, "  system calls: mmap %llu, munmap %llu, mremap %llu, madvise %llu, mprotect %llu\n",
      U(st.mmap_calls), U(st.munmap_calls), U(st.mremap_calls), U(st.madvise_calls),
      U(st.mprotect_calls));
}

HAK_API void hak_stats_print(FILE *f) {
  if (f == NULL) f = stderr;
  fflush(f);
  report(fileno(f));
}

/* The report to the stats file (appended) or to the starting stderr. errno is kept: a deferred
 * report runs inside an allocation that may be about to return ENOMEM. */
static void report_to_dest(void) {
  int saved = errno;
  int fd = stderr_copy >= 0 ? stderr_copy : STDERR_FILENO;
  bool opened = false;
  if (hm_cfg.stats_file != NULL) {
    int f = open(hm_cfg.stats_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (f >= 0) {
      fd = f;
      opened = true;
    } else {
      hm_write_err("hakmem: HAKMEM_STATS_FILE cannot be opened; the report goes to stderr\n");
    }
  }
  report(fd);
  if (opened) close(fd);
  errno = saved;
}

/* Called under any lock (a relaxed add: growth events take the pool or large-tier lock anyway). */
void hm_stats_grew(void) {
  uint64_t n = atomic_fetch_add_explicit(&grow_events, 1, memory_order_relaxed);
  if (n >= atomic_load_explicit(&next_sample, memory_order_relaxed))
    __atomic_fetch_or(&hm_tl_stats_due, HM_DUE_SAMPLE, __ATOMIC_RELAXED);
}

static void sample(void) {
  hak_stats_t st;
  memset(&st, 0, sizeof st);
  hm_mid_pool_stats(&st);
  hm_large_stats(&st);
  uint64_t every = st.ss_mapped / 4 > 1 ? st.ss_mapped / 4 : 1;
  atomic_store_explicit(&next_sample, atomic_load_explicit(&grow_events, memory_order_relaxed) + every,
                        memory_order_relaxed);
  peak_sample(live_bytes_of(&st));
}

void hm_stats_due(void) {
  uint8_t due = __atomic_exchange_n(&hm_tl_stats_due, 0, __ATOMIC_RELAXED);
  if (atomic_load_explicit(&hm_init_state, memory_order_acquire) != 2) return;
  if (due & HM_DUE_REPORT) report_to_dest();   /* it samples too */
  else if (due & HM_DUE_SAMPLE) sample();
}

static void on_signal(int sig) {
  (void)sig;
  if (hm_tl_locks != 0) {
    __atomic_fetch_or(&hm_tl_stats_due, HM_DUE_REPORT, __ATOMIC_RELAXED);   /* written on leaving */
    return;
  }
  report_to_dest();
}

void hm_stats_init(void) {
  if ((hm_cfg.stats || hm_cfg.stats_signal != 0) && hm_cfg.stats_file == NULL)
    stderr_copy = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 100);   /* -1: fd 2 is closed already */
  if (hm_cfg.stats) atexit(report_to_dest);
  if (hm_cfg.stats_signal != 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(hm_cfg.stats_signal, &sa, NULL) != 0)
      hm_write_err("hakmem: HAKMEM_STATS_SIGNAL: the handler cannot be installed; no statistics signal\n");
  }
}
