#include "ferro/io/frozen_file.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

namespace ferro {
namespace {

std::string temp_path(const char* name) {
  auto p =
      std::filesystem::temp_directory_path() / (std::string("ferro_io_") + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove(p);
  return p.string();
}

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 31 + seed) & 0xFF);
  return v;
}

TEST(FrozenFile, CreatesZeroedChunksOfTheRequestedCount) {
  const auto path = temp_path("create");
  auto f = FrozenFile::open({path, 128, 16});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->chunk_size(), 128u);
  EXPECT_EQ(f->chunk_count(), 16u);
  EXPECT_EQ(std::filesystem::file_size(path), 16u * 128u);
  std::vector<std::byte> back(128 * 16, std::byte{0xEE});
  ASSERT_TRUE(f->pread(0, back));
  for (auto b : back) ASSERT_EQ(b, std::byte{0});
  std::filesystem::remove(path);
}

TEST(FrozenFile, ReopenKeepsTheContents) {
  const auto path = temp_path("reopen");
  const auto data = pattern(3 * 64, 7);
  {
    auto f = FrozenFile::open({path, 64, 8});
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->pwrite(2, data));
    ASSERT_TRUE(f->sync());
  }
  auto f = FrozenFile::open({path, 64, 4});  // a smaller initial count never shrinks the file
  ASSERT_TRUE(f);
  EXPECT_EQ(f->chunk_count(), 8u);
  std::vector<std::byte> back(data.size());
  ASSERT_TRUE(f->pread(2, back));
  EXPECT_EQ(back, data);
  std::filesystem::remove(path);
}

TEST(FrozenFile, ReopenWithLargerInitialCountGrowsAndKeepsContents) {
  const auto path = temp_path("reopen_grow");
  const auto data = pattern(64, 3);
  {
    auto f = FrozenFile::open({path, 64, 2});
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->pwrite(1, data));
  }
  auto f = FrozenFile::open({path, 64, 10});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->chunk_count(), 10u);
  std::vector<std::byte> back(64);
  ASSERT_TRUE(f->pread(1, back));
  EXPECT_EQ(back, data);
  std::filesystem::remove(path);
}

TEST(FrozenFile, SecondOpenerGetsBusyAndTheLockMovesWithTheFile) {
  const auto path = temp_path("lock");
  auto first = FrozenFile::open({path, 64, 4});
  ASSERT_TRUE(first);
  EXPECT_EQ(FrozenFile::open({path, 64, 4}).code(), Errc::busy);
  FrozenFile moved = std::move(*first);
  EXPECT_EQ(FrozenFile::open({path, 64, 4}).code(), Errc::busy);
  EXPECT_EQ(moved.chunk_count(), 4u);
  EXPECT_EQ(first->pread(0, std::span<std::byte>{}).code(), Errc::closed);
  std::filesystem::remove(path);
}

TEST(FrozenFile, LengthNotAWholeNumberOfChunksIsCorruptAndLeftAlone) {
  const auto path = temp_path("corrupt");
  {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 1000), 0);
    ::close(fd);
  }
  EXPECT_EQ(FrozenFile::open({path, 128, 16}).code(), Errc::corrupt);
  EXPECT_EQ(std::filesystem::file_size(path), 1000u);  // not truncated, not grown
  std::filesystem::remove(path);
}

TEST(FrozenFile, RejectsBadArgumentsAndOutOfRangeChunks) {
  const auto path = temp_path("args");
  EXPECT_EQ(FrozenFile::open({path, 0, 4}).code(), Errc::invalid_argument);
  EXPECT_EQ(FrozenFile::open({path, 4096, ~std::uint64_t{0} / 2}).code(), Errc::invalid_argument);
  auto f = FrozenFile::open({path, 64, 4});
  ASSERT_TRUE(f);
  std::vector<std::byte> buf(64);
  EXPECT_EQ(f->pwrite(4, buf).code(), Errc::out_of_range);
  EXPECT_EQ(f->pread(~std::uint64_t{0}, buf).code(), Errc::out_of_range);
  std::vector<std::byte> odd(65);
  EXPECT_EQ(f->pwrite(0, odd).code(), Errc::invalid_argument);
  const std::byte* ptrs[5] = {buf.data(), buf.data(), buf.data(), buf.data(), buf.data()};
  EXPECT_EQ(f->pwritev(0, ptrs).code(), Errc::out_of_range);
  EXPECT_EQ(f->sync_range(3, 2).code(), Errc::out_of_range);
  std::filesystem::remove(path);
}

TEST(FrozenFile, VectoredWriteAndReadOfManyChunksRoundTrip) {
  // More buffers than one kernel call takes, so the batching across calls is exercised.
  const auto path = temp_path("vectored");
  constexpr std::size_t kChunk = 96, kCount = 300;
  auto f = FrozenFile::open({path, kChunk, kCount + 5});
  ASSERT_TRUE(f);
  std::vector<std::vector<std::byte>> bufs;
  std::vector<const std::byte*> out;
  for (std::size_t i = 0; i < kCount; ++i) {
    bufs.push_back(pattern(kChunk, static_cast<unsigned>(i)));
    out.push_back(bufs.back().data());
  }
  ASSERT_TRUE(f->pwritev(3, out));
  std::vector<std::vector<std::byte>> back(kCount, std::vector<std::byte>(kChunk));
  std::vector<std::byte*> in;
  for (auto& b : back) in.push_back(b.data());
  ASSERT_TRUE(f->preadv(3, in));
  for (std::size_t i = 0; i < kCount; ++i) ASSERT_EQ(back[i], bufs[i]) << i;
  // The same bytes through the contiguous interface.
  std::vector<std::byte> flat(kChunk * 2);
  ASSERT_TRUE(f->pread(3 + 10, flat));
  EXPECT_TRUE(std::equal(bufs[10].begin(), bufs[10].end(), flat.begin()));
  EXPECT_TRUE(std::equal(bufs[11].begin(), bufs[11].end(), flat.begin() + kChunk));
  std::vector<std::byte> zero(kChunk);
  ASSERT_TRUE(f->pread(0, zero));
  for (auto b : zero) ASSERT_EQ(b, std::byte{0});
  std::filesystem::remove(path);
}

TEST(FrozenFile, GrowAddsZeroedChunksAndKeepsOldOnes) {
  const auto path = temp_path("grow");
  auto f = FrozenFile::open({path, 256, 2});
  ASSERT_TRUE(f);
  const auto data = pattern(256, 9);
  ASSERT_TRUE(f->pwrite(1, data));
  EXPECT_EQ(f->pwrite(5, data).code(), Errc::out_of_range);
  ASSERT_TRUE(f->grow(6));
  EXPECT_EQ(f->chunk_count(), 8u);
  EXPECT_EQ(std::filesystem::file_size(path), 8u * 256u);
  ASSERT_TRUE(f->pwrite(5, data));
  std::vector<std::byte> back(256);
  ASSERT_TRUE(f->pread(1, back));
  EXPECT_EQ(back, data);
  ASSERT_TRUE(f->pread(7, back));
  for (auto b : back) ASSERT_EQ(b, std::byte{0});
  ASSERT_TRUE(f->sync_range(0, 8));
  ASSERT_TRUE(f->sync());
  EXPECT_EQ(f->grow(~std::uint64_t{0}).code(), Errc::invalid_argument);
  std::filesystem::remove(path);
}

TEST(FrozenFile, WorksThroughTheChunkDeviceSeam) {
  const auto path = temp_path("seam");
  auto f = FrozenFile::open({path, 32, 4});
  ASSERT_TRUE(f);
  ChunkDevice& dev = *f;
  const auto a = pattern(32, 1), b = pattern(32, 2);
  const std::byte* ptrs[2] = {a.data(), b.data()};
  ASSERT_TRUE(dev.write_chunks(2, ptrs));
  ASSERT_TRUE(dev.start_writeback(2, 2));
  ASSERT_TRUE(dev.sync());
  std::vector<std::byte> back(64);
  ASSERT_TRUE(f->pread(2, back));
  EXPECT_TRUE(std::equal(a.begin(), a.end(), back.begin()));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), back.begin() + 32));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ferro
