// The pool module's benchmarks.
//
// Framing (the seed's workloads): 1000 iterations of two messages of 2^14 - rand(0..12000)
// bytes, each written in 10-byte get_writable calls and then taken as an owned buffer.
//   single thread   each buffer is dropped at once;
//   multi thread    each buffer goes to a worker thread that holds it 1 ms, then drops it;
//   multi thread 2  the same, and each iteration waits until both have been dropped.
// Workers come from a fixed pool started before timing. Subjects: ferro::BufferPool<8>,
// ferro::SystemBuffer, std::pmr::synchronized_pool_resource, a map-of-buffers pool (the seed's
// PPool) and the seed's "max efficiency" control (one buffer reused with no tracking at all).
// One sample is one run of the whole loop, in ms.
//
// BufPool: allocate and free latencies (timed separately) and allocate+free pairs per second
// for n = 1, 16, 1024 buffers of 4 KiB, on 1 and 2 threads, against malloc/free of the same.
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory_resource>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench/bench.hpp"
#include "ferro/core/random.hpp"
#include "ferro/pool/buffer_pool.hpp"
#include "ferro/pool/bufpool.hpp"

using namespace ferro;
using namespace ferro::bench;
using Clock = std::chrono::steady_clock;

namespace {

// An owned buffer of the peers that are not ferro's (they cannot make a ferro::Slice).
class Owned {
 public:
  using Release = void (*)(void* ctx, std::byte* p, std::size_t cap, std::uint32_t id);
  Owned() = default;
  Owned(Release rel, void* ctx, std::byte* p, std::size_t len, std::size_t cap, std::uint32_t id)
      : rel_(rel), ctx_(ctx), p_(p), len_(len), cap_(cap), id_(id) {}
  Owned(Owned&& o) noexcept { *this = std::move(o); }
  Owned& operator=(Owned&& o) noexcept {
    if (this != &o) {
      reset();
      rel_ = std::exchange(o.rel_, nullptr);
      ctx_ = o.ctx_;
      p_ = o.p_;
      len_ = o.len_;
      cap_ = o.cap_;
      id_ = o.id_;
    }
    return *this;
  }
  ~Owned() { reset(); }
  void reset() {
    if (rel_) std::exchange(rel_, nullptr)(ctx_, p_, cap_, id_);
  }
  std::size_t size() const { return len_; }
  std::byte* data() const { return p_; }

 private:
  Release rel_ = nullptr;
  void* ctx_ = nullptr;
  std::byte* p_ = nullptr;
  std::size_t len_ = 0, cap_ = 0;
  std::uint32_t id_ = 0;
};

// Grows a message in blocks of a std::pmr resource, as a pmr vector would.
class PmrBuffer {
 public:
  std::span<std::byte> get_writable(std::size_t n) {
    if (len_ + n > cap_) {
      const std::size_t cap = std::max(std::max<std::size_t>(64, cap_ * 2), len_ + n);
      auto* p = static_cast<std::byte*>(res_.allocate(cap));
      if (len_) std::memcpy(p, p_, len_);
      if (p_) res_.deallocate(p_, cap_);
      p_ = p;
      cap_ = cap;
    }
    std::byte* w = p_ + len_;
    len_ += n;
    return {w, n};
  }
  Owned get_data_owned() {
    Owned o([](void* ctx, std::byte* p, std::size_t cap,
               std::uint32_t) { static_cast<std::pmr::synchronized_pool_resource*>(ctx)->deallocate(p, cap); },
            &res_, p_, len_, cap_, 0);
    p_ = nullptr;
    len_ = cap_ = 0;
    return o;
  }

 private:
  std::pmr::synchronized_pool_resource res_;
  std::byte* p_ = nullptr;
  std::size_t len_ = 0, cap_ = 0;
};

// The seed's PPool: finished buffers live in a hash map under a mutex, keyed by id; a dropped
// buffer's vector is kept and reused for a later message.
class PPool {
 public:
  std::span<std::byte> get_writable(std::size_t n) {
    const std::size_t len = current_.size();
    current_.resize(len + n);
    return {current_.data() + len, n};
  }
  Owned get_data_owned() {
    std::lock_guard lock(mu_);
    std::uint32_t id;
    if (free_ids_.empty()) {
      id = next_id_++;
    } else {
      id = free_ids_.back();
      free_ids_.pop_back();
    }
    auto& slot = map_[id];
    slot = std::move(current_);
    current_.clear();
    if (!spares_.empty()) {
      current_ = std::move(spares_.back());
      spares_.pop_back();
      current_.clear();
    }
    return Owned([](void* ctx, std::byte*, std::size_t, std::uint32_t id_) { static_cast<PPool*>(ctx)->drop(id_); },
                 this, slot.data(), slot.size(), slot.capacity(), id);
  }

 private:
  void drop(std::uint32_t id) {
    std::lock_guard lock(mu_);
    auto it = map_.find(id);
    spares_.push_back(std::move(it->second));
    map_.erase(it);
    free_ids_.push_back(id);
  }
  std::mutex mu_;
  std::unordered_map<std::uint32_t, std::vector<std::byte>> map_;
  std::vector<std::vector<std::byte>> spares_;
  std::vector<std::uint32_t> free_ids_;
  std::uint32_t next_id_ = 0;
  std::vector<std::byte> current_;
};

// The seed's "max efficiency" control: one buffer, overwritten by every message, nothing
// tracked. Wrong as a pool (a held buffer is overwritten), the floor any real pool is judged by.
class MaxEfficiency {
 public:
  std::span<std::byte> get_writable(std::size_t n) {
    std::byte* w = buf_.data() + len_;
    len_ += n;
    return {w, n};
  }
  Owned get_data_owned() {
    Owned o(nullptr, nullptr, buf_.data(), len_, 0, 0);
    len_ = 0;
    return o;
  }

 private:
  std::vector<std::byte> buf_ = std::vector<std::byte>(std::size_t{1} << 15);
  std::size_t len_ = 0;
};

// A fixed pool of worker threads that each hold a buffer until its due time, then drop it.
template <class Handle>
class Droppers {
 public:
  explicit Droppers(int threads) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { loop(); });
  }
  ~Droppers() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  void hand_over(Handle h, Clock::time_point due) {
    {
      std::lock_guard lock(mu_);
      q_.push_back({std::move(h), due});
      ++outstanding_;
    }
    cv_.notify_one();
  }
  void wait_idle() {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [&] { return outstanding_ == 0; });
  }

 private:
  struct Item {
    Handle h;
    Clock::time_point due;
  };
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !q_.empty(); });
      if (q_.empty()) return;
      Item item = std::move(q_.front());
      q_.pop_front();
      lock.unlock();
      std::this_thread::sleep_until(item.due);
      item.h.reset();
      lock.lock();
      if (--outstanding_ == 0) idle_cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Item> q_;
  std::size_t outstanding_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

enum class Workload { single, multi, multi2 };
const char* bench_name(Workload wl) {
  return wl == Workload::single  ? "framing_single_thread"
         : wl == Workload::multi ? "framing_multi_thread"
                                 : "framing_multi_thread_2";
}

struct Lengths {
  std::vector<std::size_t> len;
  explicit Lengths(int iterations) {
    Rng rng(2024);
    for (int i = 0; i < 2 * iterations; ++i) len.push_back((std::size_t{1} << 14) - rng.below(12001));
  }
};

template <class B>
auto write_message(B& buf, std::size_t len, const std::byte* src) {
  for (std::size_t done = 0; done < len; done += 10) {
    auto w = buf.get_writable(std::min<std::size_t>(10, len - done));
    std::memcpy(w.data(), src + done % 4096, w.size());
  }
  return buf.get_data_owned();
}

template <class B, class D>
double run_once(B& buf, Workload wl, const Lengths& lengths, int iterations, const std::byte* src, D& droppers) {
  Stopwatch sw;
  for (int i = 0; i < iterations; ++i) {
    for (int k = 0; k < 2; ++k) {
      auto owned = write_message(buf, lengths.len[static_cast<std::size_t>(2 * i + k)], src);
      do_not_optimize(owned.data());
      if (wl == Workload::single)
        owned.reset();
      else
        droppers.hand_over(std::move(owned), Clock::now() + std::chrono::milliseconds(1));
    }
    if (wl == Workload::multi2) droppers.wait_idle();
  }
  const double ms = sw.seconds() * 1e3;
  droppers.wait_idle();  // not timed in `multi`: the loop is what the producer pays
  return ms;
}

void framing(Recorder& rec, const Config& cfg) {
  std::vector<std::byte> src(4096 + 16);
  Rng rng(7);
  for (auto& b : src) b = std::byte(rng());
  constexpr int kSubjects = 6;
  const char* subjects[kSubjects] = {"ferro::BufferPool<8>",
                                     "ferro::SystemBuffer",
                                     "std::pmr::synchronized_pool_resource",
                                     "PPool (map of buffers)",
                                     "control (one buffer, no tracking)",
                                     "ferro::BufferPool<64> (2 MiB)"};
  for (Workload wl : {Workload::single, Workload::multi, Workload::multi2}) {
    if (!cfg.wants(bench_name(wl))) continue;
    const int iterations = wl == Workload::multi2 ? cfg.scale(1000, 150) : 1000;
    const int runs = wl == Workload::single ? cfg.scale(30, 5) : cfg.scale(8, 2);
    const Lengths lengths(iterations);
    BufferPool<8> pool(5 * (std::size_t{1} << 16));  // the seed bench's capacity
    SystemBuffer sys;
    PmrBuffer pmr;
    PPool ppool;
    MaxEfficiency control;
    // Not in the seed: with 64 slots and room for them, the 1 ms holds of the multi-thread
    // workload (about a hundred live messages) mostly stay in the pool instead of the heap.
    BufferPool<64> pool64(std::size_t{2} << 20);
    Droppers<Slice> slice_droppers(2);
    Droppers<Owned> owned_droppers(2);
    std::vector<double> samples[kSubjects];
    // Runs are interleaved across subjects so that a burst of load on this shared machine, or
    // the heap growing under the first subject, does not land on one subject only.
    for (int r = -1; r < runs; ++r) {  // run -1 warms every subject up and is not kept
      const int its = r < 0 && wl == Workload::multi2 ? 100 : iterations;
      const double t[kSubjects] = {run_once(pool, wl, lengths, its, src.data(), slice_droppers),
                                   run_once(sys, wl, lengths, its, src.data(), slice_droppers),
                                   run_once(pmr, wl, lengths, its, src.data(), owned_droppers),
                                   run_once(ppool, wl, lengths, its, src.data(), owned_droppers),
                                   run_once(control, wl, lengths, its, src.data(), owned_droppers),
                                   run_once(pool64, wl, lengths, its, src.data(), slice_droppers)};
      if (r >= 0)
        for (int k = 0; k < kSubjects; ++k) samples[k].push_back(t[k]);
    }
    double p50[kSubjects];
    const Fields opts = {{"iterations", static_cast<std::int64_t>(iterations)}};
    for (int k = 0; k < kSubjects; ++k) {
      rec.latency(bench_name(wl), subjects[k], opts, "ms", samples[k]);
      p50[k] = summarize(samples[k]).p50;
    }
    const Fields ratio_opts = {{"workload", std::string(bench_name(wl))}};
    // The targets, as ratios of medians: > 1 means BufferPool is faster.
    rec.value("framing_ratio", "SystemBuffer / BufferPool", ratio_opts, "x", p50[1] / p50[0]);
    rec.value("framing_ratio", "control / BufferPool", ratio_opts, "x", p50[4] / p50[0]);
    rec.value("framing_ratio", "pmr / BufferPool", ratio_opts, "x", p50[2] / p50[0]);
    rec.value("framing_ratio", "PPool / BufferPool", ratio_opts, "x", p50[3] / p50[0]);
    rec.value("framing_ratio", "SystemBuffer / BufferPool<64>", ratio_opts, "x", p50[1] / p50[5]);
    rec.value("framing_ratio", "control / BufferPool<64>", ratio_opts, "x", p50[4] / p50[5]);
  }
}

// ---- BufPool ----

struct Latencies {
  std::vector<double> alloc, free;
};

template <class Alloc, class Free>
void timed_pairs(int iterations, Latencies& out, Alloc&& alloc, Free&& release) {
  for (int i = 0; i < iterations; ++i) {
    const auto t0 = Tsc::begin();
    alloc();
    const auto t1 = Tsc::end();
    const auto t2 = Tsc::begin();
    release();
    const auto t3 = Tsc::end();
    out.alloc.push_back(Tsc::to_ns(t1 - t0));
    out.free.push_back(Tsc::to_ns(t3 - t2));
  }
}

void bufpool(Recorder& rec, const Config& cfg) {
  constexpr std::size_t kSize = 4096;
  for (int threads : {1, 2}) {
    for (std::size_t n : {std::size_t{1}, std::size_t{16}, std::size_t{1024}}) {
      // malloc/free of 1024 pages costs tens of ms here (the heap top is trimmed and refaulted
      // every round), so that case gets few iterations.
      const int iterations = n >= 1024
                                 ? cfg.scale(500, 50)
                                 : static_cast<int>(cfg.scale<std::size_t>(2'000'000 / (n + 9), 200'000 / (n + 9)));
      const Fields opts = {{"n", static_cast<std::int64_t>(n)},
                           {"threads", static_cast<std::int64_t>(threads)},
                           {"buffer_size", static_cast<std::int64_t>(kSize)}};
      auto measure = [&](const char* subject, auto make_worker) {
        std::vector<Latencies> lat(static_cast<std::size_t>(threads));
        std::vector<double> secs(static_cast<std::size_t>(threads));
        std::vector<std::thread> ts;
        std::atomic<int> ready{0};
        for (int t = 0; t < threads; ++t)
          ts.emplace_back([&, t] {
            auto worker = make_worker();
            worker(iterations / 10, nullptr);  // warm: the pool's slabs, malloc's arenas
            worker(iterations, &lat[static_cast<std::size_t>(t)]);
            // Start the throughput loops together, so two threads really contend.
            ready.fetch_add(1, std::memory_order_acq_rel);
            while (ready.load(std::memory_order_acquire) < threads) std::this_thread::yield();
            Stopwatch sw;
            worker(iterations, nullptr);
            secs[static_cast<std::size_t>(t)] = sw.seconds();
          });
        for (auto& t : ts) t.join();
        Latencies all;
        for (auto& l : lat) {
          all.alloc.insert(all.alloc.end(), l.alloc.begin(), l.alloc.end());
          all.free.insert(all.free.end(), l.free.begin(), l.free.end());
        }
        rec.latency("bufpool_allocate", subject, opts, "ns", all.alloc);
        rec.latency("bufpool_free", subject, opts, "ns", all.free);
        const double slowest = *std::max_element(secs.begin(), secs.end());
        rec.throughput("bufpool_pairs", subject, opts, "ops/s", threads * static_cast<double>(iterations) / slowest);
      };
      BufPool pool({.buffer_size = kSize, .max_memory = kSize * n * 2});
      measure("ferro::BufPool", [&] {
        return [&](int its, Latencies* lat) {
          Result<BufPoolAllocation> a = BufPoolAllocation{};
          if (lat) {
            timed_pairs(
                its, *lat, [&] { a = pool.allocate(n); }, [&] { a->reset(); });
          } else {
            for (int i = 0; i < its; ++i) {
              a = pool.allocate(n);
              do_not_optimize(a->first());
              a->reset();
            }
          }
        };
      });
      measure("malloc/free", [&] {
        return [&](int its, Latencies* lat) {
          std::vector<void*> ptrs(n);
          auto alloc = [&] {
            for (auto& p : ptrs) p = std::malloc(kSize);
            do_not_optimize(ptrs.data());
          };
          auto release = [&] {
            for (void* p : ptrs) std::free(p);
          };
          if (lat) {
            timed_pairs(its, *lat, alloc, release);
          } else {
            for (int i = 0; i < its; ++i) {
              alloc();
              release();
            }
          }
        };
      });
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = parse_args(argc, argv, "pool");
  Recorder rec(cfg, "pool");
  // BufPool is compared with malloc as glibc behaves by default (that includes trimming the
  // heap top, which malloc/free of 1024 pages pays for every round).
  if (cfg.wants("bufpool")) bufpool(rec, cfg);
  // The framing subjects run interleaved and all use the heap; with trimming off, no subject
  // pays page faults for heap growth that an earlier one gave back (faults are slow on this VM).
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  framing(rec, cfg);
  return 0;
}
