/* bench_common.h — helpers shared by the benchmarks: a deterministic generator, a clock, argument
 * parsing, RSS probes, and the tail of hakmem counters printed when libhakmem is loaded.
 *
 * Every benchmark uses plain malloc/free (the allocator is chosen with LD_PRELOAD), draws all its
 * decisions from xorshift32 with a fixed seed, and prints exactly one line on stdout:
 *   bench=NAME key=value ... seconds=F ops_per_sec=F checksum=N [hakmem counters]
 * The checksum depends only on the arguments, never on the allocator or on thread timing, so
 * bench/run_all.sh can require the same checksum from every allocator. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <hakmem.h>

static inline uint32_t bench_xorshift32(uint32_t *x) {
  uint32_t v = *x;
  v ^= v << 13;
  v ^= v >> 17;
  v ^= v << 5;
  *x = v;
  return v;
}

/* a non-zero xorshift32 state derived from a seed and a stream number */
static inline uint32_t bench_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + stream * 0xBF58476D1CE4E5B9ull + 1;
  z ^= z >> 31;
  z *= 0x94D049BB133111EBull;
  z ^= z >> 29;
  uint32_t v = (uint32_t)z ^ (uint32_t)(z >> 32);
  return v ? v : 0x2545F491u;
}

static inline double bench_now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* argv[i] as an integer in [lo, hi], or `def` when absent; exits with status 2 on a bad value */
static inline unsigned long bench_arg(int argc, char **argv, int i, const char *what, unsigned long def,
                                      unsigned long lo, unsigned long hi) {
  if (argc <= i) return def;
  char *end;
  errno = 0;
  unsigned long v = strtoul(argv[i], &end, 0);
  if (errno || *end || argv[i][0] == '-' || v < lo || v > hi) {
    fprintf(stderr, "%s: bad %s '%s' (need an integer in [%lu, %lu])\n", argv[0], what, argv[i], lo, hi);
    exit(2);
  }
  return v;
}

static inline void bench_die(const char *bench, const char *what) {
  fprintf(stderr, "bench_%s: %s\n", bench, what);
  exit(1);
}

/* resident set now, in KiB (/proc/self/statm, second field) */
static inline uint64_t bench_rss_now_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    fclose(f);
  }
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
}

/* peak resident set of the process so far, in KiB */
static inline uint64_t bench_rss_peak_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)ru.ru_maxrss;
}

/* Scratch arrays of the benchmark itself come straight from mmap, so that they neither go through
 * the allocator under test nor depend on it. */
static inline void *bench_map(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  return p;
}

/* " key=value" counters of hakmem, when it is the allocator (hak_stats found by dlsym) */
static inline void bench_print_hakmem(void) {
  void (*stats)(hak_stats_t *) = (void (*)(hak_stats_t *))dlsym(RTLD_DEFAULT, "hak_stats");
  if (!stats) return;
  hak_stats_t st;
  stats(&st);
  printf(" ss_map_calls=%" PRIu64 " cache_hits=%" PRIu64 " mmap_calls=%" PRIu64 " munmap_calls=%" PRIu64
         " ss_cached=%" PRIu64 " remote_frees=%" PRIu64 " slabs_adopted=%" PRIu64,
         st.ss_map_calls, st.cache_hits, st.mmap_calls, st.munmap_calls, st.ss_cached, st.remote_frees,
         st.slabs_adopted);
}

/* the tag written into a block of n bytes (first 4 bytes when n >= 4, else the first byte) and checked
 * before it is freed: catches an allocator that hands out overlapping blocks */
static inline uint32_t bench_tag(size_t n, uint32_t r) { return (uint32_t)n * 0x9E3779B1u ^ r; }

static inline void bench_fill(unsigned char *p, size_t n, uint32_t tag) {
  if (n >= 4) memcpy(p, &tag, 4);
  else p[0] = (unsigned char)tag;
  if (n >= 5) p[n - 1] = (unsigned char)(tag >> 8);
}

static inline int bench_check(const unsigned char *p, size_t n, uint32_t tag) {
  if (n >= 4) {
    uint32_t t;
    memcpy(&t, p, 4);
    if (t != tag) return 0;
  } else if (p[0] != (unsigned char)tag) {
    return 0;
  }
  return n < 5 || p[n - 1] == (unsigned char)(tag >> 8);
}

#endif
