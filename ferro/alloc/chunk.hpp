// Fixed-size-chunk allocator: the region is split into ChunkSize-byte chunks, one bit each in a
// `used` bitmap, and a second `start` bitmap marks the first chunk of every live block, so a
// block's extent (up to the next start or free chunk) comes from the allocator, never from the
// caller, and a double free or foreign pointer is recognised.
//
// Placement: first the smallest recently freed run that fits (a few are remembered), else
// next-fit from where the last allocation ended, wrapping once. Searches read 64 chunks per
// step (ctz over whole words), so a nearly full heap costs O(words + free gaps) rather than the
// original's one test per bit per start position. reallocate shrinks in place and grows into
// free chunks that follow the block.
//
// Nothing is written before the first call, so the allocator over a StaticHeap is constinit and
// usable before main (the bitmaps are cleared on first use).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "ferro/alloc/allocator.hpp"

namespace ferro {

namespace detail {
// The two bitmap words that find_short_run shifts as one, where the target has no __int128
// (32-bit Cortex-M). Shifts are by 1..64 bits.
struct Bits128 {
  std::uint64_t lo, hi;
  constexpr Bits128 operator>>(std::size_t k) const noexcept {
    if (k >= 64) return {hi >> (k - 64), 0};
    return {(lo >> k) | (hi << (64 - k)), hi >> k};
  }
  constexpr Bits128& operator&=(Bits128 o) noexcept {
    lo &= o.lo;
    hi &= o.hi;
    return *this;
  }
  constexpr explicit operator std::uint64_t() const noexcept { return lo; }
};
}  // namespace detail

// Region and bitmaps sized at compile time, page-aligned: the seed's heap!/heap_bitmap!.
template <std::size_t Chunks, std::size_t ChunkSize = 256>
struct StaticHeap {
  static constexpr std::size_t kWords = (Chunks + 63) / 64;
  alignas(4096) std::byte memory[Chunks * ChunkSize]{};
  std::uint64_t bitmaps[2 * kWords + (kWords + 63) / 64]{};
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
    const std::size_t w = (chunks + 63) / 64;
    return 2 * w + (w + 63) / 64;
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
    const Align al = align_of(align);
    std::size_t at = from_freed_runs(n, al);
    if (at == kNone) {
      at = find_run(hint_, chunks_, n, al);
      if (at == kNone) at = find_run(0, hint_ + n - 1 < chunks_ ? hint_ + n - 1 : chunks_, n, al);
      if (at == kNone) return fail();
      // Only next-fit moves the hint: a hole reused behind it must not drag the next search
      // back into the full part of the heap.
      hint_ = at + n == chunks_ ? 0 : at + n;
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
    const std::size_t n = block_end(at) - at;
    FERRO_DEBUG_CHECK(size <= n * ChunkSize, "ChunkAllocator::deallocate: size larger than the block");
    (void)size;
    mark(at, n, false);
    clear_bits(starts(), at, 1);
    counters_.gave_back(n * ChunkSize);
    if (counters_.live == 0) {  // empty again: start over from the front, as a fresh heap would
      hint_ = 0;
      for (auto& r : freed_) r = Run{};
      return;
    }
    remember_freed(at);
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
    const std::size_t have = block_end(at) - at, want = chunks_for(new_size);
    if (want == 0 || !alloc_detail::valid_align(align)) return fail();
    if (is_aligned(p, align)) {
      if (want <= have) {
        if (want < have) {
          mark(at + want, have - want, false);
          counters_.resized(have * ChunkSize, want * ChunkSize);
          remember_freed(at + want);
        }
        return p;
      }
      if (at + want <= chunks_ && find_bit(used(), at + have, at + want, true) == at + want) {
        mark(at + have, want - have, true);
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
    const std::size_t n = chunks_for(size);
    if (n == 0 || !alloc_detail::valid_align(align) || !owns(p) || !is_aligned(p, align)) return refuse();
    const auto off = static_cast<std::size_t>(static_cast<std::byte*>(p) - base_);
    if (off % ChunkSize != 0) return refuse();
    const std::size_t at = off / ChunkSize;
    if (n > chunks_ - at || find_bit(used(), at, at + n, true) != at + n) return refuse();
    claim(at, n);
    return true;
  }

  void reset() noexcept {
    if (!ready_) return init();
    if (words_ != 0) std::memset(bitmaps_, 0, words_needed(chunks_) * sizeof(std::uint64_t));
    const std::size_t failed = counters_.failed;
    counters_ = {};
    counters_.failed = failed;
    hint_ = 0;
    for (auto& r : freed_) r = Run{};
  }

  AllocStats stats() const noexcept {
    AllocStats s;
    s.capacity = chunks_ * ChunkSize;
    s.in_use = counters_.in_use;
    s.peak = counters_.peak;
    s.failed = counters_.failed;
    s.live_blocks = counters_.live;
    s.largest_free = longest_free_run() * ChunkSize;
    return s;
  }

  Status check() const noexcept {
    if (counters_.bad_frees != 0)
      return make_error(Errc::invalid_argument, "chunk: deallocate got a non-block pointer");
    if (!ready_) return ok();
    std::size_t used_chunks = 0, blocks = 0;
    std::uint64_t carry = 0;  // the last chunk of the previous word was used
    for (std::size_t w = 0; w < words_; ++w) {
      const std::uint64_t u = used()[w], s = starts()[w];
      if ((s & ~u) != 0) return make_error(Errc::corrupt, "chunk: a block start on a free chunk");
      const std::uint64_t run_heads = u & ~((u << 1) | carry);
      if ((run_heads & ~s) != 0) return make_error(Errc::corrupt, "chunk: a used run without a block start");
      if (w == words_ - 1 && (chunks_ % 64) != 0 && ((u | s) >> (chunks_ % 64)) != 0)
        return make_error(Errc::corrupt, "chunk: bits set beyond the last chunk");
      if (((full()[w / 64] >> (w % 64)) & 1) != (u == ~std::uint64_t{0} ? 1u : 0u))
        return make_error(Errc::corrupt, "chunk: full-word summary out of step");
      used_chunks += static_cast<std::size_t>(popcount(u));
      blocks += static_cast<std::size_t>(popcount(s));
      carry = u >> 63;
    }
    if (used_chunks * ChunkSize != counters_.in_use || blocks != counters_.live)
      return make_error(Errc::corrupt, "chunk: in_use mismatch");
    if (hint_ >= chunks_ && chunks_ != 0) return make_error(Errc::corrupt, "chunk: hint out of range");
    return ok();
  }

  bool owns(const void* p) const noexcept {
    const auto* b = static_cast<const std::byte*>(p);
    return ready_ && b >= base_ && b < base_ + chunks_ * ChunkSize;
  }
  std::size_t usable_size(const void* p) const noexcept {
    const std::size_t at = block_of(p);
    return at == kNone ? 0 : (block_end(at) - at) * ChunkSize;
  }
  std::size_t chunk_count() const noexcept { return chunks_; }

 private:
  static constexpr std::size_t kNone = ~std::size_t{0};
  static constexpr int kFreedRuns = 8;
  struct Align {
    std::size_t step, phase;  // a start chunk i is aligned when i % step == phase
  };
  struct Run {
    std::size_t start = 0, length = 0;
  };

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
    if (!given_bitmaps_.empty()) {
      chunks_ = bytes / ChunkSize;
      while (chunks_ > 0 && words_needed(chunks_) > given_bitmaps_.size()) chunks_ -= chunks_ % 64 ? chunks_ % 64 : 64;
      bitmaps_ = given_bitmaps_.data();
    } else {
      // Each chunk costs ChunkSize bytes plus a little over two bits; the bitmaps go at the
      // (8-aligned) end.
      chunks_ = bytes > 64 ? (bytes - 64) * 4 / (4 * ChunkSize + 1) : 0;
      while (chunks_ > 0 && chunks_ * ChunkSize + words_needed(chunks_) * 8 + 8 > bytes) --chunks_;
      const std::uintptr_t maps = align_up(first + chunks_ * ChunkSize, std::uintptr_t{8});
      bitmaps_ = reinterpret_cast<std::uint64_t*>(maps);
    }
    words_ = (chunks_ + 63) / 64;
    reset();
  }

  std::uint64_t* used() const noexcept { return bitmaps_; }
  std::uint64_t* starts() const noexcept { return bitmaps_ + words_; }
  std::uint64_t* full() const noexcept { return bitmaps_ + 2 * words_; }

  // Sets or clears used bits and keeps the full-word summary in step.
  void mark(std::size_t at, std::size_t n, bool used_now) noexcept {
    change(used(), at, n, used_now);
    for (std::size_t w = at / 64; w <= (at + n - 1) / 64; ++w) {
      const std::uint64_t bit = std::uint64_t{1} << (w % 64);
      if (used()[w] == ~std::uint64_t{0})
        full()[w / 64] |= bit;
      else
        full()[w / 64] &= ~bit;
    }
  }
  // Calls visit(w) for each word in [first, last] that has a free chunk, in order, until it
  // returns true; 64 full words are skipped per summary word. Returns whether one did.
  template <class Visit>
  bool for_each_open_word(std::size_t first, std::size_t last, Visit&& visit) const noexcept {
    for (std::size_t s = first / 64; s <= last / 64; ++s) {
      std::uint64_t open = ~full()[s];
      if (s == first / 64) open &= ~std::uint64_t{0} << (first % 64);
      while (open != 0) {
        const std::size_t w = s * 64 + static_cast<std::size_t>(ctz(open));
        if (w > last) return false;
        if (visit(w)) return true;
        open &= open - 1;
      }
    }
    return false;
  }

  std::size_t chunks_for(std::size_t size) const noexcept {
    if (size > chunks_ * ChunkSize) return 0;
    return size == 0 ? 1 : (size + ChunkSize - 1) / ChunkSize;
  }
  Align align_of(std::size_t align) const noexcept {
    if (align <= ChunkSize) return {1, 0};
    const auto addr = reinterpret_cast<std::uintptr_t>(base_);
    return {align / ChunkSize, ((align - addr % align) % align) / ChunkSize};
  }
  static std::size_t align_index(std::size_t i, Align a) noexcept {
    if (a.step == 1) return i;
    if (i <= a.phase) return a.phase;
    return a.phase + (i - a.phase + a.step - 1) / a.step * a.step;
  }

  // First i in [from, limit) whose bit equals `value`, or limit.
  std::size_t find_bit(const std::uint64_t* map, std::size_t from, std::size_t limit, bool value) const noexcept {
    if (from >= limit) return limit;
    std::size_t w = from / 64;
    const std::uint64_t flip = value ? 0 : ~std::uint64_t{0};
    std::uint64_t word = (map[w] ^ flip) & (~std::uint64_t{0} << (from % 64));
    const std::size_t last = (limit - 1) / 64;
    while (word == 0) {
      if (++w > last) return limit;
      word = map[w] ^ flip;
    }
    const std::size_t i = w * 64 + static_cast<std::size_t>(ctz(word));
    return i < limit ? i : limit;
  }

  // First aligned start of n free chunks inside [from, limit), or kNone. Every path costs
  // O(words) at most, however fragmented the bitmap is.
  std::size_t find_run(std::size_t from, std::size_t limit, std::size_t n, Align a) const noexcept {
    if (from >= limit || n > limit - from) return kNone;
    if (n <= 64 && a.step <= 64) return find_short_run(from, limit, n, a);
    if (n > 64) return find_long_run(from, limit, n, a);
    // A short run with sparse aligned starts (more than 64 chunks apart): try each start.
    std::size_t i = from;
    while (true) {
      i = align_index(find_bit(used(), i, limit, false), a);
      if (i >= limit || n > limit - i) return kNone;
      const std::size_t blocked = find_bit(used(), i, i + n, true);
      if (blocked == i + n) return i;
      i = blocked + 1;
    }
  }

  // n <= 64: per word, the bits where n free chunks start (within this word and the next) are
  // found by and-ing shifted copies of the free mask, log2(n) steps.
  std::size_t find_short_run(std::size_t from, std::size_t limit, std::size_t n, Align a) const noexcept {
    std::uint64_t aligned = ~std::uint64_t{0};
    if (a.step > 1) {
      aligned = 0;
      for (std::size_t b = a.phase % a.step; b < 64; b += a.step) aligned |= std::uint64_t{1} << b;
    }
    std::size_t found = kNone;
    for_each_open_word(from / 64, (limit - 1) / 64, [&](std::size_t w) {
      std::uint64_t f = ~used()[w];
      if (w == from / 64) f &= ~std::uint64_t{0} << (from % 64);
      if ((f & aligned) == 0) return false;
      const std::uint64_t next = w + 1 < words_ ? ~used()[w + 1] : 0;
#if defined(__SIZEOF_INT128__)
      unsigned __int128 r = (static_cast<unsigned __int128>(next) << 64) | f;
#else
      detail::Bits128 r{f, next};
#endif
      std::size_t len = 1;
      for (; len * 2 <= n; len *= 2) r &= r >> len;
      if (len < n) r &= r >> (n - len);
      const std::uint64_t starts = static_cast<std::uint64_t>(r) & aligned;
      if (starts == 0) return false;
      const std::size_t i = w * 64 + static_cast<std::size_t>(ctz(starts));
      if (i + n <= limit) found = i;
      return true;
    });
    return found;
  }

  // n > 64: such a run reaches across a word boundary, so only runs that touch one matter;
  // follow the free run that ends each word and test it as it grows.
  std::size_t find_long_run(std::size_t from, std::size_t limit, std::size_t n, Align a) const noexcept {
    std::size_t run_start = from, found = kNone;
    std::size_t expect = from / 64;  // the word after the last one visited
    for_each_open_word(from / 64, (limit - 1) / 64, [&](std::size_t w) {
      if (w != expect) run_start = w * 64;  // full words in between ended any run
      expect = w + 1;
      std::uint64_t f = ~used()[w];
      if (w == from / 64) f |= ~(~std::uint64_t{0} << (from % 64));  // bits before `from`: skip, keep run_start
      const auto low_free = static_cast<std::size_t>(std::countr_one(f));
      const std::size_t run_end = w * 64 + low_free;
      if (run_end > run_start) {
        const std::size_t at = align_index(run_start, a);
        if (at < run_end && n <= run_end - at) {
          if (at + n <= limit) found = at;
          return true;
        }
      }
      if (low_free != 64) run_start = w * 64 + 64 - static_cast<std::size_t>(std::countl_one(f));
      return false;
    });
    return found;
  }

  std::size_t from_freed_runs(std::size_t n, Align a) noexcept {
    int best = -1;
    for (int k = 0; k < kFreedRuns; ++k) {
      const Run& r = freed_[k];
      if (r.length >= n && (best < 0 || r.length < freed_[best].length)) best = k;
    }
    if (best < 0) return kNone;
    Run& r = freed_[best];
    const std::size_t at = align_index(r.start, a);
    // The record may be stale (its chunks reused since): trust only the bitmap.
    if (at >= r.start + r.length || n > r.start + r.length - at || find_bit(used(), at, at + n, true) != at + n) {
      r = Run{};
      return kNone;
    }
    const std::size_t end = r.start + r.length;
    r.start = at + n;
    r.length = end - r.start;
    return at;
  }

  // Records the whole free run around `at` (merged with its free neighbours) as a candidate.
  void remember_freed(std::size_t at) noexcept {
    // Only small holes are worth remembering (next-fit finds big runs cheaply), so the walk is
    // bounded to a few words each way and a run that reaches further is not recorded.
    constexpr std::size_t kReach = 4 * 64;
    const std::size_t floor = at > kReach ? at - kReach : 0;
    std::size_t lo = at;
    bool small = false;
    while (lo > floor) {  // walk left a word at a time
      const std::size_t w = (lo - 1) / 64;
      const std::uint64_t below =
          used()[w] & (((lo - 1) % 64 == 63) ? ~std::uint64_t{0} : ((std::uint64_t{2} << ((lo - 1) % 64)) - 1));
      if (below != 0) {
        lo = w * 64 + static_cast<std::size_t>(log2_floor(below)) + 1;
        small = true;  // found the used chunk that bounds the run
        break;
      }
      lo = w * 64;
    }
    if (lo == 0) small = true;  // the run starts at the region's start
    const std::size_t ceiling = chunks_ - at > kReach ? at + kReach : chunks_;
    const std::size_t hi = find_bit(used(), at, ceiling, true);
    if (hi == ceiling && ceiling != chunks_) small = false;
    int slot = -1;
    for (int k = 0; k < kFreedRuns; ++k) {
      Run& r = freed_[k];
      if (r.length != 0 && r.start < hi && lo < r.start + r.length) r = Run{};  // now part of the new run
      if (r.length == 0 && slot < 0) slot = k;
    }
    if (!small) return;
    if (slot < 0) slot = static_cast<int>(next_slot_++ % kFreedRuns);
    freed_[slot] = Run{lo, hi - lo};
  }

  void claim(std::size_t at, std::size_t n) noexcept {
    mark(at, n, true);
    set_bits(starts(), at, 1);
    counters_.took(n * ChunkSize);
  }

  std::size_t block_of(const void* p) const noexcept {
    if (!owns(p)) return kNone;
    const auto off = static_cast<std::size_t>(static_cast<const std::byte*>(p) - base_);
    if (off % ChunkSize != 0) return kNone;
    const std::size_t at = off / ChunkSize;
    return (starts()[at / 64] >> (at % 64)) & 1 ? at : kNone;
  }
  // One past the last chunk of the block at `at`: the next free chunk or block start.
  std::size_t block_end(std::size_t at) const noexcept {
    std::size_t i = at + 1;
    if (i >= chunks_) return chunks_;
    std::size_t w = i / 64;
    std::uint64_t word = (~used()[w] | starts()[w]) & (~std::uint64_t{0} << (i % 64));
    while (word == 0) {
      if (++w >= words_) return chunks_;
      word = ~used()[w] | starts()[w];
    }
    const std::size_t e = w * 64 + static_cast<std::size_t>(ctz(word));
    return e < chunks_ ? e : chunks_;
  }

  static void set_bits(std::uint64_t* map, std::size_t at, std::size_t n) noexcept { change(map, at, n, true); }
  static void clear_bits(std::uint64_t* map, std::size_t at, std::size_t n) noexcept { change(map, at, n, false); }
  static void change(std::uint64_t* map, std::size_t at, std::size_t n, bool set) noexcept {
    while (n > 0) {
      const std::size_t bit = at % 64, take = n < 64 - bit ? n : 64 - bit;
      const std::uint64_t mask = (take == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << take) - 1)) << bit;
      if (set)
        map[at / 64] |= mask;
      else
        map[at / 64] &= ~mask;
      at += take;
      n -= take;
    }
  }

  std::size_t longest_free_run() const noexcept {
    if (!ready_) return 0;
    std::size_t best = 0;
    for (std::size_t i = 0; i < chunks_;) {
      const std::size_t lo = find_bit(used(), i, chunks_, false);
      if (lo == chunks_) break;
      const std::size_t hi = find_bit(used(), lo, chunks_, true);
      if (hi - lo > best) best = hi - lo;
      i = hi;
    }
    return best;
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
  std::uint64_t* bitmaps_ = nullptr;  // used bits, then start bits
  std::size_t chunks_ = 0, words_ = 0, hint_ = 0;
  Run freed_[kFreedRuns] = {};
  unsigned next_slot_ = 0;
  alloc_detail::Counters counters_{};
  bool ready_ = false;
};

static_assert(RegionAllocator<ChunkAllocator<256>>);

}  // namespace ferro
