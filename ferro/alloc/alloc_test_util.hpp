// Test helpers shared by the allocator tests: an owned, page-aligned region and byte patterns
// that tell every live block apart, so an overlap shows up as a corrupted pattern.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

namespace ferro::alloc_test {

struct Region {
  explicit Region(std::size_t n) : size(n), data(static_cast<std::byte*>(std::aligned_alloc(4096, round(n)))) {}
  ~Region() { std::free(data); }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  std::span<std::byte> span() const { return {data, size}; }
  static std::size_t round(std::size_t n) { return (n + 4095) / 4096 * 4096; }
  std::size_t size;
  std::byte* data;
};

inline std::byte pattern_byte(std::uint64_t seed, std::size_t i) {
  return static_cast<std::byte>((seed >> ((i % 8) * 8)) ^ (i * 0x9D));
}
inline void fill(void* p, std::size_t n, std::uint64_t seed) {
  auto* b = static_cast<std::byte*>(p);
  for (std::size_t i = 0; i < n; ++i) b[i] = pattern_byte(seed, i);
}
// Index of the first wrong byte, or n when all are right.
inline std::size_t verify(const void* p, std::size_t n, std::uint64_t seed) {
  const auto* b = static_cast<const std::byte*>(p);
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != pattern_byte(seed, i)) return i;
  return n;
}

}  // namespace ferro::alloc_test
