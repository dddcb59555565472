// io benchmarks (JSON per bench/bench.hpp):
//   submit   submission latency of 128-byte writes, 1 and 4 threads: ferro::WritePipe, a
//            re-creation of the seed's fixed-window pipe, and a plain pwrite per request.
//   durable  durable throughput and acknowledgement latency (write, then wait until durable) at
//            1, 4 and 16 writers and 128 B .. 64 KiB per write: ferro::WritePipe, the naive loop
//            (pwrite + fdatasync per request), and the seed's fixed-window flusher re-created
//            (sleep flush_duration = 1 ms, drain, write each request, fdatasync, under an
//            exclusive lock that writers take shared). Every writer waits for each write before
//            the next (one in flight), except the subject "32 in flight per writer", which keeps
//            up to 32 tickets outstanding, and "fire and forget", whose writers never wait on a
//            ticket and are held back only by a 16 MiB buffer budget (throughput only).
//   fdatasync one pwrite + fdatasync on its own, the yardstick for acknowledgement latency.
//   uring    the io_uring device against pwritev: raw 16-chunk writes, and the pipe over each.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "bench/bench.hpp"
#include "ferro/io/frozen_file.hpp"
#include "ferro/io/mpsc_queue.hpp"
#include "ferro/io/uring_device.hpp"
#include "ferro/io/write_pipe.hpp"

using namespace ferro;
using namespace ferro::bench;

namespace {

std::string bench_path(const char* tag) {
  return (std::filesystem::temp_directory_path() /
          (std::string("ferro_io_bench_") + tag + "_" + std::to_string(getpid())))
      .string();
}

// The seed's pipeline, re-created: writers take a shared lock, take an epoch and push; a flusher
// sleeps flush_duration, drains, and under the exclusive lock writes each request on its own
// and syncs, then publishes the highest epoch it wrote.
class WindowPipe {
 public:
  WindowPipe(FrozenFile& file, std::chrono::microseconds window) : file_(file), window_(window) {
    flusher_ = std::thread([this] { run(); });
  }
  ~WindowPipe() {
    {
      std::lock_guard lk(mu_);
      closed_ = true;
    }
    cv_.notify_all();
    flusher_.join();
  }
  std::uint64_t write(BufPoolAllocation a, std::uint64_t slot) {
    std::shared_lock io(io_lock_);
    const std::uint64_t epoch = epoch_.fetch_add(1, std::memory_order_acq_rel) + 1;
    queue_.push(Req{std::move(a), slot, epoch});
    return epoch;
  }
  void wait(std::uint64_t epoch) {
    if (durable_.load(std::memory_order_acquire) >= epoch) return;
    std::unique_lock lk(mu_);
    done_cv_.wait(lk, [&] { return durable_.load(std::memory_order_acquire) >= epoch; });
  }

 private:
  struct Req {
    BufPoolAllocation a;
    std::uint64_t slot, epoch;
  };
  void run() {
    std::vector<Req> batch;
    for (;;) {
      bool closed;
      {
        std::unique_lock lk(mu_);
        cv_.wait_for(lk, window_, [&] { return closed_; });
        closed = closed_;
      }
      batch.clear();
      queue_.drain([&](Req&& r) { batch.push_back(std::move(r)); });
      if (batch.empty()) {
        if (closed) return;
        continue;
      }
      std::unique_lock io(io_lock_);
      std::uint64_t max_epoch = 0;
      for (auto& r : batch) {
        (void)file_.pwritev(r.slot, r.a.pointers());
        max_epoch = std::max(max_epoch, r.epoch);
      }
      (void)file_.sync();
      batch.clear();
      {
        std::lock_guard lk(mu_);
        durable_.store(max_epoch, std::memory_order_release);
      }
      done_cv_.notify_all();
    }
  }
  FrozenFile& file_;
  std::chrono::microseconds window_;
  std::shared_mutex io_lock_;
  MpscQueue<Req> queue_;
  std::atomic<std::uint64_t> epoch_{0}, durable_{0};
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  bool closed_ = false;
  std::thread flusher_;
};

// A file whose blocks have all been written and synced once, so that every measured write is
// an overwrite (the first write to a fallocated block also commits an extent change).
FrozenFile open_file(const std::string& path, std::size_t chunk, std::uint64_t chunks) {
  std::filesystem::remove(path);
  auto f = FrozenFile::open({path, chunk, chunks});
  FERRO_CHECK(f.has_value(), "bench: cannot open file");
  std::vector<std::byte> zeros(chunk * std::min<std::uint64_t>(chunks, 256));
  for (std::uint64_t c = 0; c < chunks; c += zeros.size() / chunk) {
    const std::uint64_t n = std::min<std::uint64_t>(zeros.size() / chunk, chunks - c);
    FERRO_CHECK(f->pwrite(c, std::span(zeros).first(n * chunk)).has_value(), "bench: prefill failed");
  }
  FERRO_CHECK(f->sync().has_value(), "bench: prefill sync failed");
  return std::move(*f);
}

BufPool make_pool(std::size_t chunk, std::size_t budget_bytes) {
  BufPoolConfig c;
  c.buffer_size = chunk;
  c.max_memory = std::max(budget_bytes, chunk * 64);
  c.panic_on_live_allocations = false;
  return BufPool(c);
}

BufPoolAllocation take(BufPool& pool, std::uint8_t fill) {
  auto a = pool.allocate(1);
  FERRO_CHECK(a.has_value(), "bench: pool allocate failed");
  std::memset(a->first(), fill, a->buffer_size());
  return std::move(*a);
}

// Runs fn(thread_index) on n threads started together; returns the wall time.
template <class Fn>
double run_threads(int n, Fn fn) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < n; ++t) {
    ts.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      fn(t);
    });
  }
  while (ready.load() < n) std::this_thread::yield();
  Stopwatch sw;
  go.store(true, std::memory_order_release);
  for (auto& th : ts) th.join();
  return sw.seconds();
}

// ---- 1. submission latency ----

void bench_submit(Recorder& rec, const Config& cfg) {
  constexpr std::size_t kChunk = 128;
  constexpr std::uint64_t kSlots = 4096;
  const std::size_t total = cfg.scale<std::size_t>(std::size_t{1} << 20, std::size_t{1} << 16);
  for (int threads : {1, 4}) {
    const Fields opts = {{"threads", std::int64_t{threads}},
                         {"bytes", std::int64_t{kChunk}},
                         {"writes", static_cast<std::int64_t>(total)}};
    const std::size_t per = total / static_cast<std::size_t>(threads);
    std::vector<std::vector<double>> lat(static_cast<std::size_t>(threads));
    auto measure = [&](const char* subject, auto&& open_subject) {
      const auto path = bench_path("submit");
      FrozenFile file = open_file(path, kChunk, kSlots);
      BufPool pool = make_pool(kChunk, std::size_t{64} << 20);
      {
        auto submit = open_subject(file);
        run_threads(threads, [&](int t) {
          auto& v = lat[static_cast<std::size_t>(t)];
          v.clear();
          v.reserve(per);
          for (std::size_t i = 0; i < per; ++i) {
            BufPoolAllocation a = take(pool, static_cast<std::uint8_t>(i));  // not timed
            const std::uint64_t slot = (static_cast<std::uint64_t>(t) * per + i) % kSlots;
            const std::uint64_t t0 = Tsc::begin();
            submit(std::move(a), slot);
            const std::uint64_t t1 = Tsc::end();
            v.push_back(Tsc::to_ns(t1 - t0));
          }
        });
      }  // closes the subject: flushes everything before the file goes
      std::vector<double> all;
      for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
      rec.latency("submit", subject, opts, "ns", all);
      std::filesystem::remove(path);
    };
    measure("ferro::WritePipe", [](FrozenFile& f) {
      auto pipe = std::shared_ptr<WritePipe>(std::move(*WritePipe::open(f)));
      return [pipe](BufPoolAllocation a, std::uint64_t slot) { do_not_optimize(pipe->write({std::move(a), slot})); };
    });
    measure("seed fixed-window pipe (re-created)", [](FrozenFile& f) {
      auto pipe = std::make_shared<WindowPipe>(f, std::chrono::milliseconds(1));
      return [pipe](BufPoolAllocation a, std::uint64_t slot) { do_not_optimize(pipe->write(std::move(a), slot)); };
    });
    measure("pwrite per request (no sync)", [](FrozenFile& f) {
      return [&f](BufPoolAllocation a, std::uint64_t slot) { do_not_optimize(f.pwrite(slot, a.buffer(0))); };
    });
  }
}

// ---- 2. durable throughput and acknowledgement latency ----

// What one subject accumulates over the rounds of a case.
struct Tally {
  std::vector<double> ack_ns;
  std::uint64_t writes = 0;
  double seconds = 0;
};

// Writer loop with one write in flight: submit, wait until durable, repeat.
template <class WriteAndWait>
void closed_loop(int writers, double seconds, std::size_t bytes, std::uint64_t slots, BufPool& pool,
                 WriteAndWait&& write_and_wait, Tally& tally) {
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(writers));
  std::atomic<std::uint64_t> done{0};
  tally.seconds += run_threads(writers, [&](int t) {
    auto& v = lat[static_cast<std::size_t>(t)];
    Stopwatch sw;
    std::uint64_t i = 0;
    while (sw.seconds() < seconds) {
      BufPoolAllocation a = take(pool, static_cast<std::uint8_t>(i));
      const std::uint64_t slot = (static_cast<std::uint64_t>(t) * 7919 + i) % slots;
      const auto t0 = std::chrono::steady_clock::now();
      write_and_wait(std::move(a), slot);
      v.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
      ++i;
    }
    done.fetch_add(i);
  });
  (void)bytes;
  for (auto& v : lat) tally.ack_ns.insert(tally.ack_ns.end(), v.begin(), v.end());
  tally.writes += done.load();
}

// The pipe used as it is meant to be: each writer keeps up to kInFlight writes outstanding and
// waits on the oldest; latency is submit to durable-observed.
constexpr std::size_t kInFlight = 32;
void pipelined_loop(int writers, double seconds, std::uint64_t slots, BufPool& pool, WritePipe& pipe, Tally& tally) {
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(writers));
  std::atomic<std::uint64_t> done{0};
  tally.seconds += run_threads(writers, [&](int t) {
    auto& v = lat[static_cast<std::size_t>(t)];
    std::vector<std::pair<WriteTicket, std::chrono::steady_clock::time_point>> ring;
    std::size_t head = 0;
    auto retire = [&] {
      FERRO_CHECK(ring[head].first.wait().has_value(), "bench: write failed");
      v.push_back(
          std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - ring[head].second).count());
      ++head;
    };
    Stopwatch sw;
    std::uint64_t i = 0;
    while (sw.seconds() < seconds) {
      if (ring.size() - head == kInFlight) retire();
      if (head > 1024) {
        ring.erase(ring.begin(), ring.begin() + static_cast<std::ptrdiff_t>(head));
        head = 0;
      }
      BufPoolAllocation a = take(pool, static_cast<std::uint8_t>(i));
      const std::uint64_t slot = (static_cast<std::uint64_t>(t) * 7919 + i) % slots;
      const auto t0 = std::chrono::steady_clock::now();
      auto ticket = pipe.write({std::move(a), slot});
      FERRO_CHECK(ticket.has_value(), "bench: write refused");
      ring.emplace_back(std::move(*ticket), t0);
      ++i;
    }
    while (head < ring.size()) retire();
    done.fetch_add(i);
  });
  for (auto& v : lat) tally.ack_ns.insert(tally.ack_ns.end(), v.begin(), v.end());
  tally.writes += done.load();
}

// The pipe as the seed meant it: fire and forget. Writers never wait on a ticket; only the
// BufPool budget (kFireBudget bytes in flight, whatever the write size) holds them back. A
// round lasts until its last write is durable.
constexpr std::size_t kFireBudget = std::size_t{16} << 20;
void fire_and_forget_loop(int writers, double seconds, std::uint64_t slots, BufPool& pool, WritePipe& pipe,
                          Tally& tally) {
  std::vector<std::uint64_t> last_epoch(static_cast<std::size_t>(writers));
  std::atomic<std::uint64_t> done{0};
  const double writing = run_threads(writers, [&](int t) {
    Stopwatch sw;
    std::uint64_t i = 0;
    while (sw.seconds() < seconds) {
      BufPoolAllocation a = take(pool, static_cast<std::uint8_t>(i));  // waits while the budget is spent
      const std::uint64_t slot = (static_cast<std::uint64_t>(t) * 7919 + i) % slots;
      auto ticket = pipe.write({std::move(a), slot});
      FERRO_CHECK(ticket.has_value(), "bench: write refused");
      last_epoch[static_cast<std::size_t>(t)] = ticket->epoch();
      ++i;
    }
    done.fetch_add(i);
  });
  Stopwatch draining;
  const std::uint64_t newest = *std::max_element(last_epoch.begin(), last_epoch.end());
  while (pipe.durable_epoch() < newest) {
    FERRO_CHECK(pipe.status().has_value(), "bench: write failed");
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  tally.seconds += writing + draining.seconds();
  tally.writes += done.load();
}

void bench_durable(Recorder& rec, const Config& cfg) {
  // The disk's sync latency drifts by several times within a minute here (a shared virtual
  // disk), so each case runs its subjects in interleaved rounds rather than one after another.
  const int rounds = cfg.scale(5, 2);
  const double seconds_per_round = cfg.scale(0.2, 0.08);
  const char* const subjects[] = {"ferro::WritePipe", "ferro::WritePipe, 32 in flight per writer",
                                  "naive pwrite+fdatasync", "seed fixed-window pipe (re-created)",
                                  "ferro::WritePipe, fire and forget (16 MiB budget)"};
  constexpr int kSubjects = 5;
  for (std::size_t bytes : {std::size_t{128}, std::size_t{4096}, std::size_t{16384}, std::size_t{65536}}) {
    const std::uint64_t slots = std::max<std::uint64_t>(256, (std::uint64_t{8} << 20) / bytes);
    for (int writers : {1, 4, 16}) {
      const Fields opts = {{"writers", std::int64_t{writers}}, {"bytes", static_cast<std::int64_t>(bytes)}};
      std::vector<std::string> paths;
      std::vector<FrozenFile> files;
      for (int s = 0; s < kSubjects; ++s) {
        paths.push_back(bench_path(("durable" + std::to_string(s)).c_str()));
        files.push_back(open_file(paths.back(), bytes, slots));
      }
      BufPool pool = make_pool(bytes, bytes * (kInFlight + 8) * static_cast<std::size_t>(writers));
      BufPool fire_pool = make_pool(bytes, kFireBudget);
      Tally tally[kSubjects];
      for (int r = 0; r < rounds; ++r) {
        {
          auto pipe = std::move(*WritePipe::open(files[0]));
          closed_loop(
              writers, seconds_per_round, bytes, slots, pool,
              [&](BufPoolAllocation a, std::uint64_t slot) {
                auto t = pipe->write({std::move(a), slot});
                FERRO_CHECK(t.has_value() && t->wait().has_value(), "bench: write failed");
              },
              tally[0]);
        }
        {
          auto pipe = std::move(*WritePipe::open(files[1]));
          pipelined_loop(writers, seconds_per_round, slots, pool, *pipe, tally[1]);
        }
        closed_loop(
            writers, seconds_per_round, bytes, slots, pool,
            [&](BufPoolAllocation a, std::uint64_t slot) {
              FERRO_CHECK(files[2].pwrite(slot, a.buffer(0)).has_value() && files[2].sync().has_value(),
                          "bench: naive failed");
            },
            tally[2]);
        {
          WindowPipe pipe(files[3], std::chrono::milliseconds(1));
          closed_loop(
              writers, seconds_per_round, bytes, slots, pool,
              [&](BufPoolAllocation a, std::uint64_t slot) { pipe.wait(pipe.write(std::move(a), slot)); }, tally[3]);
        }
        {
          auto pipe = std::move(*WritePipe::open(files[4]));
          fire_and_forget_loop(writers, seconds_per_round, slots, fire_pool, *pipe, tally[4]);
        }
      }
      for (int s = 0; s < kSubjects; ++s) {
        const double n = static_cast<double>(tally[s].writes);
        if (!tally[s].ack_ns.empty()) rec.latency("durable_ack", subjects[s], opts, "ns", tally[s].ack_ns);
        rec.throughput("durable_writes", subjects[s], opts, "writes/s", n / tally[s].seconds);
        rec.throughput("durable_mb", subjects[s], opts, "MB/s",
                       n * static_cast<double>(bytes) / tally[s].seconds / 1e6);
      }
      files.clear();
      for (auto& p : paths) std::filesystem::remove(p);
    }
  }
}

// ---- 4. io_uring against pwritev, behind the same pipe ----

void bench_uring(Recorder& rec, const Config& cfg) {
  constexpr std::size_t kBytes = 4096;
  constexpr std::uint64_t kSlots = 2048;
  const auto probe_path = bench_path("uring_probe");
  FrozenFile probe = open_file(probe_path, kBytes, 4);
  if (!UringDevice::open(probe)) {
    std::printf("# io_uring unavailable here: uring benches skipped\n");
    std::filesystem::remove(probe_path);
    return;
  }
  std::filesystem::remove(probe_path);

  // Raw device: one write_chunks of 16 adjacent chunks (64 KiB), no sync.
  {
    const auto path = bench_path("uring_raw");
    FrozenFile file = open_file(path, kBytes, kSlots);
    auto uring = std::move(*UringDevice::open(file));
    std::vector<std::byte> data(kBytes * 16, std::byte{0x3C});
    std::vector<const std::byte*> ptrs;
    for (std::size_t i = 0; i < 16; ++i) ptrs.push_back(data.data() + i * kBytes);
    const int n = cfg.scale(20000, 2000);
    std::vector<double> lat[2];
    ChunkDevice* devs[2] = {&file, uring.get()};
    for (int i = 0; i < n; ++i) {
      for (int d = 0; d < 2; ++d) {  // alternate, so drift hits both alike
        const std::uint64_t first = (static_cast<std::uint64_t>(i) * 16) % (kSlots - 16);
        const auto t0 = std::chrono::steady_clock::now();
        FERRO_CHECK(devs[d]->write_chunks(first, ptrs).has_value(), "bench: write_chunks failed");
        lat[d].push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
      }
    }
    const Fields opts = {{"chunks", std::int64_t{16}}, {"bytes", std::int64_t{kBytes}}};
    rec.latency("device_write", "ferro::FrozenFile pwritev", opts, "ns", lat[0]);
    rec.latency("device_write", "ferro::UringDevice writev", opts, "ns", lat[1]);
    uring.reset();
    std::filesystem::remove(path);
  }

  // The pipe over each backend, one writer (closed loop) and 16 writers with 32 in flight.
  const int rounds = cfg.scale(5, 2);
  const double seconds_per_round = cfg.scale(0.2, 0.08);
  for (int writers : {1, 16}) {
    const Fields opts = {{"writers", std::int64_t{writers}},
                         {"bytes", std::int64_t{kBytes}},
                         {"in_flight", std::int64_t{writers == 1 ? 1 : static_cast<std::int64_t>(kInFlight)}}};
    const auto p0 = bench_path("uring_pipe0"), p1 = bench_path("uring_pipe1");
    FrozenFile f0 = open_file(p0, kBytes, kSlots), f1 = open_file(p1, kBytes, kSlots);
    auto uring = std::move(*UringDevice::open(f1));
    ChunkDevice* devs[2] = {&f0, uring.get()};
    BufPool pool = make_pool(kBytes, kBytes * (kInFlight + 8) * static_cast<std::size_t>(writers));
    Tally tally[2];
    for (int r = 0; r < rounds; ++r) {
      for (int d = 0; d < 2; ++d) {
        auto pipe = std::move(*WritePipe::open(*devs[d]));
        if (writers == 1) {
          closed_loop(
              writers, seconds_per_round, kBytes, kSlots, pool,
              [&](BufPoolAllocation a, std::uint64_t slot) {
                auto t = pipe->write({std::move(a), slot});
                FERRO_CHECK(t.has_value() && t->wait().has_value(), "bench: write failed");
              },
              tally[d]);
        } else {
          pipelined_loop(writers, seconds_per_round, kSlots, pool, *pipe, tally[d]);
        }
      }
    }
    const char* subjects[2] = {"ferro::WritePipe over FrozenFile (pwritev + fdatasync)",
                               "ferro::WritePipe over UringDevice (io_uring writev + fsync)"};
    for (int d = 0; d < 2; ++d) {
      rec.latency("uring_ack", subjects[d], opts, "ns", tally[d].ack_ns);
      rec.throughput("uring_writes", subjects[d], opts, "writes/s",
                     static_cast<double>(tally[d].writes) / tally[d].seconds);
    }
    uring.reset();
    std::filesystem::remove(p0);
    std::filesystem::remove(p1);
  }
}

// ---- 3. the yardstick: one fdatasync ----

void bench_fdatasync(Recorder& rec, const Config& cfg) {
  const auto path = bench_path("fdatasync");
  FrozenFile file = open_file(path, 128, 1024);
  std::vector<std::byte> buf(128, std::byte{0x5A});
  std::vector<double> sync_ns;
  const int n = cfg.scale(2000, 300);
  for (int i = 0; i < n; ++i) {
    FERRO_CHECK(file.pwrite(static_cast<std::uint64_t>(i) % 1024, buf).has_value(), "bench: pwrite failed");
    const auto t0 = std::chrono::steady_clock::now();
    FERRO_CHECK(file.sync().has_value(), "bench: sync failed");
    sync_ns.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
  }
  rec.latency("fdatasync", "fdatasync after a 128 B pwrite", {{"bytes", std::int64_t{128}}}, "ns", sync_ns);
  std::filesystem::remove(path);
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = parse_args(argc, argv, "io");
  Recorder rec(cfg, "io");
  if (cfg.wants("fdatasync")) bench_fdatasync(rec, cfg);
  if (cfg.wants("submit")) bench_submit(rec, cfg);
  if (cfg.wants("durable")) bench_durable(rec, cfg);
  if (cfg.wants("uring") || cfg.wants("device_write")) bench_uring(rec, cfg);
  return 0;
}
