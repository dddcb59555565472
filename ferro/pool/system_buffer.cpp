#include "ferro/pool/system_buffer.hpp"

#include <cstdlib>
#include <new>
#include <utility>

namespace ferro {
namespace {

struct HeapOwner : detail::SliceOwner {};

void free_block(detail::SliceOwner* owner, std::uint32_t) noexcept {
  static_cast<HeapOwner*>(owner)->~HeapOwner();
  std::free(owner);
}

}  // namespace

SystemBuffer::SystemBuffer(SystemBuffer&& other) noexcept
    : block_(std::exchange(other.block_, nullptr)),
      len_(std::exchange(other.len_, 0)),
      cap_(std::exchange(other.cap_, 0)) {}

SystemBuffer& SystemBuffer::operator=(SystemBuffer&& other) noexcept {
  if (this != &other) {
    std::free(block_);
    block_ = std::exchange(other.block_, nullptr);
    len_ = std::exchange(other.len_, 0);
    cap_ = std::exchange(other.cap_, 0);
  }
  return *this;
}

SystemBuffer::~SystemBuffer() { std::free(block_); }

std::span<std::byte> SystemBuffer::grow(std::size_t n) noexcept {
  if (n == 0) return {};
  if (n > cap_ - len_) {
    if (n > SIZE_MAX / 2 - header_bytes - len_) return {};
    std::size_t cap = cap_ < 64 ? 64 : cap_ * 2;  // doubling keeps the copies linear overall
    if (cap < len_ + n) cap = len_ + n;
    void* grown = std::realloc(block_, header_bytes + cap);
    if (grown == nullptr) return {};
    block_ = static_cast<std::byte*>(grown);
    cap_ = cap;
  }
  std::byte* p = block_ + header_bytes + len_;
  len_ += n;
  return {p, n};
}

Slice SystemBuffer::get_data_owned() noexcept {
  if (len_ == 0) return {};
  auto* owner = ::new (block_) HeapOwner;
  owner->release = free_block;
  Slice s(block_ + header_bytes, len_, owner, 0);
  block_ = nullptr;
  len_ = cap_ = 0;
  return s;
}

}  // namespace ferro
