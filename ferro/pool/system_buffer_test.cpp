#include "ferro/pool/system_buffer.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "ferro/pool/frame_decoder.hpp"

namespace ferro {
namespace {

TEST(SystemBuffer, GrowsAMessageAndHandsItOverWithoutACopy) {
  SystemBuffer buf;
  for (int i = 0; i < 1000; ++i) {
    auto w = buf.get_writable(10);
    ASSERT_EQ(w.size(), 10u);
    std::memset(w.data(), i & 0xFF, 10);
  }
  EXPECT_EQ(buf.pending(), 10000u);
  Slice s = buf.get_data_owned();
  EXPECT_EQ(buf.pending(), 0u);
  ASSERT_EQ(s.size(), 10000u);
  for (std::size_t i = 0; i < s.size(); ++i) ASSERT_EQ(s[i], std::byte((i / 10) & 0xFF));
  // The slice is freed on whichever thread drops it (ASan/LSan check the free).
  std::thread([t = std::move(s)]() mutable { t.reset(); }).join();
}

TEST(SystemBuffer, EmptyMessageIsAnEmptySlice) {
  SystemBuffer buf;
  EXPECT_TRUE(buf.get_data_owned().empty());
  EXPECT_EQ(buf.get_writable(0).size(), 0u);
  EXPECT_TRUE(buf.get_data_owned().empty());
}

TEST(SystemBuffer, RefusesAnImpossibleSize) {
  SystemBuffer buf;
  buf.get_writable(10);
  EXPECT_TRUE(buf.get_writable(SIZE_MAX - 4).empty());
  EXPECT_EQ(buf.pending(), 10u);
}

TEST(SystemBuffer, WorksWithTheFrameDecoder) {
  SystemBuffer buf;
  FrameDecoder dec(buf);
  encode_frame_header(dec.writable().first<6>(), 1, 2, 3);
  ASSERT_FALSE(*dec.filled());
  std::memcpy(dec.writable().data(), "abc", 3);
  auto f = dec.filled();
  ASSERT_TRUE(f && *f);
  EXPECT_EQ((*f)->payload().size(), 3u);
  EXPECT_EQ((*f)->payload()[2], std::byte('c'));
}

}  // namespace
}  // namespace ferro
