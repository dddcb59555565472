#include "ferro/core/deferring_lock.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <thread>

namespace ferro {
namespace {

TEST(DeferringLock, WorkRunsAtOnceWhenFree) {
  DeferringLock lock;
  int runs = 0;
  EXPECT_TRUE(lock.run_or_defer([&] { ++runs; }));
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(lock.is_locked());
}

TEST(DeferringLock, WorkIsDeferredToTheHolder) {
  DeferringLock lock;
  int runs = 0;
  auto work = [&] { ++runs; };
  ASSERT_TRUE(lock.try_lock());
  EXPECT_FALSE(lock.try_lock());
  EXPECT_FALSE(lock.run_or_defer(work));  // as an interrupt would see it
  EXPECT_EQ(runs, 0);
  EXPECT_TRUE(lock.has_pending());
  lock.unlock_and_run_pending(work);
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(lock.is_locked());
  EXPECT_FALSE(lock.has_pending());
}

DeferringLock g_lock;
volatile std::sig_atomic_t g_ran_in_handler = 0;
int g_work_runs = 0;

void on_signal(int) {
  if (g_lock.run_or_defer([] { ++g_work_runs; })) g_ran_in_handler = 1;
}

TEST(DeferringLock, SignalHandlerNeverDeadlocks) {
  auto previous = std::signal(SIGUSR2, on_signal);
  // Free lock: the handler runs the work itself.
  std::raise(SIGUSR2);
  EXPECT_EQ(g_work_runs, 1);
  EXPECT_EQ(g_ran_in_handler, 1);
  // Held lock: the handler leaves it, the holder runs it on unlock.
  g_ran_in_handler = 0;
  ASSERT_TRUE(g_lock.try_lock());
  std::raise(SIGUSR2);
  EXPECT_EQ(g_work_runs, 1);
  EXPECT_EQ(g_ran_in_handler, 0);
  g_lock.unlock_and_run_pending([] { ++g_work_runs; });
  EXPECT_EQ(g_work_runs, 2);
  std::signal(SIGUSR2, previous);
}

TEST(DeferringLock, EveryRequestRunsAndNeverConcurrently) {
  DeferringLock lock;
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> runs{0};
  auto work = [&] {
    if (inside.fetch_add(1, std::memory_order_relaxed) != 0) overlaps.fetch_add(1);
    runs.fetch_add(1, std::memory_order_relaxed);
    inside.fetch_sub(1, std::memory_order_relaxed);
  };
  std::atomic<int> requests{0};
  auto requester = [&] {
    for (int i = 0; i < 20000; ++i) {
      lock.run_or_defer(work);
      requests.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::thread a(requester), b(requester);
  a.join();
  b.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_FALSE(lock.is_locked());
  // Deferred requests coalesce, but the last one always runs: nothing is left pending.
  EXPECT_FALSE(lock.has_pending());
  EXPECT_GE(runs.load(), 1);
  EXPECT_LE(runs.load(), requests.load());
}

}  // namespace
}  // namespace ferro
