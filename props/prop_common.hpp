// prop_common.hpp — shared helpers of the hakmem property tests: the clean global state every
// property case starts from, statistics, the self-check, and content patterns.
//
// The allocator's state is process-global, so every case starts with hp_reset(): the caller holds
// no hakmem block, the thread's idle slabs go back (hak_thread_flush), the SuperSlab cache is
// emptied (hak_trim) and the default limits are restored. Checks then compare statistics with the
// model, as deltas from the baseline taken after the reset where the counter is cumulative.
#pragma once

#include <rapidcheck.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <sstream>
#include <string>

#include "hakmem.h"
#include "prop_shim.h"

namespace hp {

constexpr uint64_t kSsSize = uint64_t(1) << 21;   // a SuperSlab: 2 MiB
constexpr size_t kCanary = 8;                      // every small and medium block ends in its end canary
constexpr size_t kSmallBlockMax = 32768;           // the largest small block (class)
constexpr size_t kSmallMax = kSmallBlockMax - kCanary;   // the largest small request (32760); larger: medium or large
constexpr size_t kMidBlockMax = size_t(512) << 10; // the largest medium block (class)
constexpr size_t kMidMax = kMidBlockMax - kCanary; // the largest medium request (524280); larger: large mappings
constexpr unsigned kMidClasses = 16;
constexpr size_t kMidAlign = 8192;                 // every medium block is 8 KiB-aligned
constexpr size_t kPage = 4096;
constexpr hak_limits_t kDefaultLimits = {256, 512, 60};
constexpr uint64_t kSecNs = 1000000000ull;

inline hak_stats_t stats() {
  hak_stats_t s;
  hak_stats(&s);
  return s;
}

// ---- tiers: the reference rules (docs/design.md), independent of hakmem's dispatch ----------------
// Every small and medium block ends in an 8-byte end canary (kCanary): a request of n bytes needs
// a block of n + 8. Small: max(size + 8, alignment) <= 32 KiB (a size class; the block is the
// smallest class holding size + 8 that is a multiple of the alignment), usable size = block - 8.
// Medium, at the off and fast hardening levels only: 32760 < size <= 524280 with alignment <= a
// page; class k (0..15) is a block of (5 + k % 4) << (13 + k / 4) bytes (40 KiB .. 512 KiB), a
// request gets the smallest class holding size + 8; the block's usable size is its class - 8.
// Large: everything else (own mapping, page-rounded usable size).
// At the strict levels (strict, paranoid) a small block also holds a 4-byte size trailer after
// the request (kTrailer: small iff the request + 4 fits as above), a zero-size request gets an
// inaccessible slot of its own (Zero: no usable byte), and malloc_usable_size is the exact request
// of a small block.
enum class Tier { None = 0, Small = 1, Mid = 2, Large = 3, Zero = 4 };
constexpr size_t kTrailer = 4;
// A zero-size request gets a slot at any alignment up to half a 2 MiB chunk (zero.c); above
// that, a large block.
constexpr size_t kZeroAlignMax = size_t(1) << 20;

inline const char *tier_name(Tier t) {
  return t == Tier::Small ? "small" : t == Tier::Mid ? "medium" : t == Tier::Large ? "large"
         : t == Tier::Zero ? "zero" : "none";
}

inline size_t mid_class_size(unsigned k) { return size_t(5 + k % 4) << (13 + k / 4); }
// The medium class of a request of `size` bytes: the smallest whose blocks hold it and the end
// canary (linear search; mid.c uses clz arithmetic). mid_class(mid_usable(x)) == mid_class(x).
inline unsigned mid_class(size_t size) {
  unsigned k = 0;
  while (k + 1 < kMidClasses && mid_class_size(k) < size + kCanary) k++;
  return k;
}
inline size_t mid_block(size_t size) { return mid_class_size(mid_class(size)); }   // the block
inline size_t mid_usable(size_t size) { return mid_block(size) - kCanary; }        // what it serves
inline size_t mid_per_ss(unsigned k) { return size_t(kSsSize) / mid_class_size(k); }

// The medium tier is on at levels off (0) and fast (1), as hak_stats reports the level, and at
// the strict ones once the large tier's mappings reach their budget (no model comes near it).
inline bool mid_on() {
  hak_stats_t s = stats();
  return s.harden_level <= 1 || (s.large_map_budget != 0 && s.large_mappings >= s.large_map_budget);
}

// The hardening level hak_stats reports: 0 off, 1 fast, 2 strict, 3 paranoid.
inline unsigned harden_level() { return unsigned(stats().harden_level); }
inline bool strict_on() { return harden_level() >= 2; }

inline Tier tier_for(bool mid, size_t size, size_t align, bool strict = false) {
  if (strict && size == 0 && align <= kZeroAlignMax) return Tier::Zero;
  size_t need = strict ? size + kTrailer : size;
  if (need <= kSmallMax && std::max(need + kCanary, align) <= kSmallBlockMax) return Tier::Small;
  if (mid && size > kSmallMax && size <= kMidMax && align <= kPage) return Tier::Mid;
  return Tier::Large;
}

// Where hakmem put live block `p` (its registry entry and slot state, through the shim).
inline Tier actual_tier(const void *p) { return Tier(hp_block_tier(p)); }

// Bounds on mid_superslabs given the live medium blocks per class: they need ceil(live / per
// SuperSlab); every SuperSlab of a class holds a live block except a lone kept empty one, which
// hak_trim gives back (`trimmed`).
inline void mid_ss_bounds(const uint64_t (&live)[kMidClasses], bool trimmed, uint64_t &lo, uint64_t &hi) {
  lo = hi = 0;
  for (unsigned k = 0; k < kMidClasses; k++) {
    lo += (live[k] + mid_per_ss(k) - 1) / mid_per_ss(k);
    hi += live[k] ? live[k] : (trimmed ? 0 : 1);
  }
}

// hak_check() as a string ("" when every invariant holds); never RC_ASSERT the raw pointer.
inline std::string check_str() {
  const char *why = hak_check();
  return why ? std::string(why) : std::string();
}

inline void reset() {
  hak_ss_set_limits(&kDefaultLimits);
  hak_thread_flush();
  hak_trim();
  hak_ss_set_limits(&kDefaultLimits);
}

// The byte at offset i of a block filled with `fill`: position-dependent, so a shifted copy shows.
inline uint8_t pat(uint8_t fill, size_t i) { return uint8_t(fill + i * 7u + (i >> 8)); }

inline void fill_block(void *p, size_t n, uint8_t fill) {
  auto *b = static_cast<uint8_t *>(p);
  for (size_t i = 0; i < n; i++) b[i] = pat(fill, i);
}

// Index of the first byte of [0, n) that differs from the pattern, or n.
inline size_t first_bad(const void *p, size_t n, uint8_t fill) {
  const auto *b = static_cast<const uint8_t *>(p);
  for (size_t i = 0; i < n; i++)
    if (b[i] != pat(fill, i)) return i;
  return n;
}

inline size_t first_nonzero(const void *p, size_t n) {
  const auto *b = static_cast<const uint8_t *>(p);
  for (size_t i = 0; i < n; i++)
    if (b[i] != 0) return i;
  return n;
}

inline uintptr_t addr(const void *p) { return reinterpret_cast<uintptr_t>(p); }

// The alignment malloc promises for a request of `size` bytes (README: 16 from 16 B up, else 8).
inline size_t min_align(size_t size) { return size >= 16 ? 16 : 8; }

inline bool env_flag(const char *name) {
  const char *v = std::getenv(name);
  return v != nullptr && v[0] != '\0' && v[0] != '0';
}

// Fork mode (HAK_PROPS_FORK, default 1): every case runs in a forked child, so a case that makes
// the allocator abort (a hardening check, or an invariant in a debug build) or a sanitizer report
// still fails as an ordinary case and RapidCheck shrinks it; and every case starts from the
// parent's clean allocator state. HAK_PROPS_FORK=0 runs in process (the valgrind preset does).
inline bool fork_mode() {
  static const bool on = [] {
    const char *v = std::getenv("HAK_PROPS_FORK");
    return v == nullptr || v[0] != '0';
  }();
  return on;
}

// Runs `body` (which uses RC_ASSERT, never RC_PRE) in a child in fork mode, else here. Generate
// every value before calling it: generation must happen in the parent for shrinking to work.
inline void isolated(const std::function<void()> &body) {
  if (!fork_mode()) {
    body();
    return;
  }
  int fds[2];
  RC_ASSERT(pipe(fds) == 0);
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  RC_ASSERT(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 2);   // allocator fatal messages and sanitizer reports go to the parent
    std::string msg;
    int code = 0;
    try {
      body();
    } catch (const rc::detail::CaseResult &r) {
      code = 1;
      msg = r.description;
    } catch (const std::exception &e) {
      code = 1;
      msg = std::string("exception: ") + e.what();
    } catch (...) {
      code = 1;
      msg = "unknown exception";
    }
    if (!msg.empty()) (void)!write(2, msg.data(), msg.size());
    _exit(code);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out.append(buf, size_t(n));
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 1 && out.find("hakmem") == std::string::npos &&
      out.find("Sanitizer") == std::string::npos)
    RC_FAIL(out);   // an RC_ASSERT in the child: its own message
  std::string why = WIFSIGNALED(status)
                        ? "the case died with signal " + std::to_string(WTERMSIG(status)) +
                              (WTERMSIG(status) == SIGABRT ? " (SIGABRT)" : "")
                        : "the case exited with status " + std::to_string(WEXITSTATUS(status));
  RC_FAIL(why + "; its stderr:\n" + out);
}

}  // namespace hp
