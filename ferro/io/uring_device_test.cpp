#include "ferro/io/uring_device.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "ferro/io/write_pipe.hpp"

namespace ferro {
namespace {

std::string temp_path(const char* name) {
  auto p =
      std::filesystem::temp_directory_path() / (std::string("ferro_uring_") + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove(p);
  return p.string();
}

// The device, or a skip where this build or kernel has no io_uring.
#define OPEN_URING_OR_SKIP(var, file)                                    \
  auto var##_r = UringDevice::open(file);                                \
  if (!var##_r) {                                                        \
    ASSERT_EQ(var##_r.code(), Errc::unsupported);                        \
    GTEST_SKIP() << "io_uring unavailable: " << var##_r.error().message; \
  }                                                                      \
  auto var = std::move(*var##_r)

TEST(UringDevice, WritesManyChunksAcrossSubmissionsAndSyncs) {
  const auto path = temp_path("many");
  constexpr std::size_t kChunk = 64, kCount = 600;  // more iovecs than one submission carries
  auto file = FrozenFile::open({path, kChunk, kCount + 4});
  ASSERT_TRUE(file);
  OPEN_URING_OR_SKIP(dev, *file);
  EXPECT_EQ(dev->chunk_size(), kChunk);
  EXPECT_EQ(dev->chunk_count(), kCount + 4);
  std::vector<std::vector<std::byte>> bufs(kCount, std::vector<std::byte>(kChunk));
  std::vector<const std::byte*> ptrs;
  for (std::size_t i = 0; i < kCount; ++i) {
    std::memset(bufs[i].data(), static_cast<int>(i & 0xFF), kChunk);
    ptrs.push_back(bufs[i].data());
  }
  ASSERT_TRUE(dev->write_chunks(2, ptrs));
  ASSERT_TRUE(dev->sync());
  std::vector<std::byte> back(kChunk * kCount);
  ASSERT_TRUE(file->pread(2, back));
  for (std::size_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(std::equal(bufs[i].begin(), bufs[i].end(), back.begin() + static_cast<std::ptrdiff_t>(i * kChunk)))
        << "chunk " << i;
  }
  EXPECT_EQ(dev->write_chunks(kCount + 3, std::span(ptrs).first(2)).code(), Errc::out_of_range);
  std::filesystem::remove(path);
}

TEST(UringDevice, CarriesAWritePipe) {
  const auto path = temp_path("pipe");
  constexpr std::size_t kChunk = 128;
  auto file = FrozenFile::open({path, kChunk, 64});
  ASSERT_TRUE(file);
  OPEN_URING_OR_SKIP(dev, *file);
  BufPoolConfig pc;
  pc.buffer_size = kChunk;
  pc.max_memory = kChunk * 64;
  BufPool pool(pc);
  auto pipe = WritePipe::open(*dev);
  ASSERT_TRUE(pipe);
  std::optional<WriteTicket> last;
  for (std::uint64_t slot = 0; slot < 32; ++slot) {
    auto a = pool.allocate(1);
    ASSERT_TRUE(a);
    std::memset(a->first(), static_cast<int>(slot + 1), kChunk);
    auto t = (*pipe)->write({std::move(*a), slot});
    ASSERT_TRUE(t);
    last = std::move(*t);
  }
  ASSERT_TRUE(last->wait());
  ASSERT_TRUE((*pipe)->close());
  std::vector<std::byte> back(kChunk);
  for (std::uint64_t slot = 0; slot < 32; ++slot) {
    ASSERT_TRUE(file->pread(slot, back));
    for (auto b : back) ASSERT_EQ(b, static_cast<std::byte>(slot + 1));
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ferro
