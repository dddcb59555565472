// What the heap's sources share and users must not see: the block headers of both spaces,
// and AddressSanitizer poisoning of the parts of the region nobody may touch (the gap, the
// bodies of free blocks), so that a use-after-sweep or an overrun into free space is reported
// instead of silently read.
//
// An object-space block is one granule of header (size | kind | mark bit) and its payload;
// blocks tile [obj_low_, obj_top_) exactly, so a walk steps by size alone. Outside a
// collection no block is marked.
#pragma once

#include <cstddef>
#include <cstdint>

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

namespace internal {

constexpr std::uintptr_t kMarkBit = 1;
constexpr std::uintptr_t kKindShift = 1;
constexpr std::uintptr_t kKindMask = 3u << kKindShift;
// A block being constructed is live but not yet traceable (its vtable may not be set).
enum Kind : std::uintptr_t { kFree = 0, kObject = 1, kMalloc = 2, kRaw = 3 };
constexpr std::size_t kMinBlockGranules = 2;  // a header plus a link or a vtable

inline std::size_t size_of(const void* b) noexcept {
  return *static_cast<const std::uintptr_t*>(b) & ~std::uintptr_t{7};
}

}  // namespace internal

// An object-space block header; the payload follows it.
struct Heap::Block {
  std::uintptr_t word;  // size in bytes | kind << 1 | mark
  void* link;           // free: next block of its class; malloc: referent; object: unused

  std::size_t size() const noexcept { return word & ~std::uintptr_t{7}; }
  internal::Kind kind() const noexcept {
    return static_cast<internal::Kind>((word & internal::kKindMask) >> internal::kKindShift);
  }
  bool marked() const noexcept { return (word & internal::kMarkBit) != 0; }
  void set(std::size_t size, internal::Kind k) noexcept {
    word = size | (static_cast<std::uintptr_t>(k) << internal::kKindShift);
  }
  std::byte* bytes() noexcept { return reinterpret_cast<std::byte*>(this); }
  Obj* obj() noexcept { return reinterpret_cast<Obj*>(this + 1); }
  static Block* of(void* payload) noexcept { return static_cast<Block*>(payload) - 1; }
};

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
