// Two-level segregated fit (TLSF): free blocks sit in 28 x 32 size-class lists indexed by two
// bitmaps, so finding a block that fits is two ctz operations and allocate / deallocate are
// O(1) whatever the heap holds. Every block starts with a 16-byte header (boundary tag: the
// previous physical block's offset and this block's size), which makes merging with both
// neighbours immediate on free. All sizes are in 16-byte units, so any leftover, even a lone
// header, is a valid free block and a block's size is exactly its request rounded to 16 plus
// the header: no hidden slack, which keeps allocate_at rebuilds exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ferro/alloc/allocator.hpp"

namespace ferro {

class TlsfAllocator {
 public:
  static constexpr std::size_t kUnit = 16;
  static constexpr int kSlLog2 = 5, kSlCount = 1 << kSlLog2, kFlCount = 28;

  // Nothing is written until the first call, so an instance over static storage can be constinit.
  constexpr explicit TlsfAllocator(std::span<std::byte> region) noexcept : region_(region) {}
  TlsfAllocator(const TlsfAllocator&) = delete;
  TlsfAllocator& operator=(const TlsfAllocator&) = delete;

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
  using u32 = std::uint32_t;
  struct Header {
    u32 prev_phys;  // unit offset of the block before this one; kNone for the first
    u32 size_free;  // size in units << 1 | 1 when free
    u32 next_free;  // free: list links; live: a seal that tells a block header from data
    u32 prev_free;
  };
  static constexpr u32 kNone = 0xFFFFFFFFu;
  static constexpr u32 kMaxUnits = 0x7FFFFFFFu;

  void ensure_ready() noexcept {
    if (!ready_) [[unlikely]]
      init();
  }
  void init() noexcept;
  Header& at(u32 off) const noexcept { return *reinterpret_cast<Header*>(base_ + std::size_t{off} * kUnit); }
  static u32 size_of(const Header& h) noexcept { return h.size_free >> 1; }
  static bool is_free(const Header& h) noexcept { return (h.size_free & 1) != 0; }
  static u32 seal(u32 off) noexcept { return off ^ 0xA110CA7Eu; }
  static void classify(u32 units, int* fl, int* sl) noexcept;
  void insert(u32 off, u32 units) noexcept;  // marks free and links into its list
  void remove(u32 off) noexcept;
  void set_size(u32 off, u32 units) noexcept;  // also fixes the next block's prev_phys
  void make_live(u32 off, u32 units) noexcept;
  u32 find_fit(u32 units) const noexcept;
  // Carves [start, start + units) out of the free block `blk`, freeing what is left either side.
  void carve(u32 blk, u32 start, u32 units) noexcept;
  void free_block(u32 off) noexcept;  // merges with free neighbours and links the result
  u32 block_of(const void* p) const noexcept;
  bool units_for(std::size_t size, std::size_t align, u32* units) const noexcept;
  u32 end_units() const noexcept { return units_; }

  std::span<std::byte> region_;
  std::byte* base_ = nullptr;
  u32 units_ = 0;
  u32 fl_map_ = 0;
  u32 sl_map_[kFlCount] = {};
  u32 heads_[kFlCount][kSlCount] = {};
  u32 cursor_ = kNone;  // the free block allocate_at last left behind: restores come in order
  alloc_detail::Counters counters_{};
  bool ready_ = false;
};

static_assert(RegionAllocator<TlsfAllocator>);

}  // namespace ferro
