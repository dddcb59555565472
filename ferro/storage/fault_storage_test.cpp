#include "ferro/storage/fault_storage.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "ferro/storage/memory_storage.hpp"

namespace ferro {
namespace {

std::vector<std::byte> filled(std::size_t n, std::uint8_t v) { return std::vector<std::byte>(n, std::byte{v}); }

TEST(FaultStorage, PowerCutAtTheNthWriteTearsItAndStopsEverything) {
  std::array<std::byte, 64> region{};
  MemoryStorage mem(region);
  FaultStorage fs(mem, FaultPlan{.cut_at_write = 2, .torn = FaultPlan::Torn::half});
  ASSERT_TRUE(fs.write(0, filled(8, 0xAA)));
  EXPECT_EQ(fs.write(8, filled(8, 0xBB)).code(), Errc::power_loss);
  EXPECT_FALSE(fs.powered());
  // Half of the torn write reached the medium.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(region[i], std::byte{0xAA});
  for (int i = 8; i < 12; ++i) EXPECT_EQ(region[i], std::byte{0xBB});
  for (int i = 12; i < 16; ++i) EXPECT_EQ(region[i], std::byte{0});
  // Nothing works until power returns.
  std::vector<std::byte> out(4);
  EXPECT_EQ(fs.read(0, out).code(), Errc::power_loss);
  EXPECT_EQ(fs.sync().code(), Errc::power_loss);
  EXPECT_EQ(fs.write(20, filled(1, 1)).code(), Errc::power_loss);
  fs.power_on();
  ASSERT_TRUE(fs.read(0, out));
  EXPECT_EQ(out[0], std::byte{0xAA});
  ASSERT_TRUE(fs.write(20, filled(1, 1))) << "the one-shot cut has fired";
}

TEST(FaultStorage, ByteGranularCutLandsExactlyUpToTheLine) {
  for (std::uint64_t line = 1; line <= 20; ++line) {
    std::array<std::byte, 32> region{};
    MemoryStorage mem(region);
    FaultStorage fs(mem, FaultPlan{.cut_after_bytes = line});
    Status last;
    std::size_t written = 0;
    for (std::size_t w = 0; w < 4 && fs.powered(); ++w) {
      last = fs.write(w * 5, filled(5, static_cast<std::uint8_t>(w + 1)));
      if (last) written += 5;
    }
    EXPECT_EQ(last.code(), Errc::power_loss) << line;
    EXPECT_EQ(fs.bytes_written(), line);
    std::size_t landed = 0;
    for (auto b : region) landed += b != std::byte{0};
    EXPECT_EQ(landed, line) << "bytes on the medium equal the cut line";
    EXPECT_LT(written, line + 1) << "a write that reached the line is never acknowledged";
  }
}

TEST(FaultStorage, InjectedErrorsAreTransient) {
  std::array<std::byte, 32> region{};
  MemoryStorage mem(region);
  FaultStorage fs(mem, FaultPlan{.fail_read_at = 1, .fail_write_at = 2, .fail_sync_at = 1});
  std::vector<std::byte> out(4);
  EXPECT_EQ(fs.read(0, out).code(), Errc::io_error);
  EXPECT_TRUE(fs.read(0, out));
  EXPECT_TRUE(fs.write(0, filled(4, 9)));
  EXPECT_EQ(fs.write(4, filled(4, 9)).code(), Errc::io_error);
  EXPECT_EQ(region[4], std::byte{0}) << "a failed write writes nothing";
  EXPECT_EQ(fs.sync().code(), Errc::io_error);
  EXPECT_TRUE(fs.sync());
  EXPECT_TRUE(fs.powered());
}

TEST(FaultStorage, RandomFaultsFollowTheSeed) {
  auto run = [](std::uint64_t seed) {
    std::array<std::byte, 64> region{};
    MemoryStorage mem(region);
    FaultStorage fs(mem, FaultPlan{.seed = seed, .write_error_ppm = 200'000});
    std::vector<int> failures;
    for (int i = 0; i < 200; ++i) {
      if (!fs.write(static_cast<std::uint64_t>(i % 60), filled(4, 1))) failures.push_back(i);
    }
    return failures;
  };
  const auto a = run(11);
  EXPECT_EQ(a, run(11));
  EXPECT_NE(a, run(12));
  EXPECT_GT(a.size(), 10u);
  EXPECT_LT(a.size(), 90u);
}

TEST(FaultStorage, RangeErrorsBeforeAnyFault) {
  std::array<std::byte, 16> region{};
  MemoryStorage mem(region);
  FaultStorage fs(mem, FaultPlan{.cut_at_write = 1});
  EXPECT_EQ(fs.write(15, filled(2, 1)).code(), Errc::out_of_range);
  EXPECT_TRUE(fs.powered()) << "a refused write does not count as a write";
}

}  // namespace
}  // namespace ferro
