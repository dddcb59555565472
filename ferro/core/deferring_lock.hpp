// A lock that a signal handler or interrupt may *try* but never waits for.
//
// An interrupt that finds the lock free runs its work at once; one that finds it held leaves a
// request behind, and the holder runs the work when it lets go. So the work always runs, never
// concurrently with the holder, and the interrupt never blocks: the shape of the vnv heap's
// "persist now, or at the end of the operation it interrupted".
//
// Lock-free atomics only: no syscalls, no heap, safe in a signal handler and on a
// microcontroller.
#pragma once

#include <atomic>

namespace ferro {

class DeferringLock {
  static_assert(std::atomic<bool>::is_always_lock_free, "a signal handler needs lock-free atomics");

 public:
  constexpr DeferringLock() noexcept = default;
  DeferringLock(const DeferringLock&) = delete;
  DeferringLock& operator=(const DeferringLock&) = delete;

  // acquire: the new holder sees every write the previous holder made under the lock.
  bool try_lock() noexcept { return !held_.exchange(true, std::memory_order_acquire); }

  // release: publishes the holder's writes to the next one to take the lock.
  void unlock() noexcept { held_.store(false, std::memory_order_release); }

  bool is_locked() const noexcept { return held_.load(std::memory_order_relaxed); }
  bool has_pending() const noexcept { return pending_.load(std::memory_order_relaxed); }

  // Holder side: unlock, then run any work left behind while we held the lock.
  template <class Work>
  void unlock_and_run_pending(Work&& work) noexcept {
    for (;;) {
      unlock();
      // acq_rel: pairs with the requester's release store, and orders the exchange after unlock.
      if (!pending_.exchange(false, std::memory_order_acq_rel)) return;
      // Someone else took the lock in between: it will see the request at its own unlock.
      if (!try_lock()) {
        pending_.store(true, std::memory_order_release);
        return;
      }
      work();
    }
  }

  // Interrupt side: run `work` under the lock now, or leave it for the holder. Returns true when
  // it ran here.
  template <class Work>
  bool run_or_defer(Work&& work) noexcept {
    if (try_lock()) {
      work();
      unlock_and_run_pending(work);
      return true;
    }
    // release: the holder's acq_rel exchange sees this request (and what we wrote before it).
    pending_.store(true, std::memory_order_release);
    // Another thread's holder may have checked `pending_` just before our store and left; try
    // once more so the request cannot be stranded.
    if (try_lock()) {
      pending_.store(false, std::memory_order_relaxed);
      work();
      unlock_and_run_pending(work);
      return true;
    }
    return false;
  }

 private:
  std::atomic<bool> held_{false};
  std::atomic<bool> pending_{false};
};

}  // namespace ferro
