// test_cxx.cpp — the C++ operators new and delete of the drop-in libraries (src/cxx.c): every
// form, run three ways (ctest cxx_*): under LD_PRELOAD=libhakmem.so, linked with libhakmem.so,
// linked with libhakmem.a. Checks that each block is hakmem's (hak_malloc_usable_size aborts on
// a pointer it does not own), alignment, size 0, nothrow NULL and std::bad_alloc for an absurd
// size, and the new_handler loop (a handler that removes itself, one that throws through the C
// frames of cxx.c). Exit 0: pass.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <new>

// hakmem's API: weak, so the preload build (linked without hakmem) finds it in libhakmem.so at
// run time; NULL means the program is not running on hakmem.
extern "C" size_t hak_malloc_usable_size(void *p) __attribute__((weak));

static int failures;
#define CHECK(c)                                                                         \
  do {                                                                                   \
    if (!(c)) {                                                                          \
      std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);                  \
      failures++;                                                                        \
    }                                                                                    \
  } while (0)

static void *volatile sink;
static void *keep(void *p) {   // hides the pairing from the optimiser
  sink = p;
  return sink;
}

static const size_t kSizes[] = {0, 1, 24, 100, 4096, 40000, 100000, 600000};
static const size_t kAligns[] = {1, 8, 16, 32, 64, 256, 4096, 65536, 2u << 20};
static const size_t kAbsurd = SIZE_MAX / 2;

static void owned(void *p, size_t size, size_t align) {
  CHECK(p != nullptr);
  if (p == nullptr) return;
  CHECK(hak_malloc_usable_size(p) >= size);   // aborts if p is not hakmem's
  CHECK(reinterpret_cast<uintptr_t>(p) % align == 0);
  std::memset(p, 0xab, size);
}

static void plain_forms() {
  for (size_t n : kSizes) {
    void *p = keep(::operator new(n));
    owned(p, n, n >= 16 ? 16 : 8);
    ::operator delete(p);
    p = keep(::operator new[](n));
    owned(p, n, n >= 16 ? 16 : 8);
    ::operator delete[](p);
    p = keep(::operator new(n, std::nothrow));
    owned(p, n, 8);
    ::operator delete(p, std::nothrow);
    p = keep(::operator new[](n, std::nothrow));
    owned(p, n, 8);
    ::operator delete[](p, std::nothrow);
    p = keep(::operator new(n));
    owned(p, n, 8);
    ::operator delete(p, n);   // sized (C++14)
    p = keep(::operator new[](n));
    owned(p, n, 8);
    ::operator delete[](p, n);
  }
  // size 0: unique pointers
  void *a = keep(::operator new(0)), *b = keep(::operator new(0));
  CHECK(a != nullptr && b != nullptr && a != b);
  ::operator delete(a);
  ::operator delete(b, size_t{0});
}

static void aligned_forms() {
  for (size_t al : kAligns) {
    std::align_val_t av{al};
    for (size_t n : kSizes) {
      void *p = keep(::operator new(n, av));
      owned(p, n, al);
      ::operator delete(p, av);
      p = keep(::operator new[](n, av));
      owned(p, n, al);
      ::operator delete[](p, av);
      p = keep(::operator new(n, av, std::nothrow));
      owned(p, n, al);
      ::operator delete(p, av, std::nothrow);
      p = keep(::operator new[](n, av, std::nothrow));
      owned(p, n, al);
      ::operator delete[](p, av, std::nothrow);
      p = keep(::operator new(n, av));
      owned(p, n, al);
      ::operator delete(p, n, av);   // sized and aligned
      p = keep(::operator new[](n, av));
      owned(p, n, al);
      ::operator delete[](p, n, av);
    }
  }
}

// What the compiler emits for new-expressions: sized deletes, aligned forms for over-aligned types.
struct alignas(64) Line { char b[64]; };
struct alignas(4096) Page { char b[100]; };
struct Obj { int v; ~Obj() { v = 0; } };   // a destructor: new[] keeps an element count cookie

static void expressions() {
  int *i = new int(7);
  CHECK(*i == 7);
  owned(i, sizeof *i, alignof(int));
  delete i;
  Obj *o = new Obj[10];
  // the block starts at the cookie, which delete[] reads back: not written here
  CHECK(hak_malloc_usable_size(reinterpret_cast<char *>(o) - sizeof(size_t)) >= 10 * sizeof(Obj));
  delete[] o;
  Line *l = new Line;
  owned(l, sizeof *l, 64);
  delete l;
  Line *la = new Line[5];
  owned(la, 5 * sizeof *la, 64);
  delete[] la;
  Page *pg = new Page;
  owned(pg, sizeof *pg, 4096);
  delete pg;
  Page *pn = new (std::nothrow) Page;
  owned(pn, sizeof *pn, 4096);
  delete pn;
}

// Blocks of every family reuse each other's memory (the large tier's cache, freed slab blocks):
// at the strict levels a block's recorded family must be its own, never a previous user's.
static void families_reuse() {
  for (int round = 0; round < 100; round++) {
    for (size_t n : {size_t{100}, size_t{600000}}) {
      void *p = keep(::operator new(n));
      owned(p, n, 16);
      ::operator delete(p);
      p = keep(::operator new[](n));
      owned(p, n, 16);
      ::operator delete[](p, n);
      p = keep(std::malloc(n));
      owned(p, n, 16);
      std::free(p);
    }
  }
  // a malloc between a new and its delete is malloc's block (the new's family does not linger)
  for (size_t n : {size_t{100}, size_t{600000}}) {
    void *p = keep(::operator new(n));
    void *q = keep(std::malloc(n));
    ::operator delete(p);
    std::free(q);
    p = keep(::operator new[](n));
    q = keep(std::malloc(n));
    ::operator delete[](p);
    std::free(q);
  }
}

static int handler_calls;
static void handler_removes_itself() {
  handler_calls++;
  std::set_new_handler(nullptr);
}
static void handler_throws() {
  handler_calls++;
  throw std::bad_alloc();
}

template <class F> static bool throws_bad_alloc(F f) {
  try {
    f();
  } catch (const std::bad_alloc &e) {
    return std::strcmp(e.what(), "std::bad_alloc") == 0;
  } catch (...) {
    return false;
  }
  return false;
}

static void failures_and_handlers() {
  std::align_val_t av{64};
  CHECK(::operator new(kAbsurd, std::nothrow) == nullptr);
  CHECK(::operator new[](kAbsurd, std::nothrow) == nullptr);
  CHECK(::operator new(kAbsurd, av, std::nothrow) == nullptr);
  CHECK(::operator new[](kAbsurd, av, std::nothrow) == nullptr);
  CHECK(throws_bad_alloc([] { sink = ::operator new(kAbsurd); }));
  CHECK(throws_bad_alloc([] { sink = ::operator new[](kAbsurd); }));
  CHECK(throws_bad_alloc([&] { sink = ::operator new(kAbsurd, av); }));
  CHECK(throws_bad_alloc([&] { sink = ::operator new[](kAbsurd, av); }));
  // the handler loop: called once, it removes itself, then bad_alloc (or NULL for nothrow)
  struct { bool nothrow, array, aligned; } forms[] = {
      {false, false, false}, {false, true, false}, {false, false, true}, {false, true, true},
      {true, false, false},  {true, true, false},  {true, false, true},  {true, true, true}};
  for (auto f : forms) {
    handler_calls = 0;
    std::set_new_handler(handler_removes_itself);
    auto call = [&] {
      if (f.nothrow)
        sink = f.aligned ? (f.array ? ::operator new[](kAbsurd, av, std::nothrow)
                                    : ::operator new(kAbsurd, av, std::nothrow))
                         : (f.array ? ::operator new[](kAbsurd, std::nothrow)
                                    : ::operator new(kAbsurd, std::nothrow));
      else
        sink = f.aligned ? (f.array ? ::operator new[](kAbsurd, av) : ::operator new(kAbsurd, av))
                         : (f.array ? ::operator new[](kAbsurd) : ::operator new(kAbsurd));
    };
    if (f.nothrow) {
      call();
      CHECK(sink == nullptr);
    } else {
      CHECK(throws_bad_alloc(call));
    }
    CHECK(handler_calls == 1);
    CHECK(std::get_new_handler() == nullptr);
  }
  // a handler's exception unwinds through hakmem's C frames
  handler_calls = 0;
  std::set_new_handler(handler_throws);
  CHECK(throws_bad_alloc([] { sink = ::operator new(kAbsurd); }));
  CHECK(throws_bad_alloc([&] { sink = ::operator new[](kAbsurd, av); }));
  CHECK(handler_calls == 2);
  std::set_new_handler(nullptr);
}

int main() {
  if (hak_malloc_usable_size == nullptr) {
    std::fprintf(stderr, "FAIL: not running on hakmem (no hak_malloc_usable_size)\n");
    return 1;
  }
  // one allocator for both families: malloc'd and new'd blocks are hakmem's alike
  void *m = keep(std::malloc(100));
  owned(m, 100, 16);
  std::free(m);
  plain_forms();
  aligned_forms();
  expressions();
  families_reuse();
  failures_and_handlers();
  if (failures) {
    std::fprintf(stderr, "%d failures\n", failures);
    return 1;
  }
  std::puts("cxx: every operator form passed");
  return 0;
}
