// Marking: a depth-first trace from the roots (and the referents of malloc blocks) on an
// explicit stack of fixed size taken from the top of the region, so marking never recurses and
// never allocates. When the stack is full an object is marked but not pushed; rescans of object
// space then trace every marked object again until a pass pushes nothing that overflows.
//
// Invariants: outside mark_roots() the stack is empty and overflow_ is clear; every object
// marked has been traced once the function returns.
#include "ferro/gc/internal/layout.hpp"

namespace ferro::gc {

using internal::kMalloc;
using internal::kMarkBit;
using internal::kObject;
using internal::size_of;

// The hottest function of a collection: one call per reference traced. Splitting heap.cpp left
// it 48 bytes into a cache line and collections measured ~10% slower; a line of its own gave
// the old pause times back (gc_bench collect_pause, run alternately against the old build).
[[gnu::aligned(64)]] void Heap::mark(const Obj* obj) noexcept {
  const auto* p = reinterpret_cast<const std::byte*>(obj);
  if (p < obj_low_ + sizeof(Block) || p >= obj_top_) return;  // nullptr, static or foreign
  auto* b = reinterpret_cast<Block*>(const_cast<std::byte*>(p)) - 1;
  if (b->kind() != kObject || b->marked()) return;  // malloc and raw blocks are live anyway
  b->word |= kMarkBit;
  if (mark_len_ < mark_cap_)
    mark_stack_[mark_len_++] = obj;
  else
    overflow_ = true;  // marked but not traced: the rescan below finds it
}

void Heap::drain() noexcept {
  while (mark_len_ > 0) {
    const Obj* o = mark_stack_[--mark_len_];
    o->mark(*this);
  }
}

void Heap::mark_roots() noexcept {
  mark_len_ = 0;
  overflow_ = false;
  for (RootNode* r = roots_; r != nullptr; r = r->next_) {
    r->mark(*this);
    drain();
  }
  if (referents_ > 0) {
    for (std::byte* p = obj_low_; p < obj_top_; p += size_of(p)) {
      auto* b = reinterpret_cast<Block*>(p);
      if (b->kind() == kMalloc && b->link != nullptr) {
        mark(static_cast<const Obj*>(b->link));
        drain();
      }
    }
  }
  // Each pass traces every marked object again; children already marked cost one test each.
  // Every pass that overflows has marked at least a stack's worth of new objects, so this ends.
  while (overflow_) {
    overflow_ = false;
    ++stats_.mark_overflows;
    for (std::byte* p = obj_low_; p < obj_top_; p += size_of(p)) {
      auto* b = reinterpret_cast<Block*>(p);
      if (b->kind() == kObject && b->marked()) {
        b->obj()->mark(*this);
        drain();
      }
    }
  }
}

}  // namespace ferro::gc
