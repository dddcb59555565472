// Vector space: blocks tile [base, vec_top), each a header (owner back-pointer, size) and a
// payload. Holes are blocks whose owner word is tagged (low bit set) and chains the next hole.
#include <cstring>

#include "ferro/core/bits.hpp"
#include "ferro/gc/internal/layout.hpp"

namespace ferro::gc {

using internal::poison;
using internal::unpoison;

// ---- Vec -------------------------------------------------------------------------------------

namespace {
void set_owner(std::byte* payload, Vec* owner) noexcept {
  reinterpret_cast<std::uintptr_t*>(payload)[-2] = reinterpret_cast<std::uintptr_t>(owner);
}
}  // namespace

Vec::Vec(Vec&& other) noexcept : heap_(other.heap_), data_(other.data_), cap_(other.cap_) {
  if (data_ != nullptr && heap_ != nullptr) set_owner(data_, this);
  other.data_ = nullptr;
  other.cap_ = 0;
}

Vec& Vec::operator=(Vec&& other) noexcept {
  if (this != &other) {
    release();
    heap_ = other.heap_;
    data_ = other.data_;
    cap_ = other.cap_;
    if (data_ != nullptr && heap_ != nullptr) set_owner(data_, this);
    other.data_ = nullptr;
    other.cap_ = 0;
  }
  return *this;
}

Status Vec::resize(std::size_t bytes) noexcept {
  if (heap_ == nullptr)
    return make_error(Errc::unsupported,
                      is_rom() ? "gc::Vec: a ROM vector cannot be resized" : "gc::Vec: not bound to a heap");
  return heap_->vec_resize(*this, bytes);
}

void Vec::release() noexcept {
  if (data_ != nullptr && heap_ != nullptr) {
    auto* b = Heap::VecBlock::of(data_);
    heap_->count_vec(-1, -static_cast<std::ptrdiff_t>(b->size));
    heap_->vec_free(b);
  }
  data_ = nullptr;
  cap_ = 0;
}

// ---- vector space ----------------------------------------------------------------------------

// `blocks` is +1 for a new vector, -1 for a released one, 0 for a resize; `bytes` is the change
// in block bytes. Totals count what was ever handed out, so they only grow.
void Heap::count_vec(int blocks, std::ptrdiff_t bytes) noexcept {
  auto& s = stats_;
  if (blocks > 0) ++s.total_vecs.count;
  if (bytes > 0) {
    s.total_vecs.bytes += static_cast<std::size_t>(bytes);
    allocated_since_collect_ += static_cast<std::size_t>(bytes);
  }
  s.curr_vecs.count = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(s.curr_vecs.count) + blocks);
  s.curr_vecs.bytes = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(s.curr_vecs.bytes) + bytes);
  if (s.curr_vecs.count > s.max_vecs.count) s.max_vecs.count = s.curr_vecs.count;
  if (s.curr_vecs.bytes > s.max_vecs.bytes) s.max_vecs.bytes = s.curr_vecs.bytes;
}

void Heap::vec_hole(VecBlock* b, std::size_t bytes) noexcept {
  b->owner = reinterpret_cast<std::uintptr_t>(holes_) | 1;
  b->size = bytes;
  holes_ = b;
  vec_free_bytes_ += bytes;
  poison(b->payload(), bytes - sizeof(VecBlock));
}

void Heap::vec_free(VecBlock* b) noexcept {
  const std::size_t size = b->size;
  if (b->bytes() + size == vec_top_) {
    vec_top_ = b->bytes();  // the top-most block returns to the gap
    poison(b, size);
  } else {
    vec_hole(b, size);
  }
}

// First fit over the holes (only the holes: live vectors are never walked), then the gap.
Heap::VecBlock* Heap::vec_allocate(std::size_t payload, Vec* owner) noexcept {
  std::size_t need = payload + sizeof(VecBlock);
  VecBlock* prev = nullptr;
  for (VecBlock* h = holes_; h != nullptr; prev = h, h = h->next_hole()) {
    if (h->size < need) continue;
    VecBlock* next = h->next_hole();
    if (prev != nullptr)
      prev->owner = reinterpret_cast<std::uintptr_t>(next) | 1;
    else
      holes_ = next;
    vec_free_bytes_ -= h->size;
    if (h->size > need) {
      auto* rest = reinterpret_cast<VecBlock*>(h->bytes() + need);
      unpoison(rest, sizeof(VecBlock));
      vec_hole(rest, h->size - need);
    }
    unpoison(h, need);
    h->owner = reinterpret_cast<std::uintptr_t>(owner);
    h->size = need;
    return h;
  }
  if (gap() < need) return nullptr;
  auto* b = reinterpret_cast<VecBlock*>(vec_top_);
  unpoison(b, need);
  vec_top_ += need;
  b->owner = reinterpret_cast<std::uintptr_t>(owner);
  b->size = need;
  return b;
}

bool Heap::vec_grow_in_place(Vec& v, std::size_t bytes) noexcept {
  VecBlock* b = VecBlock::of(v.data_);
  const std::size_t diff = bytes - v.cap_;
  if (b->bytes() + b->size != vec_top_ || gap() < diff) return false;
  unpoison(vec_top_, diff);
  std::memset(vec_top_, 0, diff);
  vec_top_ += diff;
  b->size += diff;
  v.cap_ = bytes;
  count_vec(0, static_cast<std::ptrdiff_t>(diff));
  return true;
}

Status Heap::vec_resize(Vec& v, std::size_t bytes) noexcept {
  if (bytes == 0) {
    v.release();
    return ok();
  }
  const auto rounded = checked_align_up(bytes, kGranule);
  if (!rounded || *rounded > capacity()) return make_error(Errc::no_space, "gc::Vec: larger than the heap");
  const std::size_t want = *rounded;

  if (v.data_ == nullptr) {
    VecBlock* b = vec_allocate(want, &v);
    if (b == nullptr) {
      compact();
      b = vec_allocate(want, &v);
    }
    if (b == nullptr) return make_error(Errc::no_space, "gc::Vec: vector space full");
    std::memset(b->payload(), 0, want);
    v.data_ = b->payload();
    v.cap_ = want;
    count_vec(1, static_cast<std::ptrdiff_t>(b->size));
    return ok();
  }

  VecBlock* b = VecBlock::of(v.data_);
  const std::size_t have = v.cap_;
  if (want == have) return ok();
  if (want < have) {
    const std::size_t diff = have - want;
    if (b->bytes() + b->size == vec_top_) {
      vec_top_ -= diff;
      poison(vec_top_, diff);
    } else {
      auto* tail = reinterpret_cast<VecBlock*>(v.data_ + want);
      unpoison(tail, sizeof(VecBlock));
      vec_hole(tail, diff);
    }
    b->size -= diff;
    v.cap_ = want;
    count_vec(0, -static_cast<std::ptrdiff_t>(diff));
    return ok();
  }

  if (vec_grow_in_place(v, want)) return ok();
  VecBlock* nb = vec_allocate(want, &v);
  if (nb == nullptr) {
    compact();  // moves v's bytes too, and updates v
    if (vec_grow_in_place(v, want)) return ok();
    nb = vec_allocate(want, &v);
  }
  if (nb == nullptr) return make_error(Errc::no_space, "gc::Vec: vector space full");
  b = VecBlock::of(v.data_);
  std::memcpy(nb->payload(), v.data_, have);
  std::memset(nb->payload() + have, 0, want - have);
  const std::size_t old_size = b->size;
  vec_free(b);
  v.data_ = nb->payload();
  v.cap_ = want;
  count_vec(0, static_cast<std::ptrdiff_t>(nb->size) - static_cast<std::ptrdiff_t>(old_size));
  return ok();
}

void Heap::compact() noexcept {
  unpoison(base_, static_cast<std::size_t>(vec_top_ - base_));
  std::byte* dst = base_;
  for (std::byte* p = base_; p < vec_top_;) {
    auto* b = reinterpret_cast<VecBlock*>(p);
    const std::size_t size = b->size;
    if (!b->is_hole()) {
      Vec* v = b->vec();
      if (dst != p) {
        std::memmove(dst, p, size);
        v->data_ = dst + sizeof(VecBlock);
      }
      dst += size;
    }
    p += size;
  }
  poison(dst, static_cast<std::size_t>(vec_top_ - dst));
  vec_top_ = dst;
  holes_ = nullptr;
  vec_free_bytes_ = 0;
  ++stats_.compacts;
}

Status Heap::check_vectors() const noexcept {
  std::size_t hole_bytes = 0, holes = 0, live = 0, live_bytes = 0;
  for (std::byte* p = base_; p < vec_top_;) {
    auto* b = reinterpret_cast<VecBlock*>(p);
    const std::size_t size = b->size;
    if (size < sizeof(VecBlock) || size % kGranule != 0 || size > static_cast<std::size_t>(vec_top_ - p))
      return make_error(Errc::corrupt, "gc: vector block with a bad size");
    if (b->is_hole()) {
      hole_bytes += size;
      ++holes;
    } else {
      const Vec* v = b->vec();
      if (v == nullptr || !is_aligned(v, alignof(Vec))) return make_error(Errc::corrupt, "gc: vector without an owner");
      if (v->heap_ != this || v->data_ != b->payload() || v->cap_ != size - sizeof(VecBlock))
        return make_error(Errc::corrupt, "gc: vector owner does not point back at its block");
      ++live;
      live_bytes += size;
    }
    p += size;
  }
  if (hole_bytes != vec_free_bytes_) return make_error(Errc::corrupt, "gc: vector hole bytes disagree with the walk");
  if (live != stats_.curr_vecs.count || live_bytes != stats_.curr_vecs.bytes)
    return make_error(Errc::corrupt, "gc: live vector count or bytes disagree with stats");
  std::size_t listed = 0;
  for (const VecBlock* h = holes_; h != nullptr; h = h->next_hole()) {
    const auto* p = reinterpret_cast<const std::byte*>(h);
    if (p < base_ || p >= vec_top_ || !is_aligned(p, kGranule) || !h->is_hole())
      return make_error(Errc::corrupt, "gc: vector hole list entry is not a hole");
    if (++listed > holes) return make_error(Errc::corrupt, "gc: vector hole list longer than the holes");
  }
  if (listed != holes) return make_error(Errc::corrupt, "gc: a vector hole is missing from the list");
  return ok();
}

}  // namespace ferro::gc
