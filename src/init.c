/* init.c — start-up and fork. The first malloc of the process may come from the dynamic loader,
 * a constructor or a sanitizer runtime: initialisation allocates nothing from this heap, and a
 * re-entrant call during it (same thread) proceeds with the static defaults. */
#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>
#include "internal.h"

extern char **environ;
_Atomic int hm_init_state;
static __thread bool tl_in_init;

static void atfork_prepare(void) {
  hm_mid_lock();
  hm_pool_lock();
  hm_large_lock();
  hm_registry_lock();
  hm_meta_lock_all();
}
static void atfork_parent(void) {
  hm_meta_unlock_all();
  hm_registry_unlock();
  hm_large_unlock();
  hm_pool_unlock();
  hm_mid_unlock();
}
/* The child has only the forking thread, which holds every lock: it releases them. (Other
 * threads' heaps stay owned by threads that do not exist in the child; their blocks are not
 * reused there.) Its random sequences are reseeded so they do not repeat the parent's. */
static void atfork_child(void) {
  hm_mid_atfork_child();
  hm_heap_atfork_child();
  atfork_parent();
}

void hm_init_slow(void) {
  int expected = 0;
  if (atomic_compare_exchange_strong(&hm_init_state, &expected, 1)) {
    tl_in_init = true;
    hm_harden_init();
    hm_san_init();
    hm_config_load(environ);
    if (hm_cfg.stats) hm_mit |= HM_MIT_COUNT;
    hm_harden_set_level(hm_cfg.harden);
    hm_pool_init();
    hm_heap_key_init();
    atomic_store_explicit(&hm_init_state, 2, memory_order_release);
    tl_in_init = false;
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);   /* may allocate: ready now */
    hm_stats_init();
    for (int k = 0; k < HAK_TINY_CLASSES; k++)
      if (hm_cfg.prewarm[k] != 0) hm_pool_prewarm(k, hm_cfg.prewarm[k]);
    return;
  }
  if (tl_in_init) return;
  while (atomic_load_explicit(&hm_init_state, memory_order_acquire) != 2) sched_yield();
}

/* Initialise (and prewarm) at start-up even if the program allocates nothing early. */
__attribute__((constructor)) static void hm_constructor(void) { hm_ensure_init(); }
