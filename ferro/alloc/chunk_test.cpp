// ChunkAllocator specifics: constinit over a StaticHeap (usable before main), separate bitmaps,
// in-place growth, reuse of the smallest freed run, and the recorded extent of a block.
#include <gtest/gtest.h>

#include <vector>

#include "ferro/alloc/alloc_test_util.hpp"
#include "ferro/alloc/chunk.hpp"
#include "ferro/core/random.hpp"

namespace ferro {
namespace {

constinit StaticHeap<64, 128> g_heap;
constinit ChunkAllocator<128> g_alloc{g_heap};

// Runs during dynamic initialisation, before main: the allocator must already work.
struct EarlyUser {
  EarlyUser() : p(g_alloc.allocate(300, 16)) {}
  void* p;
};
EarlyUser g_early;

TEST(ChunkAllocator, ConstinitHeapWorksBeforeMain) {
  ASSERT_NE(g_early.p, nullptr);
  EXPECT_TRUE(is_aligned(g_early.p, 128));
  EXPECT_EQ(g_alloc.usable_size(g_early.p), 3 * 128u);
  EXPECT_EQ(g_alloc.stats().capacity, 64 * 128u);
  EXPECT_TRUE(is_aligned(g_heap.memory, 4096));
  g_alloc.deallocate(g_early.p, 300, 16);
  EXPECT_EQ(g_alloc.stats().in_use, 0u);
  EXPECT_TRUE(g_alloc.check());
}

TEST(ChunkAllocator, SeparateBitmapsUseTheWholeRegion) {
  alloc_test::Region region(100 * 256);
  std::vector<std::uint64_t> maps(ChunkAllocator<256>::bitmap_words_for(region.size));
  ChunkAllocator<256> a(region.span(), maps);
  EXPECT_EQ(a.stats().capacity, 0u) << "nothing computed before the first call";
  void* p = a.allocate(1, 1);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(a.stats().capacity, 100 * 256u);
  EXPECT_EQ(p, region.data);
  EXPECT_NE(maps[0], 0u);
  a.deallocate(p);
  std::size_t n = 0;
  while (a.allocate(256, 1) != nullptr) ++n;
  EXPECT_EQ(n, 100u);
  EXPECT_TRUE(a.check());
}

TEST(ChunkAllocator, CarvedBitmapsStayOutsideTheChunks) {
  alloc_test::Region region(10000);
  ChunkAllocator<64> a(region.span());
  std::vector<void*> got;
  for (void* p; (p = a.allocate(64, 1)) != nullptr;) {
    alloc_test::fill(p, 64, 5);
    got.push_back(p);
  }
  EXPECT_GT(got.size(), 150u);
  EXPECT_LE(got.size() * 64 + (got.size() + 63) / 64 * 16, region.size);
  EXPECT_TRUE(a.check()) << "filling every chunk must not touch the bitmaps";
  for (void* p : got) EXPECT_EQ(alloc_test::verify(p, 64, 5), 64u);
}

TEST(ChunkAllocator, GrowsInPlaceIntoFreeNeighbours) {
  alloc_test::Region region(64 * 256);
  ChunkAllocator<256> a(region.span());
  void* p = a.allocate(256, 16);
  void* q = a.allocate(256, 16);
  ASSERT_EQ(static_cast<std::byte*>(q), static_cast<std::byte*>(p) + 256);
  a.deallocate(q);
  EXPECT_EQ(a.reallocate(p, 256, 700, 16), p) << "the next chunks are free: grow in place";
  EXPECT_EQ(a.usable_size(p), 768u);
  void* r = a.allocate(10, 16);
  ASSERT_EQ(static_cast<std::byte*>(r), static_cast<std::byte*>(p) + 768);
  void* moved = a.reallocate(p, 700, 2000, 16);
  ASSERT_NE(moved, p) << "blocked by r: must move";
  EXPECT_EQ(a.reallocate(moved, 2000, 100, 16), moved) << "shrinking stays in place";
  EXPECT_EQ(a.usable_size(moved), 256u);
  EXPECT_TRUE(a.check());
}

TEST(ChunkAllocator, ReusesTheSmallestFreedRunThatFits) {
  alloc_test::Region region(256 * 256);
  ChunkAllocator<256> a(region.span());
  std::vector<void*> blocks;
  for (std::size_t chunks : {1, 4, 1, 2, 1, 8, 1}) blocks.push_back(a.allocate(chunks * 256, 16));
  a.deallocate(blocks[1]);  // a 4-chunk hole
  a.deallocate(blocks[3]);  // a 2-chunk hole
  a.deallocate(blocks[5]);  // an 8-chunk hole
  EXPECT_EQ(a.allocate(2 * 256, 16), blocks[3]);
  EXPECT_EQ(a.allocate(3 * 256, 16), blocks[1]);
  EXPECT_EQ(a.allocate(5 * 256, 16), blocks[5]);
  EXPECT_TRUE(a.check());
}

TEST(ChunkAllocator, AlignmentAboveTheChunkSize) {
  alloc_test::Region region(64 * 1024);
  ChunkAllocator<64> a(region.span());
  std::vector<void*> got;
  for (std::size_t align = 128; align <= 4096; align *= 2) {
    void* p = a.allocate(70, align);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(is_aligned(p, align));
    got.push_back(p);
  }
  for (void* p : got) a.deallocate(p);
  EXPECT_TRUE(a.check());
}

TEST(ChunkAllocator, NearlyFullHeapStillFindsTheLastHoles) {
  alloc_test::Region region(4096 * 64);
  ChunkAllocator<64> a(region.span());
  std::vector<void*> all;
  for (void* p; (p = a.allocate(64, 1)) != nullptr;) all.push_back(p);
  // Free every 7th chunk, then a 3-chunk hole near the far end: only it fits 3 chunks.
  for (std::size_t i = 0; i < all.size(); i += 7) a.deallocate(all[i]);
  std::size_t k = all.size() - 20;
  k -= (k + 5) % 7;  // k + 1 .. k + 3 are live and not next to a freed one
  a.deallocate(all[k + 1]);
  a.deallocate(all[k + 2]);
  a.deallocate(all[k + 3]);
  void* p = a.allocate(3 * 64, 1);
  EXPECT_EQ(p, all[k + 1]);
  EXPECT_EQ(a.allocate(2 * 64, 1), nullptr);
  const Status st = a.check();
  EXPECT_TRUE(st) << st.error().message;
}

}  // namespace
}  // namespace ferro

namespace ferro {
namespace {

// The word-at-a-time search against a one-chunk-at-a-time model: on random occupancy built with
// allocate_at (which leaves the next-fit hint at 0), allocate must return the first aligned
// start of a long-enough free run, for short (<= 64), long and sparsely aligned requests.
TEST(ChunkAllocator, WordSearchMatchesABitwiseModel) {
  constexpr std::size_t kChunks = 700;
  alloc_test::Region region(kChunks * 64);
  std::vector<std::uint64_t> maps(ChunkAllocator<64>::bitmap_words_for(region.size));
  Rng rng(77);
  for (int round = 0; round < 1500; ++round) {
    ChunkAllocator<64> a(region.span(), maps);
    std::vector<bool> used(kChunks, false);
    const auto density = rng.between(1, 9);
    for (std::size_t i = 0; i < kChunks;) {
      const std::size_t len = rng.between(1, round % 3 == 0 ? 100 : 8);
      if (rng.chance(density, 10) && i + len <= kChunks) {
        ASSERT_TRUE(a.allocate_at(region.data + i * 64, len * 64, 1));
        for (std::size_t j = i; j < i + len; ++j) used[j] = true;
      }
      i += len + rng.below(3);
    }
    const std::size_t n = rng.between(1, std::size_t{8} << rng.below(5));  // up to 8, 16, .. 128
    const std::size_t align = std::size_t{1} << rng.below(13);
    const std::size_t step = align <= 64 ? 1 : align / 64;
    std::size_t expect = kChunks;
    for (std::size_t i = 0; i + n <= kChunks && expect == kChunks; i += step) {
      bool fits = true;
      for (std::size_t j = i; j < i + n && fits; ++j) fits = !used[j];
      if (fits) expect = i;
    }
    void* p = a.allocate(n * 64, align);
    SCOPED_TRACE(testing::Message() << "round " << round << " n " << n << " align " << align);
    if (expect == kChunks) {
      EXPECT_EQ(p, nullptr);
    } else {
      EXPECT_EQ(p, region.data + expect * 64);
    }
    ASSERT_TRUE(a.check());
  }
}

}  // namespace
}  // namespace ferro
