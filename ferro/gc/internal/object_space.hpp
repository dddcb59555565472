// The object-space steps that allocation, the sweep and free() all take once per block. They
// are inline because the build has no link-time optimisation: out of line in one source, each
// would cost the others a call per block on their hot paths (the sweep's walk, free()).
//
// Invariants they keep: those of the free lists (see alloc.cpp); a run handed back to the gap is
// poisoned whole, a listed one all but its header.
#pragma once

#include "ferro/core/bits.hpp"
#include "ferro/gc/internal/layout.hpp"

namespace ferro::gc {

inline int Heap::class_of(std::size_t granules) noexcept {
  if (granules < static_cast<std::size_t>(kExactClasses)) return static_cast<int>(granules);
  const int c = kExactClasses + log2_floor(granules) - 6;  // 64 granules = 2^6 opens the first bin
  return c < kClasses ? c : kClasses - 1;
}

inline void Heap::push_free(Block* b, std::size_t granules) noexcept {
  const int c = class_of(granules);
  b->set(granules * kGranule, internal::kFree);
  b->link = free_[c];
  free_[c] = b;
  nonempty_[c / 64] |= std::uint64_t{1} << (c % 64);
  obj_free_bytes_ += granules * kGranule;
}

inline void Heap::clear_free_lists() noexcept {
  for (auto& head : free_) head = nullptr;
  for (auto& w : nonempty_) w = 0;
  obj_free_bytes_ = 0;
}

inline void Heap::uncount_obj(std::size_t bytes) noexcept {
  --stats_.curr_objs.count;
  stats_.curr_objs.bytes -= bytes;
}

inline void Heap::flush_run(std::byte* run, std::byte* end) noexcept {
  if (run == nullptr) return;
  const auto bytes = static_cast<std::size_t>(end - run);
  if (run == obj_low_) {
    obj_low_ = end;  // the lowest run goes back to the gap
    internal::poison(run, bytes);
  } else {
    push_free(reinterpret_cast<Block*>(run), bytes / kGranule);
    internal::poison(run + sizeof(Block), bytes - sizeof(Block));
  }
}

}  // namespace ferro::gc
