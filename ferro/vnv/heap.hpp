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
  Heap(std::span<std::byte> buffer, Storage& storage, Config config = {}, PersistHandler handler = nullptr) noexcept
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

  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  ~Heap() {
    detail::unregister_heap(this);
    FERRO_CHECK(owned_ == 0, "a vnv Heap was destroyed while Objects of it live");
  }

  // Formats the storage: an empty heap, committed as checkpoint 1.
  Status create() noexcept {
    Op op(*this);
    if (!op.ok) return busy();
    FERRO_TRY(init_status_);
    if (owned_ != 0) return make_error(Errc::busy, "Objects of this heap still live");
    reset_state();
    const format::CommitRecord zero{};
    for (std::uint64_t s = 0; s < 2; ++s)
      FERRO_TRY(storage_.write(geo_.slot_offset(s) + geo_.commit_offset(), as_bytes_of(zero)));
    for (auto& r : roots_) r.object = kNoObject;
    open_ = true;
    seq_ = 0;
    FERRO_TRY(checkpoint());
    return ok();
  }

  // Restores the heap from the newest complete checkpoint on storage.
  Status open() noexcept {
    Op op(*this);
    if (!op.ok) return busy();
    FERRO_TRY(init_status_);
    if (owned_ != 0) return make_error(Errc::busy, "Objects of this heap still live");
    reset_state();
    auto s = restore();
    if (!s) reset_state();
    return s;
  }

  // open(), or create() when the storage is blank (never written by a vnv heap).
  Status open_or_create() noexcept {
    auto s = open();
    if (s || s.code() != Errc::not_found) return s;
    return create();
  }

  bool is_open() const noexcept { return open_; }

  template <class T, class... Args>
  Result<Object<T>> allocate(Args&&... args) noexcept {
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
    e.align = static_cast<std::uint16_t>(alignof(T) < format::kWord ? format::kWord : alignof(T));
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

  // Async-signal-safe: runs now, or (when it interrupts a heap operation) when that ends.
  PersistOutcome persist() noexcept {
    if (!lock_.run_or_defer([this] { persist_locked(); })) return PersistOutcome::queued;
    return last_status_ ? PersistOutcome::done : PersistOutcome::failed;
  }
  Status last_persist_status() const noexcept { return last_status_; }

  Status unload(ObjectId id) noexcept override {
    Op op(*this);
    if (!op.ok) return busy();
    FERRO_TRY(check_live(id));
    Entry& e = entries_[id];
    if (e.ram == nullptr) return ok();
    if (e.readers != 0 || (e.flags & detail::kMutBorrowed) != 0)
      return make_error(Errc::busy, "cannot unload a borrowed object");
    if (e.dirty != 0) FERRO_TRY(write_back(id));
    evict(id);
    return ok();
  }

  Status flush(ObjectId id) noexcept override {
    Op op(*this);
    if (!op.ok) return busy();
    FERRO_TRY(check_live(id));
    Entry& e = entries_[id];
    if (e.ram == nullptr || e.dirty == 0) return ok();
    if ((e.flags & detail::kMutBorrowed) != 0) return make_error(Errc::busy, "cannot flush a mutably borrowed object");
    return write_back(id);
  }

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
    slot->object = id;
    if (id == kNoObject) std::memset(slot->name, 0, sizeof(slot->name));
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
    const std::size_t align = alignof(T) < format::kWord ? format::kWord : alignof(T);
    if (e.size != sizeof(T) || e.align != align) return make_error(Errc::invalid_argument, "object has another type");
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
  Status check() const noexcept {
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
      if (charge_of_bitmap(e) != e.dirty) return make_error(Errc::corrupt, "dirty charge and bitmap disagree");
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

  Status check_live(ObjectId id) const noexcept {
    if (!open_) return closed();
    if (!valid(id)) return make_error(Errc::invalid_argument, "no such object");
    return ok();
  }

  // ---- entries, lists, bitmaps ----

  std::uint32_t ram_bytes(const Entry& e) const noexcept { return format::padded(e.size) + bitmap_bytes(e); }
  std::uint32_t bitmap_bytes(const Entry& e) const noexcept {
    return (format::block_count(e.size, geo_.block_size) + 7) / 8;
  }
  std::uint8_t* bitmap(const Entry& e) const noexcept {
    return reinterpret_cast<std::uint8_t*>(e.ram + format::padded(e.size));
  }
  bool block_dirty(const Entry& e, std::uint32_t b) const noexcept { return (bitmap(e)[b / 8] >> (b % 8)) & 1u; }
  std::uint32_t charge_of_bitmap(const Entry& e) const noexcept {
    std::uint32_t sum = 0;
    const std::uint32_t n = format::block_count(e.size, geo_.block_size);
    for (std::uint32_t b = 0; b < n; ++b)
      if (block_dirty(e, b)) sum += format::block_length(e.size, geo_.block_size, b);
    return sum;
  }
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
      const std::uint32_t off = b * geo_.block_size;
      const std::uint32_t len = (end == n ? format::padded(e.size) : end * geo_.block_size) - off;
      FERRO_TRY(f(b, end - b, off, len));
      b = end;
    }
    return ok();
  }
  void clear_dirty(Entry& e) noexcept {
    std::memset(bitmap(e), 0, bitmap_bytes(e));
    budget_left_ += e.dirty;
    e.dirty = 0;
  }

  void link_resident(ObjectId id) noexcept {
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
  void unlink_resident(ObjectId id) noexcept {
    Entry& e = entries_[id];
    (e.prev != kNoObject ? entries_[e.prev].next : head_) = e.next;
    (e.next != kNoObject ? entries_[e.next].prev : tail_) = e.prev;
    e.prev = e.next = kNoObject;
    --resident_count_;
  }
  void release_entry(ObjectId id) noexcept {
    entries_[id] = Entry{};
    entries_[id].mod = seq_;
    entries_[id].next = free_head_;
    free_head_ = id;
  }

  void reset_state() noexcept {
    open_ = false;
    for (std::uint32_t i = 0; i < capacity_; ++i) entries_[i] = Entry{};
    free_head_ = kNoObject;
    for (std::uint32_t i = capacity_; i-- > 0;) {
      entries_[i].next = free_head_;
      free_head_ = i;
    }
    head_ = tail_ = kNoObject;
    resident_count_ = live_ = used_ = 0;
    budget_left_ = geo_.max_dirty_bytes;
    alloc_.reset();
    nr_.init(geo_.data_offset, geo_.data_size);
    for (auto& r : roots_) {
      std::memset(r.name, 0, sizeof(r.name));
      r.object = kNoObject;
      r.reserved = 0;
    }
    seq_ = 0;
    roots_mod_ = 0;
    slot_seq_[0] = slot_seq_[1] = 0;
    slot_used_[0] = slot_used_[1] = 0;
  }

  format::Root* find_root(std::string_view name) noexcept {
    if (name.empty() || name.size() >= format::kRootName) return nullptr;
    for (auto& r : roots_)
      if (std::strncmp(r.name, name.data(), name.size()) == 0 && r.name[name.size()] == 0) return &r;
    return nullptr;
  }

  // ---- residency and the dirty budget ----

  Result<std::byte*> pin(ObjectId id, bool mut, std::uint32_t offset, std::uint32_t length) noexcept override {
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
    const std::uint32_t last = (offset + length - 1) / geo_.block_size;
    std::uint32_t charge = 0;
    for (std::uint32_t b = first; b <= last; ++b)
      if (!block_dirty(e, b)) charge += format::block_length(e.size, geo_.block_size, b);
    if (charge > budget_left_) FERRO_TRY(make_budget(charge, id));
    for (std::uint32_t b = first; b <= last; ++b) bitmap(e)[b / 8] |= static_cast<std::uint8_t>(1u << (b % 8));
    e.dirty += charge;
    budget_left_ -= charge;
    e.flags |= detail::kMutBorrowed | detail::kModified | detail::kAccessed;
    return e.ram;
  }

  void unpin_mut(ObjectId id) noexcept override {
    Op op(*this);
    entries_[id].flags = static_cast<std::uint8_t>(entries_[id].flags & ~detail::kMutBorrowed);
  }

  void free_object(ObjectId id) noexcept override {
    Op op(*this);
    if (!valid(id)) return;  // the heap was reopened or reset under this handle
    Entry& e = entries_[id];
    FERRO_CHECK(e.readers == 0 && (e.flags & detail::kMutBorrowed) == 0,
                "a vnv Object was destroyed while a reference to it lives");
    if ((e.flags & detail::kOwned) != 0) --owned_;
    if (e.ram != nullptr) {
      budget_left_ += e.dirty;
      e.dirty = 0;
      alloc_.deallocate(e.ram, ram_bytes(e), e.align);
      unlink_resident(id);
      e.ram = nullptr;
    }
    e.mod = seq_;
    const std::uint32_t pad = format::padded(e.size);
    if (e.current != e.committed) nr_.deallocate(e.current, pad);
    --live_;
    // A root must never name a dead object: the next checkpoint would not open.
    for (auto& r : roots_)
      if (r.object == id) {
        r.object = kNoObject;
        std::memset(r.name, 0, sizeof(r.name));
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

  void disown(ObjectId id) noexcept override {
    Op op(*this);
    if (!valid(id) || (entries_[id].flags & detail::kOwned) == 0) return;
    entries_[id].flags = static_cast<std::uint8_t>(entries_[id].flags & ~detail::kOwned);
    --owned_;
  }

  Result<std::byte*> obtain_ram(ObjectId id) noexcept {
    const Entry& e = entries_[id];
    const std::uint32_t bytes = ram_bytes(e);
    for (;;) {
      if (void* p = alloc_.allocate(bytes, e.align)) return static_cast<std::byte*>(p);
      View view(*this);
      const ObjectId victim = om_.pick_evict(view, id);
      if (victim == kNoObject) return make_error(Errc::no_space, "RAM buffer full of pinned objects");
      if (entries_[victim].dirty != 0) FERRO_TRY(write_back(victim));
      evict(victim);
    }
  }

  Status load(ObjectId id) noexcept {
    FERRO_TRY_ASSIGN(std::byte * p, obtain_ram(id));
    Entry& e = entries_[id];
    if (auto s = storage_.read(e.current, std::span<std::byte>(p, format::padded(e.size))); !s) {
      alloc_.deallocate(p, ram_bytes(e), e.align);
      return s;
    }
    e.ram = p;
    e.mod = seq_;
    std::memset(bitmap(e), 0, bitmap_bytes(e));
    link_resident(id);
    ++stats_.loads;
    return ok();
  }

  void evict(ObjectId id) noexcept {
    Entry& e = entries_[id];
    alloc_.deallocate(e.ram, ram_bytes(e), e.align);
    unlink_resident(id);
    e.ram = nullptr;
    e.mod = seq_;
    ++stats_.evictions;
  }

  Status make_budget(std::uint32_t need, ObjectId exclude) noexcept {
    if (need > geo_.max_dirty_bytes) return make_error(Errc::no_space, "more dirty bytes than max_dirty_bytes");
    while (budget_left_ < need) {
      View view(*this);
      const ObjectId victim = om_.pick_write_back(view, exclude);
      if (victim == kNoObject) return make_error(Errc::no_space, "dirty budget held by mutably borrowed objects");
      FERRO_TRY(write_back(victim));
    }
    return ok();
  }

  // Between persists nothing the last checkpoint points at is overwritten: a shared object
  // is copied whole to a fresh block (copy-on-write); a private one gets its dirty runs.
  Status write_back(ObjectId id) noexcept {
    Entry& e = entries_[id];
    const std::uint32_t pad = format::padded(e.size);
    if (e.current == e.committed) {
      const std::uint64_t off = nr_.allocate(pad);
      if (off == kNoOffset) return make_error(Errc::no_space, "storage full (copy-on-write of a dirty object)");
      if (auto s = storage_.write(off, std::span<const std::byte>(e.ram, pad)); !s) {
        nr_.deallocate(off, pad);
        return s;
      }
      e.current = off;
      e.mod = seq_;
    } else {
      FERRO_TRY(for_each_run(e, [&](std::uint32_t, std::uint32_t, std::uint32_t o, std::uint32_t n) {
        return storage_.write(e.current + o, std::span<const std::byte>(e.ram + o, n));
      }));
    }
    clear_dirty(e);
    ++stats_.write_backs;
    return ok();
  }

  // ---- persist ----

  // Sequential writer into a slot region with a small bounce buffer; CRCs what it writes.
  struct SlotWriter {
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

  Status checkpoint() noexcept {
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
  void after_commit() noexcept {
    std::uint64_t applied = 0;
    for (ObjectId id = head_; id != kNoObject; id = entries_[id].next) {
      Entry& e = entries_[id];
      if (e.dirty == 0) continue;
      auto s = for_each_run(e, [&](std::uint32_t, std::uint32_t, std::uint32_t o, std::uint32_t n) {
        applied += n;
        return storage_.write(e.current + o, std::span<const std::byte>(e.ram + o, n));
      });
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

  void persist_locked() noexcept {
    if (!open_) {
      last_status_ = closed();
      return;
    }
    last_status_ = checkpoint();
    if (!last_status_) ++stats_.persist_failures;
  }

  void persist_from_registry() noexcept override { (void)persist(); }

  std::byte* alloc_region_start() const noexcept { return allocator_region(buffer_, capacity_).data(); }
  std::size_t alloc_region_size() const noexcept { return allocator_region(buffer_, capacity_).size(); }

  // ---- open ----

  struct SlotInfo {
    format::SlotHeader header{};
    bool valid = false;
    bool blank = false;
    bool foreign_geometry = false;
  };

  SlotInfo inspect_slot(std::uint64_t slot) noexcept {
    SlotInfo info;
    const std::uint64_t base = slot * geo_.slot_bytes;
    format::CommitRecord commit{};
    format::SlotHeader& h = info.header;
    if (!storage_.read(base, as_writable_bytes_of(h)) ||
        !storage_.read(base + geo_.commit_offset(), as_writable_bytes_of(commit)))
      return info;
    info.blank = h.magic == 0 && commit.magic == 0;
    if (h.magic != format::kMagic || h.version != format::kVersion || format::header_crc(h) != h.header_crc)
      return info;
    // A sound header of another geometry (its commit record lies elsewhere): say so.
    if (h.block_size != geo_.block_size || h.table_capacity != geo_.table_capacity ||
        h.max_dirty_bytes != geo_.max_dirty_bytes || h.data_offset != geo_.data_offset ||
        h.data_size != geo_.data_size || h.log_capacity != geo_.log_capacity) {
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

  bool crc_range(std::uint64_t at, std::uint64_t n, std::uint32_t& crc) noexcept {
    std::byte buf[256];
    while (n > 0) {
      const std::size_t take = n < sizeof(buf) ? static_cast<std::size_t>(n) : sizeof(buf);
      if (!storage_.read(at, std::span<std::byte>(buf, take))) return false;
      crc = ferro::crc32(buf, take, crc);
      at += take;
      n -= take;
    }
    return true;
  }

  Status restore() noexcept {
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
          t.offset < geo_.data_offset ||
          !range_fits(t.offset - geo_.data_offset, format::padded(t.size), geo_.data_size))
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
    free_head_ = kNoObject;
    for (std::uint32_t i = capacity_; i-- > 0;) {
      if (entries_[i].state == detail::kLive) continue;
      entries_[i].next = free_head_;
      free_head_ = i;
    }
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
        const std::uint32_t o = rec.first_block * geo_.block_size;
        const std::uint32_t end = rec.first_block + rec.block_count == nb
                                      ? format::padded(e.size)
                                      : (std::uint32_t{rec.first_block} + rec.block_count) * geo_.block_size;
        const std::uint32_t n = end - o;
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
      if (auto s = storage_.read(e.current, std::span<std::byte>(p, format::padded(e.size))); !s) {
        alloc_.deallocate(p, ram_bytes(e), e.align);
        return s;
      }
      e.ram = p;
      e.mod = 0;  // exactly as the checkpoint has it
      std::memset(bitmap(e), 0, bitmap_bytes(e));
      link_resident(id);
    }
    budget_left_ = geo_.max_dirty_bytes;
    seq_ = h.sequence;
    // Only the chosen slot's table is known to match RAM; the other is rewritten whole.
    slot_seq_[h.sequence & 1] = h.sequence;
    slot_used_[h.sequence & 1] = h.entries_used;
    open_ = true;
    return ok();
  }

  Status copy(std::uint64_t from, std::uint64_t to, std::uint32_t n) noexcept {
    std::byte buf[256];
    while (n > 0) {
      const std::uint32_t take = n < sizeof(buf) ? n : static_cast<std::uint32_t>(sizeof(buf));
      FERRO_TRY(storage_.read(from, std::span<std::byte>(buf, take)));
      FERRO_TRY(storage_.write(to, std::span<const std::byte>(buf, take)));
      from += take;
      to += take;
      n -= take;
    }
    return ok();
  }

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
