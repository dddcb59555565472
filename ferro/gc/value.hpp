// The minimum viable core's word: a `Value` is one machine word holding a small integer, none,
// a bool, or a reference to a collected `Object`. `Object` adds to `Obj` just what a dynamic
// language's data needs (a kind, a hash, an equality); `ArgVec` and `Function` give the one
// calling convention, `Value f(ArgVec const&)`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ferro/gc/heap.hpp"

namespace ferro::gc {

class List;

class Object : public Obj {
 public:
  enum class Kind : std::uint8_t { bytes, str, list, dict, function, other };
  virtual Kind kind() const noexcept { return Kind::other; }
  // Identity by default: objects never move, so an address is a stable hash.
  virtual std::size_t hash() const noexcept { return reinterpret_cast<std::uintptr_t>(this) >> 4; }
  virtual bool equals(const Object& other) const noexcept { return this == &other; }
};

class Value {
 public:
  // Small integers keep one bit for the tag: 63 bits on a 64-bit host, 31 on a Cortex-M.
  static constexpr std::intptr_t kIntMax = INTPTR_MAX >> 1;
  static constexpr std::intptr_t kIntMin = INTPTR_MIN >> 1;

  constexpr Value() noexcept = default;  // none
  Value(const Object* obj) noexcept
      : raw_(reinterpret_cast<std::uintptr_t>(obj)) {}  // NOLINT: a reference reads naturally
  static constexpr Value none() noexcept { return Value(); }
  static constexpr Value boolean(bool b) noexcept { return from_raw(b ? kTrue : kFalse); }
  static constexpr bool fits(std::intptr_t v) noexcept { return v >= kIntMin && v <= kIntMax; }
  static constexpr Value integer(std::intptr_t v) noexcept {
    return from_raw((static_cast<std::uintptr_t>(v) << 1) | 1);  // callers check fits() first
  }

  constexpr bool is_none() const noexcept { return raw_ == kNone; }
  constexpr bool is_bool() const noexcept { return raw_ == kTrue || raw_ == kFalse; }
  constexpr bool is_int() const noexcept { return (raw_ & 1) != 0; }
  constexpr bool is_obj() const noexcept { return raw_ != kNone && (raw_ & 3) == 0; }

  constexpr std::intptr_t as_int() const noexcept { return static_cast<std::intptr_t>(raw_) >> 1; }
  constexpr bool as_bool() const noexcept { return raw_ == kTrue; }
  Object* as_obj() const noexcept { return is_obj() ? reinterpret_cast<Object*>(raw_) : nullptr; }
  // The object's kind, or `other` for a non-object.
  bool is(Object::Kind k) const noexcept { return is_obj() && as_obj()->kind() == k; }

  constexpr std::uintptr_t raw() const noexcept { return raw_; }
  static constexpr Value from_raw(std::uintptr_t raw) noexcept {
    Value v;
    v.raw_ = raw;
    return v;
  }
  // Identity: the same word.
  friend constexpr bool operator==(Value a, Value b) noexcept { return a.raw_ == b.raw_; }

  // Python-style equality and hashing: strings and bytes by content, the rest by identity.
  static bool equal(Value a, Value b) noexcept;
  std::size_t hash() const noexcept;

  void mark(Heap& heap) const noexcept {
    if (is_obj()) heap.mark(as_obj());
  }

 private:
  static constexpr std::uintptr_t kNone = 0, kFalse = 2, kTrue = 6;
  std::uintptr_t raw_ = kNone;
};
static_assert(sizeof(Value) == sizeof(void*));

// A rooted Value: survives collections while this lives.
class Rooted final : public RootNode {
 public:
  explicit Rooted(Heap& heap, Value v = {}) noexcept : RootNode(heap), value_(v) {}
  Value get() const noexcept { return value_; }
  Rooted& operator=(Value v) noexcept {
    value_ = v;
    return *this;
  }
  void mark(Heap& heap) const override { value_.mark(heap); }

 private:
  Value value_;
};

// A function's arguments: either a fixed array, or a window into a List read through the list
// on every access, so that it stays right when the list's vector moves.
class ArgVec {
 public:
  constexpr ArgVec(std::span<const Value> values) noexcept : fixed_(values.data()), n_(values.size()) {}  // NOLINT
  ArgVec(const List& list, std::size_t offset, std::size_t count) noexcept : list_(&list), off_(offset), n_(count) {}
  std::size_t size() const noexcept { return n_; }
  Value operator[](std::size_t i) const noexcept;

 private:
  const Value* fixed_ = nullptr;
  const List* list_ = nullptr;
  std::size_t off_ = 0;
  std::size_t n_;
};

using NativeFn = Value (*)(ArgVec const&);

class Function final : public Object {
 public:
  Function(NativeFn fn, const char* name) noexcept : fn_(fn), name_(name) {}
  Kind kind() const noexcept override { return Kind::function; }
  Value operator()(ArgVec const& args) const { return fn_(args); }
  const char* name() const noexcept { return name_; }

 private:
  NativeFn fn_;
  const char* name_;
};

}  // namespace ferro::gc
