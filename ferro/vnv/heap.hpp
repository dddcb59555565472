// ferro::vnv::Heap: objects live on persistent storage and are worked on through a small RAM
// buffer. At most `max_dirty_bytes` of resident data differ from storage at any time, so one
// bounded persist() (async-signal-safe) saves everything; open() finds it all again.
//
//   Heap<BuddyAllocator, NonResidentBuddyAllocator<>, DefaultObjectManager, MemoryStorage>
//       heap(buffer, storage, {.max_dirty_bytes = 1024}, on_persisted);
//   if (auto s = heap.open_or_create(); !s) ...
//   auto counter = heap.allocate<Counter>(0);  // Result<Object<Counter>>
//   { auto ref = counter->get_mut(); ++(*ref)->value; }
//   heap.persist();
//
// Crash consistency (docs/vnv.md): between persists, write-backs never overwrite what the
// last checkpoint points at (copy-on-write to a fresh storage block); persist N writes the
// dirty blocks as a redo log, the object table and the roots into checkpoint slot N % 2,
// then a commit record; after the commit (and the handler) it copies the logged blocks home,
// and open() redoes that copy, so a cut at any byte leaves a checkpoint that restores exactly.
//
// The class below is the API, the state and the short helpers every path uses. The long
// member functions live in three headers included at the end of this one:
//   heap_residency.hpp  allocate, pin, load, evict, write-back: the dirty budget invariant
//   heap_persist.hpp    checkpoint and what follows the commit: the persist protocol
//   heap_restore.hpp    constructor, create, open: validating a checkpoint, redoing its log
#pragma once

#include <cstring>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>

#include "ferro/alloc/allocator.hpp"
#include "ferro/core/deferring_lock.hpp"
#include "ferro/storage/storage.hpp"
#include "ferro/vnv/format.hpp"
#include "ferro/vnv/nonresident.hpp"
#include "ferro/vnv/object.hpp"
#include "ferro/vnv/object_manager.hpp"
#include "ferro/vnv/registry.hpp"

namespace ferro::vnv {
struct Config {
  std::uint32_t max_dirty_bytes = 1024;
  std::uint32_t max_objects = 64;  // object table entries (in RAM and in each checkpoint)
  std::uint32_t block_size = 32;   // dirty tracking granularity
  bool sync = true;                // storage.sync() before and after the commit record
};

// Called once a persist is durable, with the heap's RAM buffer. Runs in the persisting
// context (perhaps a signal handler): it must be async-signal-safe.
using PersistHandler = void (*)(const std::byte* buffer, std::size_t length);

enum class PersistOutcome : std::uint8_t {
  done,    // durable; the handler ran
  queued,  // interrupted a heap operation: runs when that operation ends
  failed,  // storage error: the previous checkpoint still stands (last_persist_status())
};

struct HeapStats {
  std::uint32_t max_dirty_bytes = 0, dirty_bytes = 0, budget_left = 0;
  std::uint32_t live_objects = 0, resident_objects = 0;
  std::uint64_t loads = 0, write_backs = 0, evictions = 0;
  std::uint64_t persists = 0, persist_failures = 0, sequence = 0;
  std::uint64_t last_persist_bytes = 0;     // written up to and including the commit record
  std::uint64_t last_persist_metadata = 0;  // the part of it that is not object data
  std::uint64_t last_apply_bytes = 0;       // copied home after the commit
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"  // see HeapCore
template <RegionAllocator Allocator, NonResidentAllocator NonResident, class ObjectManager, PersistentStorage Storage>
class Heap final : public HeapCore {
  using Entry = detail::Entry;

 public:
  // Lays the object table and the allocator's region out in `buffer`; open() or create() next.
  Heap(std::span<std::byte> buffer, Storage& storage, Config config = {}, PersistHandler handler = nullptr) noexcept;
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  ~Heap() {
    detail::unregister_heap(this);
    FERRO_CHECK(owned_ == 0, "a vnv Heap was destroyed while Objects of it live");
  }

  Status create() noexcept;  // formats the storage: an empty heap, committed as checkpoint 1
  Status open() noexcept;    // restores the newest complete checkpoint on storage
  // open(), or create() when the storage is blank (never written by a vnv heap).
  Status open_or_create() noexcept {
    auto s = open();
    if (s || s.code() != Errc::not_found) return s;
    return create();
  }
  bool is_open() const noexcept { return open_; }

  template <class T, class... Args>
  Result<Object<T>> allocate(Args&&... args) noexcept;

  // Async-signal-safe: runs now, or (when it interrupts a heap operation) when that ends.
  PersistOutcome persist() noexcept {
    if (!lock_.run_or_defer([this] { persist_locked(); })) return PersistOutcome::queued;
    return last_status_ ? PersistOutcome::done : PersistOutcome::failed;
  }
  Status last_persist_status() const noexcept { return last_status_; }

  // unload: write back if dirty, then give the RAM up; flush: write back and stay resident.
  // Errc::busy while borrowed (flush: while mutably borrowed).
  Status unload(ObjectId id) noexcept override;
  Status flush(ObjectId id) noexcept override;

  // Roots: 16 slots, each a numbered root (its index) or a named one (up to 23 bytes).
  Status set_root(std::string_view name, ObjectId id) noexcept {
    Op op(*this);
    if (!op.ok) return busy();
    if (name.empty() || name.size() >= format::kRootName) return make_error(Errc::invalid_argument, "root name length");
    if (id != kNoObject) FERRO_TRY(check_live(id));
    format::Root* slot = find_root(name);
    if (slot == nullptr) {
      for (auto& r : roots_)
        if (r.name[0] == 0 && r.object == kNoObject) {
          slot = &r;
          break;
        }
      if (slot == nullptr) return make_error(Errc::no_space, "all root slots are taken");
      std::memset(slot->name, 0, sizeof(slot->name));
      std::memcpy(slot->name, name.data(), name.size());
    }
    if (id == kNoObject)
      clear_root(*slot);
    else
      slot->object = id;
    roots_mod_ = seq_;
    return ok();
  }
  Status set_root(std::uint32_t index, ObjectId id) noexcept {
    Op op(*this);
    if (!op.ok) return busy();
    if (index >= format::kRoots) return make_error(Errc::out_of_range, "root index");
    if (roots_[index].name[0] != 0) return make_error(Errc::already_exists, "root slot holds a named root");
    if (id != kNoObject) FERRO_TRY(check_live(id));
    roots_[index].object = id;
    roots_mod_ = seq_;
    return ok();
  }
  template <class T>
  Status set_root(std::string_view name, const Object<T>& obj) noexcept {
    return set_root(name, obj.id());
  }
  template <class T>
  Status set_root(std::uint32_t index, const Object<T>& obj) noexcept {
    return set_root(index, obj.id());
  }

  Result<ObjectId> root_id(std::string_view name) const noexcept {
    const format::Root* r = const_cast<Heap*>(this)->find_root(name);
    if (r == nullptr || r->object == kNoObject) return make_error(Errc::not_found, "no such root");
    return r->object;
  }
  Result<ObjectId> root_id(std::uint32_t index) const noexcept {
    if (index >= format::kRoots) return make_error(Errc::out_of_range, "root index");
    if (roots_[index].name[0] != 0 || roots_[index].object == kNoObject)
      return make_error(Errc::not_found, "no such root");
    return roots_[index].object;
  }
  template <class T>
  Result<Object<T>> root(std::string_view name) noexcept {
    FERRO_TRY_ASSIGN(ObjectId id, root_id(name));
    return adopt<T>(id);
  }
  template <class T>
  Result<Object<T>> root(std::uint32_t index) noexcept {
    FERRO_TRY_ASSIGN(ObjectId id, root_id(index));
    return adopt<T>(id);
  }

  // Takes ownership of a live object nobody owns (after open(), or after release()).
  template <class T>
  Result<Object<T>> adopt(ObjectId id) noexcept {
    Op op(*this);
    if (!op.ok) return busy();
    FERRO_TRY(check_live(id));
    Entry& e = entries_[id];
    if (e.size != sizeof(T) || e.align != stored_align<T>())
      return make_error(Errc::invalid_argument, "object has another type");
    if ((e.flags & detail::kOwned) != 0) return make_error(Errc::busy, "object already has an owner");
    e.flags |= detail::kOwned;
    ++owned_;
    return detail::ObjectAccess::make<T>(this, id);
  }

  HeapStats stats() const noexcept {
    HeapStats s = stats_;
    s.max_dirty_bytes = geo_.max_dirty_bytes;
    s.budget_left = budget_left_;
    s.dirty_bytes = geo_.max_dirty_bytes - budget_left_;
    s.live_objects = live_;
    s.resident_objects = resident_count_;
    s.sequence = seq_;
    return s;
  }
  std::uint32_t max_dirty_bytes() const noexcept { return geo_.max_dirty_bytes; }
  std::uint32_t budget_left() const noexcept { return budget_left_; }
  const format::Geometry& geometry() const noexcept { return geo_; }
  Allocator& allocator() noexcept { return alloc_; }
  NonResident& non_resident() noexcept { return nr_; }
  ObjectManager& object_manager() noexcept { return om_; }

  // Walks the bookkeeping: dirty bytes of resident objects + budget left == max_dirty_bytes,
  // each object's charge matches its dirty bitmap, lists and allocators are consistent.
  Status check() const noexcept;

  // What the object manager sees.
  class View {
   public:
    explicit View(Heap& h) noexcept : h_(h) {}
    ObjectId first() const noexcept { return h_.head_; }
    ObjectId next(ObjectId id) const noexcept { return h_.entries_[id].next; }
    std::size_t resident_count() const noexcept { return h_.resident_count_; }
    bool resident(ObjectId id) const noexcept { return h_.is_resident(id); }
    bool dirty(ObjectId id) const noexcept { return h_.entries_[id].dirty != 0; }
    bool mut_borrowed(ObjectId id) const noexcept { return (h_.entries_[id].flags & detail::kMutBorrowed) != 0; }
    bool evictable(ObjectId id) const noexcept { return h_.entries_[id].readers == 0 && !mut_borrowed(id); }
    bool test_and_clear_accessed(ObjectId id) noexcept { return test_and_clear(id, detail::kAccessed); }
    bool test_and_clear_modified(ObjectId id) noexcept { return test_and_clear(id, detail::kModified); }

   private:
    bool test_and_clear(ObjectId id, std::uint8_t bit) noexcept {
      const bool was = (h_.entries_[id].flags & bit) != 0;
      h_.entries_[id].flags = static_cast<std::uint8_t>(h_.entries_[id].flags & ~bit);
      return was;
    }
    Heap& h_;
  };

 private:
  // Every operation holds the lock; a persist that arrives meanwhile runs as the lock is let go.
  struct Op {
    explicit Op(Heap& h) noexcept : heap(h), ok(h.lock_.try_lock()) {}
    ~Op() {
      if (ok) heap.lock_.unlock_and_run_pending([this] { heap.persist_locked(); });
    }
    Heap& heap;
    bool ok;
  };
  static Error busy() noexcept { return make_error(Errc::busy, "heap in use (called from a signal handler?)"); }
  static Error closed() noexcept { return make_error(Errc::closed, "heap is not open"); }

  static std::span<std::byte> allocator_region(std::span<std::byte> buffer, std::uint32_t objects) noexcept {
    const auto start = reinterpret_cast<std::uintptr_t>(buffer.data());
    const std::uintptr_t table = align_up(start, std::uintptr_t{alignof(Entry)});
    const std::uint64_t need = (table - start) + std::uint64_t{objects} * sizeof(Entry);
    if (need >= buffer.size()) return {};
    return buffer.subspan(static_cast<std::size_t>(need));
  }
  std::byte* alloc_region_start() const noexcept { return allocator_region(buffer_, capacity_).data(); }
  std::size_t alloc_region_size() const noexcept { return allocator_region(buffer_, capacity_).size(); }

  // The table stores alignments of at least a word: storage blocks are whole words.
  template <class T>
  static constexpr std::uint16_t stored_align() noexcept {
    return alignof(T) < format::kWord ? format::kWord : alignof(T);
  }

  Status check_live(ObjectId id) const noexcept {
    if (!open_) return closed();
    if (!valid(id)) return make_error(Errc::invalid_argument, "no such object");
    return ok();
  }

  std::uint32_t ram_bytes(const Entry& e) const noexcept { return format::padded(e.size) + bitmap_bytes(e); }
  std::uint32_t bitmap_bytes(const Entry& e) const noexcept {
    return (format::block_count(e.size, geo_.block_size) + 7) / 8;
  }
  std::uint8_t* bitmap(const Entry& e) const noexcept {
    return reinterpret_cast<std::uint8_t*>(e.ram + format::padded(e.size));
  }
  bool block_dirty(const Entry& e, std::uint32_t b) const noexcept { return (bitmap(e)[b / 8] >> (b % 8)) & 1u; }
  // Byte offset of block b; one past the last block it is the padded size (the last is short).
  std::uint32_t block_start(const Entry& e, std::uint32_t b) const noexcept {
    const std::uint32_t at = b * geo_.block_size, end = format::padded(e.size);
    return at < end ? at : end;
  }
  std::uint32_t dirty_bytes(const Entry& e, std::uint32_t first, std::uint32_t end) const noexcept;
  // Calls f(first_block, block_count, byte_offset, byte_length) for each run of dirty blocks.
  template <class F>
  Status for_each_run(const Entry& e, F&& f) const noexcept {
    const std::uint32_t n = format::block_count(e.size, geo_.block_size);
    for (std::uint32_t b = 0; b < n;) {
      if (!block_dirty(e, b)) {
        ++b;
        continue;
      }
      std::uint32_t end = b + 1;
      while (end < n && block_dirty(e, end)) ++end;
      const std::uint32_t off = block_start(e, b);
      FERRO_TRY(f(b, end - b, off, block_start(e, end) - off));
      b = end;
    }
    return ok();
  }
  void clear_dirty(Entry& e) noexcept {
    std::memset(bitmap(e), 0, bitmap_bytes(e));
    budget_left_ += e.dirty;
    e.dirty = 0;
  }

  void link_resident(ObjectId id) noexcept;
  void unlink_resident(ObjectId id) noexcept;
  void release_entry(ObjectId id) noexcept {
    entries_[id] = Entry{};
    entries_[id].mod = seq_;
    entries_[id].next = free_head_;
    free_head_ = id;
  }

  format::Root* find_root(std::string_view name) noexcept {
    if (name.empty() || name.size() >= format::kRootName) return nullptr;
    for (auto& r : roots_)
      if (std::strncmp(r.name, name.data(), name.size()) == 0 && r.name[name.size()] == 0) return &r;
    return nullptr;
  }
  static void clear_root(format::Root& r) noexcept {
    std::memset(r.name, 0, sizeof(r.name));
    r.object = kNoObject;
  }

  // heap_residency.hpp
  Result<std::byte*> pin(ObjectId id, bool mut, std::uint32_t offset, std::uint32_t length) noexcept override;
  void unpin_mut(ObjectId id) noexcept override {
    Op op(*this);
    entries_[id].flags = static_cast<std::uint8_t>(entries_[id].flags & ~detail::kMutBorrowed);
  }
  void free_object(ObjectId id) noexcept override;
  void disown(ObjectId id) noexcept override {
    Op op(*this);
    if (!valid(id) || (entries_[id].flags & detail::kOwned) == 0) return;
    entries_[id].flags = static_cast<std::uint8_t>(entries_[id].flags & ~detail::kOwned);
    --owned_;
  }
  Result<std::byte*> obtain_ram(ObjectId id) noexcept;
  Status load(ObjectId id) noexcept;
  Status make_resident(ObjectId id, std::byte* ram) noexcept;
  Status evict(ObjectId id) noexcept;
  void drop_ram(ObjectId id) noexcept;
  Status make_budget(std::uint32_t need, ObjectId exclude) noexcept;
  Status write_back(ObjectId id) noexcept;
  Status write_runs(const Entry& e) noexcept;

  // heap_persist.hpp
  struct SlotWriter;
  Status checkpoint() noexcept;
  void after_commit() noexcept;
  void persist_locked() noexcept {
    if (!open_) {
      last_status_ = closed();
      return;
    }
    last_status_ = checkpoint();
    if (!last_status_) ++stats_.persist_failures;
  }
  void persist_from_registry() noexcept override { (void)persist(); }

  // heap_restore.hpp
  struct SlotInfo;
  Status start_over() noexcept;
  void reset_state() noexcept;
  void rebuild_free_list() noexcept;
  SlotInfo inspect_slot(std::uint64_t slot) noexcept;
  Status restore() noexcept;
  template <class F>
  Status read_chunks(std::uint64_t at, std::uint64_t n, F&& f) noexcept;
  Status crc_range(std::uint64_t at, std::uint64_t n, std::uint32_t& crc) noexcept;
  Status copy(std::uint64_t from, std::uint64_t to, std::uint32_t n) noexcept;

  std::span<std::byte> buffer_;
  Storage& storage_;
  Config config_;
  PersistHandler handler_;
  Allocator alloc_;
  NonResident nr_{};
  ObjectManager om_{};
  format::Geometry geo_{};
  Status init_status_{};
  Status last_status_{};
  DeferringLock lock_;
  format::Root roots_[format::kRoots]{};
  HeapStats stats_{};
  std::uint64_t seq_ = 0;
  std::uint64_t roots_mod_ = 0;     // seq_ when the roots last changed
  std::uint64_t slot_seq_[2] = {};  // checkpoint whose table each slot holds, 0 if unknown
  std::uint32_t slot_used_[2] = {};
  ObjectId free_head_ = kNoObject, head_ = kNoObject, tail_ = kNoObject;
  std::uint32_t resident_count_ = 0, live_ = 0, used_ = 0, owned_ = 0;
  std::uint32_t budget_left_ = 0;
  bool open_ = false;
};
#pragma GCC diagnostic pop

}  // namespace ferro::vnv

#include "ferro/vnv/heap_persist.hpp"
#include "ferro/vnv/heap_residency.hpp"
#include "ferro/vnv/heap_restore.hpp"
