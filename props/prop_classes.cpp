// prop_classes.cpp — size classes against an independent reference.
//
// Reference: 8, 16, then steps of 16 up to 128, then four classes per doubling (p + p/4, p + p/2,
// p + 3p/4, 2p) up to 32 KiB. Every block ends in an 8-byte end canary (prop_common.hpp), so a
// request of n bytes needs a block of n + 8. Properties, for any size 0..32760:
//   - the table has exactly the reference classes, strictly increasing (monotone);
//   - hm_size_class(size) is the smallest class that holds size + 8 (so it is also monotone in
//     size; malloc(0) gets class 0, the 8-byte block that is all canary);
//   - every class of 16 bytes or more is a multiple of 16 (alignment), and 8 divides every class;
//   - end to end: hak_malloc(size) is aligned, its block is that class (usable size: the class
//     - 8, or under ASan the request), and the statistics count it in that class
//     (small_live_bytes grows by the class size - 8).
// Plus an exhaustive sweep of all 32761 sizes (cheap) so no boundary escapes the sampling.
// Medium tier (prop_common.hpp): at the off and fast levels 32760 < size <= 524280 gets the
// smallest of the 16 medium classes ((5 + k % 4) << (13 + k / 4)) holding size + 8, 8 KiB-
// aligned, counted in mid_live / mid_live_bytes (class - 8); larger sizes (and all > 32760 at the
// strict levels) are large. Checked on every medium class edge (c - 9, c - 8, c - 7, c - 1, c,
// c + 1; 32760, 32761, 32768, 32769, 524280, 524281, 524288, 524289) once, then on random sizes
// up to 1 MiB; freeing the block keeps its class's empty SuperSlab until hak_trim.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "prop_common.hpp"

namespace {

std::vector<size_t> reference_classes() {
  std::vector<size_t> c = {8, 16};
  for (size_t s = 32; s <= 128; s += 16) c.push_back(s);
  for (size_t p = 128; p < hp::kSmallBlockMax; p *= 2)
    for (size_t k = 5; k <= 8; k++) c.push_back(p * k / 4);
  return c;
}

const std::vector<size_t> &ref() {
  static const std::vector<size_t> r = reference_classes();
  return r;
}

// The block of a small request: the smallest reference class holding it and the end canary.
size_t ref_class_size(size_t size) {
  return *std::lower_bound(ref().begin(), ref().end(), size + hp::kCanary);
}

rc::Gen<size_t> gen_small_size() {
  std::vector<size_t> edges;
  for (size_t c : ref())   // the request edges (c - 9, c - 8, c - 7) and the block edges
    for (size_t e : {c - hp::kCanary - 1, c - hp::kCanary, c - hp::kCanary + 1, c - 1, c, c + 1})
      if (e <= hp::kSmallMax) edges.push_back(e);   // c - 9 wraps for c = 8; > 32760 is medium
  edges.push_back(hp::kSmallMax);
  return rc::gen::weightedOneOf<size_t>({{1, rc::gen::elementOf(edges)},
                                         {1, rc::gen::inRange<size_t>(0, hp::kSmallMax + 1)}});
}

rc::Gen<size_t> gen_mid_size() {
  std::vector<size_t> edges;
  for (unsigned k = 0; k < hp::kMidClasses; k++)
    for (size_t d = 0; d < 3; d++) {
      edges.push_back(hp::mid_class_size(k) - hp::kCanary - 1 + d);
      edges.push_back(hp::mid_class_size(k) - 1 + d);
    }
  return rc::gen::weightedOneOf<size_t>({{1, rc::gen::elementOf(edges)},
                                         {2, rc::gen::inRange<size_t>(hp::kSmallMax + 1, hp::kMidMax + 1)},
                                         {1, rc::gen::inRange<size_t>(hp::kMidMax + 1, size_t(1) << 20)}});
}

// One medium-or-large request end to end; "" if it holds, else what failed. Run in a clean state.
std::string check_big(size_t size, bool mid) {
  std::ostringstream why;
  hak_stats_t s0 = hp::stats();
  void *p = hak_malloc(size);
  if (p == nullptr) return "malloc(" + std::to_string(size) + ") failed";
  hp::Tier want = hp::tier_for(mid, size, 0), got = hp::actual_tier(p);
  size_t usable = hak_malloc_usable_size(p), block = hp_block_size(p), counted = hp_block_usable(p);
  hak_stats_t s1 = hp::stats();
  hp::fill_block(p, usable, 0x5a);   // the whole usable size is writable
  hak_free(p);
  hak_stats_t s2 = hp::stats();
  why << "size " << size << ": ";
  if (got != want) {
    why << hp::tier_name(got) << " block, the reference says " << hp::tier_name(want);
    return why.str();
  }
  if (usable < size || usable > counted) {
    why << "usable " << usable << " outside [request, block " << block << " - its end canary]";
    return why.str();
  }
  if (want == hp::Tier::Mid) {
    if (block != hp::mid_block(size) || counted != hp::mid_usable(size) || hp::addr(p) % hp::kMidAlign != 0)
      why << "medium block of " << block << " bytes (" << counted << " usable) at " << p << ", want the "
          << hp::mid_block(size) << "-byte class (" << hp::mid_usable(size) << " usable), 8 KiB-aligned";
    else if (s1.mid_live != s0.mid_live + 1 || s1.mid_live_bytes != s0.mid_live_bytes + hp::mid_usable(size) ||
             s1.small_live_blocks != s0.small_live_blocks || s1.large_live != s0.large_live)
      why << "not counted as one medium block of its class";
    else if (s2.mid_live != s0.mid_live || s2.mid_live_bytes != s0.mid_live_bytes)
      why << "still counted after free";
    else if (s1.mid_superslabs < 1 || s2.mid_superslabs < 1 || s2.mid_superslabs > s0.mid_superslabs + 1)
      why << "its class's emptied SuperSlab is not the one kept (mid_superslabs " << s0.mid_superslabs
          << " -> " << s1.mid_superslabs << " -> " << s2.mid_superslabs << ")";
    else return "";
    return why.str();
  }
  if (s1.large_live != s0.large_live + 1 || s1.mid_live != s0.mid_live || s2.large_live != s0.large_live)
    why << "not counted as one large block";
  else return "";
  return why.str();
}

}  // namespace

int main() {
  hp_init();
  bool ok = true;

  // Exhaustive checks (deterministic: run once, not once per case).
  std::printf("- classes: the table equals the reference, strictly increasing, aligned\n");
  bool table = size_t(hp_class_count()) == ref().size();
  for (unsigned c = 0; table && c < hp_class_count(); c++) {
    size_t cs = hp_class_size(c);
    if (cs != ref()[c] || cs % 8 != 0 || (cs >= 16 && cs % 16 != 0) ||
        (c > 0 && cs <= hp_class_size(c - 1))) {
      std::printf("Falsified: class %u is %zu bytes, the reference says %zu\n", c, cs, ref()[c]);
      table = false;
    }
  }
  std::printf("%s\n", table ? "OK, 1 exhaustive check" : "Falsified");
  ok &= table;
  std::printf("- classes: every size 0..32760 maps to the smallest class that holds it and the canary (sweep)\n");
  bool sweep = true;
  for (size_t size = 0, prev = 0; sweep && size <= hp::kSmallMax; size++) {
    unsigned c = hp_size_class(size);
    if (c >= hp_class_count() || size_t(hp_class_size(c)) != ref_class_size(size) || c < prev) {
      std::printf("Falsified: size %zu maps to class %u (%u bytes), the smallest that fits is %zu\n",
                  size, c, c < hp_class_count() ? hp_class_size(c) : 0u, ref_class_size(size));
      sweep = false;
    }
    prev = c;
  }
  std::printf("%s\n", sweep ? "OK, 32761 sizes" : "Falsified");
  ok &= sweep;

  ok &= rc::check("classes: a random size gets the smallest class that holds it and the canary", [](void) {
    size_t size = *gen_small_size();
    unsigned c = hp_size_class(size);
    RC_ASSERT(size_t(hp_class_size(c)) >= size + hp::kCanary);
    if (c > 0) RC_ASSERT(size_t(hp_class_size(c - 1)) < size + hp::kCanary);
    RC_ASSERT(size_t(hp_class_size(c)) == ref_class_size(size));
    size_t other = *gen_small_size();   // monotone in size
    if (other <= size) RC_ASSERT(hp_size_class(other) <= c);
  });

  ok &= rc::check("classes: hak_malloc(size) is aligned, its usable size is the class - 8, counted as such",
                  [](void) {
    size_t size = *gen_small_size();
    hp::isolated([&] {
      hp::reset();
      hak_stats_t s0 = hp::stats();
      void *p = hak_malloc(size);
      RC_ASSERT(hp::addr(p) != 0u);
      size_t usable = hak_malloc_usable_size(p);   // the class size - 8; under ASan the request
      size_t block = hp_block_size(p), counted = hp_block_usable(p);
      hak_stats_t s1 = hp::stats();
      hp::fill_block(p, usable, 0x5a);   // the whole usable size is writable
      hak_free(p);
      RC_ASSERT(block == ref_class_size(size));
      RC_ASSERT(counted == ref_class_size(size) - hp::kCanary);
      RC_ASSERT(usable >= size);
      RC_ASSERT(usable <= counted);   // == counted, except under ASan: == size
      RC_ASSERT(hp::addr(p) % hp::min_align(size) == 0u);
      RC_ASSERT(s1.small_live_blocks == s0.small_live_blocks + 1);
      RC_ASSERT(s1.small_live_bytes == s0.small_live_bytes + ref_class_size(size) - hp::kCanary);
      RC_ASSERT(hp::check_str() == std::string());
    });
  });
  std::printf("- classes: every medium class edge gets the tier and class of the reference (sweep)\n");
  {
    hp::reset();
    const bool mid = hp::mid_on();
    std::vector<size_t> edges = {hp::kSmallMax + 1, hp::kSmallBlockMax, hp::kSmallBlockMax + 1,
                                 hp::kMidMax, hp::kMidMax + 1, hp::kMidBlockMax, hp::kMidBlockMax + 1};
    for (unsigned k = 0; k < hp::kMidClasses; k++)
      for (size_t d = 0; d < 3; d++) {
        edges.push_back(hp::mid_class_size(k) - hp::kCanary - 1 + d);
        edges.push_back(hp::mid_class_size(k) - 1 + d);
      }
    bool medium = true;
    for (size_t size : edges) {
      std::string why = check_big(size, mid);
      if (!why.empty()) {
        std::printf("Falsified: %s\n", why.c_str());
        medium = false;
        break;
      }
    }
    hak_stats_t st = hp::stats();
    if (medium && (st.mid_live != 0 || st.mid_superslabs > hp::kMidClasses || (!mid && st.mid_superslabs != 0))) {
      std::printf("Falsified: after freeing all: mid_live %llu, mid_superslabs %llu\n",
                  (unsigned long long)st.mid_live, (unsigned long long)st.mid_superslabs);
      medium = false;
    }
    hak_trim();
    st = hp::stats();
    if (medium && (st.mid_superslabs != 0 || st.ss_mapped != 0)) {
      std::printf("Falsified: after trim: mid_superslabs %llu, ss_mapped %llu\n",
                  (unsigned long long)st.mid_superslabs, (unsigned long long)st.ss_mapped);
      medium = false;
    }
    std::printf("%s (%s level)\n", medium ? "OK" : "Falsified", mid ? "medium tier on" : "medium tier off");
    ok &= medium;
  }

  ok &= rc::check("classes: a request over 32 KiB gets the tier and medium class of the reference", [](void) {
    size_t size = *gen_mid_size();
    hp::isolated([&] {
      hp::reset();
      RC_ASSERT(check_big(size, hp::mid_on()) == std::string());
      RC_ASSERT(hp::check_str() == std::string());
    });
  });
  hp::reset();
  return ok ? 0 : 1;
}
