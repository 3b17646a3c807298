// cxx_misuse.cpp — one C++ heap misuse per DETECT_HOW, for run_detect.py (tests/detect): the
// program must die with the one "hakmem: <what> (pointer 0x...)" line its ctest case expects.
//   sized        new 100 bytes, sized delete with 8
//   sized_double, sized_interior  sized delete with the right size: twice, or inside the block
//   align        aligned new (64), aligned delete with 4096
//   sized_align  aligned new (64) of 100 bytes, sized aligned delete with size 8
//   <alloc>_<free>, alloc in malloc, new, array (new[]), free in free, delete, array (delete[]):
//                the allocation family mismatches the strict levels detect
// DETECT_SIZE (default 100) is the request of the family cases (600000: a large block).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

extern "C" {
#include "detect.h"
}

static void *alloc_in(const char *fam, size_t n) {
  if (std::strcmp(fam, "malloc") == 0) return std::malloc(n);
  if (std::strcmp(fam, "new") == 0) return ::operator new(n);
  if (std::strcmp(fam, "array") == 0) return ::operator new[](n);
  return nullptr;
}

static bool free_in(const char *fam, void *p) {
  if (std::strcmp(fam, "free") == 0) std::free(p);
  else if (std::strcmp(fam, "delete") == 0) ::operator delete(p);
  else if (std::strcmp(fam, "array") == 0) ::operator delete[](p);
  else return false;
  return true;
}

int main() {
  const char *how = std::getenv("DETECT_HOW");
  const char *size = std::getenv("DETECT_SIZE");
  size_t n = size ? std::strtoul(size, nullptr, 10) : 100;
  SETUP(how != nullptr);
  if (std::strcmp(how, "sized") == 0) {
    void *p = launder(::operator new(100));
    expect_pointer(p);
    ::operator delete(p, size_t{8});
  } else if (std::strcmp(how, "sized_near") == 0) {   // a wrong size just one class below
    void *p = launder(::operator new(100));   // class 112 (104 usable); 60 is class 80's
    expect_pointer(p);
    ::operator delete(p, size_t{60});
  } else if (std::strcmp(how, "sized_double") == 0) {   // the right size, twice
    void *p = launder(::operator new(100));
    ::operator delete(p, size_t{100});
    expect_pointer(p);
    ::operator delete(p, size_t{100});
  } else if (std::strcmp(how, "sized_interior") == 0) {   // a pointer into the block
    char *p = static_cast<char *>(launder(::operator new(100)));
    expect_pointer(p + 16);
    ::operator delete(p + 16, size_t{100});
  } else if (std::strcmp(how, "align") == 0) {
    void *p = launder(::operator new(100, std::align_val_t{64}));
    // caught even where p happens to be 4096-aligned: no 100-byte block's class is a multiple
    expect_pointer(p);
    ::operator delete(p, std::align_val_t{4096});
  } else if (std::strcmp(how, "sized_align") == 0) {
    void *p = launder(::operator new(100, std::align_val_t{64}));
    expect_pointer(p);
    ::operator delete(p, size_t{8}, std::align_val_t{64});
  } else {
    char fam[16];
    const char *us = std::strchr(how, '_');
    SETUP(us != nullptr && static_cast<size_t>(us - how) < sizeof fam);
    std::memcpy(fam, how, us - how);
    fam[us - how] = '\0';
    void *p = launder(alloc_in(fam, n));
    SETUP(p != nullptr);
    expect_pointer(p);
    SETUP(free_in(us + 1, p));
  }
  return survived();
}
