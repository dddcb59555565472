// Binary buddy allocator: blocks of 16 << order bytes, split in halves on demand and merged
// with their buddy (found by XOR of the offset) on free. One metadata byte per 16-byte unit,
// kept at the front of the region, records where each block starts, its order and whether it
// is free, so a block's extent never comes from the caller and a bad pointer is recognised.
// Allocate and free cost O(orders); memory is lost to rounding up to a power of two.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ferro/alloc/allocator.hpp"

namespace ferro {

class BuddyAllocator {
 public:
  static constexpr std::size_t kUnit = 16;  // smallest block: room for the two free-list links
  static constexpr int kMaxOrders = 48;

  // Nothing is written until the first call, so a BuddyAllocator over static storage can be
  // constinit. The region must outlive the allocator.
  constexpr explicit BuddyAllocator(std::span<std::byte> region) noexcept : region_(region) {}
  BuddyAllocator(const BuddyAllocator&) = delete;
  BuddyAllocator& operator=(const BuddyAllocator&) = delete;

  void* allocate(std::size_t size, std::size_t align = kDefaultAlign) noexcept;
  void deallocate(void* p, std::size_t size = 0, std::size_t align = kDefaultAlign) noexcept;
  void* reallocate(void* p, std::size_t old_size, std::size_t new_size, std::size_t align = kDefaultAlign) noexcept;
  bool allocate_at(void* p, std::size_t size, std::size_t align = kDefaultAlign) noexcept;
  void reset() noexcept;

  AllocStats stats() const noexcept;
  Status check() const noexcept;
  bool owns(const void* p) const noexcept;
  std::size_t usable_size(const void* p) const noexcept;

 private:
  struct Node {
    std::size_t next, prev;  // unit indices; kNone ends the list
  };
  static constexpr std::size_t kNone = ~std::size_t{0};
  static constexpr std::uint8_t kFree = 0x40, kUsed = 0x80, kOrderMask = 0x3f;

  void ensure_ready() noexcept {
    if (!ready_) [[unlikely]]
      init();
  }
  void init() noexcept;
  int order_for(std::size_t size, std::size_t align) const noexcept;  // -1 if impossible
  Node& node(std::size_t unit) const noexcept;
  void push(std::size_t unit, int order) noexcept;
  void unlink(std::size_t unit, int order) noexcept;
  std::size_t pop(int order) noexcept;
  void release(std::size_t unit, int order) noexcept;  // frees and merges
  std::size_t unit_of(const void* p) const noexcept;   // kNone if not a live block start
  bool fail() noexcept {
    ++counters_.failed;
    return false;
  }

  std::span<std::byte> region_;
  std::byte* base_ = nullptr;     // first unit; aligned to base_align_
  std::uint8_t* meta_ = nullptr;  // one byte per unit: 0 inside a block, else kFree/kUsed | order
  std::size_t units_ = 0;
  std::size_t base_align_ = kUnit;
  int top_order_ = 0;           // largest order that fits in the arena
  std::uint64_t nonempty_ = 0;  // bit k set when free list k is not empty
  std::size_t heads_[kMaxOrders] = {};
  alloc_detail::Counters counters_{};
  bool ready_ = false;
};

static_assert(RegionAllocator<BuddyAllocator>);

}  // namespace ferro
