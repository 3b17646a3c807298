// prop_api_model.cpp — rc::state model test of the public and control API.
//
// Commands: Malloc, Calloc, Realloc, AlignedAlloc, PosixMemalign / Memalign / Valloc / Pvalloc,
// Realloc(NULL) / ReallocArray(NULL), ReallocArray overflow, Free, FreeSized (free_sized /
// free_aligned_sized), UsableSize, CheckContents, Prewarm(class, n), PrewarmAll, Trim /
// MallocTrim, SetLimits(count, MB, TTL), AdvanceClock(s) + hak_ss_evict, FlushThreadCache, Fork
// (checks in the child), Thread (blocks left by an exited thread), Impossible and BadAlign
// (requests that must fail cleanly, with the errno README documents). The hardening level comes
// from the environment (HAKMEM_HARDEN); the model reads it from hak_stats (prop_common.hpp).
// The model holds the live handles: requested size, alignment, content pattern. The SUT side
// holds the pointers, their usable sizes, the tier the reference rules put each block in
// (prop_common.hpp: small / medium at the off and fast levels / large; after a realloc, the old
// tier if the block stayed in place, else the new size's; a medium block stays in place iff the
// new size is in (usable / 2, usable], usable = class - 8; a large block growing past its mapping stays large) and the
// limits the allocator must report. After every command:
//   - a new pointer is non-null, aligned (16 from 16 B up, else 8; or the requested alignment),
//     its usable size >= the request (hak_malloc_usable_size: the class size less the 8-byte end
//     canary, or under ASan the requested size), the block's range (class size with its canary /
//     pages) overlaps no other live block; hakmem holds it in the expected tier (registry entry,
//     slot state); a small or medium block's usable size is its block less the canary; a medium
//     block is of the reference class (the smallest that holds the request and the canary) and
//     8 KiB-aligned;
//   - contents are kept (checked before free / realloc / usable_size and by CheckContents),
//     realloc keeps the common prefix, calloc memory is zero;
//   - hak_stats agrees with the model: small_live_blocks, small_live_bytes (sum of usable sizes:
//     block - 8), mid_live, mid_live_bytes (sum of reference class sizes - 8), large_live,
//     large_live_bytes;
//     mid_superslabs between what the live medium blocks need and one per live medium block (one
//     kept empty SuperSlab per class with none live; none after Trim), within ss_in_use; no
//     medium block at the strict levels; ss_cached within the limits in force; mapped = in use + cached;
//     the limits in force equal those set (raised by prewarm to hold what it cached);
//   - Prewarm(n) maps n SuperSlabs, pops none (cache_hits unchanged) and caches all n;
//     Trim empties the cache (and with no small block live only medium SuperSlabs stay mapped);
//     after FlushThreadCache every active slab holds a live block, and with no small block live
//     the SuperSlabs in use are exactly the medium ones;
//   - hak_check() is clean (it validates only in debug builds: HAK_DEBUG >= 1).
#include <rapidcheck/state.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <map>
#include <pthread.h>
#include <thread>
#include <vector>

#include "prop_common.hpp"

namespace {

bool strict_free_sized() {   // free_sized after an in-place realloc is checked (bug fixed)
  return true;
}

struct MBlock {
  size_t size;    // bytes requested
  size_t align;   // alignment requested; 0 for malloc/calloc/realloc
  uint8_t fill;   // content pattern (hp::pat)
  bool resized;   // produced by realloc
};

struct ApiModel {
  std::map<int, MBlock> blocks;
  int next_id = 0;
};

struct SBlock {
  void *p;
  size_t usable;   // the block's usable bytes, what the statistics count (hp_block_usable)
  hp::Tier tier;   // the tier the reference rules give (checked against hakmem's)
};

struct ApiSut {
  std::map<int, SBlock> blocks;
  std::map<uintptr_t, uintptr_t> ranges;   // start -> end of every live block (with its end canary)
  hak_stats_t base;                        // after the reset
  uint64_t max_cached, max_bytes, ttl_sec; // limits the allocator must report
  bool mid;                                // the medium tier is on at this hardening level
  bool strict;                             // strict or paranoid: trailers, zero-size slots

  ApiSut() {
    hp::reset();
    base = hp::stats();
    mid = hp::mid_on();
    strict = hp::strict_on();
    max_cached = hp::kDefaultLimits.max_cached;
    max_bytes = hp::kDefaultLimits.max_memory_mb << 20;
    ttl_sec = hp::kDefaultLimits.ttl_sec;
  }
  ~ApiSut() {
    for (auto &kv : blocks) hak_free(kv.second.p);
    hp::reset();
  }
  ApiSut(const ApiSut &) = delete;
  ApiSut &operator=(const ApiSut &) = delete;

  // A new block of `size` bytes: tier `tier`, and for a medium block the class size `mid_bs`.
  void add(int id, void *p, size_t size, size_t align, hp::Tier tier, size_t mid_bs) {
    RC_ASSERT(hp::addr(p) != 0u);
    RC_ASSERT(std::string(hp::tier_name(hp::actual_tier(p))) == hp::tier_name(tier));
    size_t block = hp_block_size(p);      // the allocator's size of the block (class / pages)
    size_t usable = hp_block_usable(p);   // its usable bytes: up to the end canary / pages
    if (tier == hp::Tier::Zero) {
      RC_ASSERT(size == 0u);
      RC_ASSERT(block == 0u);
      RC_ASSERT(hak_malloc_usable_size(p) == 0u);
      block = 1;   // its slot, for the overlap check
    } else if (tier == hp::Tier::Large) RC_ASSERT(usable == block);
    else RC_ASSERT(usable + hp::kCanary == block);   // small and medium: the canary ends the block
    if (tier == hp::Tier::Mid) {
      RC_ASSERT(block == mid_bs);         // the reference class, not what mid.c computed
      RC_ASSERT(hp::addr(p) % hp::kMidAlign == 0u);
    }
    size_t reported = hak_malloc_usable_size(p);
    RC_ASSERT(reported >= size);
    RC_ASSERT(reported <= usable);        // == usable, except under ASan: == size
    RC_ASSERT(usable >= size);
    if (strict && tier == hp::Tier::Small) {
      RC_ASSERT(reported == size);        // the exact request: the trailer guards the rest
      RC_ASSERT(usable >= size + hp::kTrailer);
    }
    size_t want = std::max(align, hp::min_align(size));
    RC_ASSERT(hp::addr(p) % want == 0u);
    uintptr_t a = hp::addr(p), e = a + block;
    auto it = ranges.lower_bound(a);
    if (it != ranges.end()) RC_ASSERT(it->first >= e);   // the next block starts after us
    if (it != ranges.begin()) RC_ASSERT(std::prev(it)->second <= a);
    ranges[a] = e;
    blocks[id] = SBlock{p, usable, tier};
  }
  void add(int id, void *p, size_t size, size_t align) {   // a fresh allocation
    hp::Tier t = hp::tier_for(mid, size, align, strict);
    add(id, p, size, align, t, t == hp::Tier::Mid ? hp::mid_block(size) : 0);
  }
  bool any(hp::Tier t) const {
    return std::any_of(blocks.begin(), blocks.end(), [t](const auto &kv) { return kv.second.tier == t; });
  }
  void mid_live(uint64_t (&live)[hp::kMidClasses]) const {
    for (uint64_t &v : live) v = 0;
    for (const auto &kv : blocks)
      if (kv.second.tier == hp::Tier::Mid) live[hp::mid_class(kv.second.usable)]++;
  }
  void *remove(int id) {
    void *p = blocks.at(id).p;
    ranges.erase(hp::addr(p));
    blocks.erase(id);
    return p;
  }
  void check_contents(const MBlock &b, const SBlock &s) const {
    RC_ASSERT(hp::first_bad(s.p, b.size, b.fill) == b.size);
  }
};

void verify(const ApiModel &m, const ApiSut &s) {
  RC_ASSERT(m.blocks.size() == s.blocks.size());
  uint64_t small_n = 0, small_bytes = 0, mid_n = 0, mid_bytes = 0, large_n = 0, large_bytes = 0;
  for (const auto &kv : m.blocks) {
    const SBlock &sb = s.blocks.at(kv.first);
    switch (sb.tier) {
      case hp::Tier::Small: small_n++; small_bytes += sb.usable; break;
      case hp::Tier::Mid: mid_n++; mid_bytes += sb.usable; break;   // == the reference class - 8 (add)
      case hp::Tier::Zero: break;   // no bytes, counted in no tier
      default: large_n++; large_bytes += sb.usable; break;
    }
  }
  hak_stats_t st = hp::stats();
  RC_ASSERT(st.small_live_blocks == s.base.small_live_blocks + small_n);
  RC_ASSERT(st.small_live_bytes == s.base.small_live_bytes + small_bytes);
  RC_ASSERT(st.mid_live == s.base.mid_live + mid_n);
  RC_ASSERT(st.mid_live_bytes == s.base.mid_live_bytes + mid_bytes);
  RC_ASSERT(st.large_live == s.base.large_live + large_n);
  RC_ASSERT(st.large_live_bytes == s.base.large_live_bytes + large_bytes);
  uint64_t live[hp::kMidClasses], lo, hi;
  s.mid_live(live);
  hp::mid_ss_bounds(live, false, lo, hi);
  RC_ASSERT(st.mid_superslabs >= lo);
  RC_ASSERT(st.mid_superslabs <= hi);
  RC_ASSERT(st.mid_superslabs <= st.ss_in_use);
  if (!s.mid) RC_ASSERT(st.mid_live + st.mid_superslabs == 0u);
  RC_ASSERT(st.ss_cached <= st.limit_max_cached);
  RC_ASSERT(st.ss_cached_bytes <= st.limit_max_bytes);
  RC_ASSERT(st.ss_cached_bytes == st.ss_cached * hp::kSsSize);
  RC_ASSERT(st.ss_mapped == st.ss_in_use + st.ss_cached);
  RC_ASSERT(st.slabs_active <= st.ss_in_use * 32u);
  RC_ASSERT(st.limit_max_cached == s.max_cached);
  RC_ASSERT(st.limit_max_bytes == s.max_bytes);
  RC_ASSERT(st.limit_ttl_sec == s.ttl_sec);
  RC_ASSERT(hp::check_str() == std::string());
}

using Base = rc::state::Command<ApiModel, ApiSut>;

// Every command executes, then checks the post-state (the model after apply) against the SUT.
struct Cmd : Base {
  void run(const ApiModel &m, ApiSut &s) const override {
    exec(m, s);
    verify(nextState(m), s);
  }
  virtual void exec(const ApiModel &m, ApiSut &s) const = 0;
};

// Sizes: tiny, the class boundaries (c - 8, c - 7, c and c + 1 for every small class c >= 8: the
// largest request it serves, the smallest the next one does, and the block sizes themselves;
// c - 9, c - 8, c - 7 and c - 1, c, c + 1 for every medium class; 32760, 32761, 32768, 32769,
// 524280, 524281, 524288, 524289), any small, any medium, a few large.
rc::Gen<size_t> gen_size() {
  std::vector<size_t> edges, mid_edges;
  for (unsigned c = 0; c < hp_class_count(); c++) {
    size_t cs = hp_class_size(c);
    for (size_t e : {cs - hp::kCanary, cs - hp::kCanary + 1, cs, cs + 1}) edges.push_back(e);
  }
  edges.push_back(0);
  for (unsigned k = 0; k < hp::kMidClasses; k++)
    for (size_t d : {size_t(0), size_t(1), size_t(2)}) {
      mid_edges.push_back(hp::mid_class_size(k) - hp::kCanary - 1 + d);
      mid_edges.push_back(hp::mid_class_size(k) - 1 + d);
    }
  for (size_t e : {hp::kSmallMax, hp::kSmallMax + 1, hp::kSmallBlockMax, hp::kSmallBlockMax + 1,
                   hp::kMidMax, hp::kMidMax + 1, hp::kMidBlockMax, hp::kMidBlockMax + 1})
    mid_edges.push_back(e);
  return rc::gen::weightedOneOf<size_t>({
      {6, rc::gen::inRange<size_t>(0, 129)},
      {4, rc::gen::elementOf(edges)},
      {3, rc::gen::inRange<size_t>(0, hp::kSmallMax + 1)},
      {2, rc::gen::elementOf(mid_edges)},
      {1, rc::gen::inRange<size_t>(hp::kSmallMax + 1, hp::kMidMax + 1)},
      {1, rc::gen::inRange<size_t>(hp::kSmallMax + 1, size_t(3) << 20)},
  });
}

// Commands naming a handle re-check it exists when shrinking drops the command that made it.
struct HandleCmd : Cmd {
  int id;
  explicit HandleCmd(int i) : id(i) {}
  void checkPreconditions(const ApiModel &m) const override { RC_PRE(m.blocks.count(id) != 0u); }
};

int pick_id(const ApiModel &m) {
  RC_PRE(!m.blocks.empty());
  std::vector<int> ids;
  for (const auto &kv : m.blocks) ids.push_back(kv.first);
  return *rc::gen::elementOf(ids);
}

struct Malloc : Cmd {
  size_t size = *gen_size();
  uint8_t fill = *rc::gen::arbitrary<uint8_t>();
  void apply(ApiModel &m) const override {
    m.blocks[m.next_id++] = MBlock{size, 0, fill, false};
  }
  void exec(const ApiModel &m, ApiSut &s) const override {
    void *p = hak_malloc(size);
    s.add(m.next_id, p, size, 0);
    hp::fill_block(p, size, fill);
  }
  void show(std::ostream &os) const override { os << "Malloc(" << size << ", fill=" << int(fill) << ")"; }
};

struct Calloc : Cmd {
  size_t n = *rc::gen::inRange<size_t>(0, 17);
  size_t size = *rc::gen::weightedOneOf<size_t>({{5, rc::gen::inRange<size_t>(0, 65)},
                                                 {1, rc::gen::inRange<size_t>(0, 8193)},
                                                 {1, rc::gen::inRange<size_t>(8193, 65537)}});
  uint8_t fill = *rc::gen::arbitrary<uint8_t>();
  void apply(ApiModel &m) const override {
    m.blocks[m.next_id++] = MBlock{n * size, 0, fill, false};
  }
  void exec(const ApiModel &m, ApiSut &s) const override {
    void *p = hak_calloc(n, size);
    s.add(m.next_id, p, n * size, 0);
    RC_ASSERT(hp::first_nonzero(p, n * size) == n * size);
    hp::fill_block(p, n * size, fill);
  }
  void show(std::ostream &os) const override {
    os << "Calloc(" << n << ", " << size << ", fill=" << int(fill) << ")";
  }
};

struct AlignedAlloc : Cmd {
  size_t align = *rc::gen::elementOf(std::vector<size_t>{8, 16, 32, 64, 128, 256, 512, 4096, 8192, 65536});
  size_t size = *gen_size();
  uint8_t fill = *rc::gen::arbitrary<uint8_t>();
  void apply(ApiModel &m) const override {
    m.blocks[m.next_id++] = MBlock{size, align, fill, false};
  }
  void exec(const ApiModel &m, ApiSut &s) const override {
    void *p = hak_aligned_alloc(align, size);
    s.add(m.next_id, p, size, align);
    hp::fill_block(p, size, fill);
  }
  void show(std::ostream &os) const override {
    os << "AlignedAlloc(" << align << ", " << size << ", fill=" << int(fill) << ")";
  }
};

struct Realloc : HandleCmd {
  size_t size;
  uint8_t fill;
  explicit Realloc(const ApiModel &m)
      : HandleCmd(pick_id(m)), size(*gen_size()), fill(*rc::gen::arbitrary<uint8_t>()) {}
  void apply(ApiModel &m) const override {
    m.blocks[id] = MBlock{size, 0, fill, true};
  }
  void exec(const ApiModel &m, ApiSut &s) const override {
    const MBlock &b = m.blocks.at(id);
    const SBlock old = s.blocks.at(id);
    s.check_contents(b, old);
    void *p = s.remove(id);
    void *q = hak_realloc(p, size);
    RC_ASSERT(hp::addr(q) != 0u);
    if (old.tier == hp::Tier::Mid) {   // in place iff the new size is in (usable / 2, usable]
      bool in_place = size <= old.usable && size > old.usable / 2;
      RC_ASSERT((q == p) == in_place);
    }
    size_t pages = (size + hp::kPage - 1) / hp::kPage * hp::kPage;
    if (q == p) s.add(id, q, size, 0, old.tier, old.tier == hp::Tier::Mid ? old.usable + hp::kCanary : 0);
    else if (old.tier == hp::Tier::Large && size > hp::kSmallMax && pages > old.usable)
      s.add(id, q, size, 0, hp::Tier::Large, 0);   // grown: remapped, still large
    else s.add(id, q, size, 0);
    size_t keep = std::min(b.size, size);
    RC_ASSERT(hp::first_bad(q, keep, b.fill) == keep);   // the common prefix survives
    hp::fill_block(q, size, fill);
  }
  void show(std::ostream &os) const override {
    os << "Realloc(#" << id << ", " << size << ", fill=" << int(fill) << ")";
  }
};

struct Free : HandleCmd {
  explicit Free(const ApiModel &m) : HandleCmd(pick_id(m)) {}
  void apply(ApiModel &m) const override { m.blocks.erase(id); }
  void exec(const ApiModel &m, ApiSut &s) const override {
    s.check_contents(m.blocks.at(id), s.blocks.at(id));
    hak_free(s.remove(id));
  }
  void show(std::ostream &os) const override { os << "Free(#" << id << ")"; }
};

// free_sized / free_aligned_sized with the size (and alignment) the block was requested with.
struct FreeSized : HandleCmd {
  explicit FreeSized(const ApiModel &m) : HandleCmd(pick_id(m)) { checkPreconditions(m); }
  void checkPreconditions(const ApiModel &m) const override {
    HandleCmd::checkPreconditions(m);
    RC_PRE(!m.blocks.at(id).resized || strict_free_sized());
  }
  void apply(ApiModel &m) const override { m.blocks.erase(id); }
  void exec(const ApiModel &m, ApiSut &s) const override {
    const MBlock &b = m.blocks.at(id);
    s.check_contents(b, s.blocks.at(id));
    void *p = s.remove(id);
    if (b.align > 8) hak_free_aligned_sized(p, b.align, b.size);
    else hak_free_sized(p, b.size);
  }
  void show(std::ostream &os) const override { os << "FreeSized(#" << id << ")"; }
};

struct UsableSize : HandleCmd {
  explicit UsableSize(const ApiModel &m) : HandleCmd(pick_id(m)) {}
  void apply(ApiModel &) const override {}
  void exec(const ApiModel &m, ApiSut &s) const override {
    const SBlock &sb = s.blocks.at(id);
    size_t u = hak_malloc_usable_size(sb.p);
    RC_ASSERT(u >= m.blocks.at(id).size);
    RC_ASSERT(u <= sb.usable);
    RC_ASSERT(hp_block_usable(sb.p) == sb.usable);
    bool canary = sb.tier == hp::Tier::Small || sb.tier == hp::Tier::Mid;
    RC_ASSERT(hp_block_size(sb.p) == sb.usable + (canary ? hp::kCanary : 0));
    if (s.strict && sb.tier == hp::Tier::Small) RC_ASSERT(u == m.blocks.at(id).size);
    RC_ASSERT(hp::actual_tier(sb.p) == sb.tier);
    s.check_contents(m.blocks.at(id), sb);
  }
  void show(std::ostream &os) const override { os << "UsableSize(#" << id << ")"; }
};

struct CheckContents : Cmd {
  void apply(ApiModel &) const override {}
  void exec(const ApiModel &m, ApiSut &s) const override {
    for (const auto &kv : m.blocks) s.check_contents(kv.second, s.blocks.at(kv.first));
  }
  void show(std::ostream &os) const override { os << "CheckContents"; }
};

struct Prewarm : Cmd {
  int cls = *rc::gen::weightedOneOf<int>(
      {{9, rc::gen::inRange(0, HAK_TINY_CLASSES)}, {1, rc::gen::element(-1, HAK_TINY_CLASSES)}});
  uint32_t n = *rc::gen::inRange<uint32_t>(0, 4);
  void apply(ApiModel &) const override {}
  void exec(const ApiModel &, ApiSut &s) const override {
    hak_stats_t s0 = hp::stats();
    errno = 0;
    int r = hak_ss_prewarm_class(cls, n);
    hak_stats_t s1 = hp::stats();
    if (cls < 0 || cls >= HAK_TINY_CLASSES) {
      RC_ASSERT(r == -1);
      RC_ASSERT(errno == EINVAL);
      RC_ASSERT(s1.ss_mapped == s0.ss_mapped);
      return;
    }
    RC_ASSERT(r == int(n));
    RC_ASSERT(s1.prewarmed - s0.prewarmed == n);
    RC_ASSERT(s1.cache_misses - s0.cache_misses == n);   // every one mapped ...
    RC_ASSERT(s1.cache_hits == s0.cache_hits);           // ... none popped (bypass flag)
    RC_ASSERT(s1.evict_count == s0.evict_count);         // the limits were raised to hold them
    RC_ASSERT(s1.evict_bytes == s0.evict_bytes);
    uint64_t ttl_out = s1.evict_ttl - s0.evict_ttl;     // older, unused entries may expire
    RC_ASSERT(s1.ss_cached + ttl_out == s0.ss_cached + n);
    RC_ASSERT(s1.ss_cached >= n);                        // all the prewarmed ones are cached
    if (n > 0) {
      s.max_cached = std::max<uint64_t>(s.max_cached, s0.ss_cached + n);
      s.max_bytes = std::max<uint64_t>(s.max_bytes, (s0.ss_cached + n) * hp::kSsSize);
    }
  }
  void show(std::ostream &os) const override { os << "Prewarm(class " << cls << ", " << n << ")"; }
};

// hak_trim (returns the SuperSlabs unmapped) or malloc_trim(pad) (returns 1 iff anything went
// back: a cached SuperSlab or a cached large mapping; pad is ignored).
struct Trim : Cmd {
  bool libc = *rc::gen::arbitrary<bool>();
  size_t pad = *rc::gen::elementOf(std::vector<size_t>{0, 4096, size_t(1) << 30});
  void apply(ApiModel &) const override {}
  void exec(const ApiModel &, ApiSut &s) const override {
    hak_stats_t s0 = hp::stats();
    if (libc) {
      int r = hak_malloc_trim(pad);
      hak_stats_t s1 = hp::stats();
      RC_ASSERT(r == int(s1.evict_trim - s0.evict_trim + s0.large_cached > 0));
    } else {
      size_t n = hak_trim();
      RC_ASSERT(hp::stats().evict_trim - s0.evict_trim == n);
    }
    hak_stats_t s1 = hp::stats();
    RC_ASSERT(s1.ss_cached == 0u);
    RC_ASSERT(s1.large_cached == 0u);
    uint64_t live[hp::kMidClasses], lo, hi;
    s.mid_live(live);
    hp::mid_ss_bounds(live, true, lo, hi);   // no class without a live block keeps one now
    RC_ASSERT(s1.mid_superslabs >= lo);
    RC_ASSERT(s1.mid_superslabs <= hi);
    if (!s.any(hp::Tier::Small)) {
      // no small block live: every small SuperSlab was idle, and is now gone
      RC_ASSERT(s1.ss_mapped == s1.mid_superslabs);
      RC_ASSERT(s1.slabs_active == 0u);
    }
  }
  void show(std::ostream &os) const override {
    if (libc) os << "MallocTrim(" << pad << ")";
    else os << "Trim";
  }
};

struct SetLimits : Cmd {
  uint64_t count = *rc::gen::elementOf(std::vector<uint64_t>{0, 1, 2, 3, 8, 256});
  uint64_t mb = *rc::gen::elementOf(std::vector<uint64_t>{0, 2, 4, 6, 16, 512});
  uint64_t ttl = *rc::gen::elementOf(std::vector<uint64_t>{0, 1, 60});
  void apply(ApiModel &) const override {}
  void exec(const ApiModel &, ApiSut &s) const override {
    hak_limits_t l = {count, mb, ttl};
    hak_ss_set_limits(&l);
    s.max_cached = count;
    s.max_bytes = mb << 20;
    s.ttl_sec = ttl;
    hak_limits_t g;
    hak_ss_get_limits(&g);
    RC_ASSERT(g.max_cached == count);
    RC_ASSERT(g.max_memory_mb == mb);
    RC_ASSERT(g.ttl_sec == ttl);
    hak_stats_t st = hp::stats();
    RC_ASSERT(st.ss_cached <= count);
    RC_ASSERT(st.ss_cached_bytes <= (mb << 20));
  }
  void show(std::ostream &os) const override {
    os << "SetLimits(count " << count << ", " << mb << " MB, TTL " << ttl << " s)";
  }
};

struct AdvanceClock : Cmd {
  uint64_t sec = *rc::gen::elementOf(std::vector<uint64_t>{0, 1, 59, 61, 3600});
  void apply(ApiModel &) const override {}
  void exec(const ApiModel &, ApiSut &) const override {
    hak_stats_t s0 = hp::stats();
    hak_test_advance_clock(sec * hp::kSecNs);
    size_t n = hak_ss_evict();
    hak_stats_t s1 = hp::stats();
    RC_ASSERT(s0.ss_cached - s1.ss_cached == n);
    RC_ASSERT((s1.evict_ttl - s0.evict_ttl) + (s1.evict_count - s0.evict_count) +
                  (s1.evict_bytes - s0.evict_bytes) == n);
    RC_ASSERT(s1.ss_in_use == s0.ss_in_use);
  }
  void show(std::ostream &os) const override { os << "AdvanceClock(" << sec << " s) + Evict"; }
};

struct FlushThreadCache : Cmd {
  void apply(ApiModel &) const override {}
  void exec(const ApiModel &, ApiSut &s) const override {
    hak_thread_flush();
    hak_stats_t st = hp::stats();
    uint64_t small = 0;
    for (const auto &kv : s.blocks) small += kv.second.tier == hp::Tier::Small;
    RC_ASSERT(st.slabs_active <= small);   // every slab still held has a live block
    if (small == 0) RC_ASSERT(st.ss_in_use == st.mid_superslabs);   // only medium ones in use
  }
  void show(std::ostream &os) const override { os << "FlushThreadCache"; }
};

// Requests that must fail without touching the heap.
struct Impossible : Cmd {
  int which = *rc::gen::inRange(0, 4);
  void apply(ApiModel &) const override {}
  void exec(const ApiModel &, ApiSut &) const override {
    errno = 0;
    void *p = nullptr;
    int want = ENOMEM;
    switch (which) {
      case 0: p = hak_malloc(SIZE_MAX - 4096); break;
      case 1: p = hak_calloc(SIZE_MAX / 2, 3); break;
      case 2: p = hak_aligned_alloc(24, 64); want = EINVAL; break;
      default: p = hak_malloc(size_t(PTRDIFF_MAX) + 1); break;
    }
    RC_ASSERT(hp::addr(p) == 0u);
    RC_ASSERT(errno == want);
  }
  void show(std::ostream &os) const override { os << "Impossible(" << which << ")"; }
};


// ---- the rest of the allocation family ------------------------------------------------------------
// posix_memalign, memalign, valloc, pvalloc: a new block of the alignment the call promises (the
// rounded-up power for memalign's non-powers, a page for valloc and pvalloc) in the tier the
// reference rules give for that size and alignment; pvalloc serves the page-rounded size (a page
// for 0), so the model holds the rounded size.
enum class AlignFn { PosixMemalign, Memalign, Valloc, Pvalloc };

size_t pow2_ceil(size_t a) {
  size_t p = 1;
  while (p < a) p <<= 1;
  return p;
}

struct AlignFamily : Cmd {
  AlignFn fn = *rc::gen::element(AlignFn::PosixMemalign, AlignFn::Memalign, AlignFn::Valloc, AlignFn::Pvalloc);
  // memalign takes any alignment (0 and 1 included, non-powers rounded up); posix_memalign only
  // powers >= 8, so it draws from the powers.
  size_t align_in = *rc::gen::elementOf(std::vector<size_t>{0, 1, 2, 8, 16, 24, 32, 48, 64, 100, 256,
                                                            3000, 4096, 5000, 8192, 65536, 1u << 20});
  size_t size = *gen_size();
  uint8_t fill = *rc::gen::arbitrary<uint8_t>();
  size_t align() const {   // the alignment the block must have
    if (fn == AlignFn::Valloc || fn == AlignFn::Pvalloc) return hp::kPage;
    size_t a = pow2_ceil(align_in);
    if (fn == AlignFn::PosixMemalign) a = std::max<size_t>(a, 8);
    return a;
  }
  size_t msize() const {   // the bytes the block must serve
    if (fn != AlignFn::Pvalloc) return size;
    return size == 0 ? hp::kPage : (size + hp::kPage - 1) / hp::kPage * hp::kPage;
  }
  void apply(ApiModel &m) const override {
    m.blocks[m.next_id++] = MBlock{msize(), align() > 8 ? align() : 0, fill, false};
  }
  void exec(const ApiModel &m, ApiSut &s) const override {
    void *p = nullptr;
    switch (fn) {
      case AlignFn::PosixMemalign: {
        void *out = &p;   // untouched on failure: stays a non-block sentinel
        errno = EDOM;
        int r = hak_posix_memalign(&out, align(), size);
        RC_ASSERT(r == 0);
        RC_ASSERT(errno == EDOM);   // posix_memalign reports through its result, not errno
        p = out;
        break;
      }
      case AlignFn::Memalign: p = hak_memalign(align_in, size); break;
      case AlignFn::Valloc: p = hak_valloc(size); break;
      default: p = hak_pvalloc(size); break;
    }
    s.add(m.next_id, p, msize(), align());
    hp::fill_block(p, msize(), fill);
  }
  void show(std::ostream &os) const override {
    static const char *const names[] = {"PosixMemalign", "Memalign", "Valloc", "Pvalloc"};
    os << names[int(fn)] << "(";
    if (fn == AlignFn::PosixMemalign) os << align() << ", ";
    if (fn == AlignFn::Memalign) os << align_in << ", ";
    os << size << ", fill=" << int(fill) << ")";
  }
};

// realloc(NULL, n) and reallocarray(NULL, k, n / k): malloc.
struct ReallocNull : Cmd {
  bool array = *rc::gen::arbitrary<bool>();
  size_t size = *gen_size();
  uint8_t fill = *rc::gen::arbitrary<uint8_t>();
  void apply(ApiModel &m) const override { m.blocks[m.next_id++] = MBlock{size, 0, fill, false}; }
  void exec(const ApiModel &m, ApiSut &s) const override {
    void *p = array ? hak_reallocarray(nullptr, size % 3 == 0 ? 3 : 1, size % 3 == 0 ? size / 3 : size)
                    : hak_realloc(nullptr, size);
    s.add(m.next_id, p, size, 0);
    hp::fill_block(p, size, fill);
  }
  void show(std::ostream &os) const override {
    os << (array ? "ReallocArray(NULL, " : "Realloc(NULL, ") << size << ", fill=" << int(fill) << ")";
  }
};

// reallocarray(p, count, size) with a product that overflows: NULL, errno ENOMEM, and p stays
// live and untouched (checked at once and by every later command on it).
struct ReallocArrayOverflow : HandleCmd {
  size_t count, elem;   // count * elem > SIZE_MAX, each pair
  explicit ReallocArrayOverflow(const ApiModel &m) : HandleCmd(pick_id(m)) {
    static const std::vector<std::pair<size_t, size_t>> pairs = {
        {2, SIZE_MAX / 2 + 1}, {3, SIZE_MAX / 3 + 1}, {SIZE_MAX, 2}, {size_t(1) << 32, (size_t(1) << 32) + 1},
        {SIZE_MAX, SIZE_MAX}, {65536, (SIZE_MAX >> 16) + 1}};
    auto pr = *rc::gen::elementOf(pairs);
    count = pr.first;
    elem = pr.second;
    size_t total;
    RC_ASSERT(__builtin_mul_overflow(count, elem, &total));
  }
  void apply(ApiModel &) const override {}
  void exec(const ApiModel &m, ApiSut &s) const override {
    const SBlock &sb = s.blocks.at(id);
    errno = 0;
    void *q = hak_reallocarray(sb.p, count, elem);
    RC_ASSERT(hp::addr(q) == 0u);
    RC_ASSERT(errno == ENOMEM);
    RC_ASSERT(hp::actual_tier(sb.p) == sb.tier);
    s.check_contents(m.blocks.at(id), sb);
  }
  void show(std::ostream &os) const override {
    os << "ReallocArray(#" << id << ", " << count << ", " << elem << ") overflows";
  }
};

// posix_memalign / aligned_alloc / memalign with a bad or unservable alignment: posix_memalign
// returns EINVAL (a non-power or below 8) or ENOMEM (a power too large to serve), errno and *out
// untouched; aligned_alloc and memalign return NULL with errno EINVAL / ENOMEM (README, "Use").
struct BadAlign : Cmd {
  int which = *rc::gen::inRange(0, 9);
  size_t size = *rc::gen::elementOf(std::vector<size_t>{0, 1, 64, 40000, 600000});
  void apply(ApiModel &) const override {}
  void exec(const ApiModel &, ApiSut &) const override {
    size_t huge = size_t(1) << 62;   // a power of two no mapping can be aligned to
    if (which < 4) {
      static const size_t bad[] = {0, 4, 24, 4097};
      void *out = &out;
      errno = EDOM;
      int r = hak_posix_memalign(&out, bad[which], size);
      RC_ASSERT(r == EINVAL);
      RC_ASSERT(errno == EDOM);
      RC_ASSERT(hp::addr(out) == hp::addr(&out));
      return;
    }
    if (which == 4) {
      void *out = &out;
      errno = EDOM;
      int r = hak_posix_memalign(&out, huge, size);
      RC_ASSERT(r == ENOMEM);
      RC_ASSERT(errno == EDOM);
      RC_ASSERT(hp::addr(out) == hp::addr(&out));
      return;
    }
    errno = 0;
    void *p = nullptr;
    int want = EINVAL;
    switch (which) {
      case 5: p = hak_aligned_alloc(0, size); break;
      case 6: p = hak_aligned_alloc(48, size); break;
      case 7: p = hak_memalign(SIZE_MAX / 2 + 2, size); break;   // above 2^63: no power of two
      default: p = hak_memalign(huge + 1, size); want = ENOMEM; break;   // rounds to 2^63
    }
    RC_ASSERT(hp::addr(p) == 0u);
    RC_ASSERT(errno == want);
  }
  void show(std::ostream &os) const override { os << "BadAlign(" << which << ", " << size << ")"; }
};

// hak_ss_prewarm_all: the sum of the per-class prewarms; NULL is EINVAL.
struct PrewarmAll : Cmd {
  bool null = *rc::gen::weightedOneOf<bool>({{1, rc::gen::just(true)}, {5, rc::gen::just(false)}});
  std::vector<uint32_t> counts = *rc::gen::container<std::vector<uint32_t>>(
      HAK_TINY_CLASSES, rc::gen::weightedOneOf<uint32_t>({{3, rc::gen::just(0u)}, {1, rc::gen::inRange(1u, 3u)}}));
  void apply(ApiModel &) const override {}
  void exec(const ApiModel &, ApiSut &s) const override {
    hak_stats_t s0 = hp::stats();
    errno = 0;
    int r = hak_ss_prewarm_all(null ? nullptr : counts.data());
    hak_stats_t s1 = hp::stats();
    if (null) {
      RC_ASSERT(r == -1);
      RC_ASSERT(errno == EINVAL);
      RC_ASSERT(s1.ss_mapped == s0.ss_mapped);
      return;
    }
    uint64_t n = 0;
    for (uint32_t c : counts) n += c;
    RC_ASSERT(uint64_t(r) == n);
    RC_ASSERT(s1.prewarmed - s0.prewarmed == n);
    RC_ASSERT(s1.cache_misses - s0.cache_misses == n);
    RC_ASSERT(s1.cache_hits == s0.cache_hits);
    RC_ASSERT(s1.evict_count == s0.evict_count);
    RC_ASSERT(s1.evict_bytes == s0.evict_bytes);
    uint64_t ttl_out = s1.evict_ttl - s0.evict_ttl;
    RC_ASSERT(s1.ss_cached + ttl_out == s0.ss_cached + n);
    RC_ASSERT(s1.ss_cached >= n);
    if (n == 0) return;
    // each class call raises the limits to what is cached after it; with no expiry in between
    // the last one's is s0.ss_cached + n
    uint64_t want = s0.ss_cached + n;
    if (ttl_out == 0) {
      s.max_cached = std::max<uint64_t>(s.max_cached, want);
      s.max_bytes = std::max<uint64_t>(s.max_bytes, want * hp::kSsSize);
    } else {   // entries expired between the calls: a raise between the cached now and want
      RC_ASSERT(s1.limit_max_cached <= std::max<uint64_t>(s.max_cached, want));
      RC_ASSERT(s1.limit_max_cached >= std::max<uint64_t>(s.max_cached, s1.ss_cached));
      s.max_cached = s1.limit_max_cached;
      s.max_bytes = s1.limit_max_bytes;
    }
  }
  void show(std::ostream &os) const override {
    if (null) {
      os << "PrewarmAll(NULL)";
      return;
    }
    os << "PrewarmAll(";
    for (size_t k = 0; k < counts.size(); k++) os << (k ? " " : "") << counts[k];
    os << ")";
  }
};

// fork(): the child sees every live block with its contents, a clean hak_check(), and a heap
// that still serves (a block of each tier allocated, filled and freed) — the atfork handlers left
// no lock held; then _exit. The parent's state is unchanged.
void *wait_on_fd(void *fd) {
  char c;
  while (read(*static_cast<int *>(fd), &c, 1) < 0 && errno == EINTR) {
  }
  return nullptr;
}

// With `threaded`, a second thread is alive (blocked) across the fork: the process is not
// single-threaded, so the prepare handler takes every lock and the child handler must release them.
struct Fork : Cmd {
  size_t size = *gen_size();
  bool threaded = *rc::gen::arbitrary<bool>();
  void apply(ApiModel &) const override {}
  void exec(const ApiModel &m, ApiSut &s) const override {
    std::fflush(stdout);
    std::fflush(stderr);
    // the second thread waits on a pipe: no test-side heap object the child would leak (memcheck)
    int go[2] = {-1, -1};
    pthread_t other;
    if (threaded) {
      RC_ASSERT(pipe(go) == 0);
      RC_ASSERT(pthread_create(&other, nullptr, wait_on_fd, &go[0]) == 0);
    }
    pid_t pid = fork();
    if (threaded && pid != 0) {
      close(go[1]);   // end of file: the thread returns
      pthread_join(other, nullptr);
      close(go[0]);
    }
    RC_ASSERT(pid >= 0);
    if (pid == 0) {
      alarm(10);   // a lock the atfork handlers left held deadlocks: SIGALRM, not a hang
      int bad = 0;
      for (const auto &kv : m.blocks) {
        const SBlock &sb = s.blocks.at(kv.first);
        if (hp::first_bad(sb.p, kv.second.size, kv.second.fill) != kv.second.size) bad |= 2;
      }
      if (hak_check() != nullptr) bad |= 4;
      for (size_t n : {size, size_t(100), size_t(100000), size_t(1) << 20}) {
        void *p = hak_malloc(n);
        if (p == nullptr) {
          bad |= 8;
          continue;
        }
        hp::fill_block(p, n, 0x5a);
        if (hp::first_bad(p, n, 0x5a) != n) bad |= 8;
        hak_free(p);
      }
      hak_thread_flush();
      if (hak_check() != nullptr) bad |= 16;
      _exit(bad);
    }
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    RC_ASSERT(w == pid);
    RC_ASSERT(WIFEXITED(status));
    RC_ASSERT(WEXITSTATUS(status) == 0);   // 2: contents, 4 / 16: hak_check, 8: allocation
  }
  void show(std::ostream &os) const override {
    os << "Fork(child allocates " << size << (threaded ? ", a second thread alive" : "") << ")";
  }
};

// A short thread: allocates blocks (each size drawn here), frees every other one at once, and
// exits holding the rest, which it fills; they become the model's blocks (freed, reallocated,
// checked by the main thread later: remote frees into an abandoned heap). Its own exit is the
// thread teardown: the statistics keep counting the blocks it left.
struct Thread : Cmd {
  std::vector<size_t> sizes = *rc::gen::container<std::vector<size_t>>(
      *rc::gen::inRange<size_t>(1, 6), gen_size());
  uint8_t fill = *rc::gen::arbitrary<uint8_t>();
  bool kept(size_t i) const { return i % 2 == 0; }
  void apply(ApiModel &m) const override {
    for (size_t i = 0; i < sizes.size(); i++)
      if (kept(i)) m.blocks[m.next_id++] = MBlock{sizes[i], 0, uint8_t(fill + i), false};
  }
  void exec(const ApiModel &m, ApiSut &s) const override {
    std::vector<void *> ps(sizes.size(), nullptr);
    std::thread t([&] {
      for (size_t i = 0; i < sizes.size(); i++) {
        ps[i] = hak_malloc(sizes[i]);
        if (ps[i] != nullptr) hp::fill_block(ps[i], sizes[i], uint8_t(fill + i));
        if (!kept(i)) {
          hak_free(ps[i]);
          ps[i] = nullptr;
        }
      }
    });
    t.join();
    int id = m.next_id;
    for (size_t i = 0; i < sizes.size(); i++) {
      if (!kept(i)) continue;
      s.add(id, ps[i], sizes[i], 0);
      RC_ASSERT(hp::first_bad(ps[i], sizes[i], uint8_t(fill + i)) == sizes[i]);
      id++;
    }
  }
  void show(std::ostream &os) const override {
    os << "Thread(";
    for (size_t i = 0; i < sizes.size(); i++) os << (i ? ", " : "") << sizes[i] << (kept(i) ? " kept" : " freed");
    os << ", fill=" << int(fill) << ")";
  }
};

}  // namespace

int main() {
  hp_init();
  static const char *const levels[] = {"off", "fast", "strict", "paranoid"};
  const char *level = levels[std::min(hp::harden_level(), 3u)];
  std::printf("prop_api_model: hardening level %s\n", level);
  std::fflush(stdout);
  bool ok = rc::check("api model: public + control API against a model of live blocks and limits", [] {
    const auto cmds = *rc::state::gen::commands(
        ApiModel{}, rc::state::gen::execOneOfWithArgs<
                        Malloc, Malloc, Malloc, Calloc, Realloc, Realloc, AlignedAlloc, Free, Free, Free,
                        FreeSized, FreeSized, UsableSize, CheckContents, Prewarm, Trim, SetLimits,
                        AdvanceClock, FlushThreadCache, FlushThreadCache, Impossible, AlignFamily, AlignFamily,
                        ReallocNull, ReallocArrayOverflow, BadAlign, PrewarmAll, Fork, Thread>());
    hp::isolated([&] {
      ApiSut sut;
      RC_ASSERT(sut.base.small_live_blocks == 0u);   // a clean start: nothing live, nothing in use
      RC_ASSERT(sut.base.ss_in_use == 0u);
      RC_ASSERT(sut.base.large_live == 0u);
      RC_ASSERT(sut.base.mid_live == 0u);         // hp::reset's hak_trim gave every kept one back
      RC_ASSERT(sut.base.mid_superslabs == 0u);
      rc::state::runAll(cmds, ApiModel{}, sut);
    });
  });
  if (!ok)   // the reproduce string holds the cases, not the level: name it on the replay line
    std::printf("prop_api_model: replay with HAKMEM_HARDEN=%s HAK_PROPS_FORK=%d and the RC_PARAMS above\n",
                level, hp::fork_mode() ? 1 : 0);
  return ok ? 0 : 1;
}
