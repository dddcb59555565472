// First-fit allocator over an address-ordered free list that lives inside the free memory.
// Each live block carries a 16-byte header (its extent and a check word), so deallocate never
// trusts the caller's size and recognises most foreign pointers; a free block is merged with
// both neighbours at once. Small metadata and no rounding beyond 16 bytes, but allocate and
// free walk the free list: O(free blocks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ferro/alloc/allocator.hpp"

namespace ferro {

class LinkedListAllocator {
 public:
  static constexpr std::size_t kUnit = 16;

  // Nothing is written until the first call, so an instance over static storage can be constinit.
  constexpr explicit LinkedListAllocator(std::span<std::byte> region) noexcept : region_(region) {}
  LinkedListAllocator(const LinkedListAllocator&) = delete;
  LinkedListAllocator& operator=(const LinkedListAllocator&) = delete;

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
  // A free node and a live block's header share the first 16 bytes of their memory.
  struct Node {
    std::size_t size;  // bytes of the free block
    std::size_t next;  // offset of the next free block (ascending), kNone at the end
  };
  struct Header {
    std::size_t size;   // bytes of the block, header included
    std::size_t check;  // seal(offset, size): tells a live block from anything else
  };
  static constexpr std::size_t kNone = ~std::size_t{0};

  void ensure_ready() noexcept {
    if (!ready_) [[unlikely]]
      init();
  }
  void init() noexcept;
  static std::size_t seal(std::size_t offset, std::size_t size) noexcept;
  Node& node(std::size_t off) const noexcept { return *reinterpret_cast<Node*>(base_ + off); }
  Header& header(std::size_t off) const noexcept { return *reinterpret_cast<Header*>(base_ + off); }
  std::size_t block_of(const void* p) const noexcept;  // header offset of the live block at p, or kNone
  // Cuts [start, end) out of the free block at `off` whose predecessor is `prev`.
  void carve(std::size_t prev, std::size_t off, std::size_t start, std::size_t end) noexcept;
  void insert_free(std::size_t start, std::size_t size) noexcept;  // merges with neighbours
  bool plan(std::size_t size, std::size_t align, std::size_t* body) const noexcept;
  void* fail() noexcept {
    ++counters_.failed;
    return nullptr;
  }

  std::span<std::byte> region_;
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  std::size_t head_ = kNone;
  alloc_detail::Counters counters_{};
  bool ready_ = false;
};

static_assert(RegionAllocator<LinkedListAllocator>);

}  // namespace ferro
