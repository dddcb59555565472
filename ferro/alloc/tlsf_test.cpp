// TlsfAllocator specifics: immediate coalescing with both neighbours, exact block sizes, and the
// size classes that make a fit a pair of bit scans.
#include <gtest/gtest.h>

#include <vector>

#include "ferro/alloc/alloc_test_util.hpp"
#include "ferro/alloc/tlsf.hpp"

namespace ferro {
namespace {

TEST(TlsfAllocator, FreeBetweenTwoFreeNeighboursMergesAllThree) {
  alloc_test::Region region(64 * 1024);
  TlsfAllocator a(region.span());
  void* x = a.allocate(1000, 16);
  void* y = a.allocate(1000, 16);
  void* z = a.allocate(1000, 16);
  void* guard = a.allocate(16, 16);
  const std::size_t whole = a.stats().capacity;
  a.deallocate(x);
  a.deallocate(z);
  EXPECT_EQ(a.stats().largest_free, whole - 3 * 1024 - 32) << "the space after the guard";
  a.deallocate(y);
  EXPECT_TRUE(a.check());
  // x, y, z are one free block of 3 * (1008 + 16) bytes now: a request for all of it fits in place.
  void* all = a.allocate(3 * 1024 - 16, 16);
  EXPECT_EQ(all, x);
  a.deallocate(all);
  a.deallocate(guard);
  EXPECT_EQ(a.stats().largest_free, whole);
  EXPECT_TRUE(a.check());
}

TEST(TlsfAllocator, BlockIsRequestRoundedTo16PlusHeader) {
  alloc_test::Region region(64 * 1024);
  TlsfAllocator a(region.span());
  for (std::size_t size : {1u, 16u, 17u, 100u, 4000u}) {
    void* p = a.allocate(size, 16);
    EXPECT_EQ(a.stats().in_use, (size + 15) / 16 * 16 + 16);
    EXPECT_EQ(a.usable_size(p), (size + 15) / 16 * 16);
    a.deallocate(p);
  }
}

TEST(TlsfAllocator, SmallRequestFromOneHugeBlockAndBack) {
  alloc_test::Region region(8 * 1024 * 1024);
  TlsfAllocator a(region.span());
  std::vector<void*> got;
  for (int i = 0; i < 1000; ++i) got.push_back(a.allocate(24, 8));
  for (void* p : got) ASSERT_NE(p, nullptr);
  for (std::size_t i = 0; i < got.size(); i += 2) a.deallocate(got[i]);
  for (std::size_t i = 1; i < got.size(); i += 2) a.deallocate(got[i]);
  EXPECT_EQ(a.stats().largest_free, a.stats().capacity);
  EXPECT_TRUE(a.check());
}

TEST(TlsfAllocator, AlignmentGapBecomesAFreeBlock) {
  alloc_test::Region region(64 * 1024);
  TlsfAllocator a(region.span());
  void* small = a.allocate(16, 16);
  void* big = a.allocate(100, 4096);
  ASSERT_TRUE(is_aligned(big, 4096));
  EXPECT_EQ(a.stats().in_use, 32u + 128u) << "the gap before the aligned block is not charged to it";
  void* fill = a.allocate(1000, 16);
  EXPECT_LT(fill, big) << "the gap is reusable";
  a.deallocate(small);
  a.deallocate(big);
  a.deallocate(fill);
  EXPECT_TRUE(a.check());
}

}  // namespace
}  // namespace ferro
