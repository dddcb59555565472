#include "ferro/pool/buffer_pool.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ferro/core/random.hpp"
#include "ferro/pool/frame_decoder.hpp"

namespace ferro {
namespace {

// Drives a pool through the seed's diagrams: each message is 100 bytes, labelled by one
// character, and the picture shows for each slot the label of the live slice in it.
class Diagram {
 public:
  explicit Diagram(std::size_t capacity) : pool_(capacity) {}

  void write(char label) {
    for (int i = 0; i < 10; ++i) {  // ten 10-byte writes, as a decoder would fill
      auto w = pool_.get_writable(10);
      ASSERT_EQ(w.size(), 10u);
      std::memset(w.data(), label, 10);
    }
    Slice s = pool_.get_data_owned();
    ASSERT_EQ(s.size(), 100u);
    slices_[label] = std::move(s);
  }
  void drop(char label) { slices_.erase(label); }

  std::string picture() const {
    std::string out;
    for (std::size_t i = 0; i < 8; ++i) {
      const SlotInfo info = pool_.slot(i);
      char c = '-';
      if (info.live)
        for (const auto& [label, s] : slices_)
          if (s.data() == info.data) c = label;
      out += c;
    }
    return out;
  }

  // Every live slice still holds its label: no two ever shared memory.
  void check_contents() const {
    for (const auto& [label, s] : slices_)
      for (std::byte b : s) ASSERT_EQ(b, std::byte(label)) << label;
  }

  bool in_pool(char label) const {
    const Slice& s = slices_.at(label);
    for (std::size_t i = 0; i < 8; ++i)
      if (pool_.slot(i).live && pool_.slot(i).data == s.data()) return true;
    return false;
  }

  PoolMode mode() const { return pool_.mode(); }

 private:
  BufferPool<8> pool_;
  std::map<char, Slice> slices_;
};

#define EXPECT_STEP(d, pic, m)     \
  do {                             \
    EXPECT_EQ((d).picture(), pic); \
    EXPECT_EQ((d).mode(), m);      \
    (d).check_contents();          \
  } while (0)

void fill_eight(Diagram& d) {
  const std::string labels = "12345678";
  std::string expected = "--------";
  EXPECT_STEP(d, expected, PoolMode::back);
  for (std::size_t i = 0; i < 8; ++i) {
    d.write(labels[i]);
    expected[i] = labels[i];
    EXPECT_STEP(d, expected, PoolMode::back);
  }
}

TEST(BufferPoolDiagram, Case1ExhaustionFallsBackToTheHeap) {
  Diagram d(1000);
  fill_eight(d);  // 12345678 BACK (buffer is now full)
  d.write('9');
  EXPECT_STEP(d, "12345678", PoolMode::alloc);
  EXPECT_FALSE(d.in_pool('9'));
  d.write('a');
  EXPECT_STEP(d, "12345678", PoolMode::alloc);
  EXPECT_FALSE(d.in_pool('a'));
}

TEST(BufferPoolDiagram, Case1AlsoWhenBytesRunOutBeforeSlots) {
  Diagram d(450);  // room for four 100-byte messages
  for (char c : std::string("1234")) d.write(c);
  EXPECT_STEP(d, "1234----", PoolMode::back);
  d.write('5');
  EXPECT_STEP(d, "1234----", PoolMode::alloc);
}

TEST(BufferPoolDiagram, Case2ResetWhenEverySliceIsDropped) {
  Diagram d(1000);
  fill_eight(d);
  for (char c : std::string("12345678")) d.drop(c);
  EXPECT_STEP(d, "--------", PoolMode::back);  // RESET
  d.write('9');
  EXPECT_STEP(d, "9-------", PoolMode::back);
  d.write('a');
  EXPECT_STEP(d, "9a------", PoolMode::back);
}

TEST(BufferPoolDiagram, Case2ResetAlsoLeavesAllocMode) {
  Diagram d(1000);
  fill_eight(d);
  d.write('9');
  EXPECT_EQ(d.mode(), PoolMode::alloc);
  for (char c : std::string("123456789")) d.drop(c);
  d.write('a');
  EXPECT_STEP(d, "a-------", PoolMode::back);
}

TEST(BufferPoolDiagram, Case3BackToFrontToBack) {
  Diagram d(1000);
  fill_eight(d);
  d.drop('1');
  d.drop('2');
  EXPECT_STEP(d, "--345678", PoolMode::back);  // consume the first two
  d.write('9');
  EXPECT_STEP(d, "-9345678", PoolMode::front);  // SWITCH TO FRONT MODE
  d.write('a');
  EXPECT_STEP(d, "a9345678", PoolMode::front);  // FRONT MODE (buffer is now full)
  d.drop('7');
  d.drop('8');
  EXPECT_STEP(d, "a93456--", PoolMode::front);  // consume the last two
  d.write('b');
  EXPECT_STEP(d, "a93456b-", PoolMode::back);  // SWITCH TO BACK MODE
  d.write('c');
  EXPECT_STEP(d, "a93456bc", PoolMode::back);  // BACK MODE (buffer is now full)
  // And on: the pool is full again, so the next message goes to the heap.
  d.write('d');
  EXPECT_STEP(d, "a93456bc", PoolMode::alloc);
}

TEST(BufferPoolDiagram, FrontRunIsNotReenteredWhileItsSlicesLive) {
  Diagram d(1000);
  fill_eight(d);
  d.drop('1');
  d.drop('2');
  d.write('9');  // front
  d.drop('3');   // frees slot 2, but slot 1 of the front run ('9') still lives above memory 0
  d.write('a');
  EXPECT_STEP(d, "a9-45678", PoolMode::front);
  d.write('b');  // front exhausted, back full: heap
  EXPECT_STEP(d, "a9-45678", PoolMode::alloc);
}

TEST(BufferPool, GrowingMessageMovesWithItsBytes) {
  BufferPool<8> pool(1000);
  auto w = pool.get_writable(700);
  std::memset(w.data(), 1, 700);
  Slice first = pool.get_data_owned();
  // 300 bytes are left at the back; a message that outgrows them moves to the heap intact.
  auto a = pool.get_writable(200);
  std::memset(a.data(), 2, 200);
  auto b = pool.get_writable(200);
  EXPECT_EQ(pool.mode(), PoolMode::alloc);
  std::memset(b.data(), 3, 200);
  Slice second = pool.get_data_owned();
  ASSERT_EQ(second.size(), 400u);
  for (std::size_t i = 0; i < 400; ++i) ASSERT_EQ(second[i], std::byte(i < 200 ? 2 : 3)) << i;
  // Once the first is dropped the pool resets, and a growing message is moved to the start.
  first.reset();
  auto c = pool.get_writable(100);
  std::memset(c.data(), 4, 100);
  EXPECT_EQ(pool.mode(), PoolMode::back);
  Slice third = pool.get_data_owned();
  EXPECT_TRUE(pool.slot(0).live);
  EXPECT_EQ(pool.slot(0).data, third.data());
}

TEST(BufferPool, TailReclaimMovesTheMessageBeingBuilt) {
  BufferPool<4> pool(400);
  std::vector<Slice> s;
  for (int i = 0; i < 4; ++i) {
    std::memset(pool.get_writable(100).data(), i, 100);
    s.push_back(pool.get_data_owned());
  }
  s[3].reset();  // top slot dropped
  auto w = pool.get_writable(50);
  std::memset(w.data(), 9, 50);
  auto w2 = pool.get_writable(50);
  std::memset(w2.data(), 9, 50);
  Slice again = pool.get_data_owned();
  EXPECT_EQ(pool.mode(), PoolMode::back);
  EXPECT_EQ(pool.slot(3).data, again.data());
  for (std::byte b : again) ASSERT_EQ(b, std::byte(9));
  for (int i = 0; i < 3; ++i)
    for (std::byte b : s[static_cast<std::size_t>(i)]) ASSERT_EQ(b, std::byte(i));
}

TEST(BufferPool, EmptyMessageTakesNoSlot) {
  BufferPool<8> pool(100);
  Slice s = pool.get_data_owned();
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(pool.live_mask(), 0u);
  EXPECT_EQ(pool.get_writable(0).size(), 0u);
}

TEST(BufferPool, SliceIsMoveOnlyAndFreesItsSlotOnce) {
  static_assert(!std::is_copy_constructible_v<Slice>);
  static_assert(!std::is_copy_assignable_v<Slice>);
  BufferPool<8> pool(100);
  pool.get_writable(10);
  Slice a = pool.get_data_owned();
  EXPECT_EQ(pool.live_mask(), 1u);
  Slice b = std::move(a);
  EXPECT_TRUE(a.empty());
  a.reset();  // moved-from: nothing to give back
  EXPECT_EQ(pool.live_mask(), 1u);
  pool.get_writable(10);
  Slice c = pool.get_data_owned();
  EXPECT_EQ(pool.live_mask(), 3u);
  b = std::move(c);  // b's old slot goes back, c's moves into b
  EXPECT_EQ(pool.live_mask(), 2u);
  b.reset();
  EXPECT_EQ(pool.live_mask(), 0u);
}

TEST(BufferPool, DestroyingThePoolWhileSlicesLiveIsSafe) {
  Slice survivor;
  {
    BufferPool<8> pool(256);
    std::memset(pool.get_writable(64).data(), 0x77, 64);
    survivor = pool.get_data_owned();
  }
  // The region outlives the pool (ASan would report a use after free) and goes with the slice.
  for (std::byte b : survivor) ASSERT_EQ(b, std::byte(0x77));
  std::memset(survivor.data(), 0, survivor.size());
  survivor.reset();
}

TEST(BufferPool, SixtyFourSlotsUseTheCountedLifetime) {
  std::vector<Slice> slices;
  {
    BufferPool<64> pool(64 * 8);
    for (int i = 0; i < 64; ++i) {
      std::memset(pool.get_writable(8).data(), i, 8);
      slices.push_back(pool.get_data_owned());
    }
    EXPECT_EQ(pool.live_mask(), ~std::uint64_t{0});
    EXPECT_EQ(pool.mode(), PoolMode::back);
    pool.get_writable(8);
    EXPECT_EQ(pool.mode(), PoolMode::alloc);
  }
  for (int i = 0; i < 64; ++i)
    for (std::byte b : slices[static_cast<std::size_t>(i)]) ASSERT_EQ(b, std::byte(i));
  slices.clear();
}

TEST(BufferPool, CallerRegionWithNoFallbackRefusesWhenFull) {
  alignas(64) static std::byte region[BufferPool<4, NoFallback>::overhead + 100];
  BufferPool<4, NoFallback> pool(region);
  EXPECT_EQ(pool.capacity(), 100u);
  EXPECT_EQ(pool.get_writable(60).size(), 60u);
  Slice a = pool.get_data_owned();
  EXPECT_EQ(pool.get_writable(60).size(), 0u);  // no room and no heap: refused, nothing moved
  EXPECT_EQ(pool.get_writable(40).size(), 40u);
  Slice b = pool.get_data_owned();
  EXPECT_EQ(b.size(), 40u);
  a.reset();
  b.reset();
  EXPECT_EQ(pool.get_writable(100).size(), 100u);  // reset to an empty Back pool
}

// The shadow model: random messages, written in random chunks, dropped in random order, with
// the pool's slot map and every live slice's bytes checked after each step.
TEST(BufferPool, ShadowModelKeepsEveryLiveSliceIntact) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    Rng rng(seed);
    const std::size_t capacity = rng.between(1, 4096);
    BufferPool<8> pool(capacity);
    struct Live {
      Slice slice;
      std::uint8_t fill;
    };
    std::vector<Live> live;
    for (int step = 0; step < 400; ++step) {
      if (!live.empty() && rng.chance(1, 2)) {
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(rng.below(live.size())));
      } else {
        const auto fill = static_cast<std::uint8_t>(rng());
        std::size_t len = rng.between(0, 1200);
        std::size_t written = 0;
        while (written < len) {
          const std::size_t chunk = std::min<std::size_t>(len - written, rng.between(1, 300));
          auto w = pool.get_writable(chunk);
          ASSERT_EQ(w.size(), chunk);
          std::memset(w.data(), fill, chunk);
          written += chunk;
        }
        Slice s = pool.get_data_owned();
        ASSERT_EQ(s.size(), len);
        live.push_back({std::move(s), fill});
      }
      // Model: each live slice holds exactly its fill; pool-backed ones sit in live slots.
      std::uint64_t seen = 0;
      for (const Live& l : live) {
        for (std::byte b : l.slice) ASSERT_EQ(b, std::byte(l.fill)) << "seed " << seed << " step " << step;
        for (std::size_t i = 0; i < 8; ++i)
          if (!l.slice.empty() && pool.slot(i).data == l.slice.data() && pool.slot(i).live) seen |= 1u << i;
      }
      ASSERT_EQ(seen, pool.live_mask()) << "seed " << seed << " step " << step;
    }
  }
}

TEST(FrameDecoder, DecodesFramesIntoOwnedSlices) {
  BufferPool<8> pool(4096);
  FrameDecoder dec(pool, 1000);
  // A byte stream of three frames, read as a socket would deliver it.
  std::vector<std::byte> stream;
  auto add = [&](std::uint8_t type, std::size_t len) {
    std::array<std::byte, 6> h;
    encode_frame_header(h, 0x8001, type, static_cast<std::uint32_t>(len));
    stream.insert(stream.end(), h.begin(), h.end());
    for (std::size_t i = 0; i < len; ++i) stream.push_back(std::byte(type + i));
  };
  add(1, 10);
  add(2, 0);
  add(3, 500);
  std::size_t pos = 0;
  std::vector<Frame> frames;
  while (pos < stream.size()) {
    auto w = dec.writable();
    ASSERT_EQ(w.size(), dec.missing());
    std::memcpy(w.data(), stream.data() + pos, w.size());
    pos += w.size();
    auto f = dec.filled();
    ASSERT_TRUE(f);
    if (*f) frames.push_back(std::move(**f));
  }
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].msg_type, 1);
  EXPECT_EQ(frames[0].extension_type, 0x8001);
  EXPECT_EQ(frames[0].payload().size(), 10u);
  EXPECT_EQ(frames[0].payload()[3], std::byte(4));
  EXPECT_EQ(frames[1].payload().size(), 0u);
  EXPECT_EQ(frames[2].payload().size(), 500u);
  EXPECT_EQ(frames[2].payload()[499], std::byte((3 + 499) & 0xFF));
  EXPECT_EQ(std::popcount(pool.live_mask()), 3);
}

TEST(FrameDecoder, RejectsAnOversizedLengthAndRecovers) {
  BufferPool<8> pool(256);
  FrameDecoder dec(pool, 100);
  auto w = dec.writable();
  encode_frame_header(w.first<6>(), 0, 9, 5000);
  EXPECT_EQ(dec.filled().code(), Errc::corrupt);
  EXPECT_EQ(pool.live_mask(), 0u);
  w = dec.writable();
  encode_frame_header(w.first<6>(), 0, 9, 0);
  auto f = dec.filled();
  ASSERT_TRUE(f);
  ASSERT_TRUE(*f);
  EXPECT_EQ((*f)->msg_type, 9);
}

TEST(FrameDecoder, ReportsAFullBufferInsteadOfReadingStaleBytes) {
  alignas(64) static std::byte region[BufferPool<2, NoFallback>::overhead + 64];
  BufferPool<2, NoFallback> pool(region);
  FrameDecoder dec(pool);
  encode_frame_header(dec.writable().first<6>(), 0, 1, 100);  // 100 bytes will not fit in 64
  ASSERT_TRUE(dec.filled());
  EXPECT_TRUE(dec.writable().empty());
  EXPECT_EQ(dec.filled().code(), Errc::no_space);
  EXPECT_EQ(dec.filled().code(), Errc::no_space);  // still nothing read
}

}  // namespace
}  // namespace ferro
