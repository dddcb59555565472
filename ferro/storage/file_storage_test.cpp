#include "ferro/storage/file_storage.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "ferro/storage/file_flash.hpp"

namespace ferro {
namespace {

std::string temp_path(const char* name) {
  auto p = std::filesystem::temp_directory_path() / (std::string("ferro_") + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove(p);
  return p.string();
}

TEST(FileStorage, ReopenKeepsTheContents) {
  const auto path = temp_path("reopen");
  std::vector<std::byte> data(300);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i);
  {
    auto s = FileStorage::open(path, 4096);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->size(), 4096u);
    ASSERT_TRUE(s->write(1000, data));
    ASSERT_TRUE(s->sync());
  }
  auto s = FileStorage::open(path, 0);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->size(), 4096u);
  std::vector<std::byte> back(300);
  ASSERT_TRUE(s->read(1000, back));
  EXPECT_EQ(back, data);
  std::filesystem::remove(path);
}

TEST(FileStorage, SecondOpenerGetsBusy) {
  const auto path = temp_path("lock");
  auto first = FileStorage::open(path, 128);
  ASSERT_TRUE(first);
  auto second = FileStorage::open(path, 128);
  EXPECT_EQ(second.code(), Errc::busy);
  FileStorage moved = std::move(*first);  // the lock moves with the descriptor
  EXPECT_EQ(FileStorage::open(path, 128).code(), Errc::busy);
  std::filesystem::remove(path);
}

TEST(FileStorage, SizeMismatchIsRefusedNotTruncated) {
  const auto path = temp_path("size");
  { ASSERT_TRUE(FileStorage::open(path, 512)); }
  EXPECT_EQ(FileStorage::open(path, 256).code(), Errc::invalid_argument);
  EXPECT_EQ(std::filesystem::file_size(path), 512u);
  std::filesystem::remove(path);
}

TEST(FileStorage, OutOfRangeAndBadPath) {
  const auto path = temp_path("range");
  auto s = FileStorage::open(path, 64);
  ASSERT_TRUE(s);
  std::vector<std::byte> buf(8);
  EXPECT_EQ(s->write(60, buf).code(), Errc::out_of_range);
  EXPECT_EQ(s->read(UINT64_MAX, buf).code(), Errc::out_of_range);
  EXPECT_EQ(FileStorage::open("/nonexistent-dir/x", 64).code(), Errc::io_error);
  std::filesystem::remove(path);
}

TEST(FileFlash, ImageSurvivesReopenWithCounters) {
  const auto path = temp_path("flash");
  {
    auto f = FileFlash::create(path, {1024, 4, 4});
    ASSERT_TRUE(f);
    auto& dev = (*f)->device();
    std::vector<std::byte> data(8, std::byte{0x12});
    ASSERT_TRUE(dev.program(1024 + 16, data));
    ASSERT_TRUE(dev.erase(3));
    ASSERT_TRUE((*f)->sync());
    EXPECT_EQ(FileFlash::open(path).code(), Errc::busy);
  }
  auto f = FileFlash::open(path);
  ASSERT_TRUE(f);
  auto& dev = (*f)->device();
  EXPECT_EQ(dev.segment_size(), 1024u);
  EXPECT_EQ(dev.segment_count(), 4u);
  EXPECT_EQ(dev.program_size(), 4u);
  EXPECT_EQ(dev.view()[1024 + 16], std::byte{0x12});
  EXPECT_EQ(dev.view()[1024 + 24], std::byte{0xFF});
  EXPECT_EQ(dev.erase_count(3), 1u);
  EXPECT_EQ(dev.erase_count(0), 0u);
  std::filesystem::remove(path);
}

TEST(FileFlash, ForeignFilesAreCorrupt) {
  const auto path = temp_path("notflash");
  {
    auto s = FileStorage::open(path, 1024 * 4 + 32 + 16);
    ASSERT_TRUE(s);
  }
  EXPECT_EQ(FileFlash::open(path).code(), Errc::corrupt);
  EXPECT_EQ(FileFlash::open(path + ".missing").code(), Errc::not_found);
  EXPECT_EQ(FileFlash::create(path, {1000, 4, 1}).code(), Errc::invalid_argument);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ferro
