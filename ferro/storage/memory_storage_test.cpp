#include "ferro/storage/memory_storage.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "ferro/storage/sliced_storage.hpp"

namespace ferro {
namespace {

std::vector<std::byte> pattern(std::size_t n, int seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i * 7 + seed);
  return v;
}

TEST(MemoryStorage, RoundTripAndStats) {
  std::array<std::byte, 256> region{};
  MemoryStorage s(region);
  EXPECT_EQ(s.size(), 256u);
  const auto data = pattern(100, 3);
  ASSERT_TRUE(s.write(50, data));
  std::vector<std::byte> back(100);
  ASSERT_TRUE(s.read(50, back));
  EXPECT_EQ(back, data);
  EXPECT_EQ(s.stats().writes, 1u);
  EXPECT_EQ(s.stats().bytes_read, 100u);
  ASSERT_TRUE(s.sync());
  EXPECT_EQ(s.stats().syncs, 1u);
}

TEST(MemoryStorage, OutOfRangeIsAnErrorAndChangesNothing) {
  std::array<std::byte, 64> region{};
  MemoryStorage s(region);
  const auto data = pattern(16, 1);
  EXPECT_EQ(s.write(60, data).code(), Errc::out_of_range);
  EXPECT_EQ(s.write(UINT64_MAX - 4, data).code(), Errc::out_of_range);
  std::vector<std::byte> out(8);
  EXPECT_EQ(s.read(64, std::span(out).first(1)).code(), Errc::out_of_range);
  EXPECT_TRUE(s.read(64, std::span(out).first(0))) << "an empty access at the end is fine";
  for (auto b : region) EXPECT_EQ(b, std::byte{0});
}

TEST(MemoryStorage, LatencyModelChargesPerTransferAndPerByte) {
  std::array<std::byte, 64> region{};
  MemoryStorage s(region, LatencyModel{1000, 10.0, nullptr});
  ASSERT_TRUE(s.write(0, pattern(8, 0)));
  EXPECT_EQ(s.simulated_ns(), 1000u + 80u);
  std::vector<std::byte> out(4);
  ASSERT_TRUE(s.read(0, out));
  EXPECT_EQ(s.simulated_ns(), 1080u + 1040u);
}

TEST(SlicedStorage, SplitsIntoNBytePieces) {
  std::array<std::byte, 64> region{};
  MemoryStorage mem(region);
  SlicedStorage<4, MemoryStorage> s(mem);
  const auto data = pattern(10, 5);
  ASSERT_TRUE(s.write(3, data));
  EXPECT_EQ(mem.stats().writes, 3u);  // 4 + 4 + 2
  std::vector<std::byte> back(10);
  ASSERT_TRUE(s.read(3, back));
  EXPECT_EQ(back, data);
  EXPECT_EQ(s.transfers(), 6u);
  EXPECT_EQ(s.write(60, data).code(), Errc::out_of_range);
  EXPECT_EQ(mem.stats().writes, 3u) << "a refused write moves nothing";
}

}  // namespace
}  // namespace ferro
