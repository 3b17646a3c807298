/* init.c — start-up and fork. The first malloc of the process may come from the dynamic loader,
 * a constructor or a sanitizer runtime: initialisation allocates nothing from this heap, and a
 * re-entrant call during it (same thread) proceeds with the static defaults.
 *
 * Lock order, outermost first, the fork handlers' included:
 *   libc's stdio list lock -> mid_lock -> late_lock -> pool_lock -> large_lock -> zero_lock ->
 *   reg_lock -> meta (ss, heap, large)
 * glibc's fork takes its list lock (_IO_list_lock) after the prepare handlers, and fflush(NULL)
 * holds it while it waits for FILE locks whose owners (getline) may be allocating: so prepare
 * takes the list lock before any of ours, as glibc's own malloc does (the lock is recursive,
 * fork's nests in it); the parent handler releases it, the child leaves it (glibc resets it with
 * _IO_list_resetlock before the child handlers). A libc without it builds: weak references.
 * A single-threaded fork (glibc's __libc_single_threaded; from a signal handler, say) takes no
 * lock, as glibc's malloc takes none then: the child re-initialises the locks, since only an
 * interrupted call of its one thread can hold one. A multi-threaded fork skips the locks that
 * hm_tl_locks says its own thread is inside (an interrupted call), and the child re-initialises
 * those. Residue: the state under a lock an interrupted call held is what that call left. */
#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>
#include "internal.h"

extern char **environ;
_Atomic int hm_init_state;
static __thread bool tl_in_init;
__thread uint32_t hm_tl_locks;

/* glibc's, looked up weakly: NULL (and skipped) in a libc without them */
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));
extern char __libc_single_threaded __attribute__((weak));

/* What the forking thread's prepare handler did, for its parent and child handlers. */
static __thread bool tl_fork_single;     /* took nothing: single-threaded */
static __thread bool tl_fork_stdio;      /* took the stdio list lock */
static __thread uint32_t tl_fork_skip;   /* HM_HOLD_* locks it left alone (its thread is inside) */

static bool single_threaded(void) {
  return &__libc_single_threaded != NULL && __libc_single_threaded != 0;
}

static void atfork_prepare(void) {
  tl_fork_single = single_threaded();
  if (tl_fork_single) return;
  tl_fork_stdio = _IO_list_lock != NULL;
  if (tl_fork_stdio) _IO_list_lock();
  uint32_t skip = tl_fork_skip = hm_tl_locks;
  if (!(skip & HM_HOLD_MID)) hm_mid_lock();
  if (!(skip & HM_HOLD_LATE)) hm_heap_late_lock();
  if (!(skip & HM_HOLD_POOL)) hm_pool_lock();
  if (!(skip & HM_HOLD_LARGE)) hm_large_lock();
  if (!(skip & HM_HOLD_ZERO)) hm_zero_lock();
  if (!(skip & HM_HOLD_REG)) hm_registry_lock();
  hm_meta_lock_all(skip);
}
static void unlock_taken(void) {
  uint32_t skip = tl_fork_skip;
  hm_meta_unlock_all(skip);
  if (!(skip & HM_HOLD_REG)) hm_registry_unlock();
  if (!(skip & HM_HOLD_ZERO)) hm_zero_unlock();
  if (!(skip & HM_HOLD_LARGE)) hm_large_unlock();
  if (!(skip & HM_HOLD_POOL)) hm_pool_unlock();
  if (!(skip & HM_HOLD_LATE)) hm_heap_late_unlock();
  if (!(skip & HM_HOLD_MID)) hm_mid_unlock();
}
static void atfork_parent(void) {
  if (tl_fork_single) return;
  unlock_taken();
  if (tl_fork_stdio) _IO_list_unlock();
}
/* The child has only the forking thread. It releases what prepare took and re-initialises what
 * prepare left alone (no other thread exists to hold it). (Other threads' heaps stay owned by
 * threads that do not exist in the child; their blocks are not reused there.) Its random
 * sequences are reseeded so they do not repeat the parent's. */
static void atfork_child(void) {
  uint32_t reset = tl_fork_single ? ~0u : tl_fork_skip;
  if (reset & HM_HOLD_MID) hm_mid_atfork_reset();
  if (reset & HM_HOLD_LATE) hm_heap_late_atfork_reset();
  if (reset & HM_HOLD_POOL) hm_pool_atfork_reset();
  if (reset & HM_HOLD_LARGE) hm_large_atfork_reset();
  if (reset & HM_HOLD_ZERO) hm_zero_atfork_reset();
  if (reset & HM_HOLD_REG) hm_registry_atfork_reset();
  hm_meta_atfork_reset(reset);
  hm_mid_atfork_child();
  hm_heap_atfork_child();
  if (!tl_fork_single) unlock_taken();
}

void hm_init_slow(void) {
  int expected = 0;
  if (atomic_compare_exchange_strong(&hm_init_state, &expected, 1)) {
    tl_in_init = true;
    hm_harden_init();
    hm_san_init();
    hm_config_load(environ);
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
