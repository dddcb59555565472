// Fixed-size-chunk allocator: the region is split into ChunkSize-byte chunks, one bit each in a
// `used` bitmap, and a second `start` bitmap marks the first chunk of every live block, so a
// block's extent (up to the next start or free chunk) comes from the allocator, never from the
// caller, and a double free or foreign pointer is recognised.
//
// Placement: first the smallest recently freed run that fits (a few are remembered), else
// next-fit from where the last next-fit allocation ended, wrapping once. reallocate shrinks in
// place and grows into free chunks that follow the block.
//
// This file holds the public class and its fast path. The bitmaps and their word-at-a-time
// searches are in chunk_bitmap.hpp, the remembered holes in chunk_freed_runs.hpp; each states
// its own invariants. This class keeps three more (check() verifies the first two):
//   1. in_use is the used chunks times ChunkSize, and live_blocks the number of start bits.
//   2. hint_ is a chunk index (below the chunk count), or 0 when there are no chunks.
//   3. Until the first call nothing is set up (ready_ is false, no chunks, no bitmap attached)
//      and nothing is written, so the allocator over a StaticHeap is constinit and usable before
//      main; the first call attaches and clears the bitmaps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "ferro/alloc/allocator.hpp"
#include "ferro/alloc/chunk_bitmap.hpp"
#include "ferro/alloc/chunk_freed_runs.hpp"

namespace ferro {

// Region and bitmaps sized at compile time, page-aligned: the seed's heap!/heap_bitmap!.
template <std::size_t Chunks, std::size_t ChunkSize = 256>
struct StaticHeap {
  static constexpr std::size_t kWords = (Chunks + 63) / 64;
  alignas(4096) std::byte memory[Chunks * ChunkSize]{};
  std::uint64_t bitmaps[alloc_detail::ChunkBitmap::words_needed(Chunks)]{};
};

template <std::size_t ChunkSize = 256>
class ChunkAllocator {
  static_assert(is_pow2(ChunkSize) && ChunkSize >= 8, "ChunkSize must be a power of two, at least 8");

 public:
  static constexpr std::size_t kChunkSize = ChunkSize;

  // Bitmap words needed for a region of `bytes`: one bit per chunk twice (used, block start),
  // and one bit per word of the used map (that word is full).
  static constexpr std::size_t bitmap_words_for(std::size_t bytes) noexcept { return words_needed(bytes / ChunkSize); }
  static constexpr std::size_t words_needed(std::size_t chunks) noexcept {
    return alloc_detail::ChunkBitmap::words_needed(chunks);
  }

  // Over `region`, keeping the bitmaps in `bitmaps` (bitmap_words_for(region.size()) words), or
  // carved from the end of the region when `bitmaps` is empty.
  constexpr explicit ChunkAllocator(std::span<std::byte> region, std::span<std::uint64_t> bitmaps = {}) noexcept
      : region_(region), given_bitmaps_(bitmaps) {}
  template <std::size_t Chunks>
  constexpr explicit ChunkAllocator(StaticHeap<Chunks, ChunkSize>& heap) noexcept
      : region_(heap.memory), given_bitmaps_(heap.bitmaps) {}
  ChunkAllocator(const ChunkAllocator&) = delete;
  ChunkAllocator& operator=(const ChunkAllocator&) = delete;

  void* allocate(std::size_t size, std::size_t align = kDefaultAlign) noexcept {
    ensure_ready();
    const std::size_t n = chunks_for(size);
    if (n == 0 || !alloc_detail::valid_align(align)) return fail();
    const alloc_detail::ChunkAlign al = align_of(align);
    std::size_t at = freed_.take(n, al, bitmap_);
    if (at == kNone) {
      const std::size_t chunks = bitmap_.chunks();
      at = bitmap_.find_run(hint_, chunks, n, al);
      if (at == kNone) at = bitmap_.find_run(0, hint_ + n - 1 < chunks ? hint_ + n - 1 : chunks, n, al);
      if (at == kNone) return fail();
      // Only next-fit moves the hint: a hole reused behind it must not drag the next search
      // back into the full part of the heap.
      hint_ = at + n == chunks ? 0 : at + n;
    }
    claim(at, n);
    return base_ + at * ChunkSize;
  }

  void deallocate(void* p, std::size_t size = 0, std::size_t /*align*/ = kDefaultAlign) noexcept {
    if (p == nullptr) return;
    const std::size_t at = block_of(p);
    if (at == kNone) {
      ++counters_.bad_frees;
      FERRO_DEBUG_CHECK(false, "ChunkAllocator::deallocate: not a live block (double free or foreign pointer)");
      return;
    }
    const std::size_t n = bitmap_.block_end(at) - at;
    FERRO_DEBUG_CHECK(size <= n * ChunkSize, "ChunkAllocator::deallocate: size larger than the block");
    (void)size;
    bitmap_.mark_free(at, n);
    bitmap_.clear_start(at);
    counters_.gave_back(n * ChunkSize);
    if (counters_.live == 0) {  // empty again: start over from the front, as a fresh heap would
      hint_ = 0;
      freed_.forget_all();
      return;
    }
    freed_.remember(at, bitmap_);
  }

  void* reallocate(void* p, std::size_t /*old_size*/, std::size_t new_size,
                   std::size_t align = kDefaultAlign) noexcept {
    if (p == nullptr) return allocate(new_size, align);
    const std::size_t at = block_of(p);
    if (at == kNone) {
      ++counters_.bad_frees;
      FERRO_DEBUG_CHECK(false, "ChunkAllocator::reallocate: not a live block");
      return nullptr;
    }
    const std::size_t have = bitmap_.block_end(at) - at, want = chunks_for(new_size);
    if (want == 0 || !alloc_detail::valid_align(align)) return fail();
    if (is_aligned(p, align)) {
      if (want <= have) {
        if (want < have) {
          bitmap_.mark_free(at + want, have - want);
          counters_.resized(have * ChunkSize, want * ChunkSize);
          freed_.remember(at + want, bitmap_);
        }
        return p;
      }
      if (at + want <= bitmap_.chunks() && bitmap_.all_free(at + have, at + want)) {
        bitmap_.mark_used(at + have, want - have);
        counters_.resized(have * ChunkSize, want * ChunkSize);
        return p;
      }
    }
    void* q = allocate(new_size, align);
    if (q == nullptr) return nullptr;
    std::memcpy(q, p, have * ChunkSize < new_size ? have * ChunkSize : new_size);
    deallocate(p);
    return q;
  }

  bool allocate_at(void* p, std::size_t size, std::size_t align = kDefaultAlign) noexcept {
    ensure_ready();
    const std::size_t n = chunks_for(size), at = chunk_at(p);
    if (n == 0 || !alloc_detail::valid_align(align) || at == kNone || !is_aligned(p, align)) return refuse();
    if (n > bitmap_.chunks() - at || !bitmap_.all_free(at, at + n)) return refuse();
    claim(at, n);
    return true;
  }

  void reset() noexcept {
    if (!ready_) return init();
    bitmap_.clear();
    const std::size_t failed = counters_.failed;
    counters_ = {};
    counters_.failed = failed;
    hint_ = 0;
    freed_.forget_all();
  }

  AllocStats stats() const noexcept {
    AllocStats s;
    s.capacity = bitmap_.chunks() * ChunkSize;
    s.in_use = counters_.in_use;
    s.peak = counters_.peak;
    s.failed = counters_.failed;
    s.live_blocks = counters_.live;
    s.largest_free = bitmap_.longest_free_run() * ChunkSize;
    return s;
  }

  Status check() const noexcept {
    if (counters_.bad_frees != 0)
      return make_error(Errc::invalid_argument, "chunk: deallocate got a non-block pointer");
    if (!ready_) return ok();
    FERRO_TRY_ASSIGN(const auto tally, bitmap_.check());
    if (tally.used_chunks * ChunkSize != counters_.in_use || tally.blocks != counters_.live)
      return make_error(Errc::corrupt, "chunk: in_use mismatch");
    if (hint_ >= bitmap_.chunks() && bitmap_.chunks() != 0)
      return make_error(Errc::corrupt, "chunk: hint out of range");
    return ok();
  }

  bool owns(const void* p) const noexcept {
    const auto* b = static_cast<const std::byte*>(p);
    return ready_ && b >= base_ && b < base_ + bitmap_.chunks() * ChunkSize;
  }
  std::size_t usable_size(const void* p) const noexcept {
    const std::size_t at = block_of(p);
    return at == kNone ? 0 : (bitmap_.block_end(at) - at) * ChunkSize;
  }
  std::size_t chunk_count() const noexcept { return bitmap_.chunks(); }

 private:
  static constexpr std::size_t kNone = alloc_detail::kNoChunk;

  void ensure_ready() noexcept {
    if (!ready_) [[unlikely]]
      init();
  }
  void init() noexcept {
    ready_ = true;
    const auto start = reinterpret_cast<std::uintptr_t>(region_.data());
    const std::uintptr_t end = start + region_.size();
    const std::uintptr_t first = align_up(start, std::uintptr_t{ChunkSize});
    std::size_t bytes = end > first ? end - first : 0;
    base_ = reinterpret_cast<std::byte*>(first);
    std::size_t chunks = 0;
    std::uint64_t* maps = nullptr;
    if (!given_bitmaps_.empty()) {
      chunks = bytes / ChunkSize;
      while (chunks > 0 && words_needed(chunks) > given_bitmaps_.size()) chunks -= chunks % 64 ? chunks % 64 : 64;
      maps = given_bitmaps_.data();
    } else {
      // Each chunk costs ChunkSize bytes plus a little over two bits; the bitmaps go at the
      // (8-aligned) end.
      chunks = bytes > 64 ? (bytes - 64) * 4 / (4 * ChunkSize + 1) : 0;
      while (chunks > 0 && chunks * ChunkSize + words_needed(chunks) * 8 + 8 > bytes) --chunks;
      maps = reinterpret_cast<std::uint64_t*>(align_up(first + chunks * ChunkSize, std::uintptr_t{8}));
    }
    bitmap_.attach(maps, chunks);
    reset();
  }

  std::size_t chunks_for(std::size_t size) const noexcept {
    if (size > bitmap_.chunks() * ChunkSize) return 0;
    return size == 0 ? 1 : (size + ChunkSize - 1) / ChunkSize;
  }
  alloc_detail::ChunkAlign align_of(std::size_t align) const noexcept {
    if (align <= ChunkSize) return {1, 0};
    const auto addr = reinterpret_cast<std::uintptr_t>(base_);
    return {align / ChunkSize, ((align - addr % align) % align) / ChunkSize};
  }

  // The index of the chunk that begins at p, or kNone when p is not a chunk boundary inside
  // the region.
  std::size_t chunk_at(const void* p) const noexcept {
    if (!owns(p)) return kNone;
    const auto off = static_cast<std::size_t>(static_cast<const std::byte*>(p) - base_);
    return off % ChunkSize == 0 ? off / ChunkSize : kNone;
  }
  std::size_t block_of(const void* p) const noexcept {
    const std::size_t at = chunk_at(p);
    return at != kNone && bitmap_.is_start(at) ? at : kNone;
  }

  void claim(std::size_t at, std::size_t n) noexcept {
    bitmap_.mark_used(at, n);
    bitmap_.set_start(at);
    counters_.took(n * ChunkSize);
  }
  void* fail() noexcept {
    ++counters_.failed;
    return nullptr;
  }
  bool refuse() noexcept {
    ++counters_.failed;
    return false;
  }

  std::span<std::byte> region_;
  std::span<std::uint64_t> given_bitmaps_;
  std::byte* base_ = nullptr;
  alloc_detail::ChunkBitmap bitmap_;
  std::size_t hint_ = 0;
  alloc_detail::FreedRuns freed_;
  alloc_detail::Counters counters_{};
  bool ready_ = false;
};

static_assert(RegionAllocator<ChunkAllocator<256>>);

}  // namespace ferro
