// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum of zlib, PNG and Ethernet.
// Slicing-by-8: eight table lookups per 8 input bytes. The tables are built at compile time
// (8 KiB of read-only data; on a microcontroller they live in flash).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ferro {

// Continues a CRC: crc32(b, crc32(a)) == crc32(a ++ b). Start with 0.
std::uint32_t crc32(std::span<const std::byte> data, std::uint32_t crc = 0) noexcept;

inline std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc = 0) noexcept {
  return crc32(std::span<const std::byte>(static_cast<const std::byte*>(data), size), crc);
}

// The plain one-byte-at-a-time form, kept as the reference the fast one is tested against.
std::uint32_t crc32_bytewise(std::span<const std::byte> data, std::uint32_t crc = 0) noexcept;

}  // namespace ferro
