/* zero.c — zero-size blocks at the strict levels (hm_mit & HM_MIT_CANARY): malloc(0), calloc(n, 0),
 * hak_realloc(p, 0), aligned_alloc(a, 0), posix_memalign(.., 0) get a pointer into a 2 MiB chunk
 * reserved PROT_NONE and never committed, so any read or write of the block faults (SIGSEGV).
 * A chunk is one registry entry tagged HM_REG_ZERO pointing at its descriptor (hm_zero_chunk,
 * mapped out of line); it is cut into HM_ZERO_SLOTS slots 16 bytes apart. `live` has a bit per slot
 * held by the program, `ever` one per slot handed out at least once, so free tells a second free
 * ("double free": live clear, ever set) from a pointer never handed out or not at a slot start
 * ("invalid free"). Slots are handed out by a cursor that moves forward round the chunk and takes
 * the next slot whose live bit is clear: a freed slot comes back only after the cursor has gone
 * round the whole chunk (131072 slots), the zero-size quarantine. A chunk with no room left
 * (aligned requests take slots at multiples of align / 16) sends the request to the next chunk,
 * or to a fresh one. Chunks are never given back (address space only: nothing is committed).
 * Cost: only the strict levels' malloc(0) and the free of such a block come here (the free fast
 * path sends every non-SuperSlab entry to hm_free_other), under zero_lock.
 * Invariants (zero_lock): for each chunk, live_n == popcount(live), live is a subset of ever,
 * its 2 MiB is registered to it with the tag; chunks_n == len(chunk list). */
#include <errno.h>
#include <string.h>
#include "internal.h"

static pthread_mutex_t zero_lock = PTHREAD_MUTEX_INITIALIZER;
static hm_zero_chunk *chunks;     /* newest first (zero_lock) */
static size_t chunks_n;
static uint64_t zero_live;        /* live zero-size blocks over all chunks (zero_lock) */
static uint64_t zero_allocs;      /* zero-size blocks ever handed out (zero_lock) */

void hm_zero_lock(void) { hm_lock_take(&zero_lock, HM_HOLD_ZERO); }
void hm_zero_unlock(void) { hm_lock_drop(&zero_lock, HM_HOLD_ZERO); }
void hm_zero_atfork_reset(void) { pthread_mutex_init(&zero_lock, NULL); }

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* Deterministic fuzzing (docs/fuzzing.md): each input starts every chunk's cursor at slot 0 (no
 * block is live between inputs), so its slot searches do not depend on the inputs before it. */
void hm_zero_fuzz_reset(void) {
  hm_lock_take(&zero_lock, HM_HOLD_ZERO);
  for (hm_zero_chunk *c = chunks; c != NULL; c = c->next) c->cursor = 0;
  hm_lock_drop(&zero_lock, HM_HOLD_ZERO);
}
#endif

static bool bit(const uint64_t *m, uint32_t i) { return (m[i >> 6] >> (i & 63)) & 1u; }

/* zero_lock held: a fresh chunk registered to a fresh descriptor, or NULL. */
static hm_zero_chunk *chunk_new(void) {
  hm_zero_chunk *c = hm_os_map(sizeof *c);   /* zero-filled, page-aligned: the tag bits are free */
  if (c == NULL) return NULL;
  void *base = hm_os_reserve_aligned(HM_SS_SIZE, HM_SS_SIZE);   /* PROT_NONE, never charged */
  if (base == NULL) {
    hm_os_unmap(c, sizeof *c);
    return NULL;
  }
  c->base = HM_HIDE((uintptr_t)base);
  c->magic = HM_ZERO_MAGIC;
  if (!hm_registry_set((uintptr_t)base, HM_SS_SIZE, (uintptr_t)c | HM_REG_ZERO)) {
    hm_os_unmap(base, HM_SS_SIZE);
    hm_os_unmap(c, sizeof *c);
    return NULL;
  }
  c->next = chunks;
  chunks = c;
  chunks_n++;
  return c;
}

/* zero_lock held: the index of the next free slot at a multiple of `stride` from c's cursor, or
 * UINT32_MAX. */
static uint32_t chunk_take(hm_zero_chunk *c, uint32_t stride) {
  if (c->live_n == HM_ZERO_SLOTS) return UINT32_MAX;
  uint32_t start = (c->cursor + stride - 1) / stride * stride % HM_ZERO_SLOTS;
  for (uint32_t n = 0, i = start; n < HM_ZERO_SLOTS / stride; n++) {
    if (stride == 1 && (i & 63) == 0 && c->live[i >> 6] == ~0ull) {   /* a full word: skip it */
      n += 63;
      i = (i + 64) % HM_ZERO_SLOTS;
      continue;
    }
    if (!bit(c->live, i)) return i;
    i = (i + stride) % HM_ZERO_SLOTS;
  }
  return UINT32_MAX;
}

/* A zero-size block aligned to `align` (a power of two; at most a chunk's half), or NULL with
 * errno ENOMEM. */
void *hm_zero_alloc(size_t align) {
  uint32_t stride = align <= HM_ZERO_SLOT ? 1u : (uint32_t)(align / HM_ZERO_SLOT);
  HAK_ASSERT(stride < HM_ZERO_SLOTS);
  hm_lock_take(&zero_lock, HM_HOLD_ZERO);
  hm_zero_chunk *c = chunks;
  uint32_t i = UINT32_MAX;
  for (; c != NULL; c = c->next)
    if ((i = chunk_take(c, stride)) != UINT32_MAX) break;
  if (c == NULL && (c = chunk_new()) != NULL) i = chunk_take(c, stride);
  if (c == NULL) {
    hm_lock_drop(&zero_lock, HM_HOLD_ZERO);
    errno = ENOMEM;
    return NULL;
  }
  c->live[i >> 6] |= 1ull << (i & 63);
  c->ever[i >> 6] |= 1ull << (i & 63);
  c->live_n++;
  c->cursor = (i + 1) % HM_ZERO_SLOTS;
  zero_live++;
  zero_allocs++;
  hm_lock_drop(&zero_lock, HM_HOLD_ZERO);
  return (void *)(HM_UNHIDE(c->base) + (uintptr_t)i * HM_ZERO_SLOT);
}

static hm_zero_chunk *chunk_of(uintptr_t e) { return (hm_zero_chunk *)(e & ~(uintptr_t)3); }

/* 1: p is a live zero-size block of the chunk of registry entry e; 0: a slot start handed out
 * before and free now; -1: anything else (not a slot start, or a slot never handed out). */
int hm_zero_state(const void *p, uintptr_t e) {
  hm_zero_chunk *c = chunk_of(e);
  uintptr_t off = (uintptr_t)p - HM_UNHIDE(c->base);
  if (c->magic != HM_ZERO_MAGIC || off >= HM_SS_SIZE || off % HM_ZERO_SLOT != 0) return -1;
  uint32_t i = (uint32_t)(off / HM_ZERO_SLOT);
  hm_lock_take(&zero_lock, HM_HOLD_ZERO);
  int st = bit(c->live, i) ? 1 : bit(c->ever, i) ? 0 : -1;
  hm_lock_drop(&zero_lock, HM_HOLD_ZERO);
  return st;
}

/* free of p, whose registry entry is e (tagged HM_REG_ZERO): aborts on a double or invalid free. */
void hm_zero_free(void *p, uintptr_t e) {
  hm_zero_chunk *c = chunk_of(e);
  uintptr_t off = (uintptr_t)p - HM_UNHIDE(c->base);
  if (c->magic != HM_ZERO_MAGIC || off >= HM_SS_SIZE || off % HM_ZERO_SLOT != 0)
    hm_fatal("invalid free", p);
  uint32_t i = (uint32_t)(off / HM_ZERO_SLOT);
  hm_lock_take(&zero_lock, HM_HOLD_ZERO);
  if (!bit(c->live, i)) {
    bool freed = bit(c->ever, i);
    hm_lock_drop(&zero_lock, HM_HOLD_ZERO);
    hm_fatal(freed ? "double free" : "invalid free", p);
  }
  c->live[i >> 6] &= ~(1ull << (i & 63));
  c->live_n--;
  zero_live--;
  hm_lock_drop(&zero_lock, HM_HOLD_ZERO);
}

/* Zero-size blocks handed out since start-up (counted in class 0) and held now. */
void hm_zero_counts(uint64_t *allocs, uint64_t *live) {
  hm_lock_take(&zero_lock, HM_HOLD_ZERO);
  *allocs = zero_allocs;
  *live = zero_live;
  hm_lock_drop(&zero_lock, HM_HOLD_ZERO);
}

/* Registered 2 MiB chunks that hold zero-size blocks; *live: the blocks held by the program. */
size_t hm_zero_chunks(uint64_t *live) {
  hm_lock_take(&zero_lock, HM_HOLD_ZERO);
  size_t n = chunks_n;
  if (live != NULL) *live = zero_live;
  hm_lock_drop(&zero_lock, HM_HOLD_ZERO);
  return n;
}

/* light: the descriptors, counts and registry only; the slot bitmaps (2 x 2048 words a chunk,
 * most of a fuzz input's time when checked after every operation) are walked by the full check. */
HM_VALIDATOR bool hm_zero_is_valid(const char **why, bool light) {
#if HAK_DEBUG >= 1
  bool ok = true;
  size_t n = 0;
  uint64_t live = 0;
  hm_lock_take(&zero_lock, HM_HOLD_ZERO);
  for (hm_zero_chunk *c = chunks; c != NULL && ok; c = c->next) {
    n++;
    uint64_t pop = c->live_n;
    if (!light) pop = 0;
    for (uint32_t w = 0; !light && w < HM_ZERO_SLOTS / 64 && ok; w++) {
      pop += (uint64_t)__builtin_popcountll(c->live[w]);
      if (c->live[w] & ~c->ever[w]) {
        *why = "zero: a live slot was never handed out";
        ok = false;
      }
    }
    live += c->live_n;
    if (ok && (c->magic != HM_ZERO_MAGIC || pop != c->live_n || c->cursor >= HM_ZERO_SLOTS ||
               HM_UNHIDE(c->base) % HM_SS_SIZE != 0)) {
      *why = "zero: chunk descriptor fields (magic, live count, cursor, base)";
      ok = false;
    }
    if (ok && hm_registry_lookup((void *)HM_UNHIDE(c->base)) != ((uintptr_t)c | HM_REG_ZERO)) {
      *why = "registry: a zero-size chunk is not registered to its descriptor";
      ok = false;
    }
  }
  if (ok && (n != chunks_n || live != zero_live)) {
    *why = "zero: chunk or live count disagrees with the list";
    ok = false;
  }
  hm_lock_drop(&zero_lock, HM_HOLD_ZERO);
  return ok;
#else
  (void)why;
  (void)light;
  return true;
#endif
}
