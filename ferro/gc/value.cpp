#include "ferro/gc/value.hpp"

#include "ferro/gc/list.hpp"

namespace ferro::gc {

bool Value::equal(Value a, Value b) noexcept {
  if (a == b) return true;
  if (a.is_obj() && b.is_obj()) return a.as_obj()->equals(*b.as_obj());
  return false;
}

std::size_t Value::hash() const noexcept {
  if (is_obj()) return as_obj()->hash();
  std::uint64_t x = raw_;  // a finaliser, so that consecutive integers spread over the table
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return static_cast<std::size_t>(x);
}

Value ArgVec::operator[](std::size_t i) const noexcept {
  FERRO_CHECK(i < n_, "ArgVec: index out of range");
  return fixed_ != nullptr ? fixed_[i] : list_->get(off_ + i);
}

}  // namespace ferro::gc
