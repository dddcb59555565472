// ferro_vnv_bench: the vNVHeap seed's measurements, over RAM standing in for SPI FRAM (a
// latency model spent for real) and over a file:
//   get_ref_{best,bad,worst}  reference retrieval for 8..1024-byte objects: resident; loaded
//                             from storage; a dirty blocker written back and evicted first,
//                             against the seed's baseline of one whole RAM bucket swapped out
//   allocate / deallocate     per object size
//   persist_vs_dirty          persist latency and bytes against max_dirty_bytes (+ fit R^2),
//                             against a whole-RAM checkpoint of the same buffer
//   persist_vs_buffer         persist latency against the RAM buffer size (should be flat)
//   storage_read / _write     the storages themselves
// Every latency record is also printed as the seed's [BENCH-INFO] line (same fields).
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench.hpp"
#include "ferro/alloc/buddy.hpp"
#include "ferro/core/random.hpp"
#include "ferro/storage/file_storage.hpp"
#include "ferro/storage/memory_storage.hpp"
#include "ferro/vnv/heap.hpp"

using namespace ferro;
using namespace ferro::vnv;
using bench::Fields;
using bench::Recorder;
using bench::Tsc;

namespace {

#define BENCH_CHECK(cond)                                                                \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "vnv bench: check failed at line %d: %s\n", __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

// Over FRAM the device time is the latency model's (MemoryStorage::simulated_ns(), SPI FRAM
// at 20 MHz), added to the CPU time measured with the TSC: spinning for it on a shared,
// noisy machine would only add the neighbours' noise. Over a file everything is measured.
MemoryStorage* g_fram = nullptr;
double device_ns() { return g_fram != nullptr ? static_cast<double>(g_fram->simulated_ns()) : 0.0; }

struct Timer {
  std::uint64_t tsc = Tsc::begin();
  double dev = device_ns();
  double ns() const { return Tsc::to_ns(Tsc::end() - tsc) + (device_ns() - dev); }
};

template <std::size_t N>
struct Blob {
  std::uint8_t b[N];
};

template <class F>
void for_sizes(F&& f) {
  f(std::integral_constant<std::size_t, 8>{});
  f(std::integral_constant<std::size_t, 16>{});
  f(std::integral_constant<std::size_t, 32>{});
  f(std::integral_constant<std::size_t, 64>{});
  f(std::integral_constant<std::size_t, 128>{});
  f(std::integral_constant<std::size_t, 256>{});
  f(std::integral_constant<std::size_t, 512>{});
  f(std::integral_constant<std::size_t, 1024>{});
}

std::string fields_json(const Fields& f) {
  std::string s = "{";
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (i) s += ",";
    s += "\"" + f[i].first + "\":";
    if (auto* v = std::get_if<std::int64_t>(&f[i].second))
      s += std::to_string(*v);
    else if (auto* d = std::get_if<double>(&f[i].second))
      s += std::to_string(*d);
    else
      s += "\"" + std::get<std::string>(f[i].second) + "\"";
  }
  return s + "}";
}

// Records a latency case and prints the seed's [BENCH-INFO] line (data in ns).
void record(Recorder& rec, const char* bench, const char* subject, Fields options, std::vector<double>& ns,
            const Fields& extra = {}) {
  std::string data;
  for (std::size_t i = 0; i < ns.size() && i < 200; ++i) data += (i ? "," : "") + std::to_string(std::llround(ns[i]));
  Fields opts = options;
  opts.emplace_back("subject", std::string(subject));
  std::printf(
      "[BENCH-INFO] {\"bench_name\":\"%s\",\"bench_options\":%s,\"machine_name\":\"desktop\",\"cold_start\":0,"
      "\"repetitions\":%zu,\"ticks_per_ms\":1000000,\"data\":[%s]}\n",
      bench, fields_json(opts).c_str(), ns.size(), data.c_str());
  rec.latency(bench, subject, options, "ns", ns, extra);
}

template <class S>
using BenchHeap = Heap<BuddyAllocator, NonResidentBuddyAllocator<16, 65536>, DefaultObjectManager, S>;

// The seed's baseline: the RAM is one bucket; an object outside it costs writing the bucket
// back (when dirty) and reading the bucket that holds the object.
template <class S>
class BucketBaseline {
 public:
  BucketBaseline(S& storage, std::size_t bucket) : storage_(storage), ram_(bucket) {}
  // Object `i` of size n lives in bucket i (one object per bucket, as a worst spread).
  std::byte* get(std::size_t bucket_index, bool mut) {
    if (bucket_index != current_) {
      if (dirty_) (void)storage_.write(current_ * ram_.size(), ram_);
      (void)storage_.read(bucket_index * ram_.size(), ram_);
      current_ = bucket_index;
      dirty_ = false;
    }
    dirty_ |= mut;
    return ram_.data();
  }

 private:
  S& storage_;
  std::vector<std::byte> ram_;
  std::size_t current_ = 0;
  bool dirty_ = false;
};

// The heap's RAM buffer and the baseline's bucket: room for about 16 objects, so that RAM
// fills up and the worst case (evicting a dirty blocker) happens.
constexpr std::size_t ram_for(std::size_t n) {
  const std::size_t block = *checked_pow2_ceil(format::padded(static_cast<std::uint32_t>(n)) + 8);
  return block * 16 < 1024 ? 1024 : block * 16;
}

template <class S, std::size_t N>
void retrieval(Recorder& rec, S& storage, const char* storage_name, int reps) {
  using T = Blob<N>;
  const Fields opts{{"object_size", std::int64_t{N}}, {"storage", std::string(storage_name)}};
  const Config cfg{.max_dirty_bytes = 65536, .max_objects = 64, .block_size = 32, .sync = false};
  const std::size_t kRam = ram_for(N);
  std::vector<std::byte> ram(64 * sizeof(detail::Entry) + kRam);
  auto heap = std::make_unique<BenchHeap<S>>(ram, storage, cfg);
  BENCH_CHECK(heap->create());
  // Fill RAM with blockers until one is evicted: from then on RAM is full.
  std::vector<Object<T>> blockers;
  while (heap->stats().evictions == 0 && blockers.size() < 60)
    blockers.push_back(std::move(*heap->template allocate<T>()));
  auto target = std::move(*heap->template allocate<T>());

  std::vector<double> best, bad, worst, base_best, base_bad, base_worst;
  // Best: resident, unborrowed; timed in batches (one get + release is a few ns).
  constexpr int kBatch = 1000;
  for (int r = 0; r < reps * 4; ++r) {
    const auto t0 = Tsc::begin();  // CPU only: a resident get never touches storage
    for (int i = 0; i < kBatch; ++i) {
      auto ref = target.get();
      bench::do_not_optimize(ref->get()->b[0]);
    }
    best.push_back(Tsc::to_ns(Tsc::end() - t0) / kBatch);
  }
  // Worst: every resident blocker dirty, RAM full, the target on storage.
  auto make_all_dirty_and_full = [&] {
    (void)target.unload();
    for (auto& b : blockers) {
      auto m = b.get_mut();  // reloads the one evicted last time into the hole
      BENCH_CHECK(m);
      (*m)->b[0] ^= 1;
    }
  };
  for (int r = 0; r < reps; ++r) {
    make_all_dirty_and_full();
    const auto wb = heap->stats().write_backs;
    const Timer t;
    {
      auto ref = target.get();
      bench::do_not_optimize(ref->get()->b[0]);
    }
    worst.push_back(t.ns());
    BENCH_CHECK(heap->stats().write_backs != wb);  // else not the worst case
  }
  // Bad: the target on storage and room for it (one clean blocker unloaded first).
  for (int r = 0; r < reps; ++r) {
    (void)target.unload();
    (void)blockers.front().unload();
    const auto wb = heap->stats().write_backs, ev = heap->stats().evictions;
    const Timer t;
    {
      auto ref = target.get();
      bench::do_not_optimize(ref->get()->b[0]);
    }
    bad.push_back(t.ns());
    BENCH_CHECK(heap->stats().write_backs == wb && heap->stats().evictions == ev);
  }
  for (auto& b : blockers) b.reset();
  target.reset();
  heap.reset();

  BucketBaseline<S> base(storage, kRam);
  (void)base.get(1, false);
  for (int r = 0; r < reps * 4; ++r) {
    const auto t0 = Tsc::begin();
    for (int i = 0; i < kBatch; ++i) {
      std::size_t bucket = 1;
      asm volatile("" : "+r"(bucket));  // or the compiler hoists the lookup out of the loop
      bench::do_not_optimize(*base.get(bucket, false));
    }
    base_best.push_back(Tsc::to_ns(Tsc::end() - t0) / kBatch);
  }
  for (int r = 0; r < reps; ++r) {
    (void)base.get(2, false);  // current bucket clean
    const Timer t;
    bench::do_not_optimize(*base.get(1, false));
    base_bad.push_back(t.ns());
  }
  for (int r = 0; r < reps; ++r) {
    (void)base.get(2, true);  // current bucket dirty
    const Timer t;
    bench::do_not_optimize(*base.get(1, false));
    base_worst.push_back(t.ns());
  }
  record(rec, "get_ref_best", "ferro::vnv::Heap", opts, best);
  record(rec, "get_ref_best", "whole-RAM bucket baseline", opts, base_best);
  record(rec, "get_ref_bad", "ferro::vnv::Heap", opts, bad);
  record(rec, "get_ref_bad", "whole-RAM bucket baseline", opts, base_bad);
  record(rec, "get_ref_worst", "ferro::vnv::Heap", opts, worst);
  record(rec, "get_ref_worst", "whole-RAM bucket baseline", opts, base_worst);
}

template <class S, std::size_t N>
void alloc_free(Recorder& rec, S& storage, const char* storage_name, int reps) {
  using T = Blob<N>;
  const Config cfg{.max_dirty_bytes = 65536, .max_objects = 256, .block_size = 32, .sync = false};
  std::vector<std::byte> ram(256 * sizeof(detail::Entry) + 256 * 1024);
  auto heap = std::make_unique<BenchHeap<S>>(ram, storage, cfg);
  BENCH_CHECK(heap->create());
  std::vector<double> a, d;
  std::vector<Object<T>> objs;
  const int batch = 32;
  for (int r = 0; r < reps; ++r) {
    for (int i = 0; i < batch; ++i) {
      const Timer t;
      auto o = heap->template allocate<T>();
      a.push_back(t.ns());
      BENCH_CHECK(o);
      objs.push_back(std::move(*o));
    }
    for (auto& o : objs) {
      const Timer t;
      o.reset();
      d.push_back(t.ns());
    }
    objs.clear();
    if (r % 4 == 3) BENCH_CHECK(heap->persist() == PersistOutcome::done);  // frees pending blocks
  }
  const Fields opts{{"object_size", std::int64_t{N}}, {"storage", std::string(storage_name)}};
  record(rec, "allocate", "ferro::vnv::Heap", opts, a);
  record(rec, "deallocate", "ferro::vnv::Heap", opts, d);
}

std::uint64_t g_durable_tsc = 0;
double g_durable_dev = 0;
void mark_durable(const std::byte*, std::size_t) {
  g_durable_tsc = Tsc::end();
  g_durable_dev = device_ns();
}

// One persist with `dirty` bytes dirty in 64-byte objects; returns {durable ns, total ns}.
template <class S>
struct PersistRig {
  using T = Blob<64>;
  PersistRig(S& storage, std::size_t ram_bytes, std::uint32_t max_dirty, std::uint32_t objects, bool sync)
      : ram(objects * sizeof(detail::Entry) + ram_bytes) {
    const Config cfg{.max_dirty_bytes = max_dirty, .max_objects = objects, .block_size = 32, .sync = sync};
    heap = std::make_unique<BenchHeap<S>>(ram, storage, cfg, mark_durable);
    BENCH_CHECK(heap->create());
    for (std::uint32_t i = 0; i < objects; ++i) objs.push_back(std::move(*heap->template allocate<T>()));
    BENCH_CHECK(heap->persist() == PersistOutcome::done);
  }
  ~PersistRig() { objs.clear(); }
  std::pair<double, double> run(std::uint32_t dirty_bytes, std::uint64_t salt) {
    for (std::uint32_t i = 0; i < dirty_bytes / 64; ++i) {
      auto m = objs[(i + salt) % objs.size()].get_mut();
      BENCH_CHECK(m);
      (*m)->b[salt % 64] ^= 1;
    }
    const Timer t;
    BENCH_CHECK(heap->persist() == PersistOutcome::done);
    const double total = t.ns();
    return {Tsc::to_ns(g_durable_tsc - t.tsc) + (g_durable_dev - t.dev), total};
  }
  std::vector<std::byte> ram;
  std::unique_ptr<BenchHeap<S>> heap;
  std::vector<Object<T>> objs;
};

template <class S>
void persist_vs_dirty(Recorder& rec, S& storage, const char* storage_name, int reps, bool sync) {
  constexpr std::size_t kBuffer = 64 * 1024;
  std::vector<double> xs, ys;
  std::vector<std::byte> whole(kBuffer, std::byte{1});
  for (std::uint32_t limit : {256u, 512u, 1024u, 2048u, 4096u, 8192u, 16384u}) {
    PersistRig<S> rig(storage, kBuffer, limit, 256, sync);
    std::vector<double> durable, total, ckpt;
    std::uint64_t bytes = 0, meta = 0;
    std::vector<std::uint64_t> each;
    for (int r = 0; r < reps; ++r) {
      const auto [until_durable, with_copy] = rig.run(limit, static_cast<std::uint64_t>(r) * 7);
      durable.push_back(until_durable);
      total.push_back(with_copy);
      bytes = std::max(bytes, rig.heap->stats().last_persist_bytes);
      each.push_back(rig.heap->stats().last_persist_bytes);
      meta = std::max(meta, rig.heap->stats().last_persist_metadata);
      BENCH_CHECK(rig.heap->stats().last_persist_bytes - rig.heap->stats().last_persist_metadata <= limit);
      // The peer: a checkpoint of the whole RAM buffer (into the data area's far end).
      const Timer t;
      (void)storage.write(storage.size() - kBuffer, whole);
      if (sync) (void)storage.sync();
      ckpt.push_back(t.ns());
    }
    const Fields opts{{"max_dirty_bytes", std::int64_t{limit}}, {"storage", std::string(storage_name)}};
    auto sorted = durable;
    std::sort(sorted.begin(), sorted.end());
    xs.push_back(limit);
    ys.push_back(sorted[sorted.size() / 2]);
    std::sort(each.begin(), each.end());
    const auto typical = each[each.size() / 2];  // the first persist into each slot writes the whole table
    record(rec, "persist_vs_dirty", "ferro::vnv::Heap persist (until durable)", opts, durable,
           {{"bytes_written_max", std::int64_t(bytes)},
            {"bytes_written_p50", std::int64_t(typical)},
            {"metadata_bytes_max", std::int64_t(meta)}});
    record(rec, "persist_vs_dirty", "vnv persist incl. copy home", opts, total);
    record(rec, "persist_vs_dirty", "whole-RAM checkpoint (64 KiB)", opts, ckpt);
    rec.value("persist_bytes_vs_dirty", "ferro::vnv::Heap persist (p50)", opts, "bytes", double(typical));
    rec.value("persist_bytes_vs_dirty", "ferro::vnv::Heap persist (max)", opts, "bytes", double(bytes));
    rec.value("persist_bytes_vs_dirty", "whole-RAM checkpoint (64 KiB)", opts, "bytes", double(kBuffer));
    // The documented bound: max_dirty_bytes of data plus the most metadata a persist can
    // write (commit zeroing, header, whole table, roots, one record per 8 data bytes, commit).
    const double bound = double(limit) + 16 + 64 + 256.0 * sizeof(format::TableEntry) +
                         format::kRoots * sizeof(format::Root) + double(limit) + 16;
    rec.value("persist_bytes_over_bound", "ferro::vnv::Heap persist", opts, "bytes",
              double(bytes) > bound ? double(bytes) - bound : 0.0, {{"bound", bound}});
  }
  const auto fit = bench::fit_line(xs, ys);
  const Fields opts{{"storage", std::string(storage_name)}};
  rec.value("persist_latency_vs_dirty_fit", "ferro::vnv::Heap r2", opts, "r2", fit.r2,
            {{"slope_ns_per_byte", fit.slope}, {"intercept_ns", fit.intercept}});
  std::printf("persist latency vs dirty bytes (%s): %.1f ns/byte + %.0f ns, R^2 = %.4f\n", storage_name, fit.slope,
              fit.intercept, fit.r2);
}

template <class S>
void persist_vs_buffer(Recorder& rec, S& storage, const char* storage_name, int reps, bool sync) {
  std::vector<double> xs, ys;
  for (std::size_t buffer : {16u * 1024, 32u * 1024, 64u * 1024, 128u * 1024, 256u * 1024}) {
    PersistRig<S> rig(storage, buffer, 1024, 64, sync);
    std::vector<double> durable;
    for (int r = 0; r < reps; ++r) durable.push_back(rig.run(1024, static_cast<std::uint64_t>(r) * 5).first);
    const Fields opts{{"buffer_bytes", std::int64_t(buffer)}, {"storage", std::string(storage_name)}};
    auto sorted = durable;
    std::sort(sorted.begin(), sorted.end());
    xs.push_back(double(buffer));
    ys.push_back(sorted[sorted.size() / 2]);
    record(rec, "persist_vs_buffer", "ferro::vnv::Heap persist (until durable)", opts, durable,
           {{"bytes_written", std::int64_t(rig.heap->stats().last_persist_bytes)}});
  }
  const auto [lo, hi] = std::minmax_element(ys.begin(), ys.end());
  const auto fit = bench::fit_line(xs, ys);
  const Fields opts{{"storage", std::string(storage_name)}};
  rec.value("persist_vs_buffer_spread", "ferro::vnv::Heap max/min p50", opts, "ratio", *hi / *lo,
            {{"slope_ns_per_buffer_byte", fit.slope}});
  std::printf("persist latency vs buffer size (%s): p50 max/min %.3f, slope %.5f ns per buffer byte\n", storage_name,
              *hi / *lo, fit.slope);
}

template <class S>
void storage_rw(Recorder& rec, S& storage, const char* storage_name, int reps) {
  for (std::size_t n : {8u, 64u, 512u, 4096u, 8192u}) {
    std::vector<std::byte> buf(n, std::byte{7});
    std::vector<double> r, w;
    for (int i = 0; i < reps; ++i) {
      {
        const Timer t;
        (void)storage.write(4096, buf);
        w.push_back(t.ns());
      }
      const Timer t;
      (void)storage.read(4096, buf);
      r.push_back(t.ns());
    }
    const Fields opts{{"object_size", std::int64_t(n)}, {"storage", std::string(storage_name)}};
    record(rec, "persistent_storage_write", storage_name, opts, w);
    record(rec, "persistent_storage_read", storage_name, opts, r);
  }
}

// The seed's system workload at bench scale: seeded random get (55 %) / get_mut (40 %) /
// unload / flush / persist on 40 objects of 8, 40 and 200 bytes through a 2 KiB RAM buffer,
// checked against a plain copy at the end; throughput in operations per second (device time
// included over FRAM).
template <class S>
void random_workload(Recorder& rec, S& storage, const char* storage_name, std::uint64_t ops) {
  using Small = Blob<8>;
  using Mid = Blob<40>;
  using Large = Blob<200>;
  const Config cfg{.max_dirty_bytes = 512, .max_objects = 64, .block_size = 32, .sync = false};
  std::vector<std::byte> ram(64 * sizeof(detail::Entry) + 2048);
  auto heap = std::make_unique<BenchHeap<S>>(ram, storage, cfg);
  BENCH_CHECK(heap->create());
  std::vector<Object<Small>> small;
  std::vector<Object<Mid>> mid;
  std::vector<Object<Large>> large;
  std::vector<std::vector<std::uint8_t>> model;
  for (int i = 0; i < 40; ++i) {
    if (i % 3 == 0) small.push_back(std::move(*heap->template allocate<Small>()));
    if (i % 3 == 1) mid.push_back(std::move(*heap->template allocate<Mid>()));
    if (i % 3 == 2) large.push_back(std::move(*heap->template allocate<Large>()));
    model.emplace_back(i % 3 == 0 ? 8 : i % 3 == 1 ? 40 : 200, 0);
  }
  auto visit = [&](std::size_t i, auto&& f) {
    if (i % 3 == 0) return f(small[i / 3]);
    if (i % 3 == 1) return f(mid[i / 3]);
    return f(large[i / 3]);
  };
  Rng rng(42);
  const Timer t;
  for (std::uint64_t op = 0; op < ops; ++op) {
    const std::size_t i = rng.below(40);
    const auto what = rng.below(1000);
    if (what < 550) {
      visit(i, [&](auto& o) {
        auto r = o.get();
        BENCH_CHECK(r);
        bench::do_not_optimize(r->get()->b[0]);
      });
    } else if (what < 950) {
      visit(i, [&](auto& o) {
        auto m = o.get_mut();
        BENCH_CHECK(m);
        const auto at = rng.below(model[i].size());
        const auto v = static_cast<std::uint8_t>(rng());
        m->get()->b[at] = v;
        model[i][at] = v;
      });
    } else if (what < 975) {
      visit(i, [&](auto& o) { BENCH_CHECK(o.unload()); });
    } else if (what < 999) {
      visit(i, [&](auto& o) { BENCH_CHECK(o.flush()); });
    } else {
      BENCH_CHECK(heap->persist() == PersistOutcome::done);
    }
  }
  const double ns = t.ns();
  for (std::size_t i = 0; i < 40; ++i)
    visit(i, [&](auto& o) { BENCH_CHECK(std::memcmp(o.get()->get()->b, model[i].data(), model[i].size()) == 0); });
  const auto st = heap->stats();
  rec.throughput("random_workload", "ferro::vnv::Heap",
                 {{"ops", std::int64_t(ops)}, {"storage", std::string(storage_name)}}, "ops/s",
                 double(ops) / (ns * 1e-9),
                 {{"loads", std::int64_t(st.loads)},
                  {"write_backs", std::int64_t(st.write_backs)},
                  {"persists", std::int64_t(st.persists)}});
}

template <class S>
void run_all(Recorder& rec, const bench::Config& cfg, S& storage, const char* name, bool sync, int slow_reps) {
  const int reps = cfg.scale(slow_reps, std::max(3, slow_reps / 8));
  if (cfg.wants("get_ref")) for_sizes([&](auto n) { retrieval<S, decltype(n)::value>(rec, storage, name, reps); });
  if (cfg.wants("allocate")) for_sizes([&](auto n) { alloc_free<S, decltype(n)::value>(rec, storage, name, reps); });
  if (cfg.wants("persist_vs_dirty")) persist_vs_dirty(rec, storage, name, reps, sync);
  if (cfg.wants("persist_vs_buffer")) persist_vs_buffer(rec, storage, name, reps, sync);
  if (cfg.wants("storage")) storage_rw(rec, storage, name, reps * 2);
  if (cfg.wants("random_workload")) random_workload(rec, storage, name, cfg.scale<std::uint64_t>(2'000'000, 200'000));
}

}  // namespace

int main(int argc, char** argv) {
  const auto cfg = bench::parse_args(argc, argv, "vnv");
  Recorder rec(cfg, "vnv");
  {
    std::vector<std::byte> fram(4 << 20);
    bench::pretouch(fram.data(), fram.size());
    MemoryStorage storage(fram, LatencyModel::spi_fram());
    g_fram = &storage;
    run_all(rec, cfg, storage, "fram (SPI model)", true, 40);
    g_fram = nullptr;
  }
  {
    const auto path =
        (std::filesystem::temp_directory_path() / ("ferro-vnv-bench-" + std::to_string(getpid()))).string();
    auto file = FileStorage::open(path, 4 << 20);
    if (!file) {
      std::fprintf(stderr, "cannot open %s\n", path.c_str());
      return 1;
    }
    run_all(rec, cfg, *file, "file (fdatasync)", true, 100);
    if (cfg.wants("persist_vs_dirty") || cfg.wants("persist_vs_buffer")) {
      bench::Config persist_only = cfg;
      if (persist_only.only.empty()) persist_only.only = "persist_vs";
      run_all(rec, persist_only, *file, "file (no sync)", false, 100);
    }
    std::filesystem::remove(path);
  }
  return 0;
}
