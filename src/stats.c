/* stats.c — statistics, the exit report and the self-check. They read shared state under the
 * owning modules' locks and allocate nothing (the report is formatted into stack buffers and
 * written with write(2)). Per-class counts exist only while HAKMEM_STATS=1, which sends small
 * blocks through the slow paths: the fast paths carry no counter. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

static _Atomic uint64_t class_allocs[HM_CLASSES + 2], class_frees[HM_CLASSES + 2];  /* + mid, large */
static _Atomic uint64_t live_bytes, peak_bytes;

static void count_add(size_t bytes) {
  uint64_t now = atomic_fetch_add_explicit(&live_bytes, bytes, memory_order_relaxed) + bytes;
  uint64_t peak = atomic_load_explicit(&peak_bytes, memory_order_relaxed);
  while (now > peak && !atomic_compare_exchange_weak_explicit(&peak_bytes, &peak, now,
                                                              memory_order_relaxed,
                                                              memory_order_relaxed)) {
  }
}

void hm_count_alloc(unsigned cls, size_t bytes) {
  atomic_fetch_add_explicit(&class_allocs[cls], 1, memory_order_relaxed);
  count_add(bytes);
}

/* A block resized in place or moved by mremap: its usable bytes change, the counts do not. */
void hm_count_resize(size_t old_bytes, size_t new_bytes) {
  if (new_bytes >= old_bytes) {
    count_add(new_bytes - old_bytes);
  } else {
    atomic_fetch_sub_explicit(&live_bytes, old_bytes - new_bytes, memory_order_relaxed);
  }
}

void hm_count_free(unsigned cls, size_t bytes) {
  atomic_fetch_add_explicit(&class_frees[cls], 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&live_bytes, bytes, memory_order_relaxed);
}

HAK_API void hak_stats(hak_stats_t *out) {
  if (out == NULL) return;
  memset(out, 0, sizeof *out);
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
  for (unsigned c = 0; c <= HM_COUNT_LARGE; c++) {
    out->counted_allocs += atomic_load_explicit(&class_allocs[c], memory_order_relaxed);
    out->counted_frees += atomic_load_explicit(&class_frees[c], memory_order_relaxed);
  }
  out->counted_live_bytes = atomic_load_explicit(&live_bytes, memory_order_relaxed);
  out->counted_peak_bytes = atomic_load_explicit(&peak_bytes, memory_order_relaxed);
}

HM_VALIDATOR HAK_API const char *hak_check(void) {
#if HAK_DEBUG >= 1
  const char *why = NULL;
  if (!hm_registry_is_valid(&why)) return why;
  if (!hm_pool_is_valid(&why)) return why;
  if (!hm_large_is_valid(&why)) return why;
  if (!hm_mid_is_valid(&why)) return why;
  if (!hm_zero_is_valid(&why)) return why;
  if (!hm_heap_is_valid(hm_tl_self, &why)) return why;
  /* every registered chunk belongs to a SuperSlab or a large mapping (racy against other
   * threads mapping at the same moment: callers check when quiescent) */
  if (hm_registry_count() != hm_pool_mapped() + hm_large_chunks() + hm_zero_chunks(NULL))
    return "registry: count disagrees with the mapped SuperSlabs, large allocations and zero-size chunks";
  return NULL;
#else
  return NULL;
#endif
}

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
  hak_stats(&st);
  uint64_t live[HM_CLASSES] = {0};
  hm_pool_class_live(live);
  bool counted = (hm_mit & HM_MIT_COUNT) != 0;
  say(&o, "hakmem statistics (pid %d, hardening %s%s)\n", (int)getpid(),
      hm_harden_names[hm_harden_level], counted ? "" : "; per-class counts need HAKMEM_STATS=1");
  say(&o, "  %-7s %8s %14s %14s %12s\n", "class", "size", "allocs", "frees", "live");
  for (unsigned c = 0; c <= HM_COUNT_LARGE; c++) {
    uint64_t a = atomic_load_explicit(&class_allocs[c], memory_order_relaxed);
    uint64_t f = atomic_load_explicit(&class_frees[c], memory_order_relaxed);
    uint64_t l = c < HM_CLASSES ? live[c] : c == HM_COUNT_MID ? st.mid_live : st.large_live;
    if (a == 0 && l == 0) continue;
    if (c < HM_CLASSES)
      say(&o, "  %-7u %8u %14llu %14llu %12llu\n", c, hm_class_size[c], U(a), U(f), U(l));
    else if (c == HM_COUNT_MID)
      say(&o, "  %-7s %8s %14llu %14llu %12llu\n", "medium", "<=512K", U(a), U(f), U(l));
    else
      say(&o, "  %-7s %8s %14llu %14llu %12llu\n", "large", ">512K", U(a), U(f), U(l));
  }
  say(&o, "  live bytes %llu (small %llu, medium %llu, large %llu)",
      U(st.small_live_bytes + st.mid_live_bytes + st.large_live_bytes), U(st.small_live_bytes),
      U(st.mid_live_bytes), U(st.large_live_bytes));
  if (counted) say(&o, ", peak %llu", U(st.counted_peak_bytes));
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

static void report_at_exit(void) {
  int fd = STDERR_FILENO;
  if (hm_cfg.stats_file != NULL) {
    fd = open(hm_cfg.stats_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      hm_write_err("hakmem: HAKMEM_STATS_FILE cannot be opened; the report goes to stderr\n");
      fd = STDERR_FILENO;
    }
  }
  report(fd);
  if (fd != STDERR_FILENO) close(fd);
}

void hm_stats_init(void) {
  if (hm_cfg.stats) atexit(report_at_exit);
}
