/* fuzz_ops_mt — the fuzz_ops language over 2-4 threads, with blocks handed between threads.
 *
 * Input: optionally a level byte (0xF0 + level, as in fuzz_ops); then byte 0 picks the thread
 * count (2-4), byte 1 the end-of-input policy, then ops:
 *   - any fuzz_ops op, run by the current thread; lockstep (one thread at a time, so a replay is
 *     deterministic) with hak_check() on that thread after every op;
 *   - XCHG: swap one of the thread's blocks with an entry of a shared mailbox; the other threads'
 *     frees and reallocs of such blocks are remote frees (pushed to the owner slab's remote list);
 *   - SWITCH: later ops run on another thread;
 *   - RACE: every thread runs a short batch of ops at the same time (no hak_check during it: the
 *     registry count is only exact when quiescent), then each checks its heap in turn;
 *   - RESPAWN: a thread exits while its blocks live on (its slabs are abandoned); a new thread
 *     takes over its handles, so its frees adopt those slabs.
 * At the end the threads exit (having freed their own blocks or not, as byte 1 says), the main
 * thread frees whatever is left (remote frees into abandoned slabs), checks the heap after the
 * join, trims, and nothing may remain mapped. Meant for the ASan and TSan builds.
 */
#include <pthread.h>
#include "fuzz_helpers.h"

#define MAX_THREADS 4
#define SLOTS 64
#define MAILBOX 16
#define MAX_OPS 384
#define MAX_BATCH 64

enum { CMD_IDLE, CMD_RUN, CMD_RACE, CMD_CHECK, CMD_FREE_ALL, CMD_EXIT };

typedef struct worker {
  pthread_t th;
  fz_model m;
  fz_block slots[SLOTS];
  fuzz_op batch[MAX_BATCH];
  unsigned nbatch;
  int cmd;   /* mu */
} worker;

static worker workers[MAX_THREADS];
static fz_block mailbox[MAILBOX];   /* mbox_mu */
static pthread_mutex_t mbox_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void xchg(worker *w, const fuzz_op *op) {
  fz_block *mine = fz_slot(&w->m, op->slot);
  if (mine->p) fz_verify(mine);
  pthread_mutex_lock(&mbox_mu);
  fz_block *box = &mailbox[op->a % MAILBOX];
  fz_block t = *box;
  *box = *mine;
  *mine = t;
  pthread_mutex_unlock(&mbox_mu);
  if (mine->p) fz_verify(mine);   /* another thread's block, intact on arrival */
}

static void run_batch(worker *w, bool check) {
  for (unsigned i = 0; i < w->nbatch; i++) {
    const fuzz_op *op = &w->batch[i];
    if (op->kind == FOP_XCHG) xchg(w, op);
    else if (op->kind < FOP_SINGLE_COUNT) fz_exec(&w->m, op);
    if (check) FUZZ_CHECK_HEAP();
  }
  w->nbatch = 0;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  fz_thread_begin(1 + (uint64_t)(w - workers));   /* its rng from a state fixed by its index */
  for (;;) {
    pthread_mutex_lock(&mu);
    while (w->cmd == CMD_IDLE) pthread_cond_wait(&cv, &mu);
    int cmd = w->cmd;
    pthread_mutex_unlock(&mu);
    if (cmd == CMD_EXIT) return NULL;   /* thread exit: the allocator hands the heap back */
    if (cmd == CMD_RUN || cmd == CMD_RACE) run_batch(w, cmd == CMD_RUN);
    if (cmd == CMD_FREE_ALL)
      for (unsigned i = 0; i < SLOTS; i++) fz_release(&w->slots[i], i & 1);
    if (cmd != CMD_RACE) FUZZ_CHECK_HEAP();
    pthread_mutex_lock(&mu);
    w->cmd = CMD_IDLE;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  }
}

/* Give `cmd` to the workers in mask at once and wait until all are idle again. */
static void command(unsigned mask, int cmd) {
  pthread_mutex_lock(&mu);
  for (unsigned t = 0; t < MAX_THREADS; t++)
    if (mask >> t & 1u) workers[t].cmd = cmd;
  pthread_cond_broadcast(&cv);
  for (unsigned t = 0; t < MAX_THREADS; t++)
    while ((mask >> t & 1u) && workers[t].cmd != CMD_IDLE) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

static void spawn(unsigned t) {
  int rc = pthread_create(&workers[t].th, NULL, worker_main, &workers[t]);
  FUZZ_ASSERT(rc == 0, "pthread_create");
}

static void stop(unsigned t) {
  pthread_mutex_lock(&mu);
  workers[t].cmd = CMD_EXIT;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(workers[t].th, NULL);
  workers[t].cmd = CMD_IDLE;
}

static void flush_batch(unsigned t) {
  if (workers[t].nbatch > 0) command(1u << t, CMD_RUN);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fz_warm_up();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_data d = {data, size};
  fz_level(fz_take_level(&d));   /* the main thread's; the workers are created after it */
  fz_begin();
  unsigned nthreads = 2 + fd_u8(&d) % (MAX_THREADS - 1);
  uint8_t policy = fd_u8(&d);
  memset(workers, 0, sizeof workers);
  memset(mailbox, 0, sizeof mailbox);
  bool mid_on = fz_mid_level();
  for (unsigned t = 0; t < nthreads; t++) {
    workers[t].m = (fz_model){workers[t].slots, SLOTS, 1 + t * 0x10000000u, 8, false, mid_on};
    spawn(t);
  }
  unsigned cur = 0, all = (1u << nthreads) - 1;
  fuzz_op op;
  for (unsigned n = 0; n < MAX_OPS && fuzz_next_op(&d, &op, FOP_COUNT); n++) {
    switch (op.kind) {
      case FOP_SWITCH:
        flush_batch(cur);
        cur = (unsigned)(op.a % nthreads);
        break;
      case FOP_RACE:
        flush_batch(cur);
        for (unsigned t = 0; t < nthreads; t++)
          for (unsigned i = 0; i < op.count && fuzz_next_op(&d, &workers[t].batch[i], FOP_XCHG + 1); i++)
            workers[t].nbatch = i + 1;
        command(all, CMD_RACE);
        for (unsigned t = 0; t < nthreads; t++) command(1u << t, CMD_CHECK);
        break;
      case FOP_RESPAWN: {
        flush_batch(cur);
        unsigned t = (unsigned)(op.a % nthreads);
        stop(t);
        spawn(t);
        break;
      }
      default:
        workers[cur].batch[workers[cur].nbatch++] = op;
        if (workers[cur].nbatch == MAX_BATCH) flush_batch(cur);
        break;
    }
  }
  flush_batch(cur);
  /* end of input: some threads free their blocks first, the others exit with blocks live */
  for (unsigned t = 0; t < nthreads; t++) {
    if (policy >> t & 1u) command(1u << t, CMD_FREE_ALL);
    stop(t);
  }
  /* after the join: the main thread frees the rest (remote frees into abandoned slabs) */
  FUZZ_CHECK_HEAP();
  for (unsigned t = 0; t < nthreads; t++)
    for (unsigned i = 0; i < SLOTS; i++) fz_release(&workers[t].slots[i], i & 1);
  for (unsigned i = 0; i < MAILBOX; i++) fz_release(&mailbox[i], i & 1);
  fz_finish("a slab stayed active after every thread freed and exited");
  return 0;
}
