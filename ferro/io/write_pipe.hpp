// WritePipe: group-committed durable writes of BufPool buffers to a ChunkDevice (host only).
//
//   ferro::WritePipe::open(file)          -> a pipe with a flusher and a syncer thread
//   pipe->write({std::move(alloc), slot}) -> a WriteTicket at once (no I/O, no lock)
//   ticket.wait() / wait_for(t) / on_durable(cb) / co_await ticket
//
// Durability contract. Every accepted write gets an epoch; epochs are 1, 2, 3, ... in the order
// write() accepted them. A ticket that resolves successfully promises that its write and every
// write with a smaller epoch have been written to the device and a sync() (fdatasync) that
// began after those writes returned success: they survive a crash or power loss as far as the
// device keeps its promise. Writes to one slot land in epoch order, so the slot holds the latest
// of them. A ticket that resolves with an error promises nothing about its write: it may or may
// not be on the device. The first failed write or sync is latched for good: every ticket not
// already durable fails with that error, later write() calls fail with it too, and the durable
// epoch never moves again (a sync that succeeds after one that failed proves nothing about the
// data the failed one lost).
//
// Design. Writers push onto an MpscQueue and return. The flusher thread drains the queue as soon
// as there is something in it, orders the batch by epoch, and writes it in that order with
// adjacent slots coalesced into one vectored write; then it hands the highest epoch written
// (always the end of a contiguous prefix) to the syncer thread, which runs one sync() for
// everything written so far and then advances the durable epoch to it. While a sync runs the
// flusher keeps writing the next batch, gathering for at most `flush_duration` first, so the next
// sync can start the moment the device is free. Neither thread holds a lock that a writer or a
// waiter takes while it does I/O.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "ferro/core/result.hpp"
#include "ferro/io/chunk_device.hpp"
#include "ferro/io/mpsc_queue.hpp"
#include "ferro/pool/bufpool.hpp"

namespace ferro {

// One buffer per chunk: allocation[i] goes to chunk slot_index + i. The buffers' size must be
// the device's chunk size. The pipe owns the allocation until the write has been made.
struct WriteRequest {
  BufPoolAllocation allocation;
  std::uint64_t slot_index = 0;
};

struct WritePipeConfig {
  // While a sync is running, how long a batch may gather before the flusher writes it.
  std::chrono::microseconds flush_duration{1000};
};

// Called with the durable epoch (>= the ticket's) or the latched error.
using DurableCallback = std::function<void(Result<std::uint64_t>)>;

namespace detail {

// What tickets share with the pipe; outlives the pipe while tickets live.
class Completion {
 public:
  std::uint64_t durable() const noexcept {
    // acquire: pairs with advance(); a caller that sees epoch e durable also sees everything
    // the flusher and syncer did to make it so.
    return durable_.load(std::memory_order_acquire);
  }
  bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }  // pairs with fail()
  Error error() const noexcept;

  // Resolved state of `epoch`, if it is resolved.
  bool resolved(std::uint64_t epoch, Result<std::uint64_t>* out) const noexcept;
  Result<std::uint64_t> wait(std::uint64_t epoch);
  Result<std::uint64_t> wait_until(std::uint64_t epoch, std::chrono::steady_clock::time_point deadline);
  // Registers `cb`, or returns false (not registering it) when `epoch` is already resolved.
  bool add_callback(std::uint64_t epoch, DurableCallback& cb);

  void advance(std::uint64_t epoch);  // syncer: epochs <= epoch are durable
  void fail(Error e);                 // latches e (only the first one counts)

 private:
  Result<std::uint64_t> resolved_locked(std::uint64_t epoch) const noexcept;
  std::atomic<std::uint64_t> durable_{0};
  std::atomic<bool> failed_{false};
  mutable std::mutex mu_;  // never held during I/O
  std::condition_variable cv_;
  Error error_{};                                            // set once, under mu_, before failed_
  std::multimap<std::uint64_t, DurableCallback> callbacks_;  // under mu_
};

}  // namespace detail

class WriteTicket {
 public:
  std::uint64_t epoch() const noexcept { return epoch_; }
  // True once the write is durable or has failed.
  bool ready() const noexcept {
    Result<std::uint64_t> r = std::uint64_t{0};
    return completion_->resolved(epoch_, &r);
  }
  // The durable epoch (>= epoch()), or the error that failed this write.
  Result<std::uint64_t> wait() const { return completion_->wait(epoch_); }
  // As wait(), or Errc::timed_out when the timeout passes first (the write may still succeed).
  template <class Rep, class Period>
  Result<std::uint64_t> wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return completion_->wait_until(
        epoch_, std::chrono::steady_clock::now() + std::chrono::ceil<std::chrono::steady_clock::duration>(timeout));
  }
  // Runs `cb` once with the outcome: now, on this thread, when already resolved; otherwise on
  // the pipe's syncer thread (or the flusher's, for a failed write), so it must be short.
  // Callbacks of different tickets may therefore run in any order relative to each other.
  void on_durable(DurableCallback cb) const {
    if (!completion_->add_callback(epoch_, cb)) cb(completion_->wait(epoch_));
  }

  // `co_await ticket` gives the same Result as wait(); the coroutine resumes on the thread that
  // resolved the ticket (see on_durable), or does not suspend at all when it is already resolved.
  class Awaiter {
   public:
    bool await_ready() noexcept { return ticket_->completion_->resolved(ticket_->epoch_, &result_); }
    bool await_suspend(std::coroutine_handle<> h) {
      DurableCallback cb = [this, h](Result<std::uint64_t> r) {
        result_ = r;
        h.resume();
      };
      if (ticket_->completion_->add_callback(ticket_->epoch_, cb)) return true;
      result_ = ticket_->completion_->wait(ticket_->epoch_);  // resolved meanwhile: no suspension
      return false;
    }
    Result<std::uint64_t> await_resume() noexcept { return result_; }

   private:
    friend class WriteTicket;
    explicit Awaiter(const WriteTicket* t) noexcept : ticket_(t) {}
    const WriteTicket* ticket_;
    Result<std::uint64_t> result_ = std::uint64_t{0};
  };
  Awaiter operator co_await() const noexcept { return Awaiter(this); }

 private:
  friend class WritePipe;
  WriteTicket(std::uint64_t epoch, std::shared_ptr<detail::Completion> c) noexcept
      : epoch_(epoch), completion_(std::move(c)) {}
  std::uint64_t epoch_;
  std::shared_ptr<detail::Completion> completion_;
};

struct WritePipeStats {
  std::uint64_t requests = 0;       // accepted by write()
  std::uint64_t batches = 0;        // flusher rounds that wrote something
  std::uint64_t device_writes = 0;  // write_chunks calls (after coalescing)
  std::uint64_t syncs = 0;
};

class WritePipe {
 public:
  // `device` must outlive the pipe.
  static Result<std::unique_ptr<WritePipe>> open(ChunkDevice& device, WritePipeConfig config = {});
  ~WritePipe();  // close()
  WritePipe(const WritePipe&) = delete;
  WritePipe& operator=(const WritePipe&) = delete;

  // Never blocks and does no I/O. Errors: invalid_argument (empty allocation, wrong buffer
  // size), out_of_range (slots beyond the device), closed, or the latched write/sync error.
  Result<WriteTicket> write(WriteRequest request);

  // Writes and syncs everything accepted, stops the threads; then write() fails with
  // Errc::closed. Returns the latched error, if any. Safe to call from any thread, repeatedly,
  // and concurrently with write().
  Status close();

  std::uint64_t durable_epoch() const noexcept { return completion_->durable(); }
  Status status() const noexcept;  // the latched error, or ok
  WritePipeStats stats() const noexcept;

 private:
  struct Pending {
    BufPoolAllocation allocation;
    std::uint64_t slot = 0;
    std::uint64_t epoch = 0;
  };

  WritePipe(ChunkDevice& device, WritePipeConfig config);
  void flusher_loop();
  void syncer_loop();
  bool gather(std::vector<Pending>& pending);  // flusher: false when closed and empty
  void write_batch(std::vector<Pending>& batch);
  void wake_flusher() noexcept;
  bool all_written(std::uint64_t next) const noexcept;  // closed, and every accepted epoch < next
  bool spin_for_work(std::uint64_t next) const noexcept;
  void wait_for_work(std::uint64_t next);

  ChunkDevice& device_;
  const WritePipeConfig config_;
  const std::shared_ptr<detail::Completion> completion_;
  MpscQueue<Pending> queue_;

  // Admission: bit 0 is "closed", the rest counts the epochs handed out. One word and one
  // read-modify-write per write: close()'s fetch_or and every writer's fetch_add are totally
  // ordered, so each writer either got an epoch before the close (and will push it) or sees the
  // bit (and takes nothing). close() publishes the count it saw as final_epoch_.
  static constexpr std::uint64_t kClosedBit = 1, kEpochStep = 2;
  static constexpr std::uint64_t kOpen = ~std::uint64_t{0};
  alignas(64) std::atomic<std::uint64_t> admission_{0};
  std::atomic<std::uint64_t> final_epoch_{kOpen};

  // Writer -> flusher wake-ups: the flusher raises `sleeping_` before its last look at the
  // queue (and at final_epoch_); a writer (or close()) looks at `sleeping_` after linking its
  // push (or publishing the final epoch). All four accesses are seq_cst, so at least one side
  // sees the other's store (store buffering is forbidden) and a sleep never misses a push.
  // Writers only read the word, so it stays in their caches. (Fences would do the same, but
  // GCC's TSan does not support them.)
  alignas(64) std::atomic<std::uint32_t> sleeping_{0};

  // Flusher <-> syncer; held only to hand over numbers, never during I/O.
  std::mutex stage_mu_;
  std::condition_variable syncer_cv_;   // written_ moved or the flusher finished
  std::condition_variable flusher_cv_;  // a sync finished
  std::uint64_t written_ = 0;           // highest epoch written (a contiguous prefix)
  std::uint64_t synced_ = 0;            // highest epoch whose sync has returned
  bool sync_running_ = false;
  bool flusher_done_ = false;

  std::atomic<std::uint64_t> batches_{0}, device_writes_{0}, syncs_{0};  // stats, relaxed

  std::mutex close_mu_;
  bool closed_ = false;  // under close_mu_
  std::thread flusher_, syncer_;
};

}  // namespace ferro
