#include "ferro/alloc/buddy.hpp"

#include <cstring>

namespace ferro {

namespace {
constexpr std::size_t bit(int order) { return std::size_t{1} << order; }
}  // namespace

void BuddyAllocator::init() noexcept {
  ready_ = true;
  const auto start = reinterpret_cast<std::uintptr_t>(region_.data());
  const std::size_t size = region_.size();
  // Page-align the arena when the region is big enough, so that 4096-byte alignment is served by
  // order alone; a tiny region settles for 16.
  base_align_ = size >= 8 * kMaxAlign ? kMaxAlign : kUnit;
  const std::size_t slack = (base_align_ - 1) + (kUnit - 1);
  units_ = size > slack ? (size - slack) / (kUnit + 1) : 0;
  meta_ = reinterpret_cast<std::uint8_t*>(region_.data());
  base_ = reinterpret_cast<std::byte*>(align_up(start + units_, static_cast<std::uintptr_t>(base_align_)));
  top_order_ = units_ == 0 ? 0 : log2_floor(units_);
  if (top_order_ >= kMaxOrders) top_order_ = kMaxOrders - 1;
  reset();
}

void BuddyAllocator::reset() noexcept {
  if (!ready_) return init();
  if (units_ > 0) std::memset(meta_, 0, units_);
  nonempty_ = 0;
  for (auto& h : heads_) h = kNone;
  const std::size_t failed = counters_.failed;
  counters_ = {};
  counters_.failed = failed;
  // Cover a non-power-of-two arena with the largest aligned blocks that fit.
  std::size_t u = 0;
  while (u < units_) {
    int k = u == 0 ? top_order_ : ctz(u);
    if (k > top_order_) k = top_order_;
    while (u + bit(k) > units_) --k;
    push(u, k);
    u += bit(k);
  }
}

BuddyAllocator::Node& BuddyAllocator::node(std::size_t unit) const noexcept {
  return *reinterpret_cast<Node*>(base_ + unit * kUnit);
}

void BuddyAllocator::push(std::size_t unit, int order) noexcept {
  meta_[unit] = static_cast<std::uint8_t>(kFree | order);
  Node& n = node(unit);
  n.prev = kNone;
  n.next = heads_[order];
  if (n.next != kNone) node(n.next).prev = unit;
  heads_[order] = unit;
  nonempty_ |= std::uint64_t{1} << order;
}

void BuddyAllocator::unlink(std::size_t unit, int order) noexcept {
  Node& n = node(unit);
  if (n.prev != kNone)
    node(n.prev).next = n.next;
  else
    heads_[order] = n.next;
  if (n.next != kNone) node(n.next).prev = n.prev;
  if (heads_[order] == kNone) nonempty_ &= ~(std::uint64_t{1} << order);
}

std::size_t BuddyAllocator::pop(int order) noexcept {
  const std::size_t unit = heads_[order];
  unlink(unit, order);
  return unit;
}

int BuddyAllocator::order_for(std::size_t size, std::size_t align) const noexcept {
  if (!alloc_detail::valid_align(align) || align > base_align_) return -1;
  if (size == 0) size = 1;
  if (size > units_ * kUnit) return -1;  // also keeps the rounding below from overflowing
  const std::size_t units = (size + kUnit - 1) / kUnit;
  int k = log2_ceil(units);
  const int align_order = align <= kUnit ? 0 : log2_floor(align / kUnit);
  if (align_order > k) k = align_order;
  return k > top_order_ ? -1 : k;
}

void* BuddyAllocator::allocate(std::size_t size, std::size_t align) noexcept {
  ensure_ready();
  const int k = order_for(size, align);
  if (k < 0) return fail(), nullptr;
  const std::uint64_t candidates = nonempty_ & (~std::uint64_t{0} << k);
  if (candidates == 0) return fail(), nullptr;
  int j = ctz(candidates);
  const std::size_t unit = pop(j);
  while (j > k) {
    --j;
    push(unit + bit(j), j);
  }
  meta_[unit] = static_cast<std::uint8_t>(kUsed | k);
  counters_.took(kUnit << k);
  return base_ + unit * kUnit;
}

std::size_t BuddyAllocator::unit_of(const void* p) const noexcept {
  if (!ready_ || !owns(p)) return kNone;
  const auto off = static_cast<std::size_t>(static_cast<const std::byte*>(p) - base_);
  if (off % kUnit != 0) return kNone;
  const std::size_t unit = off / kUnit;
  return (meta_[unit] & kUsed) ? unit : kNone;
}

void BuddyAllocator::release(std::size_t unit, int k) noexcept {
  while (k < top_order_) {
    const std::size_t buddy = unit ^ bit(k);
    if (buddy + bit(k) > units_ || meta_[buddy] != (kFree | k)) break;
    unlink(buddy, k);
    meta_[buddy] = 0;
    meta_[unit] = 0;
    unit &= ~bit(k);
    ++k;
  }
  push(unit, k);
}

void BuddyAllocator::deallocate(void* p, std::size_t size, std::size_t) noexcept {
  if (p == nullptr) return;
  const std::size_t unit = unit_of(p);
  if (unit == kNone) {
    ++counters_.bad_frees;
    FERRO_DEBUG_CHECK(false, "BuddyAllocator::deallocate: not a live block (double free or foreign pointer)");
    return;
  }
  const int k = meta_[unit] & kOrderMask;
  FERRO_DEBUG_CHECK(size <= (kUnit << k), "BuddyAllocator::deallocate: size larger than the block");
  (void)size;
  counters_.gave_back(kUnit << k);
  release(unit, k);
}

void* BuddyAllocator::reallocate(void* p, std::size_t old_size, std::size_t new_size, std::size_t align) noexcept {
  if (p == nullptr) return allocate(new_size, align);
  const std::size_t unit = unit_of(p);
  if (unit == kNone) {
    ++counters_.bad_frees;
    FERRO_DEBUG_CHECK(false, "BuddyAllocator::reallocate: not a live block");
    return nullptr;
  }
  const int k = meta_[unit] & kOrderMask;
  const int want = order_for(new_size, align);
  if (want < 0) return fail(), nullptr;
  if (want <= k) {  // shrink: hand the upper halves back
    for (int j = k; j > want; --j) release(unit + bit(j - 1), j - 1);
    meta_[unit] = static_cast<std::uint8_t>(kUsed | want);
    counters_.resized(kUnit << k, kUnit << want);
    return p;
  }
  // Grow in place when every right-hand buddy up to the wanted order is free and whole.
  bool in_place = true;
  for (int j = k; j < want && in_place; ++j)
    in_place = (unit & bit(j)) == 0 && unit + bit(j + 1) <= units_ && meta_[unit + bit(j)] == (kFree | j);
  if (in_place) {
    for (int j = k; j < want; ++j) {
      unlink(unit + bit(j), j);
      meta_[unit + bit(j)] = 0;
    }
    meta_[unit] = static_cast<std::uint8_t>(kUsed | want);
    counters_.resized(kUnit << k, kUnit << want);
    return p;
  }
  void* q = allocate(new_size, align);
  if (q == nullptr) return nullptr;
  const std::size_t keep = (kUnit << k) < new_size ? (kUnit << k) : new_size;
  std::memcpy(q, p, keep);
  (void)old_size;
  deallocate(p, 0, align);
  return q;
}

bool BuddyAllocator::allocate_at(void* p, std::size_t size, std::size_t align) noexcept {
  ensure_ready();
  const int k = order_for(size, align);
  if (k < 0 || !owns(p) || !is_aligned(p, align)) return fail();
  const auto off = static_cast<std::size_t>(static_cast<std::byte*>(p) - base_);
  if (off % kUnit != 0) return fail();
  const std::size_t unit = off / kUnit;
  if ((unit & (bit(k) - 1)) != 0 || unit + bit(k) > units_) return fail();
  for (int j = 0; j <= top_order_; ++j) {
    std::size_t c = unit & ~(bit(j) - 1);
    const std::uint8_t m = meta_[c];
    if (m == 0) continue;
    int ord = m & kOrderMask;
    if (c + bit(ord) <= unit) continue;  // a block that ends before p
    if ((m & kUsed) || ord < k) return fail();
    unlink(c, ord);
    while (ord > k) {
      --ord;
      if (unit >= c + bit(ord)) {
        push(c, ord);
        c += bit(ord);
      } else {
        push(c + bit(ord), ord);
      }
    }
    meta_[unit] = static_cast<std::uint8_t>(kUsed | k);
    counters_.took(kUnit << k);
    return true;
  }
  return fail();
}

AllocStats BuddyAllocator::stats() const noexcept {
  AllocStats s;
  s.capacity = units_ * kUnit;
  s.in_use = counters_.in_use;
  s.peak = counters_.peak;
  s.failed = counters_.failed;
  s.live_blocks = counters_.live;
  s.largest_free = nonempty_ == 0 ? 0 : kUnit << log2_floor(nonempty_);
  if (!ready_) s.capacity = s.largest_free = 0;
  return s;
}

bool BuddyAllocator::owns(const void* p) const noexcept {
  const auto* b = static_cast<const std::byte*>(p);
  return ready_ && b >= base_ && b < base_ + units_ * kUnit;
}

std::size_t BuddyAllocator::usable_size(const void* p) const noexcept {
  const std::size_t unit = unit_of(p);
  return unit == kNone ? 0 : kUnit << (meta_[unit] & kOrderMask);
}

Status BuddyAllocator::check() const noexcept {
  if (counters_.bad_frees != 0) return make_error(Errc::invalid_argument, "buddy: deallocate got a non-block pointer");
  if (!ready_) return ok();
  std::size_t used = 0, live = 0, free_blocks[kMaxOrders] = {};
  for (std::size_t u = 0; u < units_;) {
    const std::uint8_t m = meta_[u];
    const int k = m & kOrderMask;
    const int state = m & (kFree | kUsed);
    if (state == 0 || state == (kFree | kUsed) || k > top_order_)
      return make_error(Errc::corrupt, "buddy: unit not covered by a block");
    if ((u & (bit(k) - 1)) != 0 || u + bit(k) > units_) return make_error(Errc::corrupt, "buddy: misplaced block");
    for (std::size_t i = u + 1; i < u + bit(k); ++i)
      if (meta_[i] != 0) return make_error(Errc::corrupt, "buddy: block start inside a block");
    if (m & kUsed) {
      used += kUnit << k;
      ++live;
    } else {
      ++free_blocks[k];
      const std::size_t buddy = u ^ bit(k);
      if (k < top_order_ && buddy + bit(k) <= units_ && meta_[buddy] == (kFree | k))
        return make_error(Errc::corrupt, "buddy: two free buddies left unmerged");
    }
    u += bit(k);
  }
  if (used != counters_.in_use || live != counters_.live) return make_error(Errc::corrupt, "buddy: in_use mismatch");
  for (int k = 0; k < kMaxOrders; ++k) {
    std::size_t n = 0, prev = kNone;
    for (std::size_t u = heads_[k]; u != kNone; u = node(u).next) {
      if (u >= units_ || meta_[u] != (kFree | k) || node(u).prev != prev)
        return make_error(Errc::corrupt, "buddy: free list broken");
      if (++n > free_blocks[k]) return make_error(Errc::corrupt, "buddy: free list longer than free blocks");
      prev = u;
    }
    if (n != free_blocks[k]) return make_error(Errc::corrupt, "buddy: free block missing from its list");
    if (((nonempty_ >> k) & 1) != (n != 0 ? 1u : 0u)) return make_error(Errc::corrupt, "buddy: order bitmap wrong");
  }
  return ok();
}

}  // namespace ferro
