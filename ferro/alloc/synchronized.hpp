// A region allocator made thread-safe by one lock around every call. The default lock is a
// test-and-test-and-set spin lock that yields after a short spin: allocator critical sections
// are tens of nanoseconds, and ferro_alloc_bench ("synchronized" cases) measured it against
// std::mutex on this machine (see docs/alloc.md). Both are constinit, so a Synchronized
// allocator can serve global operator new before main. Host-only (std::thread::yield).
#pragma once

#include <atomic>
#include <mutex>
#include <thread>
#include <utility>

#include "ferro/alloc/allocator.hpp"

namespace ferro {

class SpinLock {
 public:
  constexpr SpinLock() noexcept = default;
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  void lock() noexcept {
    for (;;) {
      // acquire: the new holder sees everything the previous holder wrote under the lock.
      if (!held_.exchange(true, std::memory_order_acquire)) return;
      int spins = 0;
      // relaxed: only a hint to retry the exchange, which does the real synchronisation.
      while (held_.load(std::memory_order_relaxed)) {
        if (++spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        } else {
          std::this_thread::yield();  // the holder may be descheduled on a busy core: let it run
        }
      }
    }
  }
  bool try_lock() noexcept { return !held_.exchange(true, std::memory_order_acquire); }
  // release: publishes the holder's writes to the next holder.
  void unlock() noexcept { held_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> held_{false};
};

template <RegionAllocator A, class Lock = SpinLock>
class Synchronized {
 public:
  template <class... Args>
  constexpr explicit Synchronized(Args&&... args) noexcept : a_(std::forward<Args>(args)...) {}
  Synchronized(const Synchronized&) = delete;
  Synchronized& operator=(const Synchronized&) = delete;

  void* allocate(std::size_t size, std::size_t align = kDefaultAlign) noexcept {
    std::lock_guard g(lock_);
    return a_.allocate(size, align);
  }
  void deallocate(void* p, std::size_t size = 0, std::size_t align = kDefaultAlign) noexcept {
    std::lock_guard g(lock_);
    a_.deallocate(p, size, align);
  }
  void* reallocate(void* p, std::size_t old_size, std::size_t new_size, std::size_t align = kDefaultAlign) noexcept {
    std::lock_guard g(lock_);
    return a_.reallocate(p, old_size, new_size, align);
  }
  bool allocate_at(void* p, std::size_t size, std::size_t align = kDefaultAlign) noexcept {
    std::lock_guard g(lock_);
    return a_.allocate_at(p, size, align);
  }
  void reset() noexcept {
    std::lock_guard g(lock_);
    a_.reset();
  }
  AllocStats stats() const noexcept {
    std::lock_guard g(lock_);
    return a_.stats();
  }
  Status check() const noexcept {
    std::lock_guard g(lock_);
    return a_.check();
  }
  bool owns(const void* p) const noexcept {
    std::lock_guard g(lock_);
    return a_.owns(p);
  }
  std::size_t usable_size(const void* p) const noexcept {
    std::lock_guard g(lock_);
    return a_.usable_size(p);
  }
  // Several calls under one lock hold: f(A&).
  template <class F>
  decltype(auto) with_lock(F&& f) {
    std::lock_guard g(lock_);
    return std::forward<F>(f)(a_);
  }

 private:
  mutable Lock lock_;
  A a_;
};

}  // namespace ferro
