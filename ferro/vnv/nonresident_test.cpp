// Shadow-model tests of the storage-space allocators: random allocate/free against a byte map,
// check() after every step; allocate_at rebuilds; overlap and double free are refused.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "ferro/core/random.hpp"
#include "ferro/vnv/nonresident.hpp"

namespace ferro::vnv {
namespace {

template <class A>
class NonResidentTest : public ::testing::Test {};
using Allocators = ::testing::Types<NonResidentBuddyAllocator<16, 1024>, NonResidentBitmapAllocator<32, 1024>>;
TYPED_TEST_SUITE(NonResidentTest, Allocators);

TYPED_TEST(NonResidentTest, RandomAgainstByteMap) {
  constexpr std::uint64_t kBase = 4096, kSize = 16 * 1024 + 40;  // not a power of two
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    TypeParam a;
    a.init(kBase, kSize);
    Rng rng(seed);
    std::map<std::uint64_t, std::uint64_t> live;  // offset -> size
    std::vector<std::uint8_t> owner(kSize, 0);
    for (int step = 0; step < 3000; ++step) {
      if (live.empty() || rng.chance(3, 5)) {
        const std::uint64_t n = rng.between(1, rng.chance(1, 8) ? 4000 : 200);
        const std::uint64_t off = a.allocate(n);
        if (off == kNoOffset) continue;
        ASSERT_GE(off, kBase);
        ASSERT_LE(off - kBase + n, kSize);
        ASSERT_EQ(off % 8, 0u);
        for (std::uint64_t i = 0; i < n; ++i) ASSERT_EQ(owner[off - kBase + i]++, 0) << "overlap at " << off + i;
        live[off] = n;
      } else {
        auto it = live.begin();
        std::advance(it, static_cast<long>(rng.below(live.size())));
        for (std::uint64_t i = 0; i < it->second; ++i) --owner[it->first - kBase + i];
        a.deallocate(it->first, it->second);
        live.erase(it);
      }
      const auto s = a.check();
      ASSERT_TRUE(s) << s.error().message << " at step " << step;
    }
    // Rebuild the same live set with allocate_at in another allocator, in reverse order.
    TypeParam b;
    b.init(kBase, kSize);
    for (auto it = live.rbegin(); it != live.rend(); ++it) ASSERT_TRUE(b.allocate_at(it->first, it->second));
    EXPECT_EQ(a.stats().in_use, b.stats().in_use);
    EXPECT_TRUE(b.check());
    for (auto& [off, n] : live) EXPECT_FALSE(b.allocate_at(off, n)) << "overlap accepted";
    for (auto& [off, n] : live) b.deallocate(off, n);
    EXPECT_EQ(b.stats().in_use, 0u);
    EXPECT_TRUE(b.check());
    // After freeing everything, the whole space is one allocation again.
    EXPECT_NE(b.allocate(b.stats().capacity / 2), kNoOffset);
  }
}

TYPED_TEST(NonResidentTest, DoubleFreeIsReportedNotCorrupting) {
  TypeParam a;
  a.init(0, 4096);
  const auto off = a.allocate(64);
  ASSERT_NE(off, kNoOffset);
  a.deallocate(off, 64);
  a.deallocate(off, 64);
  EXPECT_FALSE(a.check());
}

TYPED_TEST(NonResidentTest, FullIsAnErrorValue) {
  TypeParam a;
  a.init(0, 1024);
  EXPECT_EQ(a.allocate(2048), kNoOffset);
  EXPECT_NE(a.allocate(1024), kNoOffset);
  EXPECT_EQ(a.allocate(8), kNoOffset);
  EXPECT_EQ(a.stats().failed, 2u);
}

}  // namespace
}  // namespace ferro::vnv
