#include "ferro/io/mpsc_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace ferro {
namespace {

TEST(MpscQueue, SingleThreadIsFifo) {
  MpscQueue<int> q;
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.pop());
  for (int i = 0; i < 100; ++i) q.push(i);
  EXPECT_FALSE(q.empty());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(*q.pop(), i);
  for (int i = 100; i < 120; ++i) q.push(i);
  std::vector<int> rest;
  EXPECT_EQ(q.drain([&](int v) { rest.push_back(v); }), 70u);
  for (int i = 0; i < 70; ++i) EXPECT_EQ(rest[i], 50 + i);
  EXPECT_TRUE(q.empty());
}

TEST(MpscQueue, MoveOnlyItemsAndLeftoversAreDestroyed) {
  auto counter = std::make_shared<int>(0);
  {
    MpscQueue<std::unique_ptr<int>> q;
    q.push(std::make_unique<int>(1));
    q.push(std::make_unique<int>(2));
    q.push(std::make_unique<int>(3));
    EXPECT_EQ(**q.pop(), 1);
    // Each leftover holds a reference; the queue's destructor must drop it.
    MpscQueue<std::shared_ptr<int>> q2;
    q2.push(counter);
    q2.push(counter);
    EXPECT_EQ(counter.use_count(), 3);
  }
  EXPECT_EQ(counter.use_count(), 1);
}

// Producers push (id, sequence) while the consumer pops concurrently: nothing is lost or
// duplicated, and each producer's items come out in its own order. Runs under TSan.
TEST(MpscQueue, ConcurrentProducersKeepPerProducerOrder) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 20000;
  struct Item {
    int producer;
    int seq;
  };
  MpscQueue<Item> q;
  std::atomic<int> started{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      started.fetch_add(1);
      while (started.load() < kProducers) {
      }
      for (int i = 0; i < kPerProducer; ++i) q.push({p, i});
    });
  }
  std::vector<int> next(kProducers, 0);
  int received = 0;
  while (received < kProducers * kPerProducer) {
    const auto got = q.drain([&](Item item) {
      ASSERT_EQ(item.seq, next[item.producer]) << "producer " << item.producer;
      ++next[item.producer];
    });
    received += static_cast<int>(got);
    if (got == 0) std::this_thread::yield();
  }
  for (auto& t : producers) t.join();
  EXPECT_TRUE(q.empty());
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], kPerProducer);
}

// Spent nodes go to a stack shared by every queue of one T and come back on producer threads:
// two queues fed by two producers and drained by one consumer must still lose nothing and keep
// each producer's order in each queue.
TEST(MpscQueue, NodesRecycledAcrossQueuesAndThreadsKeepEveryItemInOrder) {
  constexpr std::uint64_t kPerProducer = 50000;
  MpscQueue<std::uint64_t> a, b;
  std::atomic<int> done{0};
  auto producer = [&](std::uint64_t id) {
    for (std::uint64_t i = 0; i < kPerProducer; ++i) (i % 2 == 0 ? a : b).push(id << 32 | i);
    done.fetch_add(1, std::memory_order_release);
  };
  std::thread p0(producer, 0), p1(producer, 1);
  std::uint64_t next[2][2] = {{0, 0}, {1, 1}};  // [queue][producer]: the next index expected
  std::uint64_t seen = 0;
  auto check = [&](int queue, std::uint64_t v) {
    const std::uint64_t id = v >> 32, i = v & 0xFFFFFFFFu;
    ASSERT_EQ(i, queue == 0 ? next[0][id] : next[1][id]);
    (queue == 0 ? next[0][id] : next[1][id]) += 2;
    ++seen;
  };
  for (;;) {
    const bool finished = done.load(std::memory_order_acquire) == 2;
    a.drain([&](std::uint64_t v) { check(0, v); });
    b.drain([&](std::uint64_t v) { check(1, v); });
    if (finished && a.empty() && b.empty()) break;
  }
  p0.join();
  p1.join();
  EXPECT_EQ(seen, 2 * kPerProducer);
}

// A thread that ends hands its cached nodes over whole (orphan chains), and later producers
// take them up again. Many generations of short-lived producers, a few hundred items each so
// that caches hold nodes from slabs, recycling and orphans alike, while one consumer drains:
// every item arrives once and in its producer's order. Runs under TSan.
TEST(MpscQueue, ProducersThatEndHandTheirNodesToLaterOnes) {
  constexpr int kGenerations = 40;
  constexpr int kProducers = 3;
  constexpr std::uint64_t kPerProducer = 700;  // about one slab of nodes
  MpscQueue<std::uint64_t> q;
  for (int g = 0; g < kGenerations; ++g) {
    std::atomic<int> done{0};
    std::vector<std::thread> producers;
    for (std::uint64_t p = 0; p < kProducers; ++p) {
      producers.emplace_back([&, p] {
        for (std::uint64_t i = 0; i < kPerProducer; ++i) q.push(p << 32 | i);
        done.fetch_add(1, std::memory_order_release);
      });
    }
    std::uint64_t next[kProducers] = {};
    for (;;) {
      const bool finished = done.load(std::memory_order_acquire) == kProducers;
      q.drain([&](std::uint64_t v) {
        const std::uint64_t p = v >> 32;
        ASSERT_EQ(v & 0xFFFFFFFFu, next[p]) << "generation " << g << ", producer " << p;
        ++next[p];
      });
      if (finished && q.empty()) break;
    }
    for (auto& t : producers) t.join();
    for (auto n : next) ASSERT_EQ(n, kPerProducer) << "generation " << g;
  }
}

}  // namespace
}  // namespace ferro
