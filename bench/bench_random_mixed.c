/* bench_random_mixed: the seed's random mixed malloc/free benchmark.
 *
 *   bench_random_mixed [cycles [slots [seed]]]        defaults: 100000 256 42
 *
 * xorshift32 seeded with `seed`; each cycle draws r, picks slot = r % slots, frees the slot's block if
 * it is occupied, else mallocs 16 + (r & 0x3FF) bytes, writes its first and last byte and stores it.
 * The loop and the final drain are timed (CLOCK_MONOTONIC); ops/s = cycles / seconds. Plain
 * malloc/free: the allocator is whatever the process links or LD_PRELOADs. Output, one line:
 *   bench=random_mixed cycles=N slots=N seed=N seconds=F ops_per_sec=F checksum=N
 * and, when hakmem is loaded (hak_stats found by dlsym), on the same line:
 *   ss_map_calls=N cache_hits=N mmap_calls=N ss_cached=N */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <hakmem.h>

static uint32_t xorshift32(uint32_t *x) {
  uint32_t v = *x;
  v ^= v << 13;
  v ^= v >> 17;
  v ^= v << 5;
  *x = v;
  return v;
}

static unsigned long parse_arg(const char *s, const char *what, unsigned long lo) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 0);
  if (errno || *end || v < lo) {
    fprintf(stderr, "bench_random_mixed: bad %s '%s' (need an integer >= %lu)\n", what, s, lo);
    exit(2);
  }
  return v;
}

static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  unsigned long cycles = argc > 1 ? parse_arg(argv[1], "cycles", 1) : 100000;
  unsigned long slots = argc > 2 ? parse_arg(argv[2], "slots", 1) : 256;
  unsigned long seed = argc > 3 ? parse_arg(argv[3], "seed", 0) : 42;
  if (slots > (1ul << 28) || seed > UINT32_MAX) {
    fprintf(stderr, "bench_random_mixed: slots <= 2^28 and seed < 2^32\n");
    return 2;
  }
  unsigned char **slot = calloc(slots, sizeof *slot);
  if (!slot) {
    perror("calloc(slots)");
    return 1;
  }
  uint32_t x = (uint32_t)seed ? (uint32_t)seed : 1;   /* xorshift32 has no zero state */
  uint64_t checksum = 0;

  double t0 = now_sec();
  for (unsigned long c = 0; c < cycles; c++) {
    uint32_t r = xorshift32(&x);
    unsigned char **s = &slot[r % slots];
    if (*s) {
      checksum += (*s)[0];
      free(*s);
      *s = NULL;
    } else {
      size_t n = 16 + (r & 0x3FF);
      unsigned char *p = malloc(n);
      if (!p) {
        fprintf(stderr, "bench_random_mixed: malloc(%zu) failed at cycle %lu\n", n, c);
        return 1;
      }
      p[0] = (unsigned char)r;
      p[n - 1] = (unsigned char)(r >> 8);
      checksum = checksum * 31 + (r >> 10);
      *s = p;
    }
  }
  for (unsigned long i = 0; i < slots; i++) {
    if (slot[i]) {
      checksum += slot[i][0];
      free(slot[i]);
      slot[i] = NULL;
    }
  }
  double secs = now_sec() - t0;
  free(slot);

  printf("bench=random_mixed cycles=%lu slots=%lu seed=%lu seconds=%.6f ops_per_sec=%.0f checksum=%" PRIu64,
         cycles, slots, seed, secs, secs > 0 ? (double)cycles / secs : 0.0, checksum);
  void (*stats)(hak_stats_t *) = (void (*)(hak_stats_t *))dlsym(RTLD_DEFAULT, "hak_stats");
  if (stats) {
    hak_stats_t st;
    stats(&st);
    printf(" ss_map_calls=%" PRIu64 " cache_hits=%" PRIu64 " mmap_calls=%" PRIu64 " ss_cached=%" PRIu64,
           st.ss_map_calls, st.cache_hits, st.mmap_calls, st.ss_cached);
  }
  putchar('\n');
  return 0;
}
