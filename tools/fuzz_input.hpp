// Reads a fuzzer's input as a stream of small integers that drive an operation sequence. Past
// the end it yields zeros, so every input, however short, is a valid program.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferro {

class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size) noexcept : p_(data), n_(size) {}

  std::size_t remaining() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }

  std::uint8_t byte() noexcept {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  // Little-endian, read low byte first (sequenced, unlike `byte() | byte() << 8`).
  std::uint16_t word() noexcept {
    const std::uint16_t lo = byte();
    const std::uint16_t hi = byte();
    return static_cast<std::uint16_t>(lo | (hi << 8));
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};

}  // namespace ferro
