// SystemBuffer: the Buffer interface on plain heap memory. Each message grows in its own block
// (realloc) and the Slice takes the block over, so there is no copy; dropping the slice frees
// it. Host only. It is also BufferPool's fallback when the pool's memory or slots run out.
#pragma once

#include <cstddef>
#include <span>

#include "ferro/pool/buffer.hpp"
#include "ferro/pool/slice.hpp"

namespace ferro {

class SystemBuffer {
 public:
  static constexpr bool uses_heap = true;

  SystemBuffer() noexcept = default;
  SystemBuffer(SystemBuffer&& other) noexcept;
  SystemBuffer& operator=(SystemBuffer&& other) noexcept;
  SystemBuffer(const SystemBuffer&) = delete;
  SystemBuffer& operator=(const SystemBuffer&) = delete;
  ~SystemBuffer();

  // Empty when the system refuses memory (and n > 0); the message so far is kept.
  std::span<std::byte> get_writable(std::size_t n) noexcept {
    if (cap_ != 0 && n <= cap_ - len_) [[likely]] {  // inline: decoders call this per few bytes
      std::byte* p = block_ + header_bytes + len_;
      len_ += n;
      return {p, n};
    }
    return grow(n);
  }
  Slice get_data_owned() noexcept;
  std::size_t pending() const noexcept { return len_; }

 private:
  // Room before the message for the slice's owner record, keeping the bytes max-aligned.
  static constexpr std::size_t header_bytes = alignof(std::max_align_t);
  static_assert(sizeof(detail::SliceOwner) <= header_bytes);
  std::span<std::byte> grow(std::size_t n) noexcept;

  std::byte* block_ = nullptr;  // a header (the slice's owner) then the message bytes
  std::size_t len_ = 0;
  std::size_t cap_ = 0;
};

static_assert(Buffer<SystemBuffer>);

}  // namespace ferro
