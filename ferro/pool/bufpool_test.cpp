#include "ferro/pool/bufpool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "ferro/core/random.hpp"

namespace ferro {
namespace {

using namespace std::chrono_literals;

BufPoolConfig config(std::size_t buffer_size, std::size_t buffers) {
  BufPoolConfig c;
  c.buffer_size = buffer_size;
  c.max_memory = buffer_size * buffers;
  return c;
}

// Polls (briefly) until `n` threads are queued in the pool.
void wait_for_waiters(const BufPool& pool, std::size_t n) {
  for (int i = 0; i < 20000 && pool.stats().waiters != n; ++i) std::this_thread::sleep_for(100us);
  ASSERT_EQ(pool.stats().waiters, n);
}

TEST(BufPool, HandsOutDistinctAlignedWritableBuffers) {
  BufPool pool(config(4096, 16));
  auto a = pool.allocate(5);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->size(), 5u);
  EXPECT_EQ(a->buffer_size(), 4096u);
  EXPECT_EQ(a->first(), (*a)[0]);
  std::set<std::byte*> seen;
  int i = 0;
  for (std::byte* buf : *a) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(buf) % 4096, 0u);
    std::memset(buf, i++, 4096);  // ASan catches a short buffer
    seen.insert(buf);
  }
  EXPECT_EQ(seen.size(), 5u);
  // Buffers never overlap: each still holds its own fill.
  for (std::size_t k = 0; k < a->size(); ++k)
    for (std::byte b : a->buffer(k)) ASSERT_EQ(b, std::byte(k));
  const auto st = pool.stats();
  EXPECT_EQ(st.in_use, 5u);
  EXPECT_EQ(st.live_allocations, 1u);
}

TEST(BufPool, OddBufferSizeWorks) {
  BufPool pool(config(100, 10));
  auto a = pool.allocate(10);
  ASSERT_TRUE(a);
  for (std::byte* buf : *a) std::memset(buf, 0xAB, 100);
  a->reset();
  auto b = pool.allocate(10);
  ASSERT_TRUE(b);
  EXPECT_EQ(pool.stats().created, 10u);
}

TEST(BufPool, BudgetIsNeverExceededAndFreedBuffersAreReused) {
  BufPool pool(config(64, 4));
  EXPECT_EQ(pool.max_buffers(), 4u);
  auto a = pool.allocate(3);
  ASSERT_TRUE(a);
  auto b = pool.try_allocate(2);
  EXPECT_EQ(b.code(), Errc::no_space);
  auto c = pool.try_allocate(1);
  ASSERT_TRUE(c);
  EXPECT_EQ(pool.try_allocate(1).code(), Errc::no_space);
  std::set<std::byte*> first(a->begin(), a->end());
  a->reset();
  EXPECT_EQ(pool.stats().in_use, 1u);
  auto d = pool.try_allocate(3);
  ASSERT_TRUE(d);
  // The same memory came back from the free list; nothing new was obtained from the system.
  for (std::byte* buf : *d) EXPECT_TRUE(first.count(buf));
  EXPECT_EQ(pool.stats().created, 4u);
}

TEST(BufPool, RejectsWhatCanNeverBeServed) {
  BufPool pool(config(64, 4));
  EXPECT_EQ(pool.allocate(5).code(), Errc::invalid_argument);
  EXPECT_EQ(pool.try_allocate(5).code(), Errc::invalid_argument);
  EXPECT_EQ(pool.allocate_for(5, 1ms).code(), Errc::invalid_argument);
  auto empty = pool.allocate(0);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(empty->begin(), empty->end());
}

TEST(BufPool, MovedAllocationGivesBuffersBackOnce) {
  BufPool pool(config(64, 8));
  auto a = pool.allocate(6);  // beyond the inline pointer array
  ASSERT_TRUE(a);
  std::vector<std::byte*> ptrs(a->begin(), a->end());
  BufPoolAllocation moved = std::move(*a);
  EXPECT_TRUE(a->empty());
  EXPECT_EQ(std::vector<std::byte*>(moved.begin(), moved.end()), ptrs);
  BufPoolAllocation other = std::move(pool.allocate(2).value());
  other = std::move(moved);  // gives other's 2 back, takes the 6
  EXPECT_EQ(pool.stats().in_use, 6u);
  other.reset();
  other.reset();
  EXPECT_EQ(pool.stats().in_use, 0u);
  EXPECT_EQ(pool.stats().live_allocations, 0u);
}

TEST(BufPool, AllocateForTimesOutWhenNothingIsFreed) {
  BufPool pool(config(64, 2));
  auto held = pool.allocate(2);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = pool.allocate_for(1, 20ms);
  EXPECT_EQ(r.code(), Errc::timed_out);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
  EXPECT_EQ(pool.stats().waiters, 0u);
}

TEST(BufPool, AllocateForSucceedsWhenBuffersAreFreedInTime) {
  BufPool pool(config(64, 2));
  auto held = pool.allocate(2);
  std::thread releaser([&] {
    wait_for_waiters(pool, 1);
    held->reset();
  });
  auto r = pool.allocate_for(2, 10s);
  releaser.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 2u);
}

TEST(BufPool, WaiterIsWokenByARelease) {
  BufPool pool(config(64, 3));
  auto held = pool.allocate(3);
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    auto r = pool.allocate(2);
    got.store(r.has_value(), std::memory_order_relaxed);
  });
  wait_for_waiters(pool, 1);
  EXPECT_FALSE(got.load(std::memory_order_relaxed));
  held->reset();
  waiter.join();
  EXPECT_TRUE(got.load(std::memory_order_relaxed));
}

TEST(BufPool, SmallRequestOvertakesALargeOneThatDoesNotFit) {
  BufPool pool(config(64, 8));
  auto held = pool.allocate(6);  // 2 free
  std::thread large([&] { ASSERT_TRUE(pool.allocate(8)); });
  wait_for_waiters(pool, 1);
  // A small request is served at once although a large one queued first.
  auto small = pool.allocate_for(2, 5s);
  ASSERT_TRUE(small);
  small->reset();
  held->reset();
  large.join();
}

TEST(BufPool, LargeRequestIsNotStarvedByAStreamOfSmallOnes) {
  BufPool pool(config(64, 8));
  auto held = pool.allocate(6);  // 2 free
  std::atomic<bool> large_done{false};
  std::thread large([&] {
    auto r = pool.allocate(7);
    ASSERT_TRUE(r);
    large_done.store(true, std::memory_order_relaxed);
  });
  wait_for_waiters(pool, 1);
  // Small requests may pass the large one until they have taken a budget's worth (8) past it.
  for (int i = 0; i < 4; ++i) {
    auto s = pool.try_allocate(2);
    ASSERT_TRUE(s) << i;
  }
  // Now 2 buffers are free, but the large request has been passed enough: no more overtaking.
  EXPECT_EQ(pool.try_allocate(2).code(), Errc::no_space);
  EXPECT_EQ(pool.try_allocate(1).code(), Errc::no_space);
  EXPECT_FALSE(large_done.load(std::memory_order_relaxed));
  held->reset();
  large.join();
  EXPECT_TRUE(large_done.load(std::memory_order_relaxed));
}

TEST(BufPool, QueueIsServedInOrderWhenEveryoneFits) {
  BufPool pool(config(64, 4));
  auto held = pool.allocate(4);
  std::vector<int> order;
  std::mutex order_mu;
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      auto r = pool.allocate(4);
      ASSERT_TRUE(r);
      std::lock_guard lock(order_mu);
      order.push_back(i);
    });
    wait_for_waiters(pool, static_cast<std::size_t>(i + 1));
  }
  held->reset();
  for (auto& t : threads) t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

// Many threads contend for a small budget with mixed sizes. If a wake-up were lost a thread
// would hang (the generous allocate_for turns that into a failure); the shared counter checks
// that the budget is never exceeded.
TEST(BufPool, ContendedWaitingLosesNoWakeupsAndKeepsTheBudget) {
  constexpr std::size_t kBuffers = 16;
  BufPool pool(config(64, kBuffers));
  std::atomic<std::size_t> held{0};
  std::atomic<bool> over_budget{false};
  std::atomic<int> timeouts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      Rng rng(static_cast<std::uint64_t>(t) + 1);
      for (int i = 0; i < 300; ++i) {
        const std::size_t n = rng.chance(1, 8) ? rng.between(9, kBuffers) : rng.between(1, 4);
        auto r = pool.allocate_for(n, 20s);
        if (!r) {
          timeouts.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        if (held.fetch_add(n, std::memory_order_relaxed) + n > kBuffers)
          over_budget.store(true, std::memory_order_relaxed);
        for (std::byte* buf : *r) std::memset(buf, t, 64);
        if (rng.chance(1, 4)) std::this_thread::yield();
        for (std::byte* buf : *r) ASSERT_EQ(buf[63], std::byte(t));
        held.fetch_sub(n, std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(timeouts.load(), 0);
  EXPECT_FALSE(over_budget.load());
  const auto st = pool.stats();
  EXPECT_EQ(st.in_use, 0u);
  EXPECT_EQ(st.waiters, 0u);
  EXPECT_LE(st.created, kBuffers);
}

TEST(BufPool, AllocationMayBeDroppedOnAnotherThread) {
  BufPool pool(config(64, 4));
  std::vector<BufPoolAllocation> allocs;
  for (int i = 0; i < 4; ++i) allocs.push_back(std::move(pool.allocate(1).value()));
  std::thread dropper([v = std::move(allocs)]() mutable { v.clear(); });
  dropper.join();
  EXPECT_EQ(pool.stats().in_use, 0u);
}

TEST(BufPool, BatchReleaseGivesBackEveryAllocationOfMixedPoolsAndWakesWaiters) {
  BufPool a(config(64, 6)), b(config(128, 4));
  std::vector<BufPoolAllocation> spent;
  spent.push_back(std::move(a.allocate(2).value()));
  spent.push_back(std::move(a.allocate(1).value()));
  spent.push_back(std::move(b.allocate(4).value()));
  spent.push_back(BufPoolAllocation{});  // empty ones are skipped
  spent.push_back(std::move(a.allocate(3).value()));
  std::set<std::byte*> from_a;
  for (std::size_t i : {0, 1, 4})
    for (std::byte* p : spent[i]) from_a.insert(p);
  std::atomic<bool> got{false};
  std::thread waiter([&] { got.store(b.allocate(3).has_value(), std::memory_order_relaxed); });
  wait_for_waiters(b, 1);

  BufPool::release(spent);
  waiter.join();
  EXPECT_TRUE(got.load(std::memory_order_relaxed));
  for (auto& s : spent) EXPECT_TRUE(s.empty());
  EXPECT_EQ(a.stats().in_use, 0u);
  EXPECT_EQ(a.stats().live_allocations, 0u);
  EXPECT_EQ(a.stats().free, 6u);
  EXPECT_EQ(b.stats().live_allocations, 0u);  // the waiter's allocation has been dropped
  // The buffers really are back: all six of `a` can be had again, and they are the same ones.
  auto again = a.try_allocate(6);
  ASSERT_TRUE(again);
  EXPECT_EQ(std::set<std::byte*>(again->begin(), again->end()), from_a);
  BufPool::release(spent);  // releasing emptied allocations again does nothing
  EXPECT_EQ(a.stats().in_use, 6u);
}

TEST(BufPool, BatchReleaseOfTheLastAllocationsAfterThePoolIsGoneFreesIt) {
  BufPoolConfig c = config(64, 4);
  c.panic_on_live_allocations = false;
  std::vector<BufPoolAllocation> spent;
  {
    BufPool pool(c);
    spent.push_back(std::move(pool.allocate(1).value()));
    spent.push_back(std::move(pool.allocate(3).value()));
  }
  for (auto& s : spent)
    for (std::byte* buf : s) std::memset(buf, 0x5A, 64);  // still ours (ASan would see otherwise)
  BufPool::release(spent);                                // frees the pool's state (LeakSanitizer would see otherwise)
  EXPECT_TRUE(spent[0].empty() && spent[1].empty());
}

TEST(BufPool, DestroyingThePoolWithLiveAllocationsIsDefined) {
  BufPoolConfig c = config(64, 4);
  c.panic_on_live_allocations = false;
  BufPoolAllocation survivor;
  {
    BufPool pool(c);
    survivor = std::move(pool.allocate(3).value());
  }
  // The buffers outlive the pool (ASan would flag a use after free) and go with the allocation.
  for (std::byte* buf : survivor) std::memset(buf, 0x5A, 64);
  survivor.reset();
}

TEST(BufPoolDeathTest, DestroyingThePoolWithLiveAllocationsIsCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  BufPoolConfig c = config(64, 4);
  c.panic_on_live_allocations = true;
  EXPECT_DEATH(
      {
        BufPool pool(c);
        auto a = pool.allocate(1);
        auto* leak = new BufPoolAllocation(std::move(*a));
        (void)leak;
      },
      "allocations live");
}

TEST(BufPool, DefaultCatchesLiveAllocationsInDebugBuilds) {
  EXPECT_EQ(BufPoolConfig{}.panic_on_live_allocations, FERRO_DEBUG != 0);
}

}  // namespace
}  // namespace ferro
