/* init.c — start-up and fork. The first malloc of the process may come from the dynamic loader,
 * a constructor or a sanitizer runtime: initialisation allocates nothing from this heap, and a
 * re-entrant call during it (same thread) proceeds with the static defaults.
 *
 * Lock order, outermost first, the fork handlers' included:
 *   libc's stdio list lock -> mid_lock -> pool_lock -> large_lock -> reg_lock -> meta (ss, heap, large)
 * glibc's fork takes its list lock (_IO_list_lock) after the prepare handlers, and fflush(NULL)
 * holds it while it waits for FILE locks whose owners (getline) may be allocating: so prepare
 * takes the list lock before any of ours, as glibc's own malloc does (the lock is recursive,
 * fork's nests in it); the parent handler releases it, the child leaves it (glibc resets it with
 * _IO_list_resetlock before the child handlers). A libc without it builds: weak references. */
#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>
#include "internal.h"

extern char **environ;
_Atomic int hm_init_state;
static __thread bool tl_in_init;

/* glibc's, looked up weakly: NULL (and skipped) in a libc without them */
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));

static void atfork_prepare(void) {
  if (_IO_list_lock != NULL) _IO_list_lock();
  hm_mid_lock();
  hm_pool_lock();
  hm_large_lock();
  hm_registry_lock();
  hm_meta_lock_all();
}
static void unlock_all(void) {
  hm_meta_unlock_all();
  hm_registry_unlock();
  hm_large_unlock();
  hm_pool_unlock();
  hm_mid_unlock();
}
static void atfork_parent(void) {
  unlock_all();
  if (_IO_list_unlock != NULL) _IO_list_unlock();
}
/* The child has only the forking thread, which holds every lock: it releases them. (Other
 * threads' heaps stay owned by threads that do not exist in the child; their blocks are not
 * reused there.) Its random sequences are reseeded so they do not repeat the parent's. */
static void atfork_child(void) {
  hm_mid_atfork_child();
  hm_heap_atfork_child();
  unlock_all();
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
