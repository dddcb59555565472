#include "ferro/core/crc32.hpp"

#include <array>
#include <bit>
#include <cstring>

namespace ferro {
namespace {

constexpr std::uint32_t kPoly = 0xEDB88320u;

using Tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Tables make_tables() {
  Tables t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ kPoly : c >> 1;
    t[0][i] = c;
  }
  // t[k][i] is the CRC of byte i followed by k zero bytes: it lets 8 bytes be folded at once.
  for (std::uint32_t i = 0; i < 256; ++i) {
    for (std::size_t k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFFu];
  }
  return t;
}

constexpr Tables kTables = make_tables();

inline std::uint32_t step(std::uint32_t c, std::byte b) noexcept {
  return (c >> 8) ^ kTables[0][(c ^ static_cast<std::uint32_t>(b)) & 0xFFu];
}

}  // namespace

std::uint32_t crc32_bytewise(std::span<const std::byte> data, std::uint32_t crc) noexcept {
  std::uint32_t c = ~crc;
  for (std::byte b : data) c = step(c, b);
  return ~c;
}

std::uint32_t crc32(std::span<const std::byte> data, std::uint32_t crc) noexcept {
  std::uint32_t c = ~crc;
  const std::byte* p = data.data();
  std::size_t n = data.size();
  // Slicing-by-8 reads two little-endian words; on a big-endian target use the byte loop.
  if constexpr (std::endian::native == std::endian::little) {
    while (n >= 8) {
      std::uint32_t lo;
      std::uint32_t hi;
      std::memcpy(&lo, p, 4);  // memcpy: p need not be aligned
      std::memcpy(&hi, p + 4, 4);
      lo ^= c;
      c = kTables[7][lo & 0xFFu] ^ kTables[6][(lo >> 8) & 0xFFu] ^ kTables[5][(lo >> 16) & 0xFFu] ^
          kTables[4][lo >> 24] ^ kTables[3][hi & 0xFFu] ^ kTables[2][(hi >> 8) & 0xFFu] ^
          kTables[1][(hi >> 16) & 0xFFu] ^ kTables[0][hi >> 24];
      p += 8;
      n -= 8;
    }
  }
  while (n-- > 0) c = step(c, *p++);
  return ~c;
}

}  // namespace ferro
