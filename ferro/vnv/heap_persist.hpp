// Heap members that write a checkpoint: persist() runs checkpoint() under the heap's lock, or
// as the interrupted operation lets go of it. Included at the end of heap.hpp; include that.
//
// Protocol (docs/vnv.md, "Persist and restore contract"): checkpoint N goes to slot N % 2,
// never to the slot of N - 1, in this order:
//   1. zeros over the slot's commit record, so a torn commit can never look valid;
//   2. the object table entries and the roots that changed since the checkpoint the slot
//      holds (all of them when that is unknown), then a redo log of every dirty run;
//   3. the header (sizes and the CRC of table + roots + log), sync, the commit record, sync.
// After the commit N is the checkpoint open() restores, and N - 1 is dead: only then are the
// logged runs copied to the objects' blocks (open() redoes that copy after a cut) and the
// blocks only N - 1 referred to freed. At most max_dirty_bytes of object data go into a
// checkpoint, because the dirty budget bounds what the log holds.
#pragma once

#include <cstring>
#include <span>

#include "ferro/core/crc32.hpp"
#include "ferro/vnv/heap.hpp"

namespace ferro::vnv {

// Sequential writer into a slot region with a small bounce buffer; CRCs what it writes.
template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
struct Heap<Allocator, NonResident, ObjectManager, Storage>::SlotWriter {
  Storage& storage;
  std::uint64_t at;
  std::uint32_t crc = 0;
  std::uint64_t bytes = 0;
  std::size_t fill = 0;
  Status status{};
  std::byte buf[256]{};

  // `store` false: the bytes are on storage already (counted in the CRC, not written).
  void put(const void* p, std::size_t n, bool store = true) noexcept {
    const auto* src = static_cast<const std::byte*>(p);
    crc = ferro::crc32(src, n, crc);
    if (!store) {
      seek(at + fill + n);
      return;
    }
    while (n > 0 && status) {
      if (fill == 0 && n >= sizeof(buf)) {  // large: straight from the source
        write(src, n);
        return;
      }
      const std::size_t take = n < sizeof(buf) - fill ? n : sizeof(buf) - fill;
      std::memcpy(buf + fill, src, take);
      fill += take;
      src += take;
      n -= take;
      if (fill == sizeof(buf)) flush();
    }
  }
  void seek(std::uint64_t to) noexcept {
    flush();
    at = to;
  }
  void flush() noexcept {
    if (fill == 0 || !status) return;
    write(buf, fill);
    fill = 0;
  }
  void write(const std::byte* p, std::size_t n) noexcept {
    status = storage.write(at, std::span<const std::byte>(p, n));
    at += n;
    bytes += n;
  }
};

template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
Status Heap<Allocator, NonResident, ObjectManager, Storage>::checkpoint() noexcept {
  const std::uint64_t seq = seq_ + 1;
  const std::uint64_t base = geo_.slot_offset(seq);
  // The slot still holds checkpoint `since`'s table (0: unknown): entries unchanged since
  // that checkpoint are left in place. Unknown again until this checkpoint commits.
  const unsigned slot = static_cast<unsigned>(seq & 1);
  const std::uint64_t since = slot_seq_[slot];
  const std::uint32_t since_used = slot_used_[slot];
  slot_seq_[slot] = 0;
  std::uint64_t written = 0, data = 0;
  const format::CommitRecord zero{};
  FERRO_TRY(storage_.write(base + geo_.commit_offset(), as_bytes_of(zero)));
  written += sizeof(zero);

  SlotWriter w{storage_, base + geo_.table_offset()};
  for (ObjectId id = 0; id < used_; ++id) {
    const Entry& e = entries_[id];
    format::TableEntry t{};
    if (e.state == detail::kLive) {
      t.offset = e.current;
      t.size = e.size;
      t.ram_offset = e.ram ? static_cast<std::uint32_t>(e.ram - alloc_region_start()) : kNotResident;
      t.align = e.align;
      t.live = 1;
    }
    w.put(&t, sizeof(t), since == 0 || id >= since_used || e.mod >= since);
  }
  w.seek(base + geo_.roots_offset());
  w.put(roots_, sizeof(roots_), since == 0 || roots_mod_ >= since);
  w.seek(base + geo_.log_offset());
  const std::uint64_t log_start = w.bytes + w.fill;
  for (ObjectId id = head_; id != kNoObject && w.status; id = entries_[id].next) {
    const Entry& e = entries_[id];
    if (e.dirty == 0) continue;
    (void)for_each_run(e, [&](std::uint32_t first, std::uint32_t count, std::uint32_t o, std::uint32_t n) {
      const format::LogRecord rec{id, static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(count)};
      w.put(&rec, sizeof(rec));
      w.put(e.ram + o, n);
      data += n;
      return ok();
    });
  }
  const std::uint64_t log_bytes = w.bytes + w.fill - log_start;
  w.flush();
  FERRO_TRY(w.status);
  FERRO_CHECK(log_bytes <= geo_.log_capacity, "redo log overflows its slot");
  written += w.bytes;

  format::SlotHeader h{};
  h.magic = format::kMagic;
  h.version = format::kVersion;
  h.block_size = static_cast<std::uint16_t>(geo_.block_size);
  h.sequence = seq;
  h.data_offset = geo_.data_offset;
  h.data_size = geo_.data_size;
  h.table_capacity = geo_.table_capacity;
  h.entries_used = used_;
  h.log_capacity = geo_.log_capacity;
  h.log_bytes = static_cast<std::uint32_t>(log_bytes);
  h.ram_capacity = static_cast<std::uint32_t>(alloc_region_size());
  h.max_dirty_bytes = geo_.max_dirty_bytes;
  h.body_crc = w.crc;
  h.header_crc = format::header_crc(h);
  FERRO_TRY(storage_.write(base, as_bytes_of(h)));
  written += sizeof(h);
  if (config_.sync) FERRO_TRY(storage_.sync());
  const format::CommitRecord commit{seq, h.header_crc, format::kCommit};
  FERRO_TRY(storage_.write(base + geo_.commit_offset(), as_bytes_of(commit)));
  written += sizeof(commit);
  if (config_.sync) FERRO_TRY(storage_.sync());

  // Durable. The previous checkpoint is dead from here on.
  seq_ = seq;
  slot_seq_[slot] = seq;
  slot_used_[slot] = used_;
  stats_.last_persist_bytes = written;
  stats_.last_persist_metadata = written - data;
  ++stats_.persists;
  if (handler_ != nullptr) handler_(buffer_.data(), buffer_.size());
  after_commit();
  return ok();
}

// Copies the logged blocks home (open() redoes this if a cut interrupts it) and releases
// the storage blocks only the dead checkpoint used.
template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
void Heap<Allocator, NonResident, ObjectManager, Storage>::after_commit() noexcept {
  std::uint64_t applied = 0;
  for (ObjectId id = head_; id != kNoObject; id = entries_[id].next) {
    Entry& e = entries_[id];
    if (e.dirty == 0) continue;
    applied += e.dirty;  // the charge is exactly the bytes of the dirty runs
    auto s = write_runs(e);
    // A mutably borrowed object may still change: it stays dirty.
    if (s && (e.flags & detail::kMutBorrowed) == 0) clear_dirty(e);
  }
  stats_.last_apply_bytes = applied;
  for (ObjectId id = 0; id < used_; ++id) {
    Entry& e = entries_[id];
    if (e.state == detail::kLive && e.committed != e.current) {
      if (e.committed != kNoOffset) nr_.deallocate(e.committed, format::padded(e.size));
      e.committed = e.current;
    } else if (e.state == detail::kFreedPending) {
      nr_.deallocate(e.committed, format::padded(e.size));
      release_entry(id);
    }
  }
}

}  // namespace ferro::vnv
