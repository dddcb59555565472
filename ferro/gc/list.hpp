// A growable sequence of Values kept in one vector, as Monty's List over its Vector.
#pragma once

#include <cstddef>

#include "ferro/gc/value.hpp"

namespace ferro::gc {

class List : public Object {
 public:
  explicit List(Heap& heap) noexcept : items_(heap) {}
  Kind kind() const noexcept override { return Kind::list; }
  void mark(Heap& heap) const override;

  std::size_t size() const noexcept { return len_; }
  std::size_t capacity() const noexcept { return items_.capacity() / sizeof(Value); }
  Value get(std::size_t i) const noexcept;  // i < size()
  void set(std::size_t i, Value v) noexcept;
  // Each may need more vector space and fails with no_space, leaving the list as it was.
  Status append(Value v) noexcept;
  Status insert(std::size_t i, Value v) noexcept;  // i <= size()
  Status reserve(std::size_t n) noexcept;
  Value pop(std::size_t i) noexcept;  // removes and returns item i < size()
  void clear() noexcept;

 private:
  const Value* items() const noexcept { return reinterpret_cast<const Value*>(items_.data()); }
  Value* items() noexcept { return reinterpret_cast<Value*>(items_.data()); }
  Status grow_for(std::size_t n) noexcept;
  Vec items_;
  std::size_t len_ = 0;
};

}  // namespace ferro::gc
