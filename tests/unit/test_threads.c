/* Cross-thread accounting: remote frees are counted, and no longer live, at once; once the owner
 * takes them the slabs empty and go back; slabs of an exited thread go back the moment the thread
 * freeing into them frees their last block (nobody adopts them for that), and after everything
 * is freed every SuperSlab is back in the cache. */
#include <pthread.h>
#include "hak_test.h"
#include "internal.h"

enum { N = 50000 };
static void *blocks[N];
static pthread_barrier_t bar;


static void *alloc_then_wait(void *arg) {
  for (int i = 0; i < N; i++) {
    blocks[i] = hak_malloc(16 + (size_t)(i % 200));
    CHECK(blocks[i] != NULL);
  }
  pthread_barrier_wait(&bar);   /* main frees them all (remote frees) */
  pthread_barrier_wait(&bar);
  hak_thread_flush();           /* drain: the slabs empty and go back */
  CHECK(hak_check() == NULL, "%s", hak_check());
  pthread_barrier_wait(&bar);
  return arg;
}

static void *alloc_then_exit(void *arg) {
  for (int i = 0; i < N; i++) blocks[i] = hak_malloc(16 + (size_t)(i % 3000));
  return arg;   /* exits holding every block: its slabs are abandoned */
}

int main(void) {
  pthread_t t;
  /* remote frees while the owner lives */
  pthread_barrier_init(&bar, NULL, 2);
  hak_stats_t s0 = st();
  pthread_create(&t, NULL, alloc_then_wait, NULL);
  pthread_barrier_wait(&bar);
  for (int i = 0; i < N; i++) hak_free(blocks[i]);
  hak_stats_t s1 = st();
  CHECK(s1.remote_frees == s0.remote_frees + N, "remote %lu", (unsigned long)(s1.remote_frees - s0.remote_frees));
  CHECK(s1.small_live_blocks == s0.small_live_blocks, "remote frees not yet taken by the owner counted "
        "live: %lu more", (unsigned long)(s1.small_live_blocks - s0.small_live_blocks));
  pthread_barrier_wait(&bar);
  pthread_barrier_wait(&bar);
  hak_stats_t s2 = st();
  CHECK(s2.small_live_blocks == s0.small_live_blocks, "live %lu", (unsigned long)s2.small_live_blocks);
  pthread_join(t, NULL);
  hak_thread_flush();
  CHECK(st().ss_in_use == 0, "in use %lu", (unsigned long)st().ss_in_use);

  /* adoption: the owner exits holding blocks; we free them */
  pthread_create(&t, NULL, alloc_then_exit, NULL);
  pthread_join(t, NULL);
  hak_stats_t s3 = st();
  CHECK(s3.small_live_blocks == N && s3.ss_in_use > 0);
  CHECK(hak_check() == NULL, "%s", hak_check());
  for (int i = 0; i < N; i++) hak_free(blocks[i]);
  hak_stats_t s4 = st();
  CHECK(s4.slabs_adopted == s3.slabs_adopted, "a thread that only frees adopted %lu slabs",
        (unsigned long)(s4.slabs_adopted - s3.slabs_adopted));
  CHECK(s4.small_live_blocks == 0 && s4.slabs_active == 0, "live %lu, slabs active %lu before any flush",
        (unsigned long)s4.small_live_blocks, (unsigned long)s4.slabs_active);
  hak_thread_flush();
  hak_stats_t s5 = st();
  CHECK(s5.ss_in_use == 0 && s5.slabs_active == 0, "in use %lu slabs %lu", (unsigned long)s5.ss_in_use,
        (unsigned long)s5.slabs_active);
  CHECK(hak_check() == NULL, "%s", hak_check());

  /* an exited thread's slabs are reused by the next thread that needs the class */
  pthread_create(&t, NULL, alloc_then_exit, NULL);
  pthread_join(t, NULL);
  hak_stats_t s6 = st();
  for (int i = 0; i < N; i++) blocks[i] = hak_realloc(blocks[i], 16 + (size_t)(i % 3000) + 1);
  for (int i = 0; i < N; i++) hak_free(blocks[i]);
  hak_thread_flush();
  hak_stats_t s7 = st();
  CHECK(s7.small_live_blocks == 0 && s7.ss_in_use == 0 && s7.slabs_adopted > s6.slabs_adopted);
  CHECK(hak_check() == NULL, "%s", hak_check());
  printf("threads: ok (%lu remote frees, %lu slabs adopted)\n", (unsigned long)s7.remote_frees,
         (unsigned long)s7.slabs_adopted);
  return 0;
}
