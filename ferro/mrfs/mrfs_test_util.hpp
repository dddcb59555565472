// Shared by the mrfs tests: bytes and strings, a mount that must succeed, and complete entries
// laid byte by byte with the format functions, for images a Store would not write by itself
// (chosen sequence numbers, entries inside file data).
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "ferro/core/crc32.hpp"
#include "ferro/mrfs/store.hpp"

namespace ferro::mrfs::testing {

inline std::span<const std::byte> bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline std::string text(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

template <class S = Store<EmulatedFlash, 64>>
S mount_ok(EmulatedFlash& flash, MountReport* report = nullptr) {
  auto s = S::mount(flash, report);
  EXPECT_TRUE(s.has_value()) << s.error().message;
  return std::move(s).value();
}

// The bytes of one complete entry, erased padding included.
inline std::vector<std::byte> complete_entry(std::string_view name, std::uint32_t seq, std::string_view data,
                                             std::uint16_t flags = 0) {
  Header h;
  h.seq = seq;
  h.size = static_cast<std::uint32_t>(data.size());
  h.flags = flags;
  h.name_len = static_cast<std::uint8_t>(name.size());
  std::memcpy(h.name, name.data(), name.size());
  std::vector<std::byte> entry(*entry_span(data.size()), std::byte{0xFF});
  encode_header(h, std::span<std::byte, kHeaderSize>(entry.data(), kHeaderSize));
  for (std::size_t i = 0; i < data.size(); ++i) entry[kHeaderSize + i] = static_cast<std::byte>(data[i]);
  const std::size_t body = kHeaderSize + data.size();
  store_u32(entry.data() + body, crc32(std::span<const std::byte>(entry.data(), body)));
  return entry;
}

// Programs a complete entry at `offset`; returns the offset after it.
inline std::uint64_t plant(EmulatedFlash& flash, std::uint64_t offset, std::string_view name, std::uint32_t seq,
                           std::string_view data, std::uint16_t flags = 0) {
  const auto entry = complete_entry(name, seq, data, flags);
  EXPECT_TRUE(flash.program(offset, entry));
  return offset + entry.size();
}

}  // namespace ferro::mrfs::testing
