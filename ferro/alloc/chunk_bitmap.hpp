// ChunkAllocator's bookkeeping (internal: include "ferro/alloc/chunk.hpp"): three bitmaps over
// the chunks of a region, and the searches that read them 64 chunks per step.
//
// One array of words_needed(chunks) words, W = ceil(chunks / 64), in this order:
//   used   (W words): bit i set when chunk i belongs to a live block;
//   starts (W words): bit i set when chunk i is the first chunk of a live block;
//   full   (ceil(W / 64) words): bit w set when used word w is all ones.
//
// Invariants (check() verifies all four, word by word):
//   1. starts is a subset of used.
//   2. Every run of used chunks begins with a start bit. So a block runs from its start to the
//      next start or free chunk (block_end): no size is stored, and a pointer to a chunk without
//      a start bit is not a block.
//   3. No bit is set at or beyond `chunks` in the last used or starts word.
//   4. Full bit w is set exactly when used word w is all ones. mark_used and mark_free, the only
//      writers of used bits, keep it so; searches trust it to skip 64 full words per step, and a
//      stale bit would hide free chunks from them.
//
// Cost: a search reads the summary and the words that have a free chunk, so O(W / 64 + open
// words) however fragmented the heap is; the original tested one bit per start position.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ferro/core/bits.hpp"
#include "ferro/core/result.hpp"

namespace ferro::alloc_detail {

inline constexpr std::size_t kNoChunk = ~std::size_t{0};

// Where a block may start: chunk i qualifies when i % step == phase.
struct ChunkAlign {
  std::size_t step, phase;

  // The first qualifying chunk at or after i.
  constexpr std::size_t round_up(std::size_t i) const noexcept {
    if (step == 1) return i;
    if (i <= phase) return phase;
    return phase + (i - phase + step - 1) / step * step;
  }
};

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

class ChunkBitmap {
 public:
  static constexpr std::size_t words_needed(std::size_t chunks) noexcept {
    const std::size_t w = (chunks + 63) / 64;
    return 2 * w + (w + 63) / 64;
  }

  // Takes `maps` (words_needed(chunks) words) as its storage; clear() it before use.
  void attach(std::uint64_t* maps, std::size_t chunks) noexcept {
    maps_ = maps;
    chunks_ = chunks;
    words_ = (chunks + 63) / 64;
  }
  void clear() noexcept {
    if (words_ != 0) std::memset(maps_, 0, words_needed(chunks_) * sizeof(std::uint64_t));
  }
  std::size_t chunks() const noexcept { return chunks_; }

  void mark_used(std::size_t at, std::size_t n) noexcept { mark(at, n, true); }
  void mark_free(std::size_t at, std::size_t n) noexcept { mark(at, n, false); }
  bool is_start(std::size_t i) const noexcept { return (starts()[i / 64] >> (i % 64)) & 1; }
  void set_start(std::size_t i) noexcept { starts()[i / 64] |= std::uint64_t{1} << (i % 64); }
  void clear_start(std::size_t i) noexcept { starts()[i / 64] &= ~(std::uint64_t{1} << (i % 64)); }

  // First used (free) chunk in [from, limit), or limit.
  std::size_t next_used(std::size_t from, std::size_t limit) const noexcept { return find(from, limit, true); }
  std::size_t next_free(std::size_t from, std::size_t limit) const noexcept { return find(from, limit, false); }
  bool all_free(std::size_t from, std::size_t limit) const noexcept { return next_used(from, limit) == limit; }

  // One past the last chunk of the block that starts at `at`: the next free chunk or block start.
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

  // First aligned start of n free chunks inside [from, limit), or kNoChunk.
  std::size_t find_run(std::size_t from, std::size_t limit, std::size_t n, ChunkAlign a) const noexcept {
    if (from >= limit || n > limit - from) return kNoChunk;
    if (n <= 64 && a.step <= 64) return find_short_run(from, limit, n, a);
    if (n > 64) return find_long_run(from, limit, n, a);
    // A short run with sparse aligned starts (more than 64 chunks apart): try each start.
    std::size_t i = from;
    while (true) {
      i = a.round_up(next_free(i, limit));
      if (i >= limit || n > limit - i) return kNoChunk;
      const std::size_t blocked = next_used(i, i + n);
      if (blocked == i + n) return i;
      i = blocked + 1;
    }
  }

  // The run of free chunks around the free chunk `at`, looked for up to `reach` chunks each way
  // (in whole words to the left). `bounded`: a used chunk or the region's start was found to
  // the left and a used chunk or the region's end to the right, so [lo, hi) is the whole run.
  struct FreeRun {
    std::size_t lo, hi;
    bool bounded;
  };
  FreeRun free_run_around(std::size_t at, std::size_t reach) const noexcept {
    const std::size_t floor = at > reach ? at - reach : 0;
    std::size_t lo = at;
    bool bounded = false;
    while (lo > floor) {  // walk left a word at a time
      const std::size_t w = (lo - 1) / 64;
      const std::uint64_t below =
          used()[w] & (((lo - 1) % 64 == 63) ? ~std::uint64_t{0} : ((std::uint64_t{2} << ((lo - 1) % 64)) - 1));
      if (below != 0) {
        lo = w * 64 + static_cast<std::size_t>(log2_floor(below)) + 1;
        bounded = true;
        break;
      }
      lo = w * 64;
    }
    if (lo == 0) bounded = true;
    const std::size_t ceiling = chunks_ - at > reach ? at + reach : chunks_;
    const std::size_t hi = next_used(at, ceiling);
    if (hi == ceiling && ceiling != chunks_) bounded = false;
    return {lo, hi, bounded};
  }

  std::size_t longest_free_run() const noexcept {
    std::size_t best = 0;
    for (std::size_t i = 0; i < chunks_;) {
      const std::size_t lo = next_free(i, chunks_);
      if (lo == chunks_) break;
      const std::size_t hi = next_used(lo, chunks_);
      if (hi - lo > best) best = hi - lo;
      i = hi;
    }
    return best;
  }

  struct Tally {
    std::size_t used_chunks, blocks;
  };
  // The first broken invariant, else what the bitmaps hold, for the caller's counters to match.
  Result<Tally> check() const noexcept {
    Tally t{0, 0};
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
      t.used_chunks += static_cast<std::size_t>(popcount(u));
      t.blocks += static_cast<std::size_t>(popcount(s));
      carry = u >> 63;
    }
    return t;
  }

 private:
  std::uint64_t* used() const noexcept { return maps_; }
  std::uint64_t* starts() const noexcept { return maps_ + words_; }
  std::uint64_t* full() const noexcept { return maps_ + 2 * words_; }

  // Sets or clears used bits and keeps the full-word summary in step (invariant 4).
  void mark(std::size_t at, std::size_t n, bool used_now) noexcept {
    std::size_t i = at, left = n;
    while (left > 0) {
      const std::size_t bit = i % 64, take = left < 64 - bit ? left : 64 - bit;
      const std::uint64_t mask = (take == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << take) - 1)) << bit;
      if (used_now)
        used()[i / 64] |= mask;
      else
        used()[i / 64] &= ~mask;
      i += take;
      left -= take;
    }
    for (std::size_t w = at / 64; w <= (at + n - 1) / 64; ++w) {
      const std::uint64_t bit = std::uint64_t{1} << (w % 64);
      if (used()[w] == ~std::uint64_t{0})
        full()[w / 64] |= bit;
      else
        full()[w / 64] &= ~bit;
    }
  }

  std::size_t find(std::size_t from, std::size_t limit, bool used_chunk) const noexcept {
    if (from >= limit) return limit;
    std::size_t w = from / 64;
    const std::uint64_t flip = used_chunk ? 0 : ~std::uint64_t{0};
    std::uint64_t word = (used()[w] ^ flip) & (~std::uint64_t{0} << (from % 64));
    const std::size_t last = (limit - 1) / 64;
    while (word == 0) {
      if (++w > last) return limit;
      word = used()[w] ^ flip;
    }
    const std::size_t i = w * 64 + static_cast<std::size_t>(ctz(word));
    return i < limit ? i : limit;
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

  // n <= 64: per word, the bits where n free chunks start (within this word and the next) are
  // found by and-ing shifted copies of the free mask, log2(n) steps.
  std::size_t find_short_run(std::size_t from, std::size_t limit, std::size_t n, ChunkAlign a) const noexcept {
    std::uint64_t aligned = ~std::uint64_t{0};
    if (a.step > 1) {
      aligned = 0;
      for (std::size_t b = a.phase % a.step; b < 64; b += a.step) aligned |= std::uint64_t{1} << b;
    }
    std::size_t found = kNoChunk;
    for_each_open_word(from / 64, (limit - 1) / 64, [&](std::size_t w) {
      std::uint64_t f = ~used()[w];
      if (w == from / 64) f &= ~std::uint64_t{0} << (from % 64);
      if ((f & aligned) == 0) return false;
      const std::uint64_t next = w + 1 < words_ ? ~used()[w + 1] : 0;
#if defined(__SIZEOF_INT128__)
      unsigned __int128 r = (static_cast<unsigned __int128>(next) << 64) | f;
#else
      Bits128 r{f, next};
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
  std::size_t find_long_run(std::size_t from, std::size_t limit, std::size_t n, ChunkAlign a) const noexcept {
    std::size_t run_start = from, found = kNoChunk;
    std::size_t expect = from / 64;  // the word after the last one visited
    for_each_open_word(from / 64, (limit - 1) / 64, [&](std::size_t w) {
      if (w != expect) run_start = w * 64;  // full words in between ended any run
      expect = w + 1;
      std::uint64_t f = ~used()[w];
      if (w == from / 64) f |= ~(~std::uint64_t{0} << (from % 64));  // bits before `from`: skip, keep run_start
      const auto low_free = static_cast<std::size_t>(std::countr_one(f));
      const std::size_t run_end = w * 64 + low_free;
      if (run_end > run_start) {
        const std::size_t at = a.round_up(run_start);
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

  std::uint64_t* maps_ = nullptr;
  std::size_t chunks_ = 0, words_ = 0;
};

}  // namespace ferro::alloc_detail
