// Object-space allocation: size classes, their free lists and the counters of live objects.
// Blocks below 64 granules have an exact class each and pop in O(1); larger ones share
// log2-sized bins searched first-fit. The steps the sweep and free() share with allocation
// (class_of, push_free, uncount_obj) are inline in internal/object_space.hpp.
//
// Invariants: a class's list holds only free blocks of that class, each once, and its bit in
// nonempty_ is set exactly when the list is not empty; obj_free_bytes_ is the sum of the
// listed blocks' sizes; a listed block's body is poisoned, its header is not.
#include "ferro/core/bits.hpp"
#include "ferro/gc/internal/object_space.hpp"

namespace ferro::gc {

using internal::kFree;
using internal::kMinBlockGranules;
using internal::kObject;
using internal::kRaw;
using internal::unpoison;

int Heap::next_class(int from) const noexcept {
  for (int w = from / 64; w < kClasses / 64; ++w) {
    std::uint64_t bits = nonempty_[w];
    if (w == from / 64) bits &= ~std::uint64_t{0} << (from % 64);
    if (bits != 0) return w * 64 + ctz(bits);
  }
  return -1;
}

// Keeps the first `granules` of a listed block; the rest, if it can hold a block, is listed.
Heap::Block* Heap::split(Block* b, std::size_t granules) noexcept {
  const std::size_t have = b->size() / kGranule;
  obj_free_bytes_ -= have * kGranule;
  if (have - granules >= kMinBlockGranules) {
    auto* rest = reinterpret_cast<Block*>(b->bytes() + granules * kGranule);
    unpoison(rest, sizeof(Block));
    push_free(rest, have - granules);
  } else {
    granules = have;
  }
  unpoison(b, granules * kGranule);
  b->set(granules * kGranule, kFree);
  return b;
}

// Exact classes pop in O(1); a bin of larger sizes is searched first-fit, and only that bin.
// The bitmap finds the next non-empty class without looking at empty ones.
Heap::Block* Heap::take_from_lists(std::size_t granules) noexcept {
  const auto unlink = [this, granules](Block** pp, int c) {
    Block* b = *pp;
    *pp = static_cast<Block*>(b->link);
    if (free_[c] == nullptr) nonempty_[c / 64] &= ~(std::uint64_t{1} << (c % 64));
    return split(b, granules);
  };
  int c = class_of(granules);
  if (c >= kExactClasses) {
    if ((nonempty_[c / 64] >> (c % 64)) & 1) {
      for (Block** pp = &free_[c]; *pp != nullptr; pp = reinterpret_cast<Block**>(&(*pp)->link))
        if ((*pp)->size() >= granules * kGranule) return unlink(pp, c);
    }
    ++c;
  }
  const int d = next_class(c);
  return d < 0 ? nullptr : unlink(&free_[d], d);
}

Heap::Block* Heap::take_block(std::size_t granules) noexcept {
  if (Block* b = take_from_lists(granules)) return b;
  const std::size_t bytes = granules * kGranule;
  if (gap() < bytes) return nullptr;
  obj_low_ -= bytes;
  unpoison(obj_low_, bytes);
  auto* b = reinterpret_cast<Block*>(obj_low_);
  b->set(bytes, kFree);
  return b;
}

void Heap::count_obj(std::size_t bytes) noexcept {
  allocated_since_collect_ += bytes;
  auto& s = stats_;
  ++s.total_objs.count;
  s.total_objs.bytes += bytes;
  ++s.curr_objs.count;
  s.curr_objs.bytes += bytes;
  if (s.curr_objs.count > s.max_objs.count) s.max_objs.count = s.curr_objs.count;
  if (s.curr_objs.bytes > s.max_objs.bytes) s.max_objs.bytes = s.curr_objs.bytes;
}

void* Heap::allocate_object(std::size_t bytes) noexcept {
  // The sweep is rebuilding the free lists and walking object space; a destructor must not
  // allocate (it may free).
  FERRO_CHECK(!sweeping_, "gc: object allocated during a sweep (from a destructor?)");
  if (bytes > capacity()) return nullptr;
  std::size_t granules = align_up(bytes, kGranule) / kGranule + 1;
  if (granules < kMinBlockGranules) granules = kMinBlockGranules;
  const bool may_collect = opts_.auto_collect;
  if (may_collect && allocated_since_collect_ >= capacity() / 32 && should_collect()) collect();
  Block* b = take_block(granules);
  if (b == nullptr && may_collect) {
    collect();
    b = take_block(granules);
  }
  if (b == nullptr) return nullptr;
  b->set(b->size(), kRaw);
  b->link = nullptr;
  count_obj(b->size());
  return b + 1;
}

void Heap::object_constructed(void* p) noexcept {
  Block* b = Block::of(p);
  b->set(b->size(), kObject);
}

}  // namespace ferro::gc
