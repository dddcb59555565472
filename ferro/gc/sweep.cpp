// Sweeping: one walk over object space that destroys unmarked objects, clears the marks and
// merges each run of adjacent free blocks into one, which is listed again (or, at the bottom of
// object space, handed back to the gap: flush_run, in internal/object_space.hpp).
//
// Invariants after sweep(): no block is marked, no two free blocks are adjacent, the lowest
// block is not free, and the free lists hold exactly the free blocks (no stale entries, even
// when a destructor freed a malloc block the walk had already passed).
#include "ferro/gc/internal/object_space.hpp"

namespace ferro::gc {

using internal::kFree;
using internal::Kind;
using internal::kMarkBit;
using internal::kObject;

// One pass over object space: optionally destroys unmarked objects, clears marks, merges
// adjacent free blocks and relists them (so the lists hold no stale entries after a sweep).
void Heap::walk_sweep(bool destroy) noexcept {
  clear_free_lists();
  std::byte* run = nullptr;
  std::byte* p = obj_low_;
  while (p < obj_top_) {
    auto* b = reinterpret_cast<Block*>(p);
    const std::size_t size = b->size();
    Kind k = b->kind();
    if (k == kObject) {
      if (b->marked()) {
        b->word &= ~kMarkBit;
      } else if (destroy) {
        b->obj()->~Obj();
        b->set(size, kFree);
        uncount_obj(size);
        k = kFree;
      }
    }
    if (k == kFree) {
      if (run == nullptr) run = p;
    } else {
      flush_run(run, p);
      run = nullptr;
    }
    p += size;
  }
  flush_run(run, obj_top_);
}

void Heap::sweep() noexcept {
  sweeping_ = true;
  walk_sweep(true);
  sweeping_ = false;
  // A destructor that freed a malloc block behind the walk left it off the lists.
  while (deferred_free_) {
    deferred_free_ = false;
    walk_sweep(false);
  }
  ++stats_.sweeps;
}

}  // namespace ferro::gc
