// Heap members that bring a heap up: the constructor lays the object table and the RAM
// allocator's region out in the caller's buffer, create() formats the storage and open()
// restores the newest checkpoint. Included at the end of heap.hpp; include that, not this.
//
// Protocol (docs/vnv.md): a slot counts only when its header CRC, body CRC and commit record
// agree and its sequence number belongs to that slot; the valid slot with the highest
// sequence wins. Nothing is applied before all of it is validated: every table entry (bounds,
// alignment, and no two objects overlapping, which rebuilding the storage allocator with
// allocate_at proves), every root and every log record. Then the redo log is copied home (the
// copy a cut after the commit may have interrupted; doing it twice is harmless) and the
// resident set is rebuilt at the same RAM offsets when the allocator can take them. Whatever
// the image holds, the answer is an error or a heap that passes check(), never a crash.
#pragma once

#include <cstring>
#include <new>
#include <span>

#include "ferro/core/crc32.hpp"
#include "ferro/vnv/heap.hpp"

namespace ferro::vnv {

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Heap<Allocator, NonResident, ObjectManager, Storage>::Heap(std::span<std::byte> buffer, Storage& storage, Config config,
                                                           PersistHandler handler) noexcept
    : buffer_(buffer),
      storage_(storage),
      config_(config),
      handler_(handler),
      alloc_(allocator_region(buffer, config.max_objects)) {
  auto geo = format::Geometry::make(config.block_size, config.max_objects, config.max_dirty_bytes, storage.size());
  if (!geo) {
    init_status_ = geo.error();
    return;
  }
  geo_ = *geo;
  if (allocator_region(buffer, config.max_objects).empty()) {
    init_status_ = make_error(Errc::no_space, "RAM buffer too small for the object table");
    return;
  }
  entries_ = reinterpret_cast<Entry*>(align_up(reinterpret_cast<std::uintptr_t>(buffer.data()), alignof(Entry)));
  capacity_ = config.max_objects;
  for (std::uint32_t i = 0; i < capacity_; ++i) ::new (&entries_[i]) Entry();
  if (!detail::register_heap(this)) init_status_ = make_error(Errc::no_space, "too many open heaps (kMaxHeaps)");
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::create() noexcept {
  Op op(*this);
  if (!op.ok) return busy();
  FERRO_TRY(start_over());
  // An older image on this storage must not open again once formatting has begun.
  const format::CommitRecord zero{};
  for (std::uint64_t s = 0; s < 2; ++s)
    FERRO_TRY(storage_.write(geo_.slot_offset(s) + geo_.commit_offset(), as_bytes_of(zero)));
  open_ = true;
  seq_ = 0;
  FERRO_TRY(checkpoint());
  return ok();
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::open() noexcept {
  Op op(*this);
  if (!op.ok) return busy();
  FERRO_TRY(start_over());
  auto s = restore();
  if (!s) reset_state();
  return s;
}

// create() and open() replace the whole state, so no Object of the old one may outlive it.
template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::start_over() noexcept {
  FERRO_TRY(init_status_);
  if (owned_ != 0) return make_error(Errc::busy, "Objects of this heap still live");
  reset_state();
  return ok();
}

// Back to a closed heap with nothing in it.
template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
void Heap<Allocator, NonResident, ObjectManager, Storage>::reset_state() noexcept {
  open_ = false;
  for (std::uint32_t i = 0; i < capacity_; ++i) entries_[i] = Entry{};
  rebuild_free_list();
  head_ = tail_ = kNoObject;
  resident_count_ = live_ = used_ = 0;
  budget_left_ = geo_.max_dirty_bytes;
  alloc_.reset();
  nr_.init(geo_.data_offset, geo_.data_size);
  for (auto& r : roots_) {
    clear_root(r);
    r.reserved = 0;
  }
  seq_ = 0;
  roots_mod_ = 0;
  slot_seq_[0] = slot_seq_[1] = 0;
  slot_used_[0] = slot_used_[1] = 0;
}

// Every entry that is not live, lowest ObjectId first (allocate takes the head).
template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
void Heap<Allocator, NonResident, ObjectManager, Storage>::rebuild_free_list() noexcept {
  free_head_ = kNoObject;
  for (std::uint32_t i = capacity_; i-- > 0;) {
    if (entries_[i].state == detail::kLive) continue;
    entries_[i].next = free_head_;
    free_head_ = i;
  }
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
struct Heap<Allocator, NonResident, ObjectManager, Storage>::SlotInfo {
  format::SlotHeader header{};
  bool valid = false;
  bool blank = false;
  bool foreign_geometry = false;
};

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
auto Heap<Allocator, NonResident, ObjectManager, Storage>::inspect_slot(std::uint64_t slot) noexcept -> SlotInfo {
  SlotInfo info;
  const std::uint64_t base = slot * geo_.slot_bytes;
  format::CommitRecord commit{};
  format::SlotHeader& h = info.header;
  if (!storage_.read(base, as_writable_bytes_of(h)) ||
      !storage_.read(base + geo_.commit_offset(), as_writable_bytes_of(commit)))
    return info;
  info.blank = h.magic == 0 && commit.magic == 0;
  if (h.magic != format::kMagic || h.version != format::kVersion || format::header_crc(h) != h.header_crc) return info;
  // A sound header of another geometry (its commit record lies elsewhere): say so.
  if (h.block_size != geo_.block_size || h.table_capacity != geo_.table_capacity ||
      h.max_dirty_bytes != geo_.max_dirty_bytes || h.data_offset != geo_.data_offset || h.data_size != geo_.data_size ||
      h.log_capacity != geo_.log_capacity) {
    info.foreign_geometry = true;
    return info;
  }
  if (commit.magic != format::kCommit || commit.sequence != h.sequence || commit.header_crc != h.header_crc)
    return info;
  if ((h.sequence & 1) != slot || h.sequence == 0) return info;
  if (h.entries_used > h.table_capacity || h.log_bytes > h.log_capacity) return info;
  std::uint32_t crc = 0;
  if (!crc_range(base + geo_.table_offset(), std::uint64_t{h.entries_used} * sizeof(format::TableEntry), crc) ||
      !crc_range(base + geo_.roots_offset(), format::kRoots * sizeof(format::Root), crc) ||
      !crc_range(base + geo_.log_offset(), h.log_bytes, crc) || crc != h.body_crc)
    return info;
  info.valid = true;
  return info;
}

// Reads [at, at + n) a bounce buffer at a time, giving f each chunk and its offset in the range.
template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
template <class F>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::read_chunks(std::uint64_t at, std::uint64_t n,
                                                                         F&& f) noexcept {
  std::byte buf[256];
  for (std::uint64_t done = 0; done < n;) {
    const std::size_t take = n - done < sizeof(buf) ? static_cast<std::size_t>(n - done) : sizeof(buf);
    FERRO_TRY(storage_.read(at + done, std::span<std::byte>(buf, take)));
    FERRO_TRY(f(std::span<const std::byte>(buf, take), done));
    done += take;
  }
  return ok();
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::crc_range(std::uint64_t at, std::uint64_t n,
                                                                       std::uint32_t& crc) noexcept {
  return read_chunks(at, n, [&](std::span<const std::byte> chunk, std::uint64_t) {
    crc = ferro::crc32(chunk, crc);
    return ok();
  });
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::copy(std::uint64_t from, std::uint64_t to,
                                                                  std::uint32_t n) noexcept {
  return read_chunks(
      from, n, [&](std::span<const std::byte> chunk, std::uint64_t done) { return storage_.write(to + done, chunk); });
}

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::restore() noexcept {
  const SlotInfo a = inspect_slot(0), b = inspect_slot(1);
  const SlotInfo* best = nullptr;
  if (a.valid) best = &a;
  if (b.valid && (best == nullptr || b.header.sequence > best->header.sequence)) best = &b;
  if (best == nullptr) {
    if (a.foreign_geometry || b.foreign_geometry)
      return make_error(Errc::invalid_argument, "image was made with another configuration or storage size");
    if (a.blank && b.blank) return make_error(Errc::not_found, "no vnv heap on this storage");
    return make_error(Errc::corrupt, "no valid checkpoint on storage");
  }
  const format::SlotHeader& h = best->header;
  const std::uint64_t base = geo_.slot_offset(h.sequence);
  const Error bad = make_error(Errc::corrupt, "checkpoint contents are inconsistent");

  // Object table; rebuilding the storage allocator also proves no two objects overlap.
  for (ObjectId id = 0; id < h.entries_used; ++id) {
    format::TableEntry t{};
    FERRO_TRY(storage_.read(base + geo_.table_offset() + std::uint64_t{id} * sizeof(t), as_writable_bytes_of(t)));
    if (t.live == 0) continue;
    if (t.live != 1 || t.size == 0 || format::padded(t.size) > geo_.max_dirty_bytes || !is_pow2(t.align) ||
        t.align < format::kWord || t.align > kMaxAlign || t.offset % format::kWord != 0 ||
        t.offset < geo_.data_offset || !range_fits(t.offset - geo_.data_offset, format::padded(t.size), geo_.data_size))
      return bad;
    if (!nr_.allocate_at(t.offset, format::padded(t.size))) return bad;
    Entry& e = entries_[id];
    e.committed = e.current = t.offset;
    e.size = t.size;
    e.align = t.align;
    e.state = detail::kLive;
    e.prev = t.ram_offset;  // parked here until the resident set is rebuilt below
    ++live_;
  }
  rebuild_free_list();
  used_ = h.entries_used;

  FERRO_TRY(storage_.read(base + geo_.roots_offset(), std::as_writable_bytes(std::span(roots_))));
  for (auto& r : roots_) {
    if (r.name[format::kRootName - 1] != 0) return bad;
    if (r.object != kNoObject && !valid(r.object)) return bad;
  }

  // Redo log: validate every record, then copy the blocks home.
  for (int pass = 0; pass < 2; ++pass) {
    std::uint64_t pos = 0;
    while (pos < h.log_bytes) {
      format::LogRecord rec{};
      if (h.log_bytes - pos < sizeof(rec)) return bad;
      FERRO_TRY(storage_.read(base + geo_.log_offset() + pos, as_writable_bytes_of(rec)));
      pos += sizeof(rec);
      if (!valid(rec.object) || rec.block_count == 0) return bad;
      const Entry& e = entries_[rec.object];
      const std::uint32_t nb = format::block_count(e.size, geo_.block_size);
      if (std::uint32_t{rec.first_block} + rec.block_count > nb) return bad;
      const std::uint32_t o = block_start(e, rec.first_block);
      const std::uint32_t n = block_start(e, std::uint32_t{rec.first_block} + rec.block_count) - o;
      if (h.log_bytes - pos < n) return bad;
      if (pass == 1) FERRO_TRY(copy(base + geo_.log_offset() + pos, e.current + o, n));
      pos += n;
    }
  }

  // Resident set: same offsets in the allocator region, when the buffer has the same size.
  const bool same_ram = h.ram_capacity == alloc_region_size();
  for (ObjectId id = 0; id < used_; ++id) {
    Entry& e = entries_[id];
    if (e.state != detail::kLive) continue;
    const std::uint32_t ram_off = e.prev;
    e.prev = kNoObject;
    // Whenever RAM ends up differing from the table entry, the entry must be rewritten.
    e.mod = ram_off == kNotResident ? 0 : h.sequence;
    if (!same_ram || ram_off == kNotResident) continue;
    if (!range_fits(ram_off, ram_bytes(e), alloc_region_size()) || ram_off % e.align != 0) return bad;
    std::byte* p = alloc_region_start() + ram_off;
    // Best effort: an allocator whose layout depends on the buffer's absolute alignment
    // (ChunkAllocator) may not take the same offset in a new buffer; then it loads on demand.
    if (!alloc_.allocate_at(p, ram_bytes(e), e.align)) continue;
    FERRO_TRY(make_resident(id, p));
    e.mod = 0;  // exactly as the checkpoint has it
  }
  budget_left_ = geo_.max_dirty_bytes;
  seq_ = h.sequence;
  // Only the chosen slot's table is known to match RAM; the other is rewritten whole.
  slot_seq_[h.sequence & 1] = h.sequence;
  slot_used_[h.sequence & 1] = h.entries_used;
  open_ = true;
  return ok();
}

}  // namespace ferro::vnv
