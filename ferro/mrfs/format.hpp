// The on-flash format of MRFS (Minimal Replaceable File Storage): one entry per file version.
//
//   offset  size  field
//        0     4  magic "MRFS" (0x4D 0x52 0x46 0x53)
//        4     4  sequence number (u32 LE): counts the versions of one name, wrapping; the
//                 newest complete entry of a name (in serial-number order, seq_newer) wins
//        8     4  data size in bytes (u32 LE)
//       12     4  timestamp: minutes since 1970-01-01 UTC (u32 LE)
//       16     2  flags (u16 LE): bit 0 tombstone, bit 1 moved by compaction
//       18     1  name length (1..40)
//       19     1  reserved, 0
//       20    40  name (printable ASCII, no space), zero padded
//       60     4  header CRC-32 of bytes 0..59 (u32 LE)
//       64  size  data, contiguous
//  64+size     4  entry CRC-32 of bytes 0..64+size-1 (header and data)
// then erased padding up to the next 32-byte boundary, where the next header may start.
//
// Everything here is plain data and byte arithmetic; the Store decides what to write where.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "ferro/core/result.hpp"

namespace ferro::mrfs {

inline constexpr std::uint32_t kMagic = 0x5346524Du;  // bytes "MRFS" in little-endian order
inline constexpr std::uint32_t kAlign = 32;           // every header starts on this boundary
inline constexpr std::uint32_t kHeaderSize = 64;
inline constexpr std::uint32_t kCrcSize = 4;
inline constexpr std::size_t kMaxName = 40;
inline constexpr std::uint16_t kFlagTombstone = 1u << 0;
inline constexpr std::uint16_t kFlagMoved = 1u << 1;

struct Header {
  std::uint32_t seq = 0;
  std::uint32_t size = 0;
  std::uint32_t minutes = 0;
  std::uint16_t flags = 0;
  std::uint8_t name_len = 0;
  char name[kMaxName] = {};

  std::string_view name_view() const noexcept { return {name, name_len}; }
  bool tombstone() const noexcept { return (flags & kFlagTombstone) != 0; }
  bool moved() const noexcept { return (flags & kFlagMoved) != 0; }
};

// Names are 1..40 printable ASCII bytes without spaces, so they print and type unambiguously.
Status validate_name(std::string_view name) noexcept;

// Bytes an entry of `size` data bytes occupies, padding included; nullopt when it overflows.
std::optional<std::uint64_t> entry_span(std::uint64_t size) noexcept;

// Writes the 64 header bytes (header CRC included).
void encode_header(const Header& h, std::span<std::byte, kHeaderSize> out) noexcept;

// Reads a header; nullopt when the magic, the header CRC, the name or the reserved byte is wrong.
std::optional<Header> decode_header(std::span<const std::byte> in) noexcept;

// Sequence numbers wrap at 2^32 and compare in serial-number arithmetic (RFC 1982): `a` is
// newer than `b` when it lies less than half the number space ahead. That is an order only among
// numbers less than kSeqWindow apart; the Store keeps every name's entries on the flash so.
inline constexpr std::uint32_t kSeqWindow = 0x80000000u;
constexpr bool seq_newer(std::uint32_t a, std::uint32_t b) noexcept { return a != b && a - b < kSeqWindow; }

std::uint32_t load_u32(const std::byte* p) noexcept;
void store_u32(std::byte* p, std::uint32_t v) noexcept;

// Converts between Unix seconds and the stored one-minute timestamps.
constexpr std::uint32_t minutes_from_unix(std::int64_t unix_seconds) noexcept {
  if (unix_seconds <= 0) return 0;
  const std::int64_t m = unix_seconds / 60;
  return m > 0xFFFFFFFEll ? 0xFFFFFFFEu : static_cast<std::uint32_t>(m);
}
constexpr std::int64_t unix_from_minutes(std::uint32_t minutes) noexcept { return std::int64_t{minutes} * 60; }

}  // namespace ferro::mrfs
