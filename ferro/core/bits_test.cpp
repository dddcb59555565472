#include "ferro/core/bits.hpp"

#include <gtest/gtest.h>

#include <cstdint>

#include "ferro/core/random.hpp"

namespace ferro {
namespace {

constexpr std::size_t kMax = SIZE_MAX;

TEST(Bits, CountsAndLogs) {
  EXPECT_EQ(ctz(0b1000u), 3);
  EXPECT_EQ(ctz(std::uint64_t{0}), 64);
  EXPECT_EQ(clz(std::uint32_t{1}), 31);
  EXPECT_EQ(popcount(0xF0F0u), 8);
  EXPECT_EQ(log2_floor(1u), 0);
  EXPECT_EQ(log2_floor(1023u), 9);
  EXPECT_EQ(log2_ceil(1u), 0);
  EXPECT_EQ(log2_ceil(1024u), 10);
  EXPECT_EQ(log2_ceil(1025u), 11);
  EXPECT_TRUE(is_pow2(4096u));
  EXPECT_FALSE(is_pow2(0u));
  EXPECT_FALSE(is_pow2(12u));
}

TEST(Bits, Alignment) {
  EXPECT_EQ(align_up<std::size_t>(13, 8), 16u);
  EXPECT_EQ(align_up<std::size_t>(16, 8), 16u);
  EXPECT_EQ(align_down<std::size_t>(13, 8), 8u);
  EXPECT_TRUE(is_aligned<std::size_t>(4096, 4096));
  EXPECT_FALSE(is_aligned<std::size_t>(4097, 2));
}

TEST(Bits, CheckedFormsRefuseOverflow) {
  EXPECT_EQ(checked_align_up<std::size_t>(13, 8), 16u);
  EXPECT_FALSE(checked_align_up<std::size_t>(kMax - 2, 8).has_value());
  EXPECT_FALSE(checked_align_up<std::size_t>(5, 3).has_value()) << "alignment must be a power of two";
  EXPECT_EQ(checked_align_up<std::size_t>(kMax, 1), kMax);
  EXPECT_FALSE(checked_add<std::size_t>(kMax, 1).has_value());
  EXPECT_EQ(checked_add<std::size_t>(2, 3), 5u);
  EXPECT_FALSE(checked_mul<std::size_t>(kMax / 2 + 1, 2).has_value());
  EXPECT_EQ(checked_pow2_ceil<std::size_t>(0), 1u);
  EXPECT_EQ(checked_pow2_ceil<std::size_t>(33), 64u);
  EXPECT_FALSE(checked_pow2_ceil<std::size_t>(kMax / 2 + 2).has_value());
}

TEST(Bits, RangeFits) {
  EXPECT_TRUE(range_fits(0, 10, 10));
  EXPECT_TRUE(range_fits(10, 0, 10));
  EXPECT_FALSE(range_fits(11, 0, 10));
  EXPECT_FALSE(range_fits(5, 6, 10));
  EXPECT_FALSE(range_fits(1, UINT64_MAX, 10)) << "offset + length must not wrap";
}

TEST(Rng, DeterministicAndInRange) {
  Rng a(1), b(1), c(2);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const auto x = a();
    EXPECT_EQ(x, b());
    differs |= x != c();
  }
  EXPECT_TRUE(differs);
  for (int i = 0; i < 10000; ++i) {
    const auto v = a.between(3, 9);
    ASSERT_GE(v, 3u);
    ASSERT_LE(v, 9u);
  }
}

}  // namespace
}  // namespace ferro
