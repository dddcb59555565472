// Synchronized<A> under several threads (run under TSan): every thread allocates, fills,
// verifies and frees its own blocks, and hands some to another thread to free.
#include "ferro/alloc/synchronized.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "ferro/alloc/alloc_test_util.hpp"
#include "ferro/alloc/buddy.hpp"
#include "ferro/alloc/chunk.hpp"
#include "ferro/alloc/linked_list.hpp"
#include "ferro/alloc/tlsf.hpp"
#include "ferro/core/random.hpp"

namespace ferro {
namespace {

template <class A>
class SynchronizedTest : public ::testing::Test {};
using Allocators = ::testing::Types<Synchronized<TlsfAllocator>, Synchronized<ChunkAllocator<64>>,
                                    Synchronized<BuddyAllocator, std::mutex>, Synchronized<LinkedListAllocator>>;
TYPED_TEST_SUITE(SynchronizedTest, Allocators);

TYPED_TEST(SynchronizedTest, ThreadsShareOneRegion) {
  static_assert(RegionAllocator<TypeParam>);
  alloc_test::Region region(2 << 20);
  TypeParam a(region.span());
  constexpr int kThreads = 3, kSteps = 4000;
  std::atomic<bool> bad{false};
  // A small mailbox per thread: blocks allocated by one thread and freed by the next.
  struct Handoff {
    std::mutex m;
    std::vector<std::pair<void*, std::uint64_t>> blocks;
  };
  Handoff box[kThreads];
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Rng rng(static_cast<std::uint64_t>(t) + 1);
      std::vector<std::pair<void*, std::uint64_t>> mine;
      for (int i = 0; i < kSteps; ++i) {
        if (mine.size() < 50 && rng.chance(3, 5)) {
          void* p = a.allocate(rng.between(1, 200), 16);
          if (p == nullptr) continue;
          const std::uint64_t seed = rng();
          alloc_test::fill(p, 64 < a.usable_size(p) ? 64 : a.usable_size(p), seed);
          mine.emplace_back(p, seed);
        } else if (!mine.empty()) {
          const auto [p, seed] = mine.back();
          mine.pop_back();
          if (alloc_test::verify(p, 16, seed) != 16) bad = true;
          if (rng.chance(1, 3)) {
            std::lock_guard g(box[(t + 1) % kThreads].m);
            box[(t + 1) % kThreads].blocks.emplace_back(p, seed);
          } else {
            a.deallocate(p);
          }
        }
        if (i % 500 == 0 && !a.check()) bad = true;
        std::lock_guard g(box[t].m);
        for (auto [p, seed] : box[t].blocks) {
          if (alloc_test::verify(p, 16, seed) != 16) bad = true;
          a.deallocate(p);
        }
        box[t].blocks.clear();
      }
      for (auto [p, seed] : mine) a.deallocate(p);
    });
  }
  for (auto& th : threads) th.join();
  for (auto& b : box)
    for (auto [p, seed] : b.blocks) a.deallocate(p);
  EXPECT_FALSE(bad.load());
  EXPECT_TRUE(a.check());
  EXPECT_EQ(a.stats().in_use, 0u);
  EXPECT_EQ(a.with_lock([](auto& inner) { return inner.stats().live_blocks; }), 0u);
}

}  // namespace
}  // namespace ferro
