// Byte strings and text strings. Their bytes live in a vector (or in ROM for a literal), so a
// view is valid only until the next call that may allocate or collect.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "ferro/gc/value.hpp"

namespace ferro::gc {

class Bytes : public Object {
 public:
  explicit Bytes(Heap& heap) noexcept : data_(heap) {}
  explicit Bytes(Vec rom) noexcept : data_(static_cast<Vec&&>(rom)), len_(data_.capacity()) {}
  // A copy of `bytes` in vector space; nullptr when the heap is full.
  static Bytes* make(Heap& heap, std::span<const std::byte> bytes) noexcept;

  Kind kind() const noexcept override { return Kind::bytes; }
  std::size_t hash() const noexcept override;
  bool equals(const Object& other) const noexcept override;

  std::size_t size() const noexcept { return len_; }
  std::span<const std::byte> view() const noexcept { return {data_.data(), len_}; }
  bool is_rom() const noexcept { return data_.is_rom(); }
  Status append(std::span<const std::byte> bytes) noexcept;  // unsupported for ROM

 private:
  Vec data_;
  std::size_t len_ = 0;
};

class Str final : public Bytes {
 public:
  using Bytes::Bytes;
  static Str* make(Heap& heap, std::string_view text) noexcept;
  // Wraps a literal without copying it (it must outlive the Str: a literal in flash does).
  static Str* rom(Heap& heap, std::string_view literal) noexcept;
  Kind kind() const noexcept override { return Kind::str; }
  std::string_view text() const noexcept {
    const auto v = view();
    return {reinterpret_cast<const char*>(v.data()), v.size()};
  }
};

}  // namespace ferro::gc
