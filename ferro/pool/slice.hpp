// Slice: the owned bytes of one finished message, from a BufferPool or a SystemBuffer.
//
// Move-only (a copy would give the memory back twice), and may be dropped on any thread: the
// owner's release function is what makes that safe, and it is the only shared state a slice
// touches. A slice has no start index of its own to drift: its bytes are exactly
// [data(), data() + size()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ferro/core/assert.hpp"

namespace ferro {

template <std::size_t Slots, class Fallback>
class BufferPool;
class SystemBuffer;

namespace detail {
// Whoever hands out slices: called exactly once per slice, on the thread that drops it.
struct SliceOwner {
  void (*release)(SliceOwner* self, std::uint32_t token) noexcept = nullptr;
};
}  // namespace detail

class Slice {
 public:
  Slice() noexcept = default;
  Slice(Slice&& other) noexcept : data_(other.data_), size_(other.size_), owner_(other.owner_), token_(other.token_) {
    other.forget();
  }
  Slice& operator=(Slice&& other) noexcept {
    if (this != &other) {
      reset();
      data_ = other.data_;
      size_ = other.size_;
      owner_ = other.owner_;
      token_ = other.token_;
      other.forget();
    }
    return *this;
  }
  Slice(const Slice&) = delete;
  Slice& operator=(const Slice&) = delete;
  ~Slice() { reset(); }

  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::span<std::byte> span() const noexcept { return {data_, size_}; }
  std::byte* begin() const noexcept { return data_; }
  std::byte* end() const noexcept { return data_ + size_; }
  std::byte& operator[](std::size_t i) const noexcept {
    FERRO_DEBUG_CHECK(i < size_, "Slice index out of range");
    return data_[i];
  }

  // Gives the memory back now (the destructor does the same).
  void reset() noexcept {
    if (owner_ != nullptr) owner_->release(owner_, token_);
    forget();
  }

 private:
  template <std::size_t Slots, class Fallback>
  friend class BufferPool;
  friend class SystemBuffer;

  Slice(std::byte* data, std::size_t size, detail::SliceOwner* owner, std::uint32_t token) noexcept
      : data_(data), size_(size), owner_(owner), token_(token) {}
  void forget() noexcept {
    data_ = nullptr;
    size_ = 0;
    owner_ = nullptr;
  }

  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  detail::SliceOwner* owner_ = nullptr;
  std::uint32_t token_ = 0;
};

}  // namespace ferro
