// ChunkAllocator's memory of recently freed holes (internal: include "ferro/alloc/chunk.hpp"):
// a few runs of free chunks, so that a request takes the smallest recent hole that fits before
// next-fit goes on into the rest of the heap. This fills holes behind the next-fit hint that
// next-fit would only reach after wrapping.
//
// Invariants:
//   1. A record is a hint, not a fact: next-fit and allocate_at claim chunks without looking
//      here, so take() checks the bitmap before using a record and drops one that went stale.
//   2. Records do not overlap: remember() drops every record that meets the new run before it
//      stores that run, and take() only shrinks a record from its front.
//   3. Only runs with both ends within kReach chunks of the freed chunk are stored. Next-fit
//      finds long runs cheaply, and the bounded walk keeps deallocate's cost at a few words.
//   A slot with length 0 is empty.
#pragma once

#include <cstddef>

#include "ferro/alloc/chunk_bitmap.hpp"

namespace ferro::alloc_detail {

class FreedRuns {
 public:
  static constexpr int kSlots = 8;

  // An aligned start of n free chunks in the smallest recorded run of at least n, or kNoChunk.
  // The record keeps what is left behind the n chunks.
  std::size_t take(std::size_t n, ChunkAlign a, const ChunkBitmap& map) noexcept {
    int best = -1;
    for (int k = 0; k < kSlots; ++k) {
      const Run& r = runs_[k];
      if (r.length >= n && (best < 0 || r.length < runs_[best].length)) best = k;
    }
    if (best < 0) return kNoChunk;
    Run& r = runs_[best];
    const std::size_t at = a.round_up(r.start);
    if (at >= r.start + r.length || n > r.start + r.length - at || !map.all_free(at, at + n)) {
      r = Run{};  // invariant 1
      return kNoChunk;
    }
    const std::size_t end = r.start + r.length;
    r.start = at + n;
    r.length = end - r.start;
    return at;
  }

  // Records the whole free run around `at` (merged with its free neighbours), which was just freed.
  void remember(std::size_t at, const ChunkBitmap& map) noexcept {
    const ChunkBitmap::FreeRun run = map.free_run_around(at, kReach);
    int slot = -1;
    for (int k = 0; k < kSlots; ++k) {
      Run& r = runs_[k];
      if (r.length != 0 && r.start < run.hi && run.lo < r.start + r.length) r = Run{};  // now part of `run`
      if (r.length == 0 && slot < 0) slot = k;
    }
    if (!run.bounded) return;
    if (slot < 0) slot = static_cast<int>(next_slot_++ % kSlots);
    runs_[slot] = Run{run.lo, run.hi - run.lo};
  }

  void forget_all() noexcept {
    for (auto& r : runs_) r = Run{};
  }

 private:
  static constexpr std::size_t kReach = 4 * 64;
  struct Run {
    std::size_t start = 0, length = 0;
  };

  Run runs_[kSlots] = {};
  unsigned next_slot_ = 0;
};

}  // namespace ferro::alloc_detail
