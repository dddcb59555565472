// What every ferro region allocator offers, so that other modules (the vnv heap, the pmr
// adapter, Synchronized) can be written once against the concept `RegionAllocator`.
//
// The contract, shared by ChunkAllocator, BuddyAllocator, LinkedListAllocator, TlsfAllocator:
// - allocate(size, align) -> pointer, or nullptr when the request cannot be met (full region,
//   a size near SIZE_MAX, an alignment that is not a power of two or above kMaxAlign). A size of
//   zero is served as a one-byte request: a distinct live block that must be deallocated.
// - deallocate(p, size, align): the block's extent comes from the allocator's own bookkeeping,
//   never from `size`. A pointer that is not a live block (a double free, a foreign pointer) is
//   refused: a panic in debug builds, and in every build it is remembered and reported by check().
// - reallocate(p, old, new, align): in place when the allocator can, else move; nullptr leaves
//   the old block untouched.
// - allocate_at(p, size, align): claim exactly the block that allocate(size, align) would have
//   returned at p. Rebuilding the same live set this way (in any order) gives the same in_use.
// - reset(): everything free again. stats(), check(): see below.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>

#include "ferro/core/bits.hpp"
#include "ferro/core/result.hpp"

namespace ferro {

inline constexpr std::size_t kMaxAlign = 4096;
inline constexpr std::size_t kDefaultAlign = alignof(std::max_align_t);

struct AllocStats {
  std::size_t capacity = 0;      // bytes the allocator can hand out (region minus its bookkeeping)
  std::size_t in_use = 0;        // bytes taken by live blocks, including rounding and headers
  std::size_t peak = 0;          // highest in_use since construction or reset()
  std::size_t failed = 0;        // requests answered with nullptr / false
  std::size_t largest_free = 0;  // largest block size that is free now (before alignment)
  std::size_t live_blocks = 0;
};

template <class A>
concept RegionAllocator = requires(A& a, const A& c, void* p, std::size_t n, std::size_t align) {
  { a.allocate(n, align) }
  noexcept->std::same_as<void*>;
  { a.deallocate(p, n, align) }
  noexcept;
  { a.reallocate(p, n, n, align) }
  noexcept->std::same_as<void*>;
  { a.allocate_at(p, n, align) }
  noexcept->std::same_as<bool>;
  { a.reset() }
  noexcept;
  { c.stats() }
  noexcept->std::same_as<AllocStats>;
  { c.check() }
  noexcept->std::same_as<Status>;
  { c.owns(p) }
  noexcept->std::same_as<bool>;  // p lies inside the managed region
  { c.usable_size(p) }
  noexcept->std::same_as<std::size_t>;  // bytes of the live block at p, 0 if none
};

namespace alloc_detail {

constexpr bool valid_align(std::size_t align) noexcept { return is_pow2(align) && align <= kMaxAlign; }

// Keeps in_use, peak and the live count in one place for all four allocators.
struct Counters {
  std::size_t in_use = 0, peak = 0, failed = 0, live = 0, bad_frees = 0;
  constexpr void took(std::size_t bytes) noexcept {
    in_use += bytes;
    ++live;
    if (in_use > peak) peak = in_use;
  }
  constexpr void gave_back(std::size_t bytes) noexcept {
    in_use -= bytes;
    --live;
  }
  constexpr void resized(std::size_t from, std::size_t to) noexcept {
    in_use = in_use - from + to;
    if (in_use > peak) peak = in_use;
  }
};

}  // namespace alloc_detail
}  // namespace ferro
