// Heap::check(): walks object space and the free lists and reports the first broken
// invariant as Errc::corrupt (vector space is checked in vec.cpp). It reads, never repairs.
#include "ferro/core/bits.hpp"
#include "ferro/gc/internal/object_space.hpp"

namespace ferro::gc {

using internal::kFree;
using internal::kMalloc;
using internal::kMinBlockGranules;

Status Heap::check() const noexcept {
  if (!(base_ <= vec_top_ && vec_top_ <= obj_low_ && obj_low_ <= obj_top_))
    return make_error(Errc::corrupt, "gc: space boundaries out of order");
  if (!is_aligned(vec_top_, kGranule) || !is_aligned(obj_low_, kGranule))
    return make_error(Errc::corrupt, "gc: space boundary not granule-aligned");
  if (mark_len_ != 0) return make_error(Errc::corrupt, "gc: mark stack not empty outside a collection");

  // Object space: blocks tile it exactly; no marks; free bytes and counts agree.
  std::size_t free_bytes = 0, free_blocks = 0, live = 0, live_bytes = 0, referents = 0;
  for (const std::byte* p = obj_low_; p < obj_top_;) {
    const auto* b = reinterpret_cast<const Block*>(p);
    const std::size_t size = b->size();
    if (size < kMinBlockGranules * kGranule || size % kGranule != 0 || size > static_cast<std::size_t>(obj_top_ - p))
      return make_error(Errc::corrupt, "gc: object block with a bad size");
    if (b->marked()) return make_error(Errc::corrupt, "gc: object marked outside a collection");
    if (b->kind() == kFree) {
      free_bytes += size;
      ++free_blocks;
    } else {
      ++live;
      live_bytes += size;
      if (b->kind() == kMalloc && b->link != nullptr) ++referents;
    }
    p += size;
  }
  if (free_bytes != obj_free_bytes_) return make_error(Errc::corrupt, "gc: object hole bytes disagree with the walk");
  if (live != stats_.curr_objs.count || live_bytes != stats_.curr_objs.bytes)
    return make_error(Errc::corrupt, "gc: live object count or bytes disagree with stats");
  if (referents != referents_) return make_error(Errc::corrupt, "gc: referent count disagrees with the walk");

  // Free lists: every entry a free block of its class, inside object space, each listed once
  // (the total count matches the walk, and the walk is bounded by it).
  std::size_t listed = 0;
  for (int c = 0; c < kClasses; ++c) {
    const bool bit = (nonempty_[c / 64] >> (c % 64)) & 1;
    if (bit != (free_[c] != nullptr)) return make_error(Errc::corrupt, "gc: free-class bitmap disagrees with a list");
    for (const Block* b = free_[c]; b != nullptr; b = static_cast<const Block*>(b->link)) {
      const auto* p = reinterpret_cast<const std::byte*>(b);
      if (p < obj_low_ || p >= obj_top_ || !is_aligned(p, kGranule))
        return make_error(Errc::corrupt, "gc: free list entry outside object space");
      if (b->kind() != kFree) return make_error(Errc::corrupt, "gc: free list entry is not free");
      if (class_of(b->size() / kGranule) != c) return make_error(Errc::corrupt, "gc: free block in the wrong class");
      if (++listed > free_blocks) return make_error(Errc::corrupt, "gc: free lists hold more entries than free blocks");
    }
  }
  if (listed != free_blocks) return make_error(Errc::corrupt, "gc: a free block is missing from the lists");

  return check_vectors();
}

}  // namespace ferro::gc
