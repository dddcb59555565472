#include "ferro/io/write_pipe.hpp"

#include <algorithm>
#include <system_error>

#include "ferro/core/bits.hpp"

namespace ferro {
namespace detail {

Error Completion::error() const noexcept {
  // error_ is written once, before failed_ is set with release; a reader that saw failed()
  // (acquire) reads it without the lock.
  return failed() ? error_ : Error{};
}

bool Completion::resolved(std::uint64_t epoch, Result<std::uint64_t>* out) const noexcept {
  const std::uint64_t d = durable();
  if (d >= epoch) {
    *out = d;
    return true;
  }
  if (failed()) {
    *out = error_;
    return true;
  }
  return false;
}

Result<std::uint64_t> Completion::resolved_locked(std::uint64_t epoch) const noexcept {
  // relaxed under mu_: advance() and fail() change both under the same lock.
  const std::uint64_t d = durable_.load(std::memory_order_relaxed);
  if (d >= epoch) return d;
  return error_;
}

Result<std::uint64_t> Completion::wait(std::uint64_t epoch) {
  Result<std::uint64_t> r = std::uint64_t{0};
  if (resolved(epoch, &r)) return r;
  std::unique_lock lk(mu_);
  cv_.wait(
      lk, [&] { return durable_.load(std::memory_order_relaxed) >= epoch || failed_.load(std::memory_order_relaxed); });
  return resolved_locked(epoch);
}

Result<std::uint64_t> Completion::wait_until(std::uint64_t epoch, std::chrono::steady_clock::time_point deadline) {
  Result<std::uint64_t> r = std::uint64_t{0};
  if (resolved(epoch, &r)) return r;
  std::unique_lock lk(mu_);
  // relaxed inside the predicate: under mu_, as in wait().
  const bool done = cv_.wait_until(lk, deadline, [&] {
    return durable_.load(std::memory_order_relaxed) >= epoch || failed_.load(std::memory_order_relaxed);
  });
  if (!done) return make_error(Errc::timed_out, "write not yet durable");
  return resolved_locked(epoch);
}

bool Completion::add_callback(std::uint64_t epoch, DurableCallback& cb) {
  std::lock_guard lk(mu_);
  // relaxed: under mu_, so no advance() or fail() can slip between this check and the insert.
  if (durable_.load(std::memory_order_relaxed) >= epoch || failed_.load(std::memory_order_relaxed)) return false;
  callbacks_.emplace(epoch, std::move(cb));
  return true;
}

void Completion::advance(std::uint64_t epoch) {
  std::vector<DurableCallback> ready;
  {
    std::lock_guard lk(mu_);
    if (failed_.load(std::memory_order_relaxed)) return;  // frozen at the failure for good
    // release: pairs with durable()'s acquire in tickets that do not take the lock.
    durable_.store(epoch, std::memory_order_release);
    const auto end = callbacks_.upper_bound(epoch);
    for (auto it = callbacks_.begin(); it != end; ++it) ready.push_back(std::move(it->second));
    callbacks_.erase(callbacks_.begin(), end);
  }
  cv_.notify_all();
  for (auto& cb : ready) cb(Result<std::uint64_t>(epoch));  // outside the lock: a callback may wait or write
}

void Completion::fail(Error e) {
  std::vector<DurableCallback> ready;
  {
    std::lock_guard lk(mu_);
    if (failed_.load(std::memory_order_relaxed)) return;  // the first error is the one that counts
    error_ = e;
    // release: publishes error_ to lock-free readers of failed().
    failed_.store(true, std::memory_order_release);
    for (auto& [epoch, cb] : callbacks_) ready.push_back(std::move(cb));
    callbacks_.clear();
  }
  cv_.notify_all();
  for (auto& cb : ready) cb(Result<std::uint64_t>(e));
}

}  // namespace detail

WritePipe::WritePipe(ChunkDevice& device, WritePipeConfig config)
    : device_(device), config_(config), completion_(std::make_shared<detail::Completion>()) {}

Result<std::unique_ptr<WritePipe>> WritePipe::open(ChunkDevice& device, WritePipeConfig config) {
  if (config.flush_duration.count() < 0) return make_error(Errc::invalid_argument, "negative flush duration");
  std::unique_ptr<WritePipe> pipe(new WritePipe(device, config));
  try {
    pipe->flusher_ = std::thread([p = pipe.get()] { p->flusher_loop(); });
    pipe->syncer_ = std::thread([p = pipe.get()] { p->syncer_loop(); });
  } catch (const std::system_error&) {
    return make_error(Errc::io_error, "cannot start the pipe's threads");  // ~WritePipe stops what started
  }
  return pipe;
}

WritePipe::~WritePipe() { (void)close(); }

Result<WriteTicket> WritePipe::write(WriteRequest request) {
  const BufPoolAllocation& a = request.allocation;
  if (a.empty()) return make_error(Errc::invalid_argument, "write of an empty allocation");
  if (a.buffer_size() != device_.chunk_size())
    return make_error(Errc::invalid_argument, "buffer size is not the chunk size");
  if (!range_fits(request.slot_index, a.size(), device_.chunk_count())) {
    return make_error(Errc::out_of_range, "write beyond the last chunk");
  }
  if (completion_->failed()) {  // latched: refuse before taking an epoch
    // relaxed: only reports which refusal applies; nothing is published.
    if ((admission_.load(std::memory_order_relaxed) & kClosedBit) != 0) {
      return make_error(Errc::closed, "write pipe is closed");
    }
    return completion_->error();
  }
  // relaxed: the epoch only has to be unique, and ordered against close()'s fetch_or on the
  // same word; the queue's release carries the data to the flusher.
  const std::uint64_t seen = admission_.fetch_add(kEpochStep, std::memory_order_relaxed);
  if ((seen & kClosedBit) != 0) return make_error(Errc::closed, "write pipe is closed");
  const std::uint64_t epoch = seen / kEpochStep + 1;
  queue_.push(Pending{std::move(request.allocation), request.slot_index, epoch});
  wake_flusher();
  return WriteTicket(epoch, completion_);
}

void WritePipe::wake_flusher() noexcept {
  // seq_cst: after this thread's seq_cst link (or final-epoch store), mirroring the flusher's
  // store of the flag before its seq_cst look at the queue; a writer that misses the flag is
  // one whose push the flusher will see.
  if (sleeping_.load(std::memory_order_seq_cst) == 0) return;
  // One thread wins the flag and pays for the system call.
  if (sleeping_.exchange(0, std::memory_order_relaxed) != 0) sleeping_.notify_one();
}

bool WritePipe::spin_for_work(std::uint64_t next) const noexcept {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
  do {
    if (!queue_.empty() || all_written(next)) return true;
    std::this_thread::yield();
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

bool WritePipe::all_written(std::uint64_t next) const noexcept {
  // seq_cst: the flusher's half of the wake-up handshake (see sleeping_) for close().
  const std::uint64_t final_epoch = final_epoch_.load(std::memory_order_seq_cst);
  return final_epoch != kOpen && next > final_epoch;
}

Status WritePipe::close() {
  std::lock_guard g(close_mu_);
  if (!closed_) {
    closed_ = true;
    // relaxed: see write(); every epoch below the count seen here is owned by a writer that
    // will push it, and the flusher waits for all of them.
    const std::uint64_t seen = admission_.fetch_or(kClosedBit, std::memory_order_relaxed);
    final_epoch_.store(seen / kEpochStep, std::memory_order_seq_cst);  // see sleeping_
    wake_flusher();
    if (flusher_.joinable()) flusher_.join();
    if (!syncer_.joinable()) {  // the syncer never started: nothing can wait on a sync
      std::lock_guard lk(stage_mu_);
      flusher_done_ = true;
    }
    if (syncer_.joinable()) syncer_.join();
  }
  return status();
}

Status WritePipe::status() const noexcept {
  if (completion_->failed()) return completion_->error();
  return ok();
}

WritePipeStats WritePipe::stats() const noexcept {
  // relaxed: counters for tests and benchmarks, exact once the pipe is closed.
  const std::uint64_t handed_out = admission_.load(std::memory_order_relaxed) / kEpochStep;
  return {std::min(handed_out, final_epoch_.load(std::memory_order_relaxed)), batches_.load(std::memory_order_relaxed),
          device_writes_.load(std::memory_order_relaxed), syncs_.load(std::memory_order_relaxed)};
}

namespace {

// Length of the run of consecutive epochs that starts at `next` (pending is sorted).
template <class Vec>
std::size_t contiguous_run(const Vec& pending, std::uint64_t next) {
  std::size_t n = 0;
  while (n < pending.size() && pending[n].epoch == next + n) ++n;
  return n;
}

}  // namespace

bool WritePipe::gather(std::vector<Pending>& pending) {
  const std::size_t before = pending.size();
  queue_.drain([&](Pending&& p) { pending.push_back(std::move(p)); });
  // Writers take epochs before they push, so a drain is nearly sorted but not quite.
  const auto by_epoch = [](const Pending& a, const Pending& b) { return a.epoch < b.epoch; };
  if (!std::is_sorted(pending.begin() + static_cast<std::ptrdiff_t>(before), pending.end(), by_epoch)) {
    std::sort(pending.begin() + static_cast<std::ptrdiff_t>(before), pending.end(), by_epoch);
  }
  std::inplace_merge(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(before), pending.end(), by_epoch);
  return pending.size() != before;
}

void WritePipe::flusher_loop() {
  std::vector<Pending> pending;  // drained, not yet written; sorted by epoch
  std::vector<Pending> batch;
  std::vector<BufPoolAllocation> spent;
  std::uint64_t next = 1;  // the lowest epoch not yet written
  for (;;) {
    gather(pending);
    std::size_t run = contiguous_run(pending, next);
    if (run == 0) {
      // Nothing to write: the queue is empty, or the writer of epoch `next` has not pushed yet.
      if (all_written(next)) {
        FERRO_CHECK(pending.empty() && queue_.empty(), "write pipe: an epoch arrived after close");
        break;
      }
      wait_for_work(next);
      continue;
    }
    if (config_.flush_duration.count() > 0) {
      // The device is busy syncing: what is written now waits for the next sync anyway, so let
      // the batch grow (bounded) into fewer, larger writes.
      std::unique_lock lk(stage_mu_);
      if (sync_running_) {
        flusher_cv_.wait_for(lk, config_.flush_duration, [&] { return !sync_running_; });
        lk.unlock();
        gather(pending);
        run = contiguous_run(pending, next);
      }
    }
    batch.assign(std::make_move_iterator(pending.begin()),
                 std::make_move_iterator(pending.begin() + static_cast<std::ptrdiff_t>(run)));
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(run));
    write_batch(batch);
    // Back to their pool with one lock and one round of wake-ups for the whole batch: freed
    // one by one, writers blocked on the budget were woken (a system call) once per request.
    for (Pending& p : batch) spent.push_back(std::move(p.allocation));
    BufPool::release(spent);
    spent.clear();
    batch.clear();
    next += run;
    {
      std::lock_guard lk(stage_mu_);
      written_ = next - 1;
    }
    syncer_cv_.notify_one();
  }
  {
    std::lock_guard lk(stage_mu_);
    flusher_done_ = true;
  }
  syncer_cv_.notify_one();
}

// The flusher has nothing to write: waits until it may have.
void WritePipe::wait_for_work(std::uint64_t next) {
  if (config_.flush_duration.count() > 0) {
    // While a sync is due or running there is no hurry: what is written now waits for the next
    // sync anyway. Wait for that sync (at most flush_duration) without the sleeping flag, so
    // writers arriving meanwhile make no wake-up calls, and the look below then starts as the
    // sync ends, when writers waiting on it come back with more. (Waiting only for a running
    // sync, a lone writer found the flusher asleep, and paid a wake-up, on 78 % of its writes:
    // the syncer had not yet taken the sync up.)
    std::unique_lock lk(stage_mu_);
    if (sync_running_ || synced_ < written_) {
      flusher_cv_.wait_for(lk, config_.flush_duration, [&] { return !sync_running_ && synced_ == written_; });
      return;
    }
  }
  // Writers that stream keep coming: look again for a short while before sleeping, so that
  // they seldom pay for a wake-up system call. Bounded, and yielding, on a small machine.
  if (spin_for_work(next)) return;
  sleeping_.store(1, std::memory_order_seq_cst);  // the handshake's flusher half (see sleeping_)
  if (queue_.empty() && !all_written(next)) sleeping_.wait(1, std::memory_order_relaxed);
  sleeping_.store(0, std::memory_order_relaxed);  // relaxed: spares writers a useless wake-up
}

void WritePipe::write_batch(std::vector<Pending>& batch) {
  if (completion_->failed()) return;  // latched: nothing more reaches the device
  std::vector<const std::byte*> chunks;
  std::size_t i = 0;
  while (i < batch.size()) {
    const std::uint64_t first = batch[i].slot;
    std::uint64_t count = 0;
    chunks.clear();
    // Requests that continue exactly where the previous one ended share one vectored write;
    // the batch's epoch order is kept, so a later write to a slot still lands last.
    do {
      for (std::byte* b : batch[i].allocation) chunks.push_back(b);
      count += batch[i].allocation.size();
      ++i;
    } while (i < batch.size() && batch[i].slot == first + count);
    device_writes_.fetch_add(1, std::memory_order_relaxed);
    if (Status s = device_.write_chunks(first, chunks); !s) {
      completion_->fail(s.error());
      return;
    }
  }
  batches_.fetch_add(1, std::memory_order_relaxed);
}

void WritePipe::syncer_loop() {
  for (;;) {
    std::uint64_t target;
    {
      std::unique_lock lk(stage_mu_);
      syncer_cv_.wait(lk, [&] { return written_ > synced_ || flusher_done_; });
      if (written_ == synced_) break;  // the flusher has finished and everything is synced
      target = written_;
      sync_running_ = true;
    }
    Status s = ok();
    if (!completion_->failed()) {
      s = device_.sync();
      syncs_.fetch_add(1, std::memory_order_relaxed);
    }
    {
      std::lock_guard lk(stage_mu_);
      sync_running_ = false;
      synced_ = target;
    }
    flusher_cv_.notify_one();
    if (!s) {
      completion_->fail(s.error());
    } else {
      completion_->advance(target);  // refused once an error is latched
    }
  }
}

}  // namespace ferro
