#include "ferro/mrfs/format.hpp"

#include <cstring>

#include "ferro/core/bits.hpp"
#include "ferro/core/crc32.hpp"

namespace ferro::mrfs {

Status validate_name(std::string_view name) noexcept {
  if (name.empty()) return make_error(Errc::invalid_argument, "file name is empty");
  if (name.size() > kMaxName) return make_error(Errc::invalid_argument, "file name is longer than 40 bytes");
  for (char c : name) {
    if (c <= ' ' || c > '~') return make_error(Errc::invalid_argument, "file name has a space or non-printable byte");
  }
  return ok();
}

std::optional<std::uint64_t> entry_span(std::uint64_t size) noexcept {
  auto raw = checked_add<std::uint64_t>(size, kHeaderSize + kCrcSize);
  if (!raw || size > 0xFFFFFFFFull) return std::nullopt;
  return checked_align_up<std::uint64_t>(*raw, kAlign);
}

std::uint32_t load_u32(const std::byte* p) noexcept {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
}

void store_u32(std::byte* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}

void encode_header(const Header& h, std::span<std::byte, kHeaderSize> out) noexcept {
  std::byte* p = out.data();
  std::memset(p, 0, kHeaderSize);
  store_u32(p + 0, kMagic);
  store_u32(p + 4, h.seq);
  store_u32(p + 8, h.size);
  store_u32(p + 12, h.minutes);
  p[16] = static_cast<std::byte>(h.flags & 0xFF);
  p[17] = static_cast<std::byte>(h.flags >> 8);
  p[18] = static_cast<std::byte>(h.name_len);
  std::memcpy(p + 20, h.name, h.name_len);
  store_u32(p + 60, crc32(p, 60));
}

std::optional<Header> decode_header(std::span<const std::byte> in) noexcept {
  if (in.size() < kHeaderSize) return std::nullopt;
  const std::byte* p = in.data();
  if (load_u32(p) != kMagic) return std::nullopt;
  if (load_u32(p + 60) != crc32(p, 60)) return std::nullopt;
  Header h;
  h.seq = load_u32(p + 4);
  h.size = load_u32(p + 8);
  h.minutes = load_u32(p + 12);
  h.flags = static_cast<std::uint16_t>(std::uint16_t(p[16]) | std::uint16_t(p[17]) << 8);
  h.name_len = static_cast<std::uint8_t>(p[18]);
  if (p[19] != std::byte{0} || h.name_len > kMaxName) return std::nullopt;
  std::memcpy(h.name, p + 20, h.name_len);
  if (!validate_name(h.name_view())) return std::nullopt;
  for (std::size_t i = h.name_len; i < kMaxName; ++i) {
    if (p[20 + i] != std::byte{0}) return std::nullopt;
  }
  return h;
}

}  // namespace ferro::mrfs
