// Slices dropped on other threads while the owning thread keeps building messages: the
// release/acquire pair on the slot word is what keeps a reused slot from racing with its last
// reader (TSan checks it), and every slice's bytes must be intact when its reader looks.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "ferro/core/random.hpp"
#include "ferro/pool/buffer_pool.hpp"

namespace ferro {
namespace {

struct Item {
  Slice slice;
  std::uint8_t fill;
  int delay;  // spins before the reader drops it
};

class Channel {
 public:
  void push(Item item) {
    {
      std::lock_guard lock(mu_);
      q_.push_back(std::move(item));
    }
    cv_.notify_one();
  }
  bool pop(Item& out) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    out = std::move(q_.front());
    q_.pop_front();
    return true;
  }
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> q_;
  bool closed_ = false;
};

template <std::size_t Slots>
void run_stress(std::uint64_t seed, std::size_t capacity, int messages) {
  auto pool = std::make_unique<BufferPool<Slots>>(capacity);
  Channel ch[3];
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (auto& c : ch) {
    readers.emplace_back([&c, &bad] {
      Item item;
      while (c.pop(item)) {
        for (int i = 0; i < item.delay; ++i) asm volatile("" ::: "memory");
        for (std::byte b : item.slice)
          if (b != std::byte(item.fill)) bad.fetch_add(1, std::memory_order_relaxed);
        // Scribble before dropping: a pool reusing the slot too early would race with this.
        std::memset(item.slice.data(), 0xEE, item.slice.size());
        item.slice.reset();
      }
    });
  }
  Rng rng(seed);
  for (int m = 0; m < messages; ++m) {
    const auto fill = static_cast<std::uint8_t>(rng.below(200));
    const std::size_t len = rng.between(1, capacity / 2 + 1);
    std::size_t written = 0;
    while (written < len) {
      const std::size_t chunk = std::min<std::size_t>(len - written, rng.between(1, 64));
      std::memset(pool->get_writable(chunk).data(), fill, chunk);
      written += chunk;
    }
    Item item{pool->get_data_owned(), fill, static_cast<int>(rng.below(2000))};
    if (rng.chance(1, 50)) continue;  // dropped here, on the pool's thread
    ch[rng.below(3)].push(std::move(item));
    // Now and then the pool goes away with slices still in flight.
    if (m == messages / 2) pool = std::make_unique<BufferPool<Slots>>(capacity);
  }
  pool.reset();
  for (auto& c : ch) c.close();
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(BufferPoolThreads, CrossThreadReleaseEightSlots) { run_stress<8>(1, 2048, 4000); }
TEST(BufferPoolThreads, CrossThreadReleaseRandomCapacities) {
  Rng rng(99);
  for (std::uint64_t seed = 10; seed < 14; ++seed) run_stress<8>(seed, rng.between(16, 8192), 800);
}
TEST(BufferPoolThreads, CrossThreadReleaseTwoSlots) { run_stress<2>(2, 512, 3000); }
TEST(BufferPoolThreads, CrossThreadReleaseSixtyFourSlots) { run_stress<64>(3, 8192, 3000); }

}  // namespace
}  // namespace ferro
