// Allocators of storage space (offsets in the data area, not RAM) for the vnv heap's objects.
// Their bookkeeping lives in fixed arrays sized by template parameters: no heap. The heap
// rebuilds their state on open() from the checkpoint's object table with allocate_at(), so
// they keep nothing on storage themselves.
//
//   NonResidentBuddyAllocator<MinBlock, MaxBlocks>: power-of-two blocks, split and merged.
//   NonResidentBitmapAllocator<Block, MaxBlocks>: one bit per block, first fit over words.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>

#include "ferro/core/bits.hpp"
#include "ferro/core/result.hpp"
#include "ferro/vnv/format.hpp"

namespace ferro::vnv {

struct NonResidentStats {
  std::uint64_t capacity = 0;
  std::uint64_t in_use = 0;
  std::uint64_t failed = 0;
};

template <class A>
concept NonResidentAllocator = requires(A& a, const A& c, std::uint64_t off, std::uint64_t n) {
  { a.init(off, n) }
  noexcept->std::same_as<void>;  // manage [off, off + n)
  { a.allocate(n) }
  noexcept->std::same_as<std::uint64_t>;  // kNoOffset when full
  { a.allocate_at(off, n) }
  noexcept->std::same_as<bool>;
  { a.deallocate(off, n) }
  noexcept->std::same_as<void>;
  { a.reset() }
  noexcept->std::same_as<void>;
  { c.stats() }
  noexcept->std::same_as<NonResidentStats>;
  { c.check() }
  noexcept->std::same_as<Status>;
};

namespace nr_detail {

// Bit arrays scanned a word at a time.
template <std::size_t Bits>
struct BitArray {
  static constexpr std::size_t kWords = (Bits + 63) / 64;
  std::uint64_t w[kWords] = {};

  bool get(std::size_t i) const noexcept { return (w[i / 64] >> (i % 64)) & 1u; }
  void set(std::size_t i) noexcept { w[i / 64] |= std::uint64_t{1} << (i % 64); }
  void clear(std::size_t i) noexcept { w[i / 64] &= ~(std::uint64_t{1} << (i % 64)); }
  void clear_all() noexcept {
    for (auto& x : w) x = 0;
  }
  // First index in [from, to) whose bit equals `value`, or `to`.
  std::size_t find(std::size_t from, std::size_t to, bool value) const noexcept {
    while (from < to) {
      std::uint64_t word = value ? w[from / 64] : ~w[from / 64];
      word &= ~std::uint64_t{0} << (from % 64);
      if (word != 0) {
        const std::size_t i = (from & ~std::size_t{63}) + static_cast<std::size_t>(ctz(word));
        return i < to ? i : to;
      }
      from = (from & ~std::size_t{63}) + 64;
    }
    return to;
  }
};

}  // namespace nr_detail

// Binary buddy over storage: blocks of MinBlock << order bytes. One free bit per block per
// order; a block is free iff its bit is set (so a free block's children and ancestors are
// clear). allocate and free cost O(orders + words scanned at one order).
template <std::size_t MinBlock = 16, std::size_t MaxBlocks = 4096>
class NonResidentBuddyAllocator {
  static_assert(is_pow2(MinBlock) && MinBlock >= format::kWord);
  static_assert(is_pow2(MaxBlocks) && MaxBlocks >= 1);
  static constexpr int kOrders = log2_floor(MaxBlocks) + 1;

 public:
  void init(std::uint64_t offset, std::uint64_t size) noexcept {
    base_ = offset;
    const std::uint64_t units = size / MinBlock;
    units_ = static_cast<std::size_t>(units < MaxBlocks ? units : MaxBlocks);
    reset();
  }

  void reset() noexcept {
    bits_.clear_all();
    in_use_ = 0;
    // Cover [0, units_) with the largest aligned blocks that fit.
    std::size_t unit = 0;
    while (unit < units_) {
      int order = kOrders - 1;
      while (order > 0 && ((unit & ((std::size_t{1} << order) - 1)) != 0 || unit + (std::size_t{1} << order) > units_))
        --order;
      bits_.set(index(order, unit >> order));
      unit += std::size_t{1} << order;
    }
  }

  std::uint64_t allocate(std::uint64_t size) noexcept {
    const int order = order_for(size);
    if (order < 0) return fail();
    int from = order;
    std::size_t block = 0;
    for (; from < kOrders; ++from) {
      const std::size_t first = index(from, 0), last = first + blocks_at(from);
      block = bits_.find(first, last, true);
      if (block < last) {
        block -= first;
        break;
      }
    }
    if (from == kOrders) return fail();
    bits_.clear(index(from, block));
    while (from > order) {  // split, keeping the left half
      --from;
      block *= 2;
      bits_.set(index(from, block + 1));
    }
    in_use_ += block_bytes(order);
    return base_ + (std::uint64_t{block} << order) * MinBlock;
  }

  bool allocate_at(std::uint64_t offset, std::uint64_t size) noexcept {
    const int order = order_for(size);
    if (order < 0 || offset < base_ || (offset - base_) % block_bytes(order) != 0) return false;
    const std::uint64_t unit = (offset - base_) / MinBlock;
    if (unit + (std::uint64_t{1} << order) > units_) return false;
    int top = order;
    while (top < kOrders && !bits_.get(index(top, static_cast<std::size_t>(unit >> top)))) ++top;
    if (top == kOrders) return false;  // some part of it is taken
    std::size_t block = static_cast<std::size_t>(unit >> top);
    bits_.clear(index(top, block));
    while (top > order) {  // split down towards `unit`, freeing the other halves
      --top;
      const std::size_t want = static_cast<std::size_t>(unit >> top);
      bits_.set(index(top, want ^ 1));
      block = want;
    }
    in_use_ += block_bytes(order);
    return true;
  }

  void deallocate(std::uint64_t offset, std::uint64_t size) noexcept {
    const int order = order_for(size);
    if (order < 0 || offset < base_ || (offset - base_) % block_bytes(order) != 0) {
      ++bad_frees_;
      return;
    }
    std::size_t block = static_cast<std::size_t>((offset - base_) / MinBlock) >> order;
    if ((block << order) + (std::size_t{1} << order) > units_ || free_or_inside_free(order, block)) {
      ++bad_frees_;
      return;
    }
    in_use_ -= block_bytes(order);
    int o = order;
    while (o + 1 < kOrders && bits_.get(index(o, block ^ 1))) {
      bits_.clear(index(o, block ^ 1));
      block >>= 1;
      ++o;
    }
    bits_.set(index(o, block));
  }

  NonResidentStats stats() const noexcept { return {std::uint64_t{units_} * MinBlock, in_use_, failed_}; }

  Status check() const noexcept {
    if (bad_frees_ != 0) return make_error(Errc::corrupt, "a block was freed twice or never allocated");
    std::uint64_t free_bytes = 0;
    for (int o = 0; o < kOrders; ++o) {
      for (std::size_t b = 0; b < blocks_at(o); ++b) {
        if (!bits_.get(index(o, b))) continue;
        if ((b << o) + (std::size_t{1} << o) > units_) return make_error(Errc::corrupt, "free block past the end");
        const bool parent_fits = ((b >> 1) << (o + 1)) + (std::size_t{2} << o) <= units_;
        if (o + 1 < kOrders && parent_fits && bits_.get(index(o, b ^ 1)))
          return make_error(Errc::corrupt, "two free buddies not merged");
        if (free_or_inside_free_above(o, b)) return make_error(Errc::corrupt, "free block inside a free block");
        free_bytes += block_bytes(o);
      }
    }
    if (free_bytes + in_use_ != std::uint64_t{units_} * MinBlock)
      return make_error(Errc::corrupt, "free + used bytes do not add up to the capacity");
    return ok();
  }

 private:
  static constexpr std::size_t blocks_at(int order) noexcept { return MaxBlocks >> order; }
  static constexpr std::size_t index(int order, std::size_t block) noexcept {
    // Order o's bits start after those of orders 0..o-1: 2M - 2M/2^o.
    return 2 * MaxBlocks - (2 * MaxBlocks >> order) + block;
  }
  static constexpr std::uint64_t block_bytes(int order) noexcept { return std::uint64_t{MinBlock} << order; }
  static int order_for(std::uint64_t size) noexcept {
    const std::uint64_t units = size == 0 ? 1 : (size + MinBlock - 1) / MinBlock;
    if (units > MaxBlocks) return -1;
    return log2_ceil(units);
  }
  bool free_or_inside_free(int order, std::size_t block) const noexcept {
    return bits_.get(index(order, block)) || free_or_inside_free_above(order, block);
  }
  bool free_or_inside_free_above(int order, std::size_t block) const noexcept {
    for (int o = order + 1; o < kOrders; ++o)
      if (bits_.get(index(o, block >> (o - order)))) return true;
    return false;
  }
  std::uint64_t fail() noexcept {
    ++failed_;
    return kNoOffset;
  }

  nr_detail::BitArray<2 * MaxBlocks> bits_{};
  std::uint64_t base_ = 0;
  std::size_t units_ = 0;
  std::uint64_t in_use_ = 0;
  std::uint64_t failed_ = 0;
  std::uint64_t bad_frees_ = 0;
};

// One bit per Block-byte block (1 = taken); first fit for a run of free blocks, skipping
// full and empty words whole.
template <std::size_t Block = 32, std::size_t MaxBlocks = 8192>
class NonResidentBitmapAllocator {
  static_assert(is_pow2(Block) && Block >= format::kWord);

 public:
  void init(std::uint64_t offset, std::uint64_t size) noexcept {
    base_ = offset;
    const std::uint64_t blocks = size / Block;
    blocks_ = static_cast<std::size_t>(blocks < MaxBlocks ? blocks : MaxBlocks);
    reset();
  }
  void reset() noexcept {
    used_.clear_all();
    in_use_ = 0;
  }

  std::uint64_t allocate(std::uint64_t size) noexcept {
    const std::uint64_t need = blocks_for(size);
    if (need == 0 || need > blocks_) return fail();
    std::size_t pos = 0;
    while (pos + need <= blocks_) {
      const std::size_t start = used_.find(pos, blocks_, false);
      if (start + need > blocks_) break;
      const std::size_t end = used_.find(start, static_cast<std::size_t>(start + need), true);
      if (end == start + need) {
        mark(start, static_cast<std::size_t>(need));
        return base_ + std::uint64_t{start} * Block;
      }
      pos = end;
    }
    return fail();
  }

  bool allocate_at(std::uint64_t offset, std::uint64_t size) noexcept {
    const std::uint64_t need = blocks_for(size);
    if (offset < base_ || (offset - base_) % Block != 0 || need == 0) return false;
    const std::uint64_t start = (offset - base_) / Block;
    if (start + need > blocks_) return false;
    const auto s = static_cast<std::size_t>(start), n = static_cast<std::size_t>(need);
    if (used_.find(s, s + n, true) != s + n) return false;
    mark(s, n);
    return true;
  }

  void deallocate(std::uint64_t offset, std::uint64_t size) noexcept {
    const std::uint64_t need = blocks_for(size);
    if (offset < base_ || (offset - base_) % Block != 0 || need == 0) {
      ++bad_frees_;
      return;
    }
    const std::uint64_t start = (offset - base_) / Block;
    if (start + need > blocks_) {
      ++bad_frees_;
      return;
    }
    const auto s = static_cast<std::size_t>(start), n = static_cast<std::size_t>(need);
    if (used_.find(s, s + n, false) != s + n) {  // part of it is already free
      ++bad_frees_;
      return;
    }
    for (std::size_t i = s; i < s + n; ++i) used_.clear(i);
    in_use_ -= n * Block;
  }

  NonResidentStats stats() const noexcept { return {std::uint64_t{blocks_} * Block, in_use_, failed_}; }

  Status check() const noexcept {
    if (bad_frees_ != 0) return make_error(Errc::corrupt, "a block was freed twice or never allocated");
    std::uint64_t used = 0;
    for (std::size_t i = 0; i < blocks_; ++i) used += used_.get(i) ? Block : 0;
    if (used != in_use_) return make_error(Errc::corrupt, "bitmap and in-use count disagree");
    if (used_.find(blocks_, MaxBlocks, true) != MaxBlocks) return make_error(Errc::corrupt, "bit set past the end");
    return ok();
  }

 private:
  static std::uint64_t blocks_for(std::uint64_t size) noexcept { return size == 0 ? 1 : (size + Block - 1) / Block; }
  void mark(std::size_t start, std::size_t n) noexcept {
    for (std::size_t i = start; i < start + n; ++i) used_.set(i);
    in_use_ += n * Block;
  }
  std::uint64_t fail() noexcept {
    ++failed_;
    return kNoOffset;
  }

  nr_detail::BitArray<MaxBlocks> used_{};
  std::uint64_t base_ = 0;
  std::size_t blocks_ = 0;
  std::uint64_t in_use_ = 0;
  std::uint64_t failed_ = 0;
  std::uint64_t bad_frees_ = 0;
};

}  // namespace ferro::vnv
