#include "ferro/alloc/linked_list.hpp"

#include <cstring>

namespace ferro {

void LinkedListAllocator::init() noexcept {
  ready_ = true;
  const auto start = reinterpret_cast<std::uintptr_t>(region_.data());
  const auto end = start + region_.size();
  const auto first = align_up(start, std::uintptr_t{kUnit});
  base_ = reinterpret_cast<std::byte*>(first);
  size_ = end > first ? align_down(end - first, std::uintptr_t{kUnit}) : 0;
  reset();
}

void LinkedListAllocator::reset() noexcept {
  if (!ready_) return init();
  const std::size_t failed = counters_.failed;
  counters_ = {};
  counters_.failed = failed;
  head_ = kNone;
  if (size_ >= kUnit) {
    head_ = 0;
    node(0) = Node{size_, kNone};
  }
}

std::size_t LinkedListAllocator::seal(std::size_t offset, std::size_t size) noexcept {
  // Top bits set: no free-list offset or size can look like a seal.
  std::uint64_t x = (offset * 0x9E3779B97F4A7C15ull) ^ (size + 0x6A09E667F3BCC909ull);
  x ^= x >> 29;
  return static_cast<std::size_t>(x | 0xF000000000000000ull);
}

// The block body: the bytes from the header to the rounded end of the user's data.
bool LinkedListAllocator::plan(std::size_t size, std::size_t align, std::size_t* body) const noexcept {
  if (!alloc_detail::valid_align(align)) return false;
  if (size == 0) size = 1;
  if (size > size_) return false;
  *body = align_up(size, kUnit);
  return true;
}

void LinkedListAllocator::carve(std::size_t prev, std::size_t off, std::size_t start, std::size_t end) noexcept {
  const Node n = node(off);
  const std::size_t tail = off + n.size - end;
  std::size_t after = n.next;
  if (tail != 0) {
    node(end) = Node{tail, n.next};
    after = end;
  }
  if (start != off) {
    node(off).size = start - off;
    node(off).next = after;
  } else if (prev == kNone) {
    head_ = after;
  } else {
    node(prev).next = after;
  }
  header(start) = Header{end - start, seal(start, end - start)};
  counters_.took(end - start);
}

void* LinkedListAllocator::allocate(std::size_t size, std::size_t align) noexcept {
  ensure_ready();
  std::size_t body;
  if (!plan(size, align, &body)) return fail();
  const std::size_t a = align < kUnit ? kUnit : align;
  const auto base = reinterpret_cast<std::uintptr_t>(base_);
  std::size_t prev = kNone;
  for (std::size_t off = head_; off != kNone; prev = off, off = node(off).next) {
    const std::size_t user = align_up(base + off + kUnit, std::uintptr_t{a}) - base;
    const std::size_t end = user + body;
    if (end <= off + node(off).size) {
      carve(prev, off, user - kUnit, end);
      return base_ + user;
    }
  }
  return fail();
}

std::size_t LinkedListAllocator::block_of(const void* p) const noexcept {
  if (!owns(p)) return kNone;
  const auto off = static_cast<std::size_t>(static_cast<const std::byte*>(p) - base_);
  if (off % kUnit != 0 || off < kUnit) return kNone;
  const std::size_t h = off - kUnit;
  const Header hd = header(h);
  if (hd.size < 2 * kUnit || hd.size > size_ - h || hd.check != seal(h, hd.size)) return kNone;
  return h;
}

void LinkedListAllocator::insert_free(std::size_t start, std::size_t size) noexcept {
  std::size_t prev = kNone, next = head_;
  while (next != kNone && next < start) {
    prev = next;
    next = node(next).next;
  }
  if (next != kNone && start + size == next) {  // merge with the following free block
    size += node(next).size;
    next = node(next).next;
  }
  if (prev != kNone && prev + node(prev).size == start) {  // and with the preceding one
    node(prev).size += size;
    node(prev).next = next;
    return;
  }
  node(start) = Node{size, next};
  if (prev == kNone)
    head_ = start;
  else
    node(prev).next = start;
}

void LinkedListAllocator::deallocate(void* p, std::size_t size, std::size_t) noexcept {
  if (p == nullptr) return;
  const std::size_t h = block_of(p);
  if (h == kNone) {
    ++counters_.bad_frees;
    FERRO_DEBUG_CHECK(false, "LinkedListAllocator::deallocate: not a live block (double free or foreign pointer)");
    return;
  }
  const std::size_t bytes = header(h).size;
  FERRO_DEBUG_CHECK(size <= bytes - kUnit, "LinkedListAllocator::deallocate: size larger than the block");
  (void)size;
  header(h).check = 0;  // a second free of p must not find a seal in the merged free block
  counters_.gave_back(bytes);
  insert_free(h, bytes);
}

void* LinkedListAllocator::reallocate(void* p, std::size_t old_size, std::size_t new_size, std::size_t align) noexcept {
  if (p == nullptr) return allocate(new_size, align);
  const std::size_t h = block_of(p);
  if (h == kNone) {
    ++counters_.bad_frees;
    FERRO_DEBUG_CHECK(false, "LinkedListAllocator::reallocate: not a live block");
    return nullptr;
  }
  std::size_t body;
  if (!plan(new_size, align, &body) || !is_aligned(p, align)) {
    if (!alloc_detail::valid_align(align) || new_size > size_) return fail();
  } else {
    const std::size_t old_bytes = header(h).size;
    const std::size_t want = kUnit + body;
    if (want <= old_bytes) {  // shrink in place, the tail goes back to the free list
      if (want < old_bytes) {
        header(h) = Header{want, seal(h, want)};
        counters_.resized(old_bytes, want);
        insert_free(h + want, old_bytes - want);
      }
      return p;
    }
    // Grow in place into a free block that starts right after this one.
    const std::size_t end = h + old_bytes;
    std::size_t prev = kNone, off = head_;
    while (off != kNone && off < end) {
      prev = off;
      off = node(off).next;
    }
    if (off == end && old_bytes + node(off).size >= want) {
      const Node n = node(off);
      const std::size_t rest = old_bytes + n.size - want;
      std::size_t after = n.next;
      if (rest != 0) {
        node(h + want) = Node{rest, n.next};
        after = h + want;
      }
      if (prev == kNone)
        head_ = after;
      else
        node(prev).next = after;
      header(h) = Header{want, seal(h, want)};
      counters_.resized(old_bytes, want);
      return p;
    }
  }
  void* q = allocate(new_size, align);
  if (q == nullptr) return nullptr;
  const std::size_t have = header(h).size - kUnit;
  std::memcpy(q, p, have < new_size ? have : new_size);
  (void)old_size;
  deallocate(p);
  return q;
}

bool LinkedListAllocator::allocate_at(void* p, std::size_t size, std::size_t align) noexcept {
  ensure_ready();
  std::size_t body;
  if (!plan(size, align, &body) || !owns(p) || !is_aligned(p, align < kUnit ? kUnit : align)) return fail(), false;
  const auto user = static_cast<std::size_t>(static_cast<std::byte*>(p) - base_);
  if (user < kUnit) return fail(), false;
  const std::size_t start = user - kUnit, end = user + body;
  std::size_t prev = kNone;
  for (std::size_t off = head_; off != kNone && off <= start; prev = off, off = node(off).next) {
    if (end <= off + node(off).size) {
      carve(prev, off, start, end);
      return true;
    }
  }
  return fail(), false;
}

AllocStats LinkedListAllocator::stats() const noexcept {
  AllocStats s;
  s.capacity = size_;
  s.in_use = counters_.in_use;
  s.peak = counters_.peak;
  s.failed = counters_.failed;
  s.live_blocks = counters_.live;
  if (ready_)
    for (std::size_t off = head_; off != kNone; off = node(off).next)
      if (node(off).size > s.largest_free) s.largest_free = node(off).size;
  return s;
}

bool LinkedListAllocator::owns(const void* p) const noexcept {
  const auto* b = static_cast<const std::byte*>(p);
  return ready_ && b >= base_ && b < base_ + size_;
}

std::size_t LinkedListAllocator::usable_size(const void* p) const noexcept {
  const std::size_t h = block_of(p);
  return h == kNone ? 0 : header(h).size - kUnit;
}

Status LinkedListAllocator::check() const noexcept {
  if (counters_.bad_frees != 0)
    return make_error(Errc::invalid_argument, "linked list: deallocate got a non-block pointer");
  if (!ready_) return ok();
  // Walk the whole region: it must be tiled by free blocks (in list order) and sealed live blocks.
  std::size_t pos = 0, next_free = head_, used = 0, live = 0;
  while (pos < size_) {
    if (pos == next_free) {
      const Node n = node(pos);
      if (n.size < kUnit || n.size % kUnit != 0 || n.size > size_ - pos)
        return make_error(Errc::corrupt, "linked list: bad free block size");
      if (n.next != kNone && n.next <= pos + n.size)
        return make_error(Errc::corrupt, "linked list: free list out of order or not merged");
      pos += n.size;
      next_free = n.next;
    } else {
      if (next_free != kNone && next_free < pos) return make_error(Errc::corrupt, "linked list: free block overlaps");
      const Header hd = header(pos);
      if (hd.size < 2 * kUnit || hd.size % kUnit != 0 || hd.size > size_ - pos || hd.check != seal(pos, hd.size))
        return make_error(Errc::corrupt, "linked list: broken block header");
      used += hd.size;
      ++live;
      pos += hd.size;
    }
  }
  if (next_free != kNone) return make_error(Errc::corrupt, "linked list: free list leaves the region");
  if (used != counters_.in_use || live != counters_.live)
    return make_error(Errc::corrupt, "linked list: in_use mismatch");
  return ok();
}

}  // namespace ferro
