// prop_registry.cpp — the registry (pointer -> owner at 2 MiB granularity) against a std::map.
//
// A random program of Set(first chunk, chunks, size trim, tag) / Clear(k-th range) / Lookup(chunk,
// offset) / Real(size) runs on a window of 64 chunks at 0x300000000000 that nothing maps
// (registry entries are plain numbers). After every step:
//   - a lookup anywhere in a chunk returns the entry of the range covering it, else 0;
//   - hm_registry_count() == baseline + registered chunks (a set of size bytes from a 2 MiB
//     boundary covers ceil(size / 2 MiB) chunks);
//   - foreign addresses are never found: NULL, the stack, a global, the libc heap, code, the
//     kernel half, 1 << 47, ~0, and random addresses in a window nobody maps;
//   - Real(size): a hakmem block is found, a small or medium one names the SuperSlab holding it
//     (a medium block lives in a SuperSlab given whole to its class: tagged entry), a large one
//     an untagged descriptor (the tier by the reference rules of prop_common.hpp, at the level in
//     force), and once it is freed and the cache trimmed its address is not found any more.
// hak_check() is not called while fake entries exist (its count cross-check would object).
#include <cstdlib>
#include <map>
#include <vector>

#include "prop_common.hpp"

namespace {

constexpr uintptr_t kRegion = 0x300000000000ull;   // 64 chunks of fake owners
constexpr uintptr_t kForeign = 0x310000000000ull;  // 2^40 bytes nothing maps
constexpr unsigned kChunks = 64;
int g_global;

enum class Kind { Set, Clear, Lookup, Real };
struct Op {
  Kind kind;
  unsigned a;     // Set: first chunk; Clear: k-th range; Lookup: chunk; Real: size
  unsigned b;     // Set: chunks (1..3); Lookup: offset in the chunk
  unsigned trim;  // Set: bytes short of b * 2 MiB (the last chunk is still covered)
  bool tag;       // Set: entry tagged as a SuperSlab
};

void showValue(const Op &op, std::ostream &os) {
  switch (op.kind) {
    case Kind::Set: os << "Set(chunk " << op.a << ", " << op.b << " chunks - " << op.trim << " B" << (op.tag ? ", ss" : "") << ")"; break;
    case Kind::Clear: os << "Clear(range " << op.a << ")"; break;
    case Kind::Lookup: os << "Lookup(chunk " << op.a << " + " << op.b << ")"; break;
    case Kind::Real: os << "Real(" << op.a << ")"; break;
  }
}

rc::Gen<Op> gen_op() {
  using namespace rc;
  return gen::weightedOneOf<Op>({
      {4, gen::apply([](unsigned a, unsigned b, unsigned t, bool tag) { return Op{Kind::Set, a, b, t, tag}; },
                     gen::inRange(0u, kChunks), gen::inRange(1u, 4u),
                     gen::elementOf(std::vector<unsigned>{0, 1, 4096, (1u << 21) - 1}), gen::arbitrary<bool>())},
      {2, gen::apply([](unsigned a) { return Op{Kind::Clear, a, 0, 0, false}; }, gen::inRange(0u, 64u))},
      {4, gen::apply([](unsigned a, unsigned b) { return Op{Kind::Lookup, a, b, 0, false}; },
                     gen::inRange(0u, kChunks + 2),
                     gen::elementOf(std::vector<unsigned>{0, 1, 8, 4096, 1u << 20, (1u << 21) - 1}))},
      {1, gen::apply([](unsigned a) { return Op{Kind::Real, a, 0, 0, false}; },
                     gen::elementOf(std::vector<unsigned>{1, 100, 32760, 32761, 32768, 32769, 40000, 200000,
                                                          524280, 524281, 524288, 524289, 3u << 20}))},
  });
}

struct Range { unsigned first, chunks; size_t size; uintptr_t entry; };

struct Fixture {
  std::vector<Range> ranges;
  ~Fixture() {
    for (const Range &r : ranges) hp_registry_clear(kRegion + uintptr_t(r.first) * hp::kSsSize, r.size);
  }
};

void check_foreign(uintptr_t rnd) {
  int local = 0;
  void *heap = std::malloc(64);
  const void *foreign[] = {nullptr, &local, &g_global, heap, reinterpret_cast<const void *>(&check_foreign),
                           reinterpret_cast<const void *>(uintptr_t(0x1000)),
                           reinterpret_cast<const void *>(uintptr_t(0xffff800000001000ull)),
                           reinterpret_cast<const void *>(uintptr_t(1) << 47),
                           reinterpret_cast<const void *>(~uintptr_t(0)),
                           reinterpret_cast<const void *>(kForeign + (rnd & ((uintptr_t(1) << 40) - 1))),
                           reinterpret_cast<const void *>(rnd | (uintptr_t(1) << 47))};
  unsigned found = 0;
  for (const void *p : foreign) found += hp_registry_lookup(p) != 0;
  std::free(heap);
  RC_ASSERT(found == 0u);
}

}  // namespace

int main() {
  hp_init();
  bool ok = rc::check("registry: set / lookup / clear against a std::map; foreign addresses never found",
                      [] {
    const auto ops = *rc::gen::container<std::vector<Op>>(gen_op());
    const uintptr_t rnd = *rc::gen::arbitrary<uintptr_t>();
    hp::isolated([&] {
      hp::reset();
      const size_t base_count = hp_registry_count();
      Fixture fx;
      std::map<unsigned, uintptr_t> model;   // chunk -> entry
      size_t step = 0;
      for (const Op &op : ops) {
        step++;
        switch (op.kind) {
          case Kind::Set: {
            if (op.a + op.b > kChunks) break;
            bool free = true;
            for (unsigned c = op.a; c < op.a + op.b; c++) free &= model.count(c) == 0;
            if (!free) break;   // the registry's contract: ranges never overlap
            Range r{op.a, op.b, size_t(op.b) * hp::kSsSize - op.trim,
                    (uintptr_t(op.a + 1) << 8) | (op.tag ? hp_reg_tag_ss() : 0)};
            RC_ASSERT(hp_registry_set(kRegion + uintptr_t(r.first) * hp::kSsSize, r.size, r.entry));
            fx.ranges.push_back(r);
            for (unsigned c = op.a; c < op.a + op.b; c++) model[c] = r.entry;
            break;
          }
          case Kind::Clear: {
            if (fx.ranges.empty()) break;
            size_t k = op.a % fx.ranges.size();
            Range r = fx.ranges[k];
            hp_registry_clear(kRegion + uintptr_t(r.first) * hp::kSsSize, r.size);
            fx.ranges.erase(fx.ranges.begin() + long(k));
            for (unsigned c = r.first; c < r.first + r.chunks; c++) model.erase(c);
            break;
          }
          case Kind::Lookup: {
            uintptr_t a = kRegion + uintptr_t(op.a) * hp::kSsSize + op.b;
            uintptr_t want = model.count(op.a) ? model[op.a] : 0;
            RC_ASSERT(hp_registry_lookup(reinterpret_cast<void *>(a)) == want);
            break;
          }
          case Kind::Real: {
            void *p = hak_malloc(op.a);
            RC_ASSERT(hp::addr(p) != 0u);
            size_t usable = hak_malloc_usable_size(p);
            uintptr_t e = hp_registry_lookup(p);
            RC_ASSERT(e != 0u);
            RC_ASSERT(hp_registry_lookup(static_cast<char *>(p) + usable - 1) == e);
            if (hp::tier_for(hp::mid_on(), op.a, 0) != hp::Tier::Large)
              RC_ASSERT(hp_entry_ss_base(e) == (hp::addr(p) & ~(hp::kSsSize - 1)));
            else RC_ASSERT((e & hp_reg_tag_ss()) == 0u);
            hak_free(p);
            hak_trim();   // the only block: its SuperSlab (or mapping) is gone now
            RC_ASSERT(hp_registry_lookup(p) == 0u);
            break;
          }
        }
        // every chunk of the window agrees with the model, and the count adds up
        for (unsigned c = 0; c < kChunks; c++) {
          uintptr_t want = model.count(c) ? model[c] : 0;
          RC_ASSERT(hp_registry_lookup(reinterpret_cast<void *>(kRegion + uintptr_t(c) * hp::kSsSize + 4096)) == want);
        }
        RC_ASSERT(hp_registry_count() == base_count + model.size());
        check_foreign(rnd + step * 0x9e3779b97f4a7c15ull);
      }
    });
  });
  hp::reset();
  return ok ? 0 : 1;
}
