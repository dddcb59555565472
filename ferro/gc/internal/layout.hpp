// What heap.cpp and vec.cpp share and users must not see: AddressSanitizer poisoning of the
// parts of the region nobody may touch (the gap, the bodies of free blocks), so that a
// use-after-sweep or an overrun into free space is reported instead of silently read.
#pragma once

#include <cstddef>

#include "ferro/gc/heap.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define FERRO_GC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FERRO_GC_ASAN 1
#endif
#endif

#ifdef FERRO_GC_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace ferro::gc {

// A vector-space block header; the payload follows it.
struct Heap::VecBlock {
  std::uintptr_t owner;  // the owning Vec*, or (next hole | 1)
  std::size_t size;      // header included, a multiple of the granule

  bool is_hole() const noexcept { return (owner & 1) != 0; }
  Vec* vec() const noexcept { return reinterpret_cast<Vec*>(owner); }
  VecBlock* next_hole() const noexcept { return reinterpret_cast<VecBlock*>(owner & ~std::uintptr_t{1}); }
  std::byte* bytes() noexcept { return reinterpret_cast<std::byte*>(this); }
  std::byte* payload() noexcept { return bytes() + sizeof(VecBlock); }
  static VecBlock* of(std::byte* payload) noexcept { return reinterpret_cast<VecBlock*>(payload) - 1; }
};

}  // namespace ferro::gc

namespace ferro::gc::internal {

inline void poison(const void* p, std::size_t n) noexcept {
#ifdef FERRO_GC_ASAN
  if (n > 0) ASAN_POISON_MEMORY_REGION(p, n);
#else
  (void)p;
  (void)n;
#endif
}

inline void unpoison(const void* p, std::size_t n) noexcept {
#ifdef FERRO_GC_ASAN
  if (n > 0) ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
  (void)p;
  (void)n;
#endif
}

}  // namespace ferro::gc::internal
