// prop_threads.cpp — the concurrency property.
//
// N threads (2..4) each run a random program of Alloc(size) / Free(k) / Send(to, k) (hand the
// block to another thread's mailbox) / Recv(k) (take one from the own mailbox, then free it: a
// remote free, or keep it: freed later by its new holder) / Flush (hak_thread_flush). Every thread
// keeps a model: blocks and usable bytes it allocated and freed, small, medium and large (tier by
// the reference rules of prop_common.hpp; a block's bytes are its usable size: a small or medium
// block's class less its 8-byte end canary, a medium block's class the reference one). Blocks
// carry a pattern checked by whoever frees them. Threads exit holding blocks (their slabs are
// abandoned). After join:
//   - the statistics equal the sum of the per-thread models: small_live_blocks, small_live_bytes,
//     mid_live, mid_live_bytes, large_live; and hak_check() is clean;
//   - the main thread frees every leftover (adopting abandoned slabs), calls hak_thread_flush():
//     then nothing is live, no slab is active, the only SuperSlabs in use are the medium classes'
//     kept empty ones (at most one per class), and hak_check() is clean;
//   - after hak_trim nothing is in use or mapped.
#include <atomic>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "prop_common.hpp"

namespace {

enum class Kind { Alloc, Free, Send, Recv, Flush };
struct TOp {
  Kind kind;
  unsigned a, b;   // Alloc: size; Free/Send/Recv: k (which block); Send: to (other thread offset)
};

void showValue(const TOp &op, std::ostream &os) {
  switch (op.kind) {
    case Kind::Alloc: os << "Alloc(" << op.a << ")"; break;
    case Kind::Free: os << "Free(" << op.a << ")"; break;
    case Kind::Send: os << "Send(" << op.a << ", to +" << op.b << ")"; break;
    case Kind::Recv: os << "Recv(" << op.a << (op.a % 2 ? ", free)" : ", keep)"); break;
    case Kind::Flush: os << "Flush"; break;
  }
}

rc::Gen<TOp> gen_op() {
  using namespace rc;
  auto size = gen::weightedOneOf<unsigned>({{8, gen::inRange(0u, 1025u)},
                                            {2, gen::inRange(1025u, 32769u)},
                                            {2, gen::inRange(32769u, 524290u)},
                                            {1, gen::elementOf(std::vector<unsigned>{32760, 32761, 32768, 32769, 524280, 524281, 524288, 524289})},
                                            {1, gen::inRange(524289u, 1000000u)}});
  auto k = gen::inRange(0u, 64u);
  return gen::weightedOneOf<TOp>({
      {6, gen::apply([](unsigned a) { return TOp{Kind::Alloc, a, 0}; }, size)},
      {2, gen::apply([](unsigned a) { return TOp{Kind::Free, a, 0}; }, k)},
      {3, gen::apply([](unsigned a, unsigned b) { return TOp{Kind::Send, a, b}; }, k, gen::inRange(0u, 3u))},
      {3, gen::apply([](unsigned a) { return TOp{Kind::Recv, a, 0}; }, k)},
      {1, gen::just(TOp{Kind::Flush, 0, 0})},
  });
}

struct Blk {
  void *p;
  size_t size, usable;
  uint8_t fill;
  hp::Tier tier;
};

struct Mailbox {
  std::mutex mu;
  std::deque<Blk> q;
};

struct Tally {   // one thread's model
  uint64_t small_alloc = 0, small_free = 0, small_bytes_alloc = 0, small_bytes_free = 0;
  uint64_t mid_alloc = 0, mid_free = 0, mid_bytes_alloc = 0, mid_bytes_free = 0;
  uint64_t large_alloc = 0, large_free = 0;
  std::vector<Blk> left;   // held at exit
  std::string err;         // first failed check ("" if none)
};

void free_checked(const Blk &b, Tally &t) {
  if (hp::first_bad(b.p, b.size, b.fill) != b.size && t.err.empty()) t.err = "contents changed before free";
  hak_free(b.p);
  switch (b.tier) {
    case hp::Tier::Small: t.small_free++; t.small_bytes_free += b.usable; break;
    case hp::Tier::Mid: t.mid_free++; t.mid_bytes_free += b.usable; break;
    default: t.large_free++; break;
  }
}

void run_thread(unsigned self, unsigned n, bool mid, const std::vector<TOp> &prog,
                std::vector<Mailbox> &mail, Tally &t) {
  std::vector<Blk> own;
  uint8_t fill = uint8_t(self * 37);
  for (const TOp &op : prog) {
    switch (op.kind) {
      case Kind::Alloc: {
        void *p = hak_malloc(op.a);
        if (hp::addr(p) == 0 || hp::addr(p) % hp::min_align(op.a) != 0) {
          t.err = "malloc returned NULL or a misaligned pointer";
          return;
        }
        Blk b{p, op.a, hp_block_usable(p), ++fill, hp::tier_for(mid, op.a, 0)};   // what the statistics count
        if (hak_malloc_usable_size(p) < b.size && t.err.empty()) t.err = "usable size below the request";
        if (hp::actual_tier(p) != b.tier && t.err.empty())
          t.err = std::string("block of ") + std::to_string(op.a) + " bytes not " + hp::tier_name(b.tier);
        if (b.tier != hp::Tier::Large && hp_block_size(p) != b.usable + hp::kCanary && t.err.empty())
          t.err = std::string("block of ") + std::to_string(op.a) + " bytes: usable " + std::to_string(b.usable) +
                  ", block " + std::to_string(hp_block_size(p)) + ": not the block less its end canary";
        if (b.tier == hp::Tier::Mid && (hp_block_size(p) != hp::mid_block(op.a) || hp::addr(p) % hp::kMidAlign != 0) &&
            t.err.empty())
          t.err = std::string("medium block of ") + std::to_string(op.a) + " bytes: class " +
                  std::to_string(hp_block_size(p)) + ", want " + std::to_string(hp::mid_block(op.a)) + ", or misaligned";
        hp::fill_block(p, b.size, b.fill);
        switch (b.tier) {
          case hp::Tier::Small: t.small_alloc++; t.small_bytes_alloc += b.usable; break;
          case hp::Tier::Mid: t.mid_alloc++; t.mid_bytes_alloc += hp::mid_usable(op.a); break;
          default: t.large_alloc++; break;
        }
        own.push_back(b);
        break;
      }
      case Kind::Free: {
        if (own.empty()) break;
        size_t i = op.a % own.size();
        free_checked(own[i], t);
        own.erase(own.begin() + long(i));
        break;
      }
      case Kind::Send: {
        if (own.empty()) break;
        size_t i = op.a % own.size();
        Mailbox &m = mail[(self + 1 + op.b % (n - 1)) % n];
        {
          std::lock_guard<std::mutex> g(m.mu);
          m.q.push_back(own[i]);
        }
        own.erase(own.begin() + long(i));
        break;
      }
      case Kind::Recv: {
        Blk b;
        {
          std::lock_guard<std::mutex> g(mail[self].mu);
          if (mail[self].q.empty()) break;
          b = mail[self].q.front();
          mail[self].q.pop_front();
        }
        if (op.a % 2) free_checked(b, t);
        else own.push_back(b);
        break;
      }
      case Kind::Flush: hak_thread_flush(); break;
    }
  }
  t.left = own;
}

}  // namespace

int main() {
  hp_init();
  bool ok = rc::check("threads: after join the statistics equal the sum of the per-thread models; "
                      "once all is freed every SuperSlab but the medium classes' kept ones is cached or unmapped, "
                      "and none after trim", [] {
    const unsigned n = *rc::gen::inRange(2u, 5u);
    std::vector<std::vector<TOp>> progs;
    for (unsigned i = 0; i < n; i++) progs.push_back(*rc::gen::container<std::vector<TOp>>(gen_op()));
    hp::isolated([&] {
      hp::reset();
      const hak_stats_t base = hp::stats();
      const bool mid = hp::mid_on();
      RC_ASSERT(base.mid_live == 0u);
      RC_ASSERT(base.mid_superslabs == 0u);
      std::vector<Mailbox> mail(n);
      std::vector<Tally> tally(n);
      std::vector<std::thread> th;
      for (unsigned i = 0; i < n; i++)
        th.emplace_back(run_thread, i, n, mid, std::cref(progs[i]), std::ref(mail), std::ref(tally[i]));
      for (auto &t : th) t.join();

      Tally sum, main_t;
      std::vector<Blk> leftovers;
      for (Tally &t : tally) {
        sum.small_alloc += t.small_alloc;
        sum.small_free += t.small_free;
        sum.small_bytes_alloc += t.small_bytes_alloc;
        sum.small_bytes_free += t.small_bytes_free;
        sum.mid_alloc += t.mid_alloc;
        sum.mid_free += t.mid_free;
        sum.mid_bytes_alloc += t.mid_bytes_alloc;
        sum.mid_bytes_free += t.mid_bytes_free;
        sum.large_alloc += t.large_alloc;
        sum.large_free += t.large_free;
        leftovers.insert(leftovers.end(), t.left.begin(), t.left.end());
      }
      for (Mailbox &m : mail) leftovers.insert(leftovers.end(), m.q.begin(), m.q.end());

      // free the leftovers however the checks below go: the next case must start clean
      struct Cleanup {
        std::vector<Blk> &v;
        Tally &t;
        ~Cleanup() {
          for (const Blk &b : v) free_checked(b, t);
          v.clear();
          hp::reset();
        }
      } cleanup{leftovers, main_t};

      for (const Tally &t : tally) RC_ASSERT(t.err == std::string());
      hak_stats_t s1 = hp::stats();
      RC_ASSERT(s1.small_live_blocks - base.small_live_blocks == sum.small_alloc - sum.small_free);
      RC_ASSERT(s1.small_live_bytes - base.small_live_bytes == sum.small_bytes_alloc - sum.small_bytes_free);
      RC_ASSERT(s1.mid_live - base.mid_live == sum.mid_alloc - sum.mid_free);
      RC_ASSERT(s1.mid_live_bytes - base.mid_live_bytes == sum.mid_bytes_alloc - sum.mid_bytes_free);
      RC_ASSERT(s1.large_live - base.large_live == sum.large_alloc - sum.large_free);
      RC_ASSERT(s1.mid_superslabs <= s1.ss_in_use);
      RC_ASSERT(hp::check_str() == std::string());

      for (const Blk &b : leftovers) free_checked(b, main_t);
      leftovers.clear();
      RC_ASSERT(main_t.err == std::string());
      hak_thread_flush();
      hak_stats_t s2 = hp::stats();
      RC_ASSERT(s2.small_live_blocks == base.small_live_blocks);
      RC_ASSERT(s2.small_live_bytes == base.small_live_bytes);
      RC_ASSERT(s2.mid_live == 0u);
      RC_ASSERT(s2.mid_live_bytes == 0u);
      RC_ASSERT(s2.large_live == base.large_live);
      RC_ASSERT(s2.slabs_active == 0u);
      // every SuperSlab is back in the cache or unmapped, except each medium class's kept one
      RC_ASSERT(s2.ss_in_use == s2.mid_superslabs);
      RC_ASSERT(s2.mid_superslabs <= uint64_t(hp::kMidClasses));
      if (!mid) RC_ASSERT(s2.mid_superslabs == 0u);
      RC_ASSERT(s2.ss_mapped == s2.ss_cached + s2.mid_superslabs);
      RC_ASSERT(hp::check_str() == std::string());
      hak_trim();   // gives the kept ones back too
      hak_stats_t s3 = hp::stats();
      RC_ASSERT(s3.mid_superslabs == 0u);
      RC_ASSERT(s3.ss_in_use == 0u);
      RC_ASSERT(s3.ss_mapped == 0u);
      RC_ASSERT(hp::check_str() == std::string());
    });
  });
  hp::reset();
  return ok ? 0 : 1;
}
