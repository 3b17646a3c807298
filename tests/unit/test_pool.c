/* The SuperSlab pool and its LRU cache, through the statistics: a churn workload returns every
 * SuperSlab to the cache and reuses it (exact accounting); the count, memory and TTL limits evict
 * oldest first; prewarm raises the limits to hold what it mapped and is exempt from the TTL; the
 * cache is not popped while the bypass flag is set; trim empties the cache. */
#include "hak_test.h"
#include "internal.h"


enum { NBLK = 300000 };   /* 300k x 64 B = 18 MiB of blocks: about ten SuperSlabs */
static void *blk[NBLK];

static void fill(size_t size) {
  for (int i = 0; i < NBLK; i++) {
    blk[i] = hak_malloc(size);
    CHECK(blk[i] != NULL);
    memset(blk[i], i, size);
  }
}
static void drain(void) {
  for (int i = 0; i < NBLK; i++) hak_free(blk[i]);
}

int main(void) {
  hak_limits_t def;
  hak_ss_get_limits(&def);
  CHECK(def.max_cached == 256 && def.max_memory_mb == 512 && def.ttl_sec == 60,
        "defaults %lu %lu %lu", (unsigned long)def.max_cached, (unsigned long)def.max_memory_mb,
        (unsigned long)def.ttl_sec);

  /* 1. churn: fill, free all, flush -> every SuperSlab back in the cache, then reused */
  hak_stats_t s0 = st();
  fill(64);
  hak_stats_t s1 = st();
  CHECK(s1.small_live_blocks == s0.small_live_blocks + NBLK, "live %lu", (unsigned long)s1.small_live_blocks);
  CHECK(s1.ss_in_use >= 9, "in use %lu", (unsigned long)s1.ss_in_use);
  CHECK_OK();
  drain();
  hak_thread_flush();
  hak_stats_t s2 = st();
  CHECK(s2.small_live_blocks == 0 && s2.slabs_active == 0, "live %lu slabs %lu",
        (unsigned long)s2.small_live_blocks, (unsigned long)s2.slabs_active);
  CHECK(s2.ss_in_use == 0 && s2.ss_cached == s2.ss_mapped && s2.ss_cached >= 9,
        "in use %lu cached %lu mapped %lu", (unsigned long)s2.ss_in_use, (unsigned long)s2.ss_cached,
        (unsigned long)s2.ss_mapped);
  CHECK_OK();
  fill(48);   /* another class: served by the cached SuperSlabs, no new mapping */
  hak_stats_t s3 = st();
  CHECK(s3.ss_map_calls == s2.ss_map_calls, "mapped again: %lu -> %lu",
        (unsigned long)s2.ss_map_calls, (unsigned long)s3.ss_map_calls);
  CHECK(s3.cache_hits >= s2.cache_hits + 6, "hits %lu -> %lu", (unsigned long)s2.cache_hits,
        (unsigned long)s3.cache_hits);
  drain();
  hak_thread_flush();
  CHECK_OK();

  /* 2. limits: count, then memory, then TTL; oldest first */
  hak_stats_t s4 = st();
  size_t cached = s4.ss_cached;
  CHECK(cached >= 9);
  hak_limits_t l = def;
  l.max_cached = 3;
  hak_ss_set_limits(&l);
  hak_stats_t s5 = st();
  CHECK(s5.ss_cached == 3 && s5.evict_count == s4.evict_count + cached - 3,
        "cached %lu evict_count %lu", (unsigned long)s5.ss_cached, (unsigned long)s5.evict_count);
  CHECK(s5.ss_unmap_calls == s4.ss_unmap_calls + cached - 3);
  l.max_memory_mb = 4;   /* two SuperSlabs */
  hak_ss_set_limits(&l);
  hak_stats_t s6 = st();
  CHECK(s6.ss_cached == 2 && s6.evict_bytes == s5.evict_bytes + 1, "cached %lu", (unsigned long)s6.ss_cached);
  l.ttl_sec = 5;
  hak_ss_set_limits(&l);
  CHECK(st().ss_cached == 2, "evicted before the TTL passed");
  hak_test_advance_clock(6ull * 1000000000ull);
  CHECK(hak_ss_evict() == 2);
  hak_stats_t s7 = st();
  CHECK(s7.ss_cached == 0 && s7.evict_ttl == s6.evict_ttl + 2);
  l = def;
  l.max_cached = 0;   /* cache nothing: an emptied SuperSlab is unmapped at once */
  hak_ss_set_limits(&l);
  fill(64);
  drain();
  hak_thread_flush();
  hak_stats_t s8 = st();
  CHECK(s8.ss_cached == 0 && s8.ss_mapped == 0, "cached %lu mapped %lu", (unsigned long)s8.ss_cached,
        (unsigned long)s8.ss_mapped);
  CHECK_OK();

  /* 3. prewarm: raises the limits to hold what it maps; exempt from the TTL until used */
  l = def;
  l.max_cached = 1;
  l.ttl_sec = 1;
  hak_ss_set_limits(&l);
  CHECK(hak_ss_prewarm_class(3, 5) == 5);
  hak_stats_t s9 = st();
  CHECK(s9.ss_cached == 5 && s9.prewarmed == s8.prewarmed + 5 && s9.limit_max_cached >= 5,
        "cached %lu prewarmed %lu limit %lu", (unsigned long)s9.ss_cached, (unsigned long)s9.prewarmed,
        (unsigned long)s9.limit_max_cached);
  CHECK(s9.cache_misses == s8.cache_misses + 5, "prewarm must map, not pop");
  hak_test_advance_clock(10ull * 1000000000ull);
  CHECK(hak_ss_evict() == 0 && st().ss_cached == 5, "prewarmed SuperSlabs expired");
  void *p = hak_malloc(100);   /* uses one of them */
  hak_free(p);
  hak_thread_flush();          /* back into the cache, no longer "prewarmed" */
  hak_test_advance_clock(10ull * 1000000000ull);
  CHECK(hak_ss_evict() == 1 && st().ss_cached == 4);
  CHECK(hak_ss_prewarm_class(-1, 1) == -1 && errno == EINVAL);
  CHECK(hak_ss_prewarm_class(HAK_TINY_CLASSES, 1) == -1 && errno == EINVAL);
  uint32_t counts[HAK_TINY_CLASSES] = {1, 0, 2, 0, 0, 0, 0, 1};
  CHECK(hak_ss_prewarm_all(counts) == 4);
  CHECK(st().ss_cached == 8);
  CHECK_OK();

  /* 4. the bypass flag: while set, a request maps instead of popping the cache */
  hak_stats_t s10 = st();
  atomic_fetch_add(&hm_prewarm_bypass, 1);
#if HAK_DEBUG >= 1
  CHECK(hak_check() != NULL && strstr(hak_check(), "bypass") != NULL, "bypass outside prewarm not caught");
#endif
  fill(64);
  hak_stats_t s11 = st();
  atomic_fetch_sub(&hm_prewarm_bypass, 1);
  CHECK(s11.cache_hits == s10.cache_hits && s11.ss_cached == s10.ss_cached,
        "popped the cache while the bypass flag was set");
  CHECK(s11.cache_misses > s10.cache_misses);
  drain();
  hak_thread_flush();
  CHECK_OK();

  /* 5. trim empties the cache */
  hak_stats_t s12 = st();
  CHECK(s12.ss_cached > 0);
  size_t n = hak_trim();
  hak_stats_t s13 = st();
  CHECK(n == s12.ss_cached && s13.ss_cached == 0 && s13.evict_trim == s12.evict_trim + n);
  CHECK(s13.munmap_calls > s12.munmap_calls);
  CHECK(hak_malloc_trim(0) == 0, "nothing left to trim");
  fill(64);
  drain();
  CHECK(hak_malloc_trim(0) == 1);
  hak_ss_set_limits(&def);
  CHECK_OK();
  printf("pool: ok (%lu SuperSlabs mapped in all, %lu cache hits)\n",
         (unsigned long)st().ss_map_calls, (unsigned long)st().cache_hits);
  return 0;
}
