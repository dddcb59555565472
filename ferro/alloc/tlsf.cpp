#include "ferro/alloc/tlsf.hpp"

#include <cstring>

namespace ferro {

void TlsfAllocator::init() noexcept {
  ready_ = true;
  const auto start = reinterpret_cast<std::uintptr_t>(region_.data());
  const std::uintptr_t end = start + region_.size();
  const std::uintptr_t first = align_up(start, std::uintptr_t{kUnit});
  base_ = reinterpret_cast<std::byte*>(first);
  const std::size_t units = end > first ? (end - first) / kUnit : 0;
  units_ = static_cast<u32>(units > kMaxUnits ? kMaxUnits : units);
  reset();
}

void TlsfAllocator::reset() noexcept {
  if (!ready_) return init();
  fl_map_ = 0;
  for (auto& m : sl_map_) m = 0;
  for (auto& row : heads_)
    for (auto& h : row) h = kNone;
  cursor_ = kNone;
  const std::size_t failed = counters_.failed;
  counters_ = {};
  counters_.failed = failed;
  if (units_ > 0) {
    at(0).prev_phys = kNone;
    insert(0, units_);
  }
}

// Sizes below 32 units get one list each; above, each power of two is split into 32 lists.
void TlsfAllocator::classify(u32 units, int* fl, int* sl) noexcept {
  if (units < kSlCount) {
    *fl = 0;
    *sl = static_cast<int>(units);
    return;
  }
  const int log = log2_floor(units);
  *fl = log - (kSlLog2 - 1);
  *sl = static_cast<int>((units >> (log - kSlLog2)) ^ kSlCount);
}

void TlsfAllocator::insert(u32 off, u32 units) noexcept {
  Header& h = at(off);
  h.size_free = units << 1 | 1;
  int fl, sl;
  classify(units, &fl, &sl);
  h.prev_free = kNone;
  h.next_free = heads_[fl][sl];
  if (h.next_free != kNone) at(h.next_free).prev_free = off;
  heads_[fl][sl] = off;
  fl_map_ |= 1u << fl;
  sl_map_[fl] |= 1u << sl;
  const u32 next = off + units;
  if (next < units_) at(next).prev_phys = off;
}

void TlsfAllocator::remove(u32 off) noexcept {
  Header& h = at(off);
  int fl, sl;
  classify(size_of(h), &fl, &sl);
  if (h.prev_free != kNone)
    at(h.prev_free).next_free = h.next_free;
  else
    heads_[fl][sl] = h.next_free;
  if (h.next_free != kNone) at(h.next_free).prev_free = h.prev_free;
  if (heads_[fl][sl] == kNone) {
    sl_map_[fl] &= ~(1u << sl);
    if (sl_map_[fl] == 0) fl_map_ &= ~(1u << fl);
  }
  h.size_free &= ~1u;
  if (cursor_ == off) cursor_ = kNone;
}

void TlsfAllocator::make_live(u32 off, u32 units) noexcept {
  Header& h = at(off);
  h.size_free = units << 1;
  h.next_free = seal(off);
  h.prev_free = units;
  const u32 next = off + units;
  if (next < units_) at(next).prev_phys = off;
}

// Rounds the request up to the next list boundary, so any block in the list found fits.
TlsfAllocator::u32 TlsfAllocator::find_fit(u32 units) const noexcept {
  std::uint64_t want = units;
  if (want >= kSlCount) want += (std::uint64_t{1} << (log2_floor(want) - kSlLog2)) - 1;
  if (want > kMaxUnits) return kNone;
  int fl, sl;
  classify(static_cast<u32>(want), &fl, &sl);
  u32 sl_bits = sl_map_[fl] & (~0u << sl);
  if (sl_bits == 0) {
    if (fl + 1 >= kFlCount) return kNone;
    const u32 fl_bits = fl_map_ & (~0u << (fl + 1));
    if (fl_bits == 0) return kNone;
    fl = ctz(fl_bits);
    sl_bits = sl_map_[fl];
  }
  return heads_[fl][ctz(sl_bits)];
}

bool TlsfAllocator::units_for(std::size_t size, std::size_t align, u32* units) const noexcept {
  if (!alloc_detail::valid_align(align)) return false;
  if (size == 0) size = 1;
  if (size > std::size_t{units_} * kUnit) return false;
  *units = static_cast<u32>(1 + (size + kUnit - 1) / kUnit);
  return true;
}

void TlsfAllocator::carve(u32 blk, u32 start, u32 units) noexcept {
  const u32 blk_units = size_of(at(blk));
  const u32 end = blk + blk_units;
  remove(blk);
  if (start > blk) insert(blk, start - blk);  // its prev_phys is already right
  at(start).prev_phys = start > blk ? blk : at(blk).prev_phys;
  make_live(start, units);
  if (start + units < end) {
    at(start + units).prev_phys = start;
    insert(start + units, end - start - units);
  }
  counters_.took(std::size_t{units} * kUnit);
}

void* TlsfAllocator::allocate(std::size_t size, std::size_t align) noexcept {
  ensure_ready();
  u32 units;
  if (!units_for(size, align, &units)) return ++counters_.failed, nullptr;
  // An alignment above 16 may push the block start forward by up to align - 16 bytes; the gap
  // becomes a free block of its own.
  const u32 slack = align > kUnit ? static_cast<u32>(align / kUnit - 1) : 0;
  if (units > kMaxUnits - slack) return ++counters_.failed, nullptr;
  const u32 blk = find_fit(units + slack);
  if (blk == kNone) return ++counters_.failed, nullptr;
  u32 start = blk;
  if (slack != 0) {
    const auto first_user = reinterpret_cast<std::uintptr_t>(base_) + (std::size_t{blk} + 1) * kUnit;
    const auto user = align_up(first_user, static_cast<std::uintptr_t>(align));
    start = blk + static_cast<u32>((user - first_user) / kUnit);
  }
  carve(blk, start, units);
  return base_ + (std::size_t{start} + 1) * kUnit;
}

TlsfAllocator::u32 TlsfAllocator::block_of(const void* p) const noexcept {
  if (!owns(p)) return kNone;
  const auto off = static_cast<std::size_t>(static_cast<const std::byte*>(p) - base_);
  if (off % kUnit != 0 || off < kUnit) return kNone;
  const auto h = static_cast<u32>(off / kUnit - 1);
  const Header& hd = at(h);
  const u32 n = size_of(hd);
  if (is_free(hd) || hd.next_free != seal(h) || hd.prev_free != n || n < 2 || n > units_ - h) return kNone;
  return h;
}

void TlsfAllocator::free_block(u32 off) noexcept {
  u32 units = size_of(at(off));
  at(off).next_free = 0;  // unseal: a later free of the same pointer must fail
  const u32 next = off + units;
  if (next < units_ && is_free(at(next))) {
    units += size_of(at(next));
    remove(next);
    at(next).size_free = 0;
  }
  const u32 prev = at(off).prev_phys;
  if (prev != kNone && is_free(at(prev))) {
    units += size_of(at(prev));
    remove(prev);
    at(off).size_free = 0;
    off = prev;
  }
  insert(off, units);
}

void TlsfAllocator::deallocate(void* p, std::size_t size, std::size_t) noexcept {
  if (p == nullptr) return;
  const u32 h = block_of(p);
  if (h == kNone) {
    ++counters_.bad_frees;
    FERRO_DEBUG_CHECK(false, "TlsfAllocator::deallocate: not a live block (double free or foreign pointer)");
    return;
  }
  const std::size_t bytes = std::size_t{size_of(at(h))} * kUnit;
  FERRO_DEBUG_CHECK(size <= bytes - kUnit, "TlsfAllocator::deallocate: size larger than the block");
  (void)size;
  counters_.gave_back(bytes);
  free_block(h);
}

void* TlsfAllocator::reallocate(void* p, std::size_t, std::size_t new_size, std::size_t align) noexcept {
  if (p == nullptr) return allocate(new_size, align);
  const u32 h = block_of(p);
  if (h == kNone) {
    ++counters_.bad_frees;
    FERRO_DEBUG_CHECK(false, "TlsfAllocator::reallocate: not a live block");
    return nullptr;
  }
  u32 want;
  if (!units_for(new_size, align, &want)) return ++counters_.failed, nullptr;
  const u32 have = size_of(at(h));
  if (is_aligned(p, align)) {
    const u32 next = h + have;
    const u32 next_free_units = next < units_ && is_free(at(next)) ? size_of(at(next)) : 0;
    if (want <= have || want <= have + next_free_units) {
      u32 total = have;
      if (want > have) {  // absorb the free neighbour, then give back what is not needed
        remove(next);
        at(next).size_free = 0;
        total += next_free_units;
      }
      make_live(h, want);
      counters_.resized(std::size_t{have} * kUnit, std::size_t{want} * kUnit);
      if (total > want) {
        const u32 rest = h + want;
        at(rest).prev_phys = h;
        at(rest).size_free = (total - want) << 1;
        free_block(rest);
      }
      return p;
    }
  }
  void* q = allocate(new_size, align);
  if (q == nullptr) return nullptr;
  const std::size_t keep = std::size_t{have - 1} * kUnit;
  std::memcpy(q, p, keep < new_size ? keep : new_size);
  deallocate(p);
  return q;
}

bool TlsfAllocator::allocate_at(void* p, std::size_t size, std::size_t align) noexcept {
  ensure_ready();
  u32 units;
  if (!units_for(size, align, &units) || !owns(p) || !is_aligned(p, align < kUnit ? kUnit : align))
    return ++counters_.failed, false;
  const auto off = static_cast<std::size_t>(static_cast<std::byte*>(p) - base_);
  if (off % kUnit != 0 || off < kUnit) return ++counters_.failed, false;
  const auto start = static_cast<u32>(off / kUnit - 1);
  if (units > units_ - start) return ++counters_.failed, false;
  auto contains = [&](u32 blk) {
    return blk != kNone && blk <= start && std::size_t{blk} + size_of(at(blk)) >= std::size_t{start} + units;
  };
  u32 blk = contains(cursor_) ? cursor_ : kNone;
  for (int fl = 0; blk == kNone && fl < kFlCount; ++fl)
    for (u32 bits = sl_map_[fl]; blk == kNone && bits != 0; bits &= bits - 1)
      for (u32 b = heads_[fl][ctz(bits)]; b != kNone; b = at(b).next_free)
        if (contains(b)) {
          blk = b;
          break;
        }
  if (blk == kNone) return ++counters_.failed, false;
  const u32 end = blk + size_of(at(blk));
  carve(blk, start, units);
  cursor_ = start + units < end ? start + units : kNone;
  return true;
}

AllocStats TlsfAllocator::stats() const noexcept {
  AllocStats s;
  s.capacity = std::size_t{units_} * kUnit;
  s.in_use = counters_.in_use;
  s.peak = counters_.peak;
  s.failed = counters_.failed;
  s.live_blocks = counters_.live;
  if (ready_ && fl_map_ != 0) {
    const int fl = log2_floor(fl_map_);
    const int sl = log2_floor(sl_map_[fl]);
    for (u32 b = heads_[fl][sl]; b != kNone; b = at(b).next_free)
      if (std::size_t{size_of(at(b))} * kUnit > s.largest_free) s.largest_free = std::size_t{size_of(at(b))} * kUnit;
  }
  return s;
}

bool TlsfAllocator::owns(const void* p) const noexcept {
  const auto* b = static_cast<const std::byte*>(p);
  return ready_ && b >= base_ && b < base_ + std::size_t{units_} * kUnit;
}

std::size_t TlsfAllocator::usable_size(const void* p) const noexcept {
  const u32 h = block_of(p);
  return h == kNone ? 0 : std::size_t{size_of(at(h)) - 1} * kUnit;
}

Status TlsfAllocator::check() const noexcept {
  if (counters_.bad_frees != 0) return make_error(Errc::invalid_argument, "tlsf: deallocate got a non-block pointer");
  if (!ready_) return ok();
  std::size_t used = 0, live = 0, free_blocks = 0;
  u32 prev = kNone;
  bool prev_free = false;
  for (u32 off = 0; off < units_;) {
    const Header& h = at(off);
    const u32 n = size_of(h);
    if (n == 0 || n > units_ - off) return make_error(Errc::corrupt, "tlsf: block size out of range");
    if (h.prev_phys != prev) return make_error(Errc::corrupt, "tlsf: boundary tag does not point back");
    if (is_free(h)) {
      if (prev_free) return make_error(Errc::corrupt, "tlsf: two free neighbours left unmerged");
      ++free_blocks;
    } else {
      if (n < 2 || h.next_free != seal(off) || h.prev_free != n)
        return make_error(Errc::corrupt, "tlsf: broken live header");
      used += std::size_t{n} * kUnit;
      ++live;
    }
    prev_free = is_free(h);
    prev = off;
    off += n;
  }
  if (used != counters_.in_use || live != counters_.live) return make_error(Errc::corrupt, "tlsf: in_use mismatch");
  std::size_t listed = 0;
  for (int fl = 0; fl < kFlCount; ++fl) {
    for (int sl = 0; sl < kSlCount; ++sl) {
      const u32 head = heads_[fl][sl];
      const bool bit = (sl_map_[fl] >> sl) & 1;
      if (bit != (head != kNone)) return make_error(Errc::corrupt, "tlsf: second-level bitmap wrong");
      u32 back = kNone;
      for (u32 b = head; b != kNone; b = at(b).next_free) {
        if (b >= units_ || !is_free(at(b)) || at(b).prev_free != back)
          return make_error(Errc::corrupt, "tlsf: free list broken");
        int f, s;
        classify(size_of(at(b)), &f, &s);
        if (f != fl || s != sl) return make_error(Errc::corrupt, "tlsf: block in the wrong size class");
        if (++listed > free_blocks) return make_error(Errc::corrupt, "tlsf: free lists hold more than the free blocks");
        back = b;
      }
    }
    if (((fl_map_ >> fl) & 1) != (sl_map_[fl] != 0)) return make_error(Errc::corrupt, "tlsf: first-level bitmap wrong");
  }
  if (listed != free_blocks) return make_error(Errc::corrupt, "tlsf: free block missing from the lists");
  return ok();
}

}  // namespace ferro
