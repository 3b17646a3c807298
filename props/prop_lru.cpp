// prop_lru.cpp — the LRU cache of empty SuperSlabs against an exact reference model.
//
// The test thread controls SuperSlabs one at a time: Use(k) allocates 64 blocks of 32760 bytes
// (the largest small request: the top class, 32 KiB blocks with their end canary, 2 per slab, 32
// slabs) k times, so each batch fills exactly one SuperSlab, taken from the cache (its newest
// entry) or freshly mapped; Release(i) frees every block of the i-th held SuperSlab and flushes, so exactly that SuperSlab enters the cache, as its newest entry.
// The model is the cache as a list (newest first) of entries {base if known, prewarmed, cached
// at}, the limits, a model clock (1 unit = 100 s, so real time spent by the test never crosses
// a TTL boundary) and the expected counters. Reference eviction, run wherever the allocator
// enforces its limits (release into the cache, set limits, evict, prewarm):
//   while over the count limit: evict the oldest (evict_count);
//   while over the byte limit:  evict the oldest (evict_bytes);
//   then the oldest entry not marked prewarmed, if its age >= TTL (evict_ttl).
// Prewarm(n) maps n SuperSlabs with the bypass flag set (no pop: cache_hits unchanged), raises the
// limits to hold len + n and parks them as prewarmed (exempt from the TTL until used).
// BypassUse(k) is Use(k) with the bypass flag held: it must map, not pop.
// After every step: ss_cached / ss_cached_bytes / ss_in_use / ss_mapped, cache_hits,
// cache_misses, evict_count / evict_bytes / evict_ttl / evict_trim, prewarmed and the limits
// equal the model; every cached SuperSlab whose address is known is still registered, every one
// evicted by this step is not; a popped SuperSlab is the newest entry; hak_check() is clean.
#include <algorithm>
#include <deque>
#include <set>
#include <vector>

#include "prop_common.hpp"

namespace {

constexpr uint64_t kUnitSec = 100;        // model clock unit
constexpr size_t kBlock = hp::kSmallMax;  // the top class (32 KiB with its end canary): 64 per SuperSlab
constexpr unsigned kPerSs = 64;
constexpr size_t kMaxHeld = 12;

enum class Kind { Use, BypassUse, Release, Prewarm, SetLimits, Advance, Trim };
struct Op {
  Kind kind;
  unsigned a, b, c;
};

void showValue(const Op &op, std::ostream &os) {
  switch (op.kind) {
    case Kind::Use: os << "Use(" << op.a << ")"; break;
    case Kind::BypassUse: os << "BypassUse(" << op.a << ")"; break;
    case Kind::Release: os << "Release(held " << op.a << ")"; break;
    case Kind::Prewarm: os << "Prewarm(class " << op.b << ", " << op.a << ")"; break;
    case Kind::SetLimits: os << "SetLimits(count " << op.a << ", " << op.b << " MB, TTL " << op.c * kUnitSec << " s)"; break;
    case Kind::Advance: os << "Advance(" << op.a * kUnitSec << " s) + Evict"; break;
    case Kind::Trim: os << "Trim"; break;
  }
}

rc::Gen<Op> gen_op() {
  using namespace rc;
  auto k = gen::inRange(1u, 4u);
  return gen::weightedOneOf<Op>({
      {5, gen::apply([](unsigned a) { return Op{Kind::Use, a, 0, 0}; }, k)},
      {1, gen::apply([](unsigned a) { return Op{Kind::BypassUse, a, 0, 0}; }, k)},
      {5, gen::apply([](unsigned a) { return Op{Kind::Release, a, 0, 0}; }, gen::inRange(0u, 16u))},
      {2, gen::apply([](unsigned a, unsigned b) { return Op{Kind::Prewarm, a, b, 0}; }, k,
                     gen::inRange(0u, unsigned(HAK_TINY_CLASSES)))},
      {2, gen::apply([](unsigned a, unsigned b, unsigned c) { return Op{Kind::SetLimits, a, b, c}; },
                     gen::inRange(0u, 7u), gen::elementOf(std::vector<unsigned>{0, 2, 4, 6, 8, 12, 512}),
                     gen::inRange(0u, 4u))},
      {2, gen::apply([](unsigned a) { return Op{Kind::Advance, a, 0, 0}; }, gen::inRange(0u, 4u))},
      {1, gen::just(Op{Kind::Trim, 0, 0, 0})},
  });
}

struct Entry {
  uintptr_t base;   // 0 until observed (prewarm maps where the system says)
  bool prewarmed;
  uint64_t at;      // model time it entered the cache
};

struct Expect {
  uint64_t hits = 0, misses = 0, ev_count = 0, ev_bytes = 0, ev_ttl = 0, ev_trim = 0, prewarmed = 0;
};

struct Lru {
  std::deque<Entry> cache;   // front = newest
  uint64_t max_cached = 256, max_bytes = uint64_t(512) << 20, ttl = 1;  // ttl in units
  uint64_t now = 0;
  Expect ex;
  std::vector<uintptr_t> evicted;   // known bases evicted by the current step

  void take(size_t i, uint64_t &reason) {
    if (cache[i].base) evicted.push_back(cache[i].base);
    cache.erase(cache.begin() + long(i));
    reason++;
  }
  size_t enforce() {
    size_t n = 0;
    while (!cache.empty()) {
      if (cache.size() > max_cached) {
        take(cache.size() - 1, ex.ev_count);
      } else if (cache.size() * hp::kSsSize > max_bytes) {
        take(cache.size() - 1, ex.ev_bytes);
      } else {
        size_t i = cache.size();
        while (i > 0 && cache[i - 1].prewarmed) i--;
        if (i == 0 || now - cache[i - 1].at < ttl) break;
        take(i - 1, ex.ev_ttl);
      }
      n++;
    }
    return n;
  }
};

struct Held {
  uintptr_t base;
  std::vector<void *> blocks;
};

struct Fixture {
  std::vector<Held> held;
  hak_stats_t base;
  Fixture() {
    hp::reset();
    // the default TTL (60 s) is not a whole model unit: start from the model's limits (TTL 100 s)
    hak_limits_t l = {256, 512, kUnitSec};
    hak_ss_set_limits(&l);
    base = hp::stats();
  }
  ~Fixture() {
    for (Held &h : held)
      for (void *p : h.blocks) hak_free(p);
    hp::reset();
  }
};

// One SuperSlab's worth of blocks; returns its base.
Held fill_one(const std::vector<Held> &held) {
  Held h{0, {}};
  for (unsigned i = 0; i < kPerSs; i++) {
    void *p = hak_malloc(kBlock);
    RC_ASSERT(hp::addr(p) != 0u);
    uintptr_t b = hp::addr(p) & ~(hp::kSsSize - 1);
    if (i == 0) h.base = b;
    RC_ASSERT(b == h.base);   // 64 top-class blocks fill exactly one SuperSlab
    h.blocks.push_back(p);
  }
  for (const Held &o : held) RC_ASSERT(o.base != h.base);
  return h;
}

void use(Fixture &fx, Lru &m, unsigned k, bool bypass) {
  for (unsigned j = 0; j < k && fx.held.size() < kMaxHeld; j++) {
    if (bypass) hp_bypass_enter();
    Held h = fill_one(fx.held);
    if (bypass) hp_bypass_leave();
    if (!bypass && !m.cache.empty()) {
      Entry e = m.cache.front();   // the newest entry is reused
      m.cache.pop_front();
      m.ex.hits++;
      if (e.base != 0) RC_ASSERT(h.base == e.base);
    } else {
      m.ex.misses++;
      for (const Entry &e : m.cache) RC_ASSERT(e.base != h.base);   // a fresh mapping
    }
    fx.held.push_back(h);
  }
}

void verify(const Fixture &fx, const Lru &m) {
  hak_stats_t s = hp::stats();
  const hak_stats_t &b = fx.base;
  RC_ASSERT(s.ss_cached == m.cache.size());
  RC_ASSERT(s.ss_cached_bytes == m.cache.size() * hp::kSsSize);
  RC_ASSERT(s.ss_in_use == fx.held.size());
  RC_ASSERT(s.ss_mapped == fx.held.size() + m.cache.size());
  RC_ASSERT(s.cache_hits - b.cache_hits == m.ex.hits);
  RC_ASSERT(s.cache_misses - b.cache_misses == m.ex.misses);
  RC_ASSERT(s.evict_count - b.evict_count == m.ex.ev_count);
  RC_ASSERT(s.evict_bytes - b.evict_bytes == m.ex.ev_bytes);
  RC_ASSERT(s.evict_ttl - b.evict_ttl == m.ex.ev_ttl);
  RC_ASSERT(s.evict_trim - b.evict_trim == m.ex.ev_trim);
  RC_ASSERT(s.prewarmed - b.prewarmed == m.ex.prewarmed);
  RC_ASSERT(s.limit_max_cached == m.max_cached);
  RC_ASSERT(s.limit_max_bytes == m.max_bytes);
  RC_ASSERT(s.limit_ttl_sec == m.ttl * kUnitSec);
  for (const Entry &e : m.cache)
    if (e.base != 0) RC_ASSERT(hp_entry_ss_base(hp_registry_lookup(reinterpret_cast<void *>(e.base))) == e.base);
  for (uintptr_t a : m.evicted) RC_ASSERT(hp_registry_lookup(reinterpret_cast<void *>(a)) == 0u);
  RC_ASSERT(hp::check_str() == std::string());
}

}  // namespace

int main() {
  hp_init();
  bool ok = rc::check("lru cache: accounting, newest reused, oldest evicted, TTL, limits, prewarm bypass", [] {
    const auto ops = *rc::gen::container<std::vector<Op>>(gen_op());
    hp::isolated([&] {
      Fixture fx;
      Lru m;
      RC_ASSERT(fx.base.ss_mapped == 0u);   // the reset left no SuperSlab behind
      for (const Op &op : ops) {
        m.evicted.clear();
        switch (op.kind) {
          case Kind::Use: use(fx, m, op.a, false); break;
          case Kind::BypassUse: use(fx, m, op.a, true); break;
          case Kind::Release: {
            if (fx.held.empty()) break;
            size_t i = op.a % fx.held.size();
            Held h = fx.held[i];
            fx.held.erase(fx.held.begin() + long(i));
            for (void *p : h.blocks) hak_free(p);
            hak_thread_flush();
            m.cache.push_front(Entry{h.base, false, m.now});
            m.enforce();
            break;
          }
          case Kind::Prewarm: {
            int r = hak_ss_prewarm_class(int(op.b), op.a);
            RC_ASSERT(r == int(op.a));
            uint64_t want = m.cache.size() + op.a;
            m.max_cached = std::max(m.max_cached, want);
            m.max_bytes = std::max(m.max_bytes, want * hp::kSsSize);
            m.ex.misses += op.a;
            m.ex.prewarmed += op.a;
            for (unsigned j = 0; j < op.a; j++) m.cache.push_front(Entry{0, true, m.now});
            m.enforce();
            break;
          }
          case Kind::SetLimits: {
            hak_limits_t l = {op.a, op.b, op.c * kUnitSec};
            hak_ss_set_limits(&l);
            m.max_cached = op.a;
            m.max_bytes = uint64_t(op.b) << 20;
            m.ttl = op.c;
            m.enforce();
            break;
          }
          case Kind::Advance: {
            hak_test_advance_clock(op.a * kUnitSec * hp::kSecNs);
            size_t n = hak_ss_evict();
            m.now += op.a;
            RC_ASSERT(n == m.enforce());
            break;
          }
          case Kind::Trim: {
            size_t n = hak_trim();
            RC_ASSERT(n == m.cache.size());
            m.ex.ev_trim += m.cache.size();
            for (const Entry &e : m.cache)
              if (e.base) m.evicted.push_back(e.base);
            m.cache.clear();
            break;
          }
        }
        verify(fx, m);
      }
    });
  });
  hp::reset();
  return ok ? 0 : 1;
}
