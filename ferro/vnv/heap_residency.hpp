// Heap members that move objects between storage and the RAM buffer: allocate, pin, load,
// unload, flush, evict, free and write back. Included at the end of heap.hpp; include that.
//
// Invariants kept here (check() verifies them):
// - dirty bytes of resident objects + budget_left_ == max_dirty_bytes: every byte a mutable pin
//   makes dirty is charged before the pin succeeds, and write-backs return the charge;
// - an object's charge equals the bytes of the blocks set in its dirty bitmap;
// - the resident list holds exactly the objects that have RAM.
// Storage protocol: between two persists nothing the last checkpoint points at is overwritten.
// A dirty object still sharing its block with the checkpoint (current == committed) is copied
// whole to a fresh block; an object already in its own block gets only its dirty runs. A freed
// object keeps its checkpoint block (kFreedPending) until the next checkpoint commits.
#pragma once

#include <cstring>
#include <new>
#include <span>

#include "ferro/vnv/heap.hpp"

namespace ferro::vnv {

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
template <class T, class... Args>
Result<Object<T>> Heap<Allocator, NonResident, ObjectManager, Storage>::allocate(Args&&... args) noexcept {
  static_assert(std::is_trivially_copyable_v<T>, "vnv objects must be trivially copyable");
  static_assert(alignof(T) <= kMaxAlign);
  Op op(*this);
  if (!op.ok) return busy();
  if (!open_) return closed();
  const std::uint32_t size = sizeof(T);
  const std::uint32_t pad = format::padded(size);
  if (pad > geo_.max_dirty_bytes) return make_error(Errc::invalid_argument, "object larger than max_dirty_bytes");
  if (format::block_count(size, geo_.block_size) > 0xFFFF)
    return make_error(Errc::invalid_argument, "object has more than 65535 dirty blocks");
  if (free_head_ == kNoObject) return make_error(Errc::no_space, "object table full (max_objects)");
  const std::uint64_t off = nr_.allocate(pad);
  if (off == kNoOffset) return make_error(Errc::no_space, "storage full");
  const ObjectId id = free_head_;
  free_head_ = entries_[id].next;
  Entry& e = entries_[id];
  e = Entry{};
  e.mod = seq_;
  e.size = size;
  e.align = stored_align<T>();
  e.current = off;
  e.state = detail::kLive;
  auto undo = [&](Error err) -> Error {
    nr_.deallocate(off, pad);
    release_entry(id);
    return err;
  };
  if (pad > budget_left_) {
    if (auto s = make_budget(pad, id); !s) return undo(s.error());
  }
  auto ram = obtain_ram(id);
  if (!ram) return undo(ram.error());
  std::byte* p = *ram;
  std::memset(p, 0, pad);
  if constexpr (std::is_constructible_v<T, Args...>)
    ::new (p) T(std::forward<Args>(args)...);
  else
    ::new (p) T{std::forward<Args>(args)...};
  e.ram = p;
  // A new object has no storage copy yet: all of it is dirty and charged.
  std::memset(bitmap(e), 0xFF, bitmap_bytes(e));
  link_resident(id);
  e.dirty = pad;
  budget_left_ -= pad;
  e.flags = detail::kOwned | detail::kAccessed | detail::kModified;
  if (id + 1 > used_) used_ = id + 1;
  ++owned_;
  ++live_;
  return detail::ObjectAccess::make<T>(this, id);
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Result<std::byte*> Heap<Allocator, NonResident, ObjectManager, Storage>::pin(ObjectId id, bool mut,
                                                                             std::uint32_t offset,
                                                                             std::uint32_t length) noexcept {
  Op op(*this);
  if (!op.ok) return busy();
  FERRO_TRY(check_live(id));
  Entry& e = entries_[id];
  if ((e.flags & detail::kMutBorrowed) != 0) return make_error(Errc::busy, "object is mutably borrowed");
  if (mut && e.readers != 0) return make_error(Errc::busy, "object is borrowed");
  if (!mut && e.readers == 0xFFFF) return make_error(Errc::busy, "too many references");
  if (e.ram == nullptr) FERRO_TRY(load(id));
  if (!mut) {
    ++e.readers;
    e.flags |= detail::kAccessed;
    return e.ram;
  }
  const std::uint32_t first = offset / geo_.block_size;
  const std::uint32_t end = (offset + length - 1) / geo_.block_size + 1;
  // Only the blocks not yet dirty cost budget.
  const std::uint32_t charge = block_start(e, end) - block_start(e, first) - dirty_bytes(e, first, end);
  if (charge > budget_left_) FERRO_TRY(make_budget(charge, id));
  for (std::uint32_t b = first; b < end; ++b) bitmap(e)[b / 8] |= static_cast<std::uint8_t>(1u << (b % 8));
  e.dirty += charge;
  budget_left_ -= charge;
  e.flags |= detail::kMutBorrowed | detail::kModified | detail::kAccessed;
  return e.ram;
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::unload(ObjectId id) noexcept {
  Op op(*this);
  if (!op.ok) return busy();
  FERRO_TRY(check_live(id));
  const Entry& e = entries_[id];
  if (e.ram == nullptr) return ok();
  if (e.readers != 0 || (e.flags & detail::kMutBorrowed) != 0)
    return make_error(Errc::busy, "cannot unload a borrowed object");
  return evict(id);
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::flush(ObjectId id) noexcept {
  Op op(*this);
  if (!op.ok) return busy();
  FERRO_TRY(check_live(id));
  const Entry& e = entries_[id];
  if (e.ram == nullptr || e.dirty == 0) return ok();
  if ((e.flags & detail::kMutBorrowed) != 0) return make_error(Errc::busy, "cannot flush a mutably borrowed object");
  return write_back(id);
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
void Heap<Allocator, NonResident, ObjectManager, Storage>::free_object(ObjectId id) noexcept {
  Op op(*this);
  if (!valid(id)) return;  // the heap was reopened or reset under this handle
  Entry& e = entries_[id];
  FERRO_CHECK(e.readers == 0 && (e.flags & detail::kMutBorrowed) == 0,
              "a vnv Object was destroyed while a reference to it lives");
  if ((e.flags & detail::kOwned) != 0) --owned_;
  if (e.ram != nullptr) {
    budget_left_ += e.dirty;
    e.dirty = 0;
    drop_ram(id);
  }
  e.mod = seq_;
  if (e.current != e.committed) nr_.deallocate(e.current, format::padded(e.size));
  --live_;
  // A root must never name a dead object: the next checkpoint would not open.
  for (auto& r : roots_)
    if (r.object == id) {
      clear_root(r);
      roots_mod_ = seq_;
    }
  if (e.committed != kNoOffset) {
    // The last checkpoint still points here: keep the block until the next one commits.
    e.state = detail::kFreedPending;
    e.current = kNoOffset;
    e.flags = 0;
  } else {
    release_entry(id);
  }
}

// RAM for the object, evicting what the object manager picks until the allocator has room.
template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Result<std::byte*> Heap<Allocator, NonResident, ObjectManager, Storage>::obtain_ram(ObjectId id) noexcept {
  const Entry& e = entries_[id];
  const std::uint32_t bytes = ram_bytes(e);
  for (;;) {
    if (void* p = alloc_.allocate(bytes, e.align)) return static_cast<std::byte*>(p);
    View view(*this);
    const ObjectId victim = om_.pick_evict(view, id);
    if (victim == kNoObject) return make_error(Errc::no_space, "RAM buffer full of pinned objects");
    FERRO_TRY(evict(victim));
  }
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::load(ObjectId id) noexcept {
  FERRO_TRY_ASSIGN(std::byte * p, obtain_ram(id));
  FERRO_TRY(make_resident(id, p));
  entries_[id].mod = seq_;  // the table entry's RAM offset changed
  ++stats_.loads;
  return ok();
}

// Fills `ram` (just taken from the allocator, given back on failure) with the object's storage
// copy and makes it the clean resident copy.
template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::make_resident(ObjectId id, std::byte* ram) noexcept {
  Entry& e = entries_[id];
  if (auto s = storage_.read(e.current, std::span<std::byte>(ram, format::padded(e.size))); !s) {
    alloc_.deallocate(ram, ram_bytes(e), e.align);
    return s;
  }
  e.ram = ram;
  std::memset(bitmap(e), 0, bitmap_bytes(e));
  link_resident(id);
  return ok();
}

// The caller has made sure the object is not borrowed.
template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::evict(ObjectId id) noexcept {
  if (entries_[id].dirty != 0) FERRO_TRY(write_back(id));
  drop_ram(id);
  entries_[id].mod = seq_;  // the table entry's RAM offset changed
  ++stats_.evictions;
  return ok();
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
void Heap<Allocator, NonResident, ObjectManager, Storage>::drop_ram(ObjectId id) noexcept {
  Entry& e = entries_[id];
  alloc_.deallocate(e.ram, ram_bytes(e), e.align);
  unlink_resident(id);
  e.ram = nullptr;
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::make_budget(std::uint32_t need,
                                                                         ObjectId exclude) noexcept {
  if (need > geo_.max_dirty_bytes) return make_error(Errc::no_space, "more dirty bytes than max_dirty_bytes");
  while (budget_left_ < need) {
    View view(*this);
    const ObjectId victim = om_.pick_write_back(view, exclude);
    if (victim == kNoObject) return make_error(Errc::no_space, "dirty budget held by mutably borrowed objects");
    FERRO_TRY(write_back(victim));
  }
  return ok();
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::write_back(ObjectId id) noexcept {
  Entry& e = entries_[id];
  const std::uint32_t pad = format::padded(e.size);
  if (e.current == e.committed) {  // copy-on-write: the checkpoint's block stays as it is
    const std::uint64_t off = nr_.allocate(pad);
    if (off == kNoOffset) return make_error(Errc::no_space, "storage full (copy-on-write of a dirty object)");
    if (auto s = storage_.write(off, std::span<const std::byte>(e.ram, pad)); !s) {
      nr_.deallocate(off, pad);
      return s;
    }
    e.current = off;
    e.mod = seq_;
  } else {
    FERRO_TRY(write_runs(e));
  }
  clear_dirty(e);
  ++stats_.write_backs;
  return ok();
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::write_runs(const Entry& e) noexcept {
  return for_each_run(e, [&](std::uint32_t, std::uint32_t, std::uint32_t o, std::uint32_t n) {
    return storage_.write(e.current + o, std::span<const std::byte>(e.ram + o, n));
  });
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
void Heap<Allocator, NonResident, ObjectManager, Storage>::link_resident(ObjectId id) noexcept {
  Entry& e = entries_[id];
  e.prev = tail_;
  e.next = kNoObject;
  if (tail_ != kNoObject)
    entries_[tail_].next = id;
  else
    head_ = id;
  tail_ = id;
  ++resident_count_;
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
void Heap<Allocator, NonResident, ObjectManager, Storage>::unlink_resident(ObjectId id) noexcept {
  Entry& e = entries_[id];
  (e.prev != kNoObject ? entries_[e.prev].next : head_) = e.next;
  (e.next != kNoObject ? entries_[e.next].prev : tail_) = e.prev;
  e.prev = e.next = kNoObject;
  --resident_count_;
}

// Budget bytes of the dirty blocks among [first, end).
template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
std::uint32_t Heap<Allocator, NonResident, ObjectManager, Storage>::dirty_bytes(const Entry& e, std::uint32_t first,
                                                                                std::uint32_t end) const noexcept {
  std::uint32_t sum = 0;
  for (std::uint32_t b = first; b < end; ++b)
    if (block_dirty(e, b)) sum += format::block_length(e.size, geo_.block_size, b);
  return sum;
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::check() const noexcept {
  std::uint64_t dirty = 0;
  std::uint32_t resident = 0, live = 0;
  for (std::uint32_t id = 0; id < capacity_; ++id) {
    const Entry& e = entries_[id];
    if (e.state == detail::kLive) ++live;
    if (e.state != detail::kLive) {
      if (e.ram != nullptr || e.dirty != 0) return make_error(Errc::corrupt, "a dead entry holds RAM or budget");
      continue;
    }
    if (e.current == kNoOffset) return make_error(Errc::corrupt, "a live object without storage");
    if (e.ram == nullptr) {
      if (e.dirty != 0 || e.readers != 0 || (e.flags & detail::kMutBorrowed))
        return make_error(Errc::corrupt, "a non-resident object is dirty or borrowed");
      continue;
    }
    ++resident;
    if (dirty_bytes(e, 0, format::block_count(e.size, geo_.block_size)) != e.dirty)
      return make_error(Errc::corrupt, "dirty charge and bitmap disagree");
    dirty += e.dirty;
  }
  if (dirty + budget_left_ != geo_.max_dirty_bytes)
    return make_error(Errc::corrupt, "dirty bytes + budget left != max_dirty_bytes");
  if (resident != resident_count_ || live != live_) return make_error(Errc::corrupt, "object counts disagree");
  std::uint32_t walked = 0;
  for (ObjectId id = head_; id != kNoObject; id = entries_[id].next) {
    if (entries_[id].ram == nullptr || ++walked > resident_count_)
      return make_error(Errc::corrupt, "resident list broken");
  }
  if (walked != resident_count_) return make_error(Errc::corrupt, "resident list length");
  FERRO_TRY(alloc_.check());
  return nr_.check();
}

}  // namespace ferro::vnv
