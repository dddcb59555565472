#include "ferro/io/write_pipe.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "ferro/io/frozen_file.hpp"
#include "ferro/io/storage_device.hpp"
#include "ferro/storage/fault_storage.hpp"
#include "ferro/storage/memory_storage.hpp"

namespace ferro {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kChunk = 128;
constexpr std::uint64_t kChunks = 0x200;

std::string temp_path(const char* name) {
  auto p =
      std::filesystem::temp_directory_path() / (std::string("ferro_pipe_") + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove(p);
  return p.string();
}

BufPool make_pool(std::size_t buffers = kChunks) {
  BufPoolConfig c;
  c.buffer_size = kChunk;
  c.max_memory = kChunk * buffers;
  return BufPool(c);
}

// n buffers, each filled with `fill`.
BufPoolAllocation filled(BufPool& pool, std::size_t n, std::uint8_t fill) {
  auto a = pool.allocate(n);
  FERRO_CHECK(a.has_value(), "test pool exhausted");
  for (std::byte* b : *a) std::memset(b, fill, kChunk);
  return std::move(*a);
}

// Every one of `count` chunks from `first` holds `fill`.
void expect_chunks(FrozenFile& file, std::uint64_t first, std::size_t count, std::uint8_t fill) {
  std::vector<std::byte> back(count * kChunk);
  ASSERT_TRUE(file.pread(first, back));
  for (std::size_t i = 0; i < back.size(); ++i) {
    ASSERT_EQ(back[i], std::byte{fill}) << "chunk " << first + i / kChunk;
  }
}

struct Fixture {
  explicit Fixture(const char* name, WritePipeConfig cfg = {}) : path(temp_path(name)) {
    auto f = FrozenFile::open({path, kChunk, kChunks});
    FERRO_CHECK(f.has_value(), "cannot open test file");
    file = std::make_unique<FrozenFile>(std::move(*f));
    auto p = WritePipe::open(*file, cfg);
    FERRO_CHECK(p.has_value(), "cannot open pipe");
    pipe = std::move(*p);
  }
  ~Fixture() {
    pipe.reset();
    file.reset();
    std::filesystem::remove(path);
  }
  std::string path;
  BufPool pool = make_pool();
  std::unique_ptr<FrozenFile> file;
  std::unique_ptr<WritePipe> pipe;
};

// ---- the seed's tests ----

TEST(WritePipe, OpensAndCloses) {
  Fixture fx("lifecycle");
  EXPECT_EQ(fx.pipe->durable_epoch(), 0u);
  EXPECT_TRUE(fx.pipe->close());
  EXPECT_TRUE(fx.pipe->close());  // idempotent
  fx.pipe.reset();
}

TEST(WritePipe, DropWithPendingWriteThenReopenReadsItBack) {
  const auto path = temp_path("drop_pending");
  {
    auto file = FrozenFile::open({path, kChunk, kChunks});
    ASSERT_TRUE(file);
    auto pool = make_pool();
    auto pipe = WritePipe::open(*file);
    ASSERT_TRUE(pipe);
    ASSERT_TRUE((*pipe)->write({filled(pool, 1, 0x20), 0}));
    pipe->reset();  // the destructor flushes, syncs and joins
  }
  auto file = FrozenFile::open({path, kChunk, kChunks});
  ASSERT_TRUE(file);
  expect_chunks(*file, 0, 1, 0x20);
  std::filesystem::remove(path);
}

TEST(WritePipe, NoDeadlockWithManyPendingWrites) {
  Fixture fx("many_pending");
  for (std::uint64_t i = 0; i < kChunks; ++i) {
    ASSERT_TRUE(fx.pipe->write({filled(fx.pool, 1, static_cast<std::uint8_t>(i)), 0}));
  }
  EXPECT_TRUE(fx.pipe->close());
  EXPECT_EQ(fx.pipe->durable_epoch(), kChunks);
  expect_chunks(*fx.file, 0, 1, static_cast<std::uint8_t>(kChunks - 1));  // the last write to slot 0 wins
}

TEST(WritePipe, CloseFromOneThreadWhileAnotherWrites) {
  Fixture fx("close_race");
  std::atomic<bool> go{false};
  std::vector<WriteTicket> accepted;
  Errc refusal = Errc::ok;
  std::thread writer([&] {
    while (!go.load()) {
    }
    for (std::uint64_t i = 0; i < 200; ++i) {
      auto t = fx.pipe->write({filled(fx.pool, 1, 0x31), i});
      if (!t) {
        refusal = t.code();
        break;
      }
      accepted.push_back(std::move(*t));
    }
  });
  go.store(true);
  std::this_thread::sleep_for(100us);
  EXPECT_TRUE(fx.pipe->close());
  writer.join();
  if (accepted.size() < 200) {
    EXPECT_EQ(refusal, Errc::closed);
  }
  // Whatever close() let in, it made durable before returning.
  for (auto& t : accepted) {
    ASSERT_TRUE(t.ready());
    EXPECT_TRUE(t.wait());
  }
  expect_chunks(*fx.file, 0, accepted.size(), 0x31);
}

TEST(WritePipe, EpochsRiseStrictly) {
  Fixture fx("epochs");
  auto t1 = fx.pipe->write({filled(fx.pool, 1, 1), 0});
  auto t2 = fx.pipe->write({filled(fx.pool, 1, 2), 1});
  auto t3 = fx.pipe->write({filled(fx.pool, 1, 3), 2});
  ASSERT_TRUE(t1 && t2 && t3);
  EXPECT_EQ(t1->epoch(), 1u);
  EXPECT_EQ(t2->epoch(), 2u);
  EXPECT_EQ(t3->epoch(), 3u);
}

TEST(WritePipe, ReadBackAfterWaiting) {
  Fixture fx("readback");
  auto t = fx.pipe->write({filled(fx.pool, 10, 0x0A), 0});
  ASSERT_TRUE(t);
  auto durable = t->wait();
  ASSERT_TRUE(durable);
  EXPECT_GE(*durable, t->epoch());
  EXPECT_GE(fx.pipe->durable_epoch(), t->epoch());
  expect_chunks(*fx.file, 0, 10, 0x0A);
}

TEST(WritePipe, BatchedReadBack) {
  Fixture fx("batched");
  const std::pair<std::uint8_t, std::size_t> writes[] = {
      {0x0A, 0x1A}, {0x0B, 0x1B}, {0x0C, 0x1C}, {0x0D, 0x1D}, {0x0E, 0x1E}};
  std::uint64_t slot = 0;
  std::optional<WriteTicket> last;
  for (auto [fill, n] : writes) {
    auto t = fx.pipe->write({filled(fx.pool, n, fill), slot});
    ASSERT_TRUE(t);
    last = std::move(*t);
    slot += n;
  }
  auto durable = last->wait();
  ASSERT_TRUE(durable);
  EXPECT_GE(*durable, last->epoch());
  slot = 0;
  for (auto [fill, n] : writes) {
    expect_chunks(*fx.file, slot, n, fill);
    slot += n;
  }
}

TEST(WritePipe, ConcurrentWaits) {
  Fixture fx("concurrent_waits");
  auto t1 = fx.pipe->write({filled(fx.pool, 10, 0x0A), 0});
  auto t2 = fx.pipe->write({filled(fx.pool, 10, 0x0A), 0});
  ASSERT_TRUE(t1 && t2);
  Result<std::uint64_t> r1 = make_error(Errc::io_error, "unset"), r2 = r1;
  std::thread a([&] { r1 = t1->wait(); });
  std::thread b([&] { r2 = t2->wait(); });
  a.join();
  b.join();
  ASSERT_TRUE(r1 && r2);
  EXPECT_GE(*r1, t1->epoch());
  EXPECT_GE(*r2, t2->epoch());
  EXPECT_GT(t2->epoch(), t1->epoch());
}

TEST(WritePipe, WaitingOnTheLastTicketImpliesEarlierOnesAreDurable) {
  Fixture fx("boundary");
  auto a = fx.pipe->write({filled(fx.pool, 1, 0xAA), 0});
  auto b = fx.pipe->write({filled(fx.pool, 1, 0xBB), 1});
  auto c = fx.pipe->write({filled(fx.pool, 1, 0xCC), 2});
  ASSERT_TRUE(a && b && c);
  auto durable = c->wait();
  ASSERT_TRUE(durable);
  EXPECT_GE(*durable, c->epoch());
  EXPECT_TRUE(a->ready());
  EXPECT_TRUE(b->ready());
  expect_chunks(*fx.file, 0, 1, 0xAA);
  expect_chunks(*fx.file, 1, 1, 0xBB);
  expect_chunks(*fx.file, 2, 1, 0xCC);
}

TEST(WritePipe, FourThreadsOf64WritesGetEpochsExactly1To256) {
  constexpr std::size_t kThreads = 4, kPerThread = 64;
  Fixture fx("four_threads");
  std::vector<std::vector<WriteTicket>> tickets(kThreads);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = 0; i < kPerThread; ++i) {
        auto ticket = fx.pipe->write({filled(fx.pool, 1, static_cast<std::uint8_t>(t + 1)), t * kPerThread + i});
        ASSERT_TRUE(ticket);
        tickets[t].push_back(std::move(*ticket));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::uint64_t> epochs;
  const WriteTicket* latest = nullptr;
  for (auto& per : tickets) {
    for (std::size_t i = 0; i < per.size(); ++i) {
      epochs.push_back(per[i].epoch());
      if (i > 0) {
        EXPECT_GT(per[i].epoch(), per[i - 1].epoch());  // each thread's own order
      }
      if (latest == nullptr || per[i].epoch() > latest->epoch()) latest = &per[i];
    }
  }
  std::sort(epochs.begin(), epochs.end());
  ASSERT_EQ(epochs.size(), kThreads * kPerThread);
  for (std::size_t i = 0; i < epochs.size(); ++i) ASSERT_EQ(epochs[i], i + 1);
  auto durable = latest->wait();
  ASSERT_TRUE(durable);
  EXPECT_EQ(*durable, kThreads * kPerThread);
  for (std::size_t t = 0; t < kThreads; ++t) expect_chunks(*fx.file, t * kPerThread, kPerThread, t + 1);
}

// ---- ours ----

// A device that records every call and can hold a sync until the test lets it go.
class RecordingDevice final : public ChunkDevice {
 public:
  struct Call {
    std::uint64_t first;
    std::vector<std::uint8_t> fills;  // the first byte of each chunk
  };
  std::size_t chunk_size() const noexcept override { return kChunk; }
  std::uint64_t chunk_count() const noexcept override { return kChunks; }
  Status write_chunks(std::uint64_t first, std::span<const std::byte* const> chunks) noexcept override {
    std::lock_guard lk(mu_);
    Call c{first, {}};
    for (auto* p : chunks) c.fills.push_back(static_cast<std::uint8_t>(*p));
    calls_.push_back(std::move(c));
    return ok();
  }
  Status sync() noexcept override {
    std::unique_lock lk(mu_);
    ++syncs_entered_;
    cv_.notify_all();
    cv_.wait(lk, [&] { return !hold_; });
    return ok();
  }
  void hold() {
    std::lock_guard lk(mu_);
    hold_ = true;
  }
  void release() {
    {
      std::lock_guard lk(mu_);
      hold_ = false;
    }
    cv_.notify_all();
  }
  void wait_for_syncs(int n) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return syncs_entered_ >= n; });
  }
  std::vector<Call> calls() {
    std::lock_guard lk(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  int syncs_entered_ = 0;
  std::vector<Call> calls_;
};

TEST(WritePipe, TwoWritesToOneSlotInABatchLandInSubmissionOrder) {
  RecordingDevice dev;
  auto pool = make_pool();
  WritePipeConfig cfg;
  cfg.flush_duration = 10s;  // the batch gathers for as long as the first sync is held
  auto pipe = WritePipe::open(dev, cfg);
  ASSERT_TRUE(pipe);
  dev.hold();
  auto first = (*pipe)->write({filled(pool, 1, 0x01), 100});
  ASSERT_TRUE(first);
  dev.wait_for_syncs(1);  // the first sync is running and held
  // One batch: two writes to slot 7, with adjacent slots 8 and 9 between and after them.
  auto a = (*pipe)->write({filled(pool, 1, 0xA1), 7});
  auto b = (*pipe)->write({filled(pool, 1, 0xA2), 8});
  auto c = (*pipe)->write({filled(pool, 1, 0xB1), 7});
  auto d = (*pipe)->write({filled(pool, 2, 0xB2), 8});
  ASSERT_TRUE(a && b && c && d);
  EXPECT_FALSE(d->ready());
  EXPECT_EQ(d->wait_for(20ms).code(), Errc::timed_out);
  dev.release();
  ASSERT_TRUE(d->wait());
  ASSERT_TRUE((*pipe)->close());
  const auto calls = dev.calls();
  // The first write alone, then the batch: [7,8] from a and b coalesced, then [7,8,9] from c, d.
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].first, 100u);
  EXPECT_EQ(calls[1].first, 7u);
  EXPECT_EQ(calls[1].fills, (std::vector<std::uint8_t>{0xA1, 0xA2}));
  EXPECT_EQ(calls[2].first, 7u);
  EXPECT_EQ(calls[2].fills, (std::vector<std::uint8_t>{0xB1, 0xB2, 0xB2}));
  EXPECT_EQ((*pipe)->stats().batches, 2u);
  EXPECT_EQ((*pipe)->stats().device_writes, 3u);
}

TEST(WritePipe, WritersNeverWaitOnARunningSyncAndFlushDurationBoundsTheGathering) {
  RecordingDevice dev;
  auto pool = make_pool();
  WritePipeConfig cfg;
  cfg.flush_duration = 20ms;
  auto pipe = WritePipe::open(dev, cfg);
  ASSERT_TRUE(pipe);
  dev.hold();
  ASSERT_TRUE((*pipe)->write({filled(pool, 1, 0x01), 0}));
  dev.wait_for_syncs(1);  // a sync is running and will not end until released
  // Writers keep going: none of them waits for the sync.
  std::vector<WriteTicket> tickets;
  for (std::uint64_t i = 0; i < 300; ++i) {
    auto t = (*pipe)->write({filled(pool, 1, 0x02), 1 + i % 100});
    ASSERT_TRUE(t);
    tickets.push_back(std::move(*t));
  }
  // The gathered batch is written within about flush_duration although the sync still runs.
  for (int i = 0; i < 400 && dev.calls().size() < 2; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_GE(dev.calls().size(), 2u);
  EXPECT_FALSE(tickets.back().ready());  // written, but not durable: the sync has not returned
  dev.release();
  EXPECT_EQ(*tickets.back().wait(), 301u);
  ASSERT_TRUE((*pipe)->close());
}

TEST(WritePipe, WritesReachChunksAddedByGrow) {
  Fixture fx("grow");
  EXPECT_EQ(fx.pipe->write({filled(fx.pool, 1, 5), kChunks}).code(), Errc::out_of_range);
  ASSERT_TRUE(fx.file->grow(8));
  auto t = fx.pipe->write({filled(fx.pool, 2, 5), kChunks + 6});
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->wait());
  expect_chunks(*fx.file, kChunks + 6, 2, 5);
}

TEST(WritePipe, SameSlotRewrittenManyTimesEndsWithTheLastWrite) {
  Fixture fx("same_slot");
  for (int round = 0; round < 20; ++round) {
    std::optional<WriteTicket> last;
    for (int i = 0; i < 50; ++i) {
      auto t = fx.pipe->write({filled(fx.pool, 1, static_cast<std::uint8_t>(round * 50 + i)), 3});
      ASSERT_TRUE(t);
      last = std::move(*t);
    }
    ASSERT_TRUE(last->wait());
    expect_chunks(*fx.file, 3, 1, static_cast<std::uint8_t>(round * 50 + 49));
  }
}

// The storage layer's FaultStorage behind the seam.
struct FaultyFixture {
  explicit FaultyFixture(FaultPlan plan) : faulty(memory, plan), device(faulty, kChunk) {
    auto p = WritePipe::open(device, WritePipeConfig{});
    FERRO_CHECK(p.has_value(), "cannot open pipe");
    pipe = std::move(*p);
  }
  std::vector<std::byte> ram = std::vector<std::byte>(kChunk * kChunks);
  MemoryStorage memory{ram};
  FaultStorage<MemoryStorage> faulty;
  StorageDevice<FaultStorage<MemoryStorage>> device;
  BufPool pool = make_pool();
  std::unique_ptr<WritePipe> pipe;
};

TEST(WritePipe, InjectedSyncFailureFailsItsBatchAndEveryLaterTicketForGood) {
  FaultyFixture fx(FaultPlan{.fail_sync_at = 2});
  auto good = fx.pipe->write({filled(fx.pool, 1, 0x11), 0});
  ASSERT_TRUE(good);
  ASSERT_TRUE(good->wait());  // sync 1 succeeds
  const std::uint64_t durable_before = fx.pipe->durable_epoch();
  EXPECT_EQ(durable_before, good->epoch());

  std::atomic<int> callback_errors{0};
  std::vector<WriteTicket> doomed;
  for (int i = 0; i < 5; ++i) {
    auto t = fx.pipe->write({filled(fx.pool, 1, 0x22), 1 + static_cast<std::uint64_t>(i)});
    if (!t) break;  // the failure may already be latched
    t->on_durable([&](Result<std::uint64_t> r) {
      if (!r) callback_errors.fetch_add(1);
    });
    doomed.push_back(std::move(*t));
  }
  ASSERT_FALSE(doomed.empty());
  for (auto& t : doomed) {
    auto r = t.wait();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::io_error);
  }
  // Latched: later writes fail at once, the earlier ticket stays good, and durability never
  // moves again (no later sync can vouch for what the failed one lost).
  auto later = fx.pipe->write({filled(fx.pool, 1, 0x33), 9});
  ASSERT_FALSE(later);
  EXPECT_EQ(later.code(), Errc::io_error);
  EXPECT_TRUE(good->wait());
  EXPECT_EQ(fx.pipe->status().code(), Errc::io_error);
  EXPECT_EQ(fx.pipe->close().code(), Errc::io_error);
  // Callbacks run on the pipe's threads after waiters are woken; close() has joined them.
  EXPECT_EQ(callback_errors.load(), static_cast<int>(doomed.size()));
  EXPECT_EQ(fx.pipe->durable_epoch(), durable_before);
  for (auto& t : doomed) EXPECT_FALSE(t.wait());
}

TEST(WritePipe, InjectedWriteFailureIsLatchedAndNothingAfterItIsDurable) {
  FaultyFixture fx(FaultPlan{.fail_write_at = 3});
  std::vector<WriteTicket> tickets;
  for (int i = 0; i < 6; ++i) {
    auto t = fx.pipe->write({filled(fx.pool, 1, 0x40 + i), static_cast<std::uint64_t>(2 * i)});  // not adjacent
    if (!t) break;
    tickets.push_back(std::move(*t));
    (void)tickets.back().wait();
  }
  ASSERT_GE(tickets.size(), 3u);
  EXPECT_TRUE(tickets[0].wait());
  EXPECT_TRUE(tickets[1].wait());
  EXPECT_EQ(tickets[2].wait().code(), Errc::io_error);
  for (std::size_t i = 2; i < tickets.size(); ++i) EXPECT_FALSE(tickets[i].wait());
  EXPECT_EQ(fx.pipe->durable_epoch(), 2u);
  EXPECT_EQ(fx.pipe->write({filled(fx.pool, 1, 0x99), 50}).code(), Errc::io_error);
}

TEST(WritePipe, RejectsBadRequestsAndWritesAfterClose) {
  Fixture fx("bad_requests");
  EXPECT_EQ(fx.pipe->write({BufPoolAllocation{}, 0}).code(), Errc::invalid_argument);
  BufPoolConfig other;
  other.buffer_size = kChunk * 2;
  other.max_memory = kChunk * 2;
  BufPool wrong(other);
  EXPECT_EQ(fx.pipe->write({*wrong.allocate(1), 0}).code(), Errc::invalid_argument);
  EXPECT_EQ(fx.pipe->write({filled(fx.pool, 2, 1), kChunks - 1}).code(), Errc::out_of_range);
  EXPECT_EQ(fx.pipe->write({filled(fx.pool, 1, 1), ~std::uint64_t{0}}).code(), Errc::out_of_range);
  auto ok_ticket = fx.pipe->write({filled(fx.pool, 1, 1), kChunks - 1});
  ASSERT_TRUE(ok_ticket);
  EXPECT_EQ(ok_ticket->epoch(), 1u);  // refused requests take no epoch
  ASSERT_TRUE(fx.pipe->close());
  EXPECT_TRUE(ok_ticket->ready());
  EXPECT_EQ(fx.pipe->write({filled(fx.pool, 1, 1), 0}).code(), Errc::closed);
}

TEST(WritePipe, OnDurableRunsOnceWithTheEpochAndAtOnceWhenAlreadyDurable) {
  Fixture fx("callbacks");
  std::atomic<int> calls{0};
  std::atomic<std::uint64_t> seen{0};
  auto t = fx.pipe->write({filled(fx.pool, 1, 7), 0});
  ASSERT_TRUE(t);
  t->on_durable([&](Result<std::uint64_t> r) {
    ASSERT_TRUE(r);
    seen.store(*r);
    calls.fetch_add(1);
  });
  ASSERT_TRUE(t->wait());
  ASSERT_TRUE(fx.pipe->close());  // the syncer has run every callback before it exits
  EXPECT_EQ(calls.load(), 1);
  EXPECT_GE(seen.load(), t->epoch());
  bool inline_call = false;
  t->on_durable([&](Result<std::uint64_t> r) { inline_call = r.has_value(); });
  EXPECT_TRUE(inline_call);
}

// A minimal eager coroutine: enough to co_await tickets.
struct Task {
  struct promise_type {
    Task get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }
  };
};

Task await_both(const WriteTicket& a, const WriteTicket& b, std::atomic<int>& done, std::uint64_t& ea,
                std::uint64_t& eb) {
  auto ra = co_await a;
  auto rb = co_await b;
  ea = ra ? *ra : 0;
  eb = rb ? *rb : 0;
  done.store(1, std::memory_order_release);
}

TEST(WritePipe, TicketsAreAwaitable) {
  Fixture fx("await");
  auto t1 = fx.pipe->write({filled(fx.pool, 4, 0x0A), 0});
  auto t2 = fx.pipe->write({filled(fx.pool, 4, 0x0B), 4});
  ASSERT_TRUE(t1 && t2);
  std::atomic<int> done{0};
  std::uint64_t e1 = 0, e2 = 0;
  await_both(*t1, *t2, done, e1, e2);
  ASSERT_TRUE(t2->wait());
  ASSERT_TRUE(fx.pipe->close());  // the coroutine resumed on the syncer thread before this returns
  ASSERT_EQ(done.load(std::memory_order_acquire), 1);
  EXPECT_GE(e1, t1->epoch());
  EXPECT_GE(e2, t2->epoch());
  // Awaiting a resolved ticket does not suspend.
  done.store(0);
  await_both(*t1, *t2, done, e1, e2);
  EXPECT_EQ(done.load(), 1);
}

}  // namespace
}  // namespace ferro
