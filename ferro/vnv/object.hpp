// Handles to objects of a vnv heap: Object<T> owns one (move-only; destroying it frees the
// object), Ref<T> reads it and MutRef<T> / MutBytes write it. While a reference lives the
// object stays resident. Several Refs may coexist; a mutable reference excludes every other
// reference, and asking otherwise is Errc::busy, not undefined behaviour.
//
// These types do not depend on the heap's modules: they talk to `HeapCore`, the part of every
// Heap<...> that holds the object table. A resident, unborrowed get() costs one table index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>

#include "ferro/core/result.hpp"
#include "ferro/vnv/format.hpp"
#include "ferro/vnv/registry.hpp"

namespace ferro::vnv {

namespace detail {

struct ObjectAccess;

enum EntryState : std::uint8_t { kFree = 0, kLive = 1, kFreedPending = 2 };
enum EntryFlag : std::uint8_t { kMutBorrowed = 1, kAccessed = 2, kModified = 4, kOwned = 8 };

// One object's bookkeeping, in the heap's RAM buffer, indexed by ObjectId.
struct Entry {
  std::uint64_t committed = kNoOffset;  // where the last checkpoint has it (kept until the next)
  std::uint64_t current = kNoOffset;    // where write-backs go; == committed when shared
  std::byte* ram = nullptr;             // resident copy, then the dirty-block bitmap
  std::uint64_t mod = 0;                // the heap's sequence when its table entry last changed
  std::uint32_t size = 0;
  std::uint32_t dirty = 0;                      // budget bytes charged for its dirty blocks
  ObjectId prev = kNoObject, next = kNoObject;  // resident list, or free list (next)
  std::uint16_t readers = 0;
  std::uint16_t align = 0;
  std::uint8_t state = kFree;
  std::uint8_t flags = 0;
};

}  // namespace detail

// No virtual destructor on purpose: a deleting destructor would pull in operator delete,
// which the freestanding build must not reference; heaps are never deleted through a base.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class HeapCore : public detail::Persistable {
 public:
  bool is_resident(ObjectId id) const noexcept { return valid(id) && entries_[id].ram != nullptr; }
  bool is_dirty(ObjectId id) const noexcept { return valid(id) && entries_[id].dirty != 0; }
  virtual Status unload(ObjectId id) noexcept = 0;
  virtual Status flush(ObjectId id) noexcept = 0;

 protected:
  HeapCore() = default;
  ~HeapCore() = default;
  bool valid(ObjectId id) const noexcept { return id < capacity_ && entries_[id].state == detail::kLive; }

  // Slow path of every pin: loads the object if needed, checks the borrow rules, and for a
  // mutable pin charges the blocks of [offset, offset + length) to the dirty budget.
  virtual Result<std::byte*> pin(ObjectId id, bool mut, std::uint32_t offset, std::uint32_t length) noexcept = 0;
  virtual void unpin_mut(ObjectId id) noexcept = 0;
  virtual void free_object(ObjectId id) noexcept = 0;
  virtual void disown(ObjectId id) noexcept = 0;

  detail::Entry* entries_ = nullptr;
  std::uint32_t capacity_ = 0;

  template <class T>
  friend class Object;
  template <class T>
  friend class Ref;
  template <class T>
  friend class MutRef;
  friend class MutBytes;
};
#pragma GCC diagnostic pop

template <class T>
class Ref {
 public:
  Ref(Ref&& o) noexcept : core_(std::exchange(o.core_, nullptr)), id_(o.id_), p_(o.p_) {}
  Ref& operator=(Ref&&) = delete;
  Ref(const Ref&) = delete;
  ~Ref() {
    if (core_ != nullptr) --core_->entries_[id_].readers;
  }
  const T& operator*() const noexcept { return *p_; }
  const T* operator->() const noexcept { return p_; }
  const T* get() const noexcept { return p_; }

 private:
  template <class U>
  friend class Object;
  Ref(HeapCore* core, ObjectId id, const T* p) noexcept : core_(core), id_(id), p_(p) {}
  HeapCore* core_;
  ObjectId id_;
  const T* p_;
};

template <class T>
class MutRef {
 public:
  MutRef(MutRef&& o) noexcept : core_(std::exchange(o.core_, nullptr)), id_(o.id_), p_(o.p_) {}
  MutRef& operator=(MutRef&&) = delete;
  MutRef(const MutRef&) = delete;
  ~MutRef() {
    if (core_ != nullptr) core_->unpin_mut(id_);
  }
  T& operator*() const noexcept { return *p_; }
  T* operator->() const noexcept { return p_; }
  T* get() const noexcept { return p_; }

 private:
  template <class U>
  friend class Object;
  MutRef(HeapCore* core, ObjectId id, T* p) noexcept : core_(core), id_(id), p_(p) {}
  HeapCore* core_;
  ObjectId id_;
  T* p_;
};

// Write access to a byte range of an object; only the blocks it covers become dirty.
class MutBytes {
 public:
  MutBytes(MutBytes&& o) noexcept : core_(std::exchange(o.core_, nullptr)), id_(o.id_), bytes_(o.bytes_) {}
  MutBytes& operator=(MutBytes&&) = delete;
  MutBytes(const MutBytes&) = delete;
  ~MutBytes() {
    if (core_ != nullptr) core_->unpin_mut(id_);
  }
  std::span<std::byte> bytes() const noexcept { return bytes_; }
  // Copies a trivially copyable value to `offset` inside the range.
  template <class U>
  void store(std::size_t offset, const U& value) const noexcept {
    static_assert(std::is_trivially_copyable_v<U>);
    FERRO_CHECK(offset <= bytes_.size() && sizeof(U) <= bytes_.size() - offset, "MutBytes::store outside its range");
    __builtin_memcpy(bytes_.data() + offset, &value, sizeof(U));
  }

 private:
  template <class U>
  friend class Object;
  MutBytes(HeapCore* core, ObjectId id, std::span<std::byte> bytes) noexcept : core_(core), id_(id), bytes_(bytes) {}
  HeapCore* core_;
  ObjectId id_;
  std::span<std::byte> bytes_;
};

template <class T>
class Object {
  static_assert(std::is_trivially_copyable_v<T>, "vnv objects are copied to and from storage byte by byte");

 public:
  Object() noexcept = default;
  Object(Object&& o) noexcept : core_(std::exchange(o.core_, nullptr)), id_(std::exchange(o.id_, kNoObject)) {}
  Object& operator=(Object&& o) noexcept {
    if (this != &o) {
      reset();
      core_ = std::exchange(o.core_, nullptr);
      id_ = std::exchange(o.id_, kNoObject);
    }
    return *this;
  }
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;
  ~Object() { reset(); }

  Result<Ref<T>> get() noexcept {
    if (core_ == nullptr) return make_error(Errc::invalid_argument, "empty Object");
    detail::Entry& e = core_->entries_[id_];
    if (e.ram != nullptr && (e.flags & detail::kMutBorrowed) == 0 && e.readers != 0xFFFF) [[likely]] {
      ++e.readers;
      e.flags |= detail::kAccessed;
      return Ref<T>(core_, id_, reinterpret_cast<const T*>(e.ram));
    }
    FERRO_TRY_ASSIGN(std::byte * p, core_->pin(id_, false, 0, 0));
    return Ref<T>(core_, id_, reinterpret_cast<const T*>(p));
  }

  Result<MutRef<T>> get_mut() noexcept {
    if (core_ == nullptr) return make_error(Errc::invalid_argument, "empty Object");
    FERRO_TRY_ASSIGN(std::byte * p, core_->pin(id_, true, 0, sizeof(T)));
    return MutRef<T>(core_, id_, reinterpret_cast<T*>(p));
  }

  // Partial dirtiness: write access to [offset, offset + length) only.
  Result<MutBytes> get_mut_bytes(std::size_t offset, std::size_t length) noexcept {
    if (core_ == nullptr) return make_error(Errc::invalid_argument, "empty Object");
    if (!range_fits(offset, length, sizeof(T)) || length == 0)
      return make_error(Errc::out_of_range, "byte range outside the object");
    FERRO_TRY_ASSIGN(std::byte * p,
                     core_->pin(id_, true, static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(length)));
    return MutBytes(core_, id_, std::span<std::byte>(p + offset, length));
  }

  Status unload() noexcept { return core_ ? core_->unload(id_) : make_error(Errc::invalid_argument, "empty Object"); }
  Status flush() noexcept { return core_ ? core_->flush(id_) : make_error(Errc::invalid_argument, "empty Object"); }
  bool is_resident() const noexcept { return core_ != nullptr && core_->is_resident(id_); }
  bool is_dirty() const noexcept { return core_ != nullptr && core_->is_dirty(id_); }
  ObjectId id() const noexcept { return id_; }
  explicit operator bool() const noexcept { return core_ != nullptr; }

  // Gives up ownership without freeing: the object stays allocated under id() (store the id
  // in another object or a root and adopt it again later).
  ObjectId release() noexcept {
    if (core_ != nullptr) core_->disown(id_);
    core_ = nullptr;
    return std::exchange(id_, kNoObject);
  }

  void reset() noexcept {
    if (core_ != nullptr) core_->free_object(id_);
    core_ = nullptr;
    id_ = kNoObject;
  }

 private:
  friend struct detail::ObjectAccess;
  Object(HeapCore* core, ObjectId id) noexcept : core_(core), id_(id) {}
  HeapCore* core_ = nullptr;
  ObjectId id_ = kNoObject;
};

namespace detail {
// How a heap makes the owning handles it hands out.
struct ObjectAccess {
  template <class T>
  static Object<T> make(HeapCore* core, ObjectId id) noexcept {
    return Object<T>(core, id);
  }
};
}  // namespace detail

}  // namespace ferro::vnv
