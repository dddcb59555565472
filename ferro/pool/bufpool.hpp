// BufPool: fixed-size buffers handed out n at a time, within a memory budget.
//
//   ferro::BufPool pool({.buffer_size = 4096, .max_memory = 1 << 20});
//   auto a = pool.allocate(3);             // waits while the budget is spent
//   for (std::byte* buf : *a) fill(buf);   // a->size() == 3, each buffer 4096 bytes
//   // `a` returns its buffers to the pool's free list when it is destroyed.
//
// Host only (it blocks on a mutex and condition variables). Thread-safe: any thread may
// allocate, and an allocation may be dropped on any thread.
//
// Waiting: waiters queue in arrival order and freed buffers are handed straight to them under
// the pool's lock, each waiter on its own condition variable, so a wake-up cannot be lost and
// nobody races for the freed buffers. A request that fits in what is free may overtake an
// earlier one that does not (so a small request is not held up behind a large one), but only
// until the overtaken request has been passed by `max_buffers` buffers in all; after that the
// queue is strict FIFO until it is served, so a large request cannot starve either.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>

#include "ferro/core/result.hpp"

namespace ferro {

struct BufPoolConfig {
  std::size_t buffer_size = 4096;  // bytes per buffer, at least 16
  std::size_t max_memory = 0;      // budget in bytes: at most max_memory / buffer_size buffers exist
  // Destroying the pool while allocations live is a bug in the caller. It is always defined
  // (the live allocations keep the buffers, which are freed with the last of them); with this
  // set (the default in debug builds) it also panics, so the bug is seen.
  bool panic_on_live_allocations = FERRO_DEBUG != 0;
};

struct BufPoolStats {
  std::size_t buffer_size = 0;
  std::size_t max_buffers = 0;  // the budget, in buffers
  std::size_t created = 0;      // buffers ever obtained from the system (they stay in the pool)
  std::size_t in_use = 0;       // buffers held by live allocations
  std::size_t free = 0;         // created and on the free list
  std::size_t waiters = 0;      // threads blocked in allocate / allocate_for
  std::size_t live_allocations = 0;
};

namespace detail {
struct BufPoolState;
}

// n buffers of the pool's buffer size; move-only; gives them back when destroyed.
class BufPoolAllocation {
 public:
  using iterator = std::byte* const*;

  BufPoolAllocation() noexcept = default;
  BufPoolAllocation(BufPoolAllocation&& other) noexcept;
  BufPoolAllocation& operator=(BufPoolAllocation&& other) noexcept;
  BufPoolAllocation(const BufPoolAllocation&) = delete;
  BufPoolAllocation& operator=(const BufPoolAllocation&) = delete;
  ~BufPoolAllocation() { reset(); }

  std::size_t size() const noexcept { return count_; }  // number of buffers
  bool empty() const noexcept { return count_ == 0; }
  std::size_t buffer_size() const noexcept { return buffer_size_; }
  std::size_t bytes() const noexcept { return count_ * buffer_size_; }

  std::byte* operator[](std::size_t i) const noexcept { return data()[i]; }
  std::byte* first() const noexcept { return count_ ? data()[0] : nullptr; }
  std::span<std::byte> buffer(std::size_t i) const noexcept { return {data()[i], buffer_size_}; }
  std::span<std::byte* const> pointers() const noexcept { return {data(), count_}; }
  iterator begin() const noexcept { return data(); }
  iterator end() const noexcept { return data() + count_; }

  // Gives the buffers back now (the destructor does the same).
  void reset() noexcept;

 private:
  void forget() noexcept;  // empty, owning nothing (its buffers already given back)
  friend class BufPool;
  friend struct detail::BufPoolState;
  static constexpr std::size_t kInline = 4;  // most requests are small: no pointer array on the heap

  std::byte* const* data() const noexcept { return heap_ ? heap_.get() : inline_; }
  std::byte** data() noexcept { return heap_ ? heap_.get() : inline_; }

  detail::BufPoolState* state_ = nullptr;
  std::size_t count_ = 0;
  std::size_t buffer_size_ = 0;
  std::byte* inline_[kInline] = {};
  std::unique_ptr<std::byte*[]> heap_;
};

class BufPool {
 public:
  // Panics on a config that cannot work (buffer_size < 16, or a budget below one buffer).
  explicit BufPool(const BufPoolConfig& config);
  ~BufPool();
  BufPool(BufPool&& other) noexcept : state_(other.state_) { other.state_ = nullptr; }
  BufPool& operator=(BufPool&&) = delete;
  BufPool(const BufPool&) = delete;
  BufPool& operator=(const BufPool&) = delete;

  // Waits until n buffers can be had. Errors: invalid_argument when n exceeds the whole budget
  // (it could never be served), no_space when the system refuses memory. n == 0 gives an empty
  // allocation at once.
  Result<BufPoolAllocation> allocate(std::size_t n);
  // Never waits: no_space when n buffers cannot be had now without jumping the queue unfairly.
  Result<BufPoolAllocation> try_allocate(std::size_t n);
  // Waits at most `timeout`: timed_out when it passes first.
  template <class Rep, class Period>
  Result<BufPoolAllocation> allocate_for(std::size_t n, std::chrono::duration<Rep, Period> timeout) {
    return allocate_until(
        n, std::chrono::steady_clock::now() + std::chrono::ceil<std::chrono::steady_clock::duration>(timeout));
  }
  Result<BufPoolAllocation> allocate_until(std::size_t n, std::chrono::steady_clock::time_point deadline);

  // Gives back the buffers of every allocation in `spent` (leaving each empty) with one lock
  // and one round of wake-ups per run of allocations from the same pool, where destroying them
  // one by one takes the lock, and may wake a waiter, once each: for a consumer that finishes
  // requests in batches. Allocations from different pools may be mixed.
  static void release(std::span<BufPoolAllocation> spent) noexcept;

  std::size_t buffer_size() const noexcept;
  std::size_t max_buffers() const noexcept;
  BufPoolStats stats() const;

 private:
  enum class Wait { forever, until, never };
  Result<BufPoolAllocation> acquire(std::size_t n, Wait wait, std::chrono::steady_clock::time_point deadline);

  detail::BufPoolState* state_;
};

}  // namespace ferro
