#include "ferro/core/crc32.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "ferro/core/random.hpp"

namespace ferro {
namespace {

std::span<const std::byte> bytes(const char* s) { return {reinterpret_cast<const std::byte*>(s), std::strlen(s)}; }

TEST(Crc32, StandardCheckValue) {
  EXPECT_EQ(crc32(bytes("123456789")), 0xCBF43926u);
  EXPECT_EQ(crc32_bytewise(bytes("123456789")), 0xCBF43926u);
  EXPECT_EQ(crc32(bytes("")), 0u);
  EXPECT_EQ(crc32(bytes("The quick brown fox jumps over the lazy dog")), 0x414FA339u);
}

TEST(Crc32, FastFormMatchesBytewiseAtEveryLengthAndAlignment) {
  Rng rng(42);
  std::vector<std::byte> buf(1024 + 16);
  for (auto& b : buf) b = static_cast<std::byte>(rng());
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t len = 0; len <= 1024; len += (len < 64 ? 1 : 37)) {
      std::span<const std::byte> s(buf.data() + offset, len);
      ASSERT_EQ(crc32(s), crc32_bytewise(s)) << "offset " << offset << " len " << len;
    }
  }
}

TEST(Crc32, ContinuationEqualsOneShot) {
  const auto all = bytes("power can fail at any byte of this sentence");
  for (std::size_t cut = 0; cut <= all.size(); ++cut) {
    EXPECT_EQ(crc32(all.subspan(cut), crc32(all.first(cut))), crc32(all));
  }
}

TEST(Crc32, DetectsEverySingleBitFlip) {
  std::vector<std::byte> data(64);
  Rng rng(7);
  for (auto& b : data) b = static_cast<std::byte>(rng());
  const auto good = crc32(data);
  for (std::size_t bit = 0; bit < data.size() * 8; ++bit) {
    data[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
    EXPECT_NE(crc32(data), good);
    data[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
  }
}

}  // namespace
}  // namespace ferro
