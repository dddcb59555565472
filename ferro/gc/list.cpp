#include "ferro/gc/list.hpp"

#include <cstring>

namespace ferro::gc {

void List::mark(Heap& heap) const {
  const Value* v = items();
  for (std::size_t i = 0; i < len_; ++i) v[i].mark(heap);
}

Value List::get(std::size_t i) const noexcept {
  FERRO_CHECK(i < len_, "List::get: index out of range");
  return items()[i];
}

void List::set(std::size_t i, Value v) noexcept {
  FERRO_CHECK(i < len_, "List::set: index out of range");
  items()[i] = v;
}

// Doubles for amortised appends, but in a nearly full heap settles for exactly what is needed.
Status List::grow_for(std::size_t n) noexcept {
  const std::size_t cap = capacity();
  if (n <= cap) return ok();
  std::size_t want = cap < 2 ? 4 : cap * 2;
  if (want < n) want = n;
  if (items_.resize(want * sizeof(Value))) return ok();
  return items_.resize(n * sizeof(Value));
}

Status List::reserve(std::size_t n) noexcept {
  if (n <= capacity()) return ok();
  return items_.resize(n * sizeof(Value));
}

Status List::append(Value v) noexcept {
  FERRO_TRY(grow_for(len_ + 1));
  items()[len_++] = v;
  return ok();
}

Status List::insert(std::size_t i, Value v) noexcept {
  FERRO_CHECK(i <= len_, "List::insert: index out of range");
  FERRO_TRY(grow_for(len_ + 1));
  Value* p = items();
  std::memmove(static_cast<void*>(p + i + 1), p + i, (len_ - i) * sizeof(Value));
  p[i] = v;
  ++len_;
  return ok();
}

Value List::pop(std::size_t i) noexcept {
  FERRO_CHECK(i < len_, "List::pop: index out of range");
  Value* p = items();
  const Value v = p[i];
  std::memmove(static_cast<void*>(p + i), p + i + 1, (len_ - i - 1) * sizeof(Value));
  p[--len_] = Value();
  return v;
}

void List::clear() noexcept {
  items_.release();
  len_ = 0;
}

}  // namespace ferro::gc
