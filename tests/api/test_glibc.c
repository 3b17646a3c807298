/* glibc's internal names and extensions as libhakmem.so serves them: __libc_malloc & co. hand out
 * hakmem blocks (free() takes them), mallinfo/mallinfo2 follow hak_stats with the mapping in
 * README.md, malloc_stats prints hakmem's report, malloc_info writes glibc's XML shape, mallopt
 * accepts the common parameters and rejects unknown ones. libc face only (linked with
 * libhakmem.so): the hak_* API has no such names. */
#define _GNU_SOURCE
#include "hak_test.h"

#include <fcntl.h>

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void __libc_free(void *p);
void *__libc_memalign(size_t align, size_t size);
void *__libc_valloc(size_t size);
void *__libc_pvalloc(size_t size);

#define PAGE ((size_t)sysconf(_SC_PAGESIZE))

/* Blocks from the internal names are hakmem's: the live count moves, free() and hak_free take
 * them (glibc's blocks would abort as invalid frees). */
static void test_libc_names(void) {
  uint64_t live0 = st().small_live_blocks;
  char *a = __libc_malloc(100);
  CHECK(a != NULL && st().small_live_blocks == live0 + 1, "__libc_malloc(100): live %" PRIu64
        " -> %" PRIu64, live0, st().small_live_blocks);
  memset(a, 'a', 100);
  a = __libc_realloc(a, 5000);
  CHECK(a != NULL && a[99] == 'a' && hak_malloc_usable_size(a) >= 5000, "__libc_realloc");
  free(a);
  int *z = __libc_calloc(100, sizeof(int));
  CHECK(z != NULL && hak_malloc_usable_size(z) >= 400, "__libc_calloc");
  for (int i = 0; i < 100; i++) CHECK(z[i] == 0, "__libc_calloc: z[%d] = %d", i, z[i]);
  hak_free(z);
  void *m = __libc_memalign(256, 1000);
  CHECK(m != NULL && (uintptr_t)m % 256 == 0, "__libc_memalign(256, 1000) = %p", m);
  free(m);
  void *v = __libc_valloc(100), *pv = __libc_pvalloc(100);
  CHECK(v != NULL && (uintptr_t)v % PAGE == 0, "__libc_valloc = %p", v);
  CHECK(pv != NULL && (uintptr_t)pv % PAGE == 0 && hak_malloc_usable_size(pv) >= PAGE,
        "__libc_pvalloc = %p", pv);
  free(v);
  __libc_free(pv);
  char *b = malloc(64);
  __libc_free(b);
  __libc_free(NULL);
  CHECK(st().small_live_blocks == live0, "live %" PRIu64 " after freeing all, %" PRIu64 " before",
        st().small_live_blocks, live0);
  CHECK(hak_check() == NULL, "hak_check: %s", hak_check());
}

static void check_mallinfo2(const struct mallinfo2 *m, const hak_stats_t *s, const char *when) {
  CHECK(m->arena == s->ss_mapped * ((size_t)2 << 20), "%s: arena %zu, ss_mapped %" PRIu64, when,
        m->arena, s->ss_mapped);
  CHECK(m->uordblks == s->small_live_bytes + s->mid_live_bytes, "%s: uordblks %zu", when,
        m->uordblks);
  CHECK(m->fordblks == m->arena - m->uordblks, "%s: fordblks %zu", when, m->fordblks);
  CHECK(m->hblks == s->large_live && m->hblkhd == s->large_live_bytes, "%s: hblks %zu hblkhd %zu,"
        " large_live %" PRIu64, when, m->hblks, m->hblkhd, s->large_live);
  CHECK(m->ordblks == s->slabs_active + s->mid_superslabs, "%s: ordblks %zu", when, m->ordblks);
  CHECK(m->keepcost == s->ss_cached_bytes + s->large_cached_bytes, "%s: keepcost %zu", when,
        m->keepcost);
  CHECK(m->smblks == 0 && m->usmblks == 0 && m->fsmblks == 0, "%s: fastbin fields not 0", when);
}

static void test_mallinfo(void) {
  struct mallinfo2 m0 = mallinfo2();
  hak_stats_t s0 = st();
  check_mallinfo2(&m0, &s0, "start");
  void *big = malloc(4u << 20);
  void *small[50];
  for (int i = 0; i < 50; i++) small[i] = malloc(200);
  struct mallinfo2 m1 = mallinfo2();
  hak_stats_t s1 = st();
  check_mallinfo2(&m1, &s1, "after 4 MiB + 50 x 200 B");
  CHECK(m1.hblks == m0.hblks + 1 && m1.hblkhd >= m0.hblkhd + (4u << 20), "hblks %zu -> %zu, "
        "hblkhd %zu -> %zu", m0.hblks, m1.hblks, m0.hblkhd, m1.hblkhd);
  CHECK(m1.uordblks >= m0.uordblks + 50 * 200, "uordblks %zu -> %zu", m0.uordblks, m1.uordblks);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"   /* mallinfo is the one under test */
  struct mallinfo m = mallinfo();
#pragma GCC diagnostic pop
  CHECK((size_t)m.arena == m1.arena && (size_t)m.uordblks == m1.uordblks &&
        (size_t)m.hblks == m1.hblks && (size_t)m.hblkhd == m1.hblkhd &&
        (size_t)m.fordblks == m1.fordblks, "mallinfo disagrees with mallinfo2 (arena %d / %zu)",
        m.arena, m1.arena);
  free(big);
  for (int i = 0; i < 50; i++) free(small[i]);
  struct mallinfo2 m2 = mallinfo2();
  CHECK(m2.hblks == m0.hblks && m2.uordblks == m0.uordblks, "after the frees: hblks %zu, "
        "uordblks %zu (at start %zu, %zu)", m2.hblks, m2.uordblks, m0.hblks, m0.uordblks);
}

/* What fn writes to descriptor `fd` (stdout or stderr), through a temporary file. */
static size_t capture(int fd, void (*fn)(void), char *buf, size_t cap) {
  char path[] = "/tmp/hak_glibc_XXXXXX";
  int tmp = mkstemp(path);
  CHECK(tmp >= 0, "mkstemp");
  unlink(path);
  fflush(NULL);
  int saved = dup(fd);
  dup2(tmp, fd);
  fn();
  fflush(NULL);
  dup2(saved, fd);
  close(saved);
  ssize_t n = pread(tmp, buf, cap - 1, 0);
  close(tmp);
  CHECK(n >= 0, "pread");
  buf[n] = '\0';
  return (size_t)n;
}

static void call_malloc_stats(void) { malloc_stats(); }
static void call_malloc_info(void) { CHECK(malloc_info(0, stdout) == 0, "malloc_info(0) failed"); }

static char out[16384];

static void test_malloc_stats(void) {
  capture(STDERR_FILENO, call_malloc_stats, out, sizeof out);
  CHECK(strncmp(out, "hakmem statistics (pid ", 23) == 0, "malloc_stats wrote \"%.80s\"", out);
  CHECK(strstr(out, "SuperSlabs:") != NULL, "malloc_stats: no SuperSlab line in \"%s\"", out);
}

static size_t xml_size(const char *doc, const char *tag) {
  const char *p = strstr(doc, tag);
  CHECK(p != NULL, "malloc_info: no %s in\n%s", tag, doc);
  p = strstr(p, "size=\"");
  CHECK(p != NULL, "malloc_info: %s has no size", tag);
  return (size_t)strtoull(p + 6, NULL, 10);
}

static void test_malloc_info(void) {
  void *big = malloc(3u << 20);
  capture(STDOUT_FILENO, call_malloc_info, out, sizeof out);
  struct mallinfo2 m = mallinfo2();
  CHECK(strncmp(out, "<malloc version=\"1\">\n<heap nr=\"0\">\n", 35) == 0, "malloc_info starts "
        "\"%.60s\"", out);
  size_t len = strlen(out);
  CHECK(len > 10 && strcmp(out + len - 10, "</malloc>\n") == 0, "malloc_info ends \"%s\"",
        len > 40 ? out + len - 40 : out);
  CHECK(strstr(out, "</heap>\n") != NULL && strstr(out, "<sizes>\n</sizes>\n") != NULL,
        "malloc_info: no heap or sizes element\n%s", out);
  const char *tail = strstr(out, "</heap>\n");
  char want[128];
  snprintf(want, sizeof want, "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>", m.hblks,
           m.hblkhd);
  CHECK(strstr(tail, want) != NULL, "malloc_info: no \"%s\" in\n%s", want, out);
  CHECK(xml_size(out, "<system type=\"current\"") == m.arena, "heap's system current");
  CHECK(xml_size(tail, "<system type=\"current\"") == m.arena + m.hblkhd, "total system current");
  CHECK(xml_size(tail, "<total type=\"rest\"") == m.fordblks, "total rest size");
  free(big);
  errno = 0;
  CHECK(malloc_info(1, stdout) == -1 && errno == EINVAL, "malloc_info(1) did not fail with EINVAL");
}

static void test_mallopt(void) {
  const int ignored[] = {M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX, M_ARENA_TEST,
                         M_PERTURB, M_CHECK_ACTION, M_MXFAST};
  hak_limits_t before, after;
  hak_ss_get_limits(&before);
  for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
    CHECK(mallopt(ignored[i], 64) == 1, "mallopt(%d, 64) != 1", ignored[i]);
  hak_ss_get_limits(&after);
  CHECK(memcmp(&before, &after, sizeof before) == 0, "an ignored mallopt changed the limits");
  CHECK(mallopt(M_TRIM_THRESHOLD, 8 << 20) == 1, "mallopt(M_TRIM_THRESHOLD, 8 MiB) != 1");
  hak_ss_get_limits(&after);
  CHECK(after.max_memory_mb == 8 && after.max_cached == before.max_cached &&
        after.ttl_sec == before.ttl_sec, "M_TRIM_THRESHOLD 8 MiB: max_memory_mb %" PRIu64,
        after.max_memory_mb);
  CHECK(mallopt(M_TRIM_THRESHOLD, -1) == 0, "mallopt(M_TRIM_THRESHOLD, -1) accepted");
  hak_ss_set_limits(&before);
  CHECK(mallopt(12345, 1) == 0, "mallopt(12345, 1): unknown parameter accepted");
  CHECK(mallopt(0, 1) == 0, "mallopt(0, 1): unknown parameter accepted");
}

/* reallocarray(p, n, 0) and (p, 0, n) free p and return NULL, as realloc(p, 0) does. */
static void test_reallocarray_zero(void) {
  for (int k = 0; k < 2; k++) {
    void *p = malloc(40);
    CHECK(p != NULL);
    void *q = k == 0 ? reallocarray(p, 5, 0) : reallocarray(p, 0, 5);
    CHECK(q == NULL, "reallocarray(p, %d, %d) = %p, expected NULL", k ? 0 : 5, k ? 5 : 0, q);
    free(q);
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  test_reallocarray_zero();
  test_libc_names();
  test_mallinfo();
  test_malloc_stats();
  test_malloc_info();
  test_mallopt();
  CHECK(hak_check() == NULL, "hak_check: %s", hak_check());
  printf("glibc_libc: all checks passed\n");
  return 0;
}
