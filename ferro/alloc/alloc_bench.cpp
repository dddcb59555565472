// The alloc module's benchmarks (JSON per bench/bench.hpp):
//   seed_workload    the chunk allocator seed's workload on a 160 MiB pre-touched region: sizes
//                    uniform in 64..16384, alignment uniform over 1..128, after each allocation
//                    a 1-in-10 chance to free the 7 oldest blocks, until the region is nearly
//                    full; allocate and deallocate timed separately (fenced TSC), also per fill
//                    level. Every region allocator, glibc malloc, mimalloc, jemalloc and a
//                    re-creation of the original bitwise chunk search, in one run.
//   small_random     random allocate/free with small, skewed sizes: operations per second.
//   efficiency       live requested bytes / region size at the first failed allocation.
//   worst_case       explicit worst cases per allocator (tlsf-bsd style).
// seed_workload and worst_case replay their deterministic operation sequence R times and record,
// beside the first pass, the per-operation minimum over the replays (options stat=replay-min):
// interrupts and preemption land in single timed operations on a shared machine; the minimum
// leaves the allocator's own cost.
//   synchronized     Synchronized<TlsfAllocator> with SpinLock vs std::mutex, 1 and 2 threads.
#include <dlfcn.h>
#if FERRO_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench.hpp"
#include "ferro/alloc/buddy.hpp"
#include "ferro/alloc/chunk.hpp"
#include "ferro/alloc/linked_list.hpp"
#include "ferro/alloc/synchronized.hpp"
#include "ferro/alloc/tlsf.hpp"
#include "ferro/core/random.hpp"

extern "C" void* __libc_memalign(std::size_t align, std::size_t size);
extern "C" void __libc_free(void* p);

using namespace ferro;
using namespace ferro::bench;

namespace {

// ---- the original chunk search, re-created for comparison (bench only) ----------------------
// One bit per chunk, tested one at a time: from the next-fit hint, every aligned start position
// is tried and its run checked chunk by chunk; the caller's size decides how much is freed.
template <std::size_t ChunkSize>
class BitwiseChunkReference {
 public:
  explicit BitwiseChunkReference(std::span<std::byte> region)
      : base_(region.data()), chunks_(region.size() / ChunkSize), bits_((chunks_ + 7) / 8, 0) {}
  void* allocate(std::size_t size, std::size_t align) noexcept {
    const std::size_t n = (size + ChunkSize - 1) / ChunkSize;
    if (n == 0 || n > chunks_) return nullptr;
    for (std::size_t pass = 0; pass < chunks_; ++pass) {
      const std::size_t i = (hint_ + pass) % chunks_;
      if (i + n > chunks_) continue;
      if (reinterpret_cast<std::uintptr_t>(base_ + i * ChunkSize) % align != 0) continue;
      bool free = true;
      for (std::size_t j = i; j < i + n && free; ++j) free = !get(j);
      if (!free) continue;
      for (std::size_t j = i; j < i + n; ++j) set(j, true);
      hint_ = (i + n) % chunks_;
      return base_ + i * ChunkSize;
    }
    return nullptr;
  }
  void deallocate(void* p, std::size_t size, std::size_t) noexcept {
    const std::size_t i = static_cast<std::size_t>(static_cast<std::byte*>(p) - base_) / ChunkSize;
    for (std::size_t j = i; j < i + (size + ChunkSize - 1) / ChunkSize; ++j) set(j, false);
  }

 private:
  bool get(std::size_t i) const { return (bits_[i / 8] >> (i % 8)) & 1; }
  void set(std::size_t i, bool v) {
    if (v)
      bits_[i / 8] = static_cast<std::uint8_t>(bits_[i / 8] | (1u << (i % 8)));
    else
      bits_[i / 8] = static_cast<std::uint8_t>(bits_[i / 8] & ~(1u << (i % 8)));
  }
  std::byte* base_;
  std::size_t chunks_, hint_ = 0;
  std::vector<std::uint8_t> bits_;
};

// ---- general-purpose mallocs, measured beside the region allocators ------------------------
// jemalloc is linked (Debian's build replaces malloc for the whole process; it cannot be
// dlopen'ed: static TLS); glibc's own malloc is still reachable as __libc_memalign/__libc_free;
// mimalloc is dlopen'ed locally so it does not interpose anything.
struct Glibc {
  void* allocate(std::size_t size, std::size_t align) noexcept { return __libc_memalign(align, size); }
  void deallocate(void* p, std::size_t, std::size_t) noexcept { __libc_free(p); }
};
#if FERRO_HAVE_JEMALLOC
struct Jemalloc {
  void* allocate(std::size_t size, std::size_t align) noexcept { return mallocx(size, MALLOCX_ALIGN(align)); }
  void deallocate(void* p, std::size_t size, std::size_t align) noexcept { sdallocx(p, size, MALLOCX_ALIGN(align)); }
};
#endif
struct Mimalloc {
  using Alloc = void* (*)(std::size_t, std::size_t);
  using Free = void (*)(void*);
  static Mimalloc* load() {
    void* h = dlopen("libmimalloc.so", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) return nullptr;
    static Mimalloc m{reinterpret_cast<Alloc>(dlsym(h, "mi_malloc_aligned")),
                      reinterpret_cast<Free>(dlsym(h, "mi_free"))};
    return m.alloc && m.free ? &m : nullptr;
  }
  void* allocate(std::size_t size, std::size_t align) noexcept { return alloc(size, align); }
  void deallocate(void* p, std::size_t, std::size_t) noexcept { free(p); }
  Alloc alloc;
  Free free;
};

std::unique_ptr<std::byte, decltype(&std::free)> g_region{nullptr, &std::free};
std::size_t g_region_size = 0;

std::span<std::byte> region(std::size_t bytes) {
  if (g_region_size < bytes) {
    g_region.reset(static_cast<std::byte*>(std::aligned_alloc(4096, bytes)));
    g_region_size = bytes;
    pretouch(g_region.get(), bytes);
  }
  return {g_region.get(), bytes};
}

// A subject: how to make it over a region, and its name. Mallocs ignore the region.
template <class A>
struct Over {
  static std::unique_ptr<A> make(std::span<std::byte> r) { return std::make_unique<A>(r); }
};

// ---- 1. the seed's workload --------------------------------------------------------------
struct Op {
  std::size_t size, align;
  bool free7;  // after this allocation, free the 7 oldest
};

std::vector<Op> seed_ops(std::size_t count, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<Op> ops(count);
  for (auto& op : ops) {
    op.size = rng.between(64, 16384);
    op.align = std::size_t{1} << rng.below(8);
    op.free7 = rng.chance(1, 10);
  }
  return ops;
}

struct Block {
  void* p;
  std::size_t size, align;
};

// One pass of the seed workload: every timed operation in order, with the fill level it started
// at. The workload is deterministic for a seed (a region allocator over the same region makes
// the same choices), so every replay times the same operations in the same order.
struct SeedPass {
  std::vector<double> alloc_ns, free_ns;
  std::vector<std::uint8_t> alloc_level, free_level;
  std::size_t allocations = 0, failures = 0;
  double final_fill = 0;
};

template <class A>
SeedPass seed_pass(A& a, const std::vector<Op>& ops, std::size_t region_bytes, std::size_t max_failures) {
  SeedPass out;
  std::deque<Block> live;
  std::size_t live_bytes = 0;
  auto level = [&]() -> std::uint8_t {
    const double fill = static_cast<double>(live_bytes) / static_cast<double>(region_bytes);
    return fill < 0.5 ? 0 : fill < 0.9 ? 1 : 2;
  };
  // As in the seed's benchmark: attempts go on once the region is full, so the heap hovers near
  // full and failed searches (a full scan) are timed too. A region allocator's run ends after
  // max_failures failed attempts; a malloc never fails, so its run ends at 99 % of the region.
  for (const Op& op : ops) {
    out.alloc_level.push_back(level());
    const auto t0 = Tsc::begin();
    void* p = a.allocate(op.size, op.align);
    const auto t1 = Tsc::end();
    out.alloc_ns.push_back(Tsc::to_ns(t1 - t0));
    if (p == nullptr) {
      if (++out.failures >= max_failures) break;
    } else {
      ++out.allocations;
      static_cast<volatile char*>(p)[0] = 1;  // the block is used, as a program would
      live.push_back({p, op.size, op.align});
      live_bytes += op.size;
      if (live_bytes >= region_bytes - region_bytes / 100) break;
    }
    if (op.free7) {
      for (int k = 0; k < 7 && !live.empty(); ++k) {
        const Block b = live.front();
        live.pop_front();
        out.free_level.push_back(level());
        const auto f0 = Tsc::begin();
        a.deallocate(b.p, b.size, b.align);
        const auto f1 = Tsc::end();
        live_bytes -= b.size;
        out.free_ns.push_back(Tsc::to_ns(f1 - f0));
      }
    }
  }
  out.final_fill = static_cast<double>(live_bytes) / static_cast<double>(region_bytes);
  for (const Block& b : live) a.deallocate(b.p, b.size, b.align);
  return out;
}

// Keeps, per operation index, the fastest of the replays. An interrupt or a preemption lands in
// one replay of an operation, almost never in all of them, so the minimum is the operation's own
// cost (cache and TLB state included, since every replay starts from the same state).
void keep_min(std::vector<double>& into, const std::vector<double>& from, const char* name) {
  if (from.size() != into.size())
    std::printf("%s: a replay timed %zu operations, the first %zu; comparing the common prefix\n", name, from.size(),
                into.size());
  into.resize(std::min(into.size(), from.size()));
  for (std::size_t i = 0; i < into.size(); ++i) into[i] = std::min(into[i], from[i]);
}

void record_seed(Recorder& rec, const char* name, const SeedPass& pass, std::size_t region_bytes, const Fields& stat) {
  const Fields extra = {{"attempts", static_cast<std::int64_t>(pass.alloc_ns.size())},
                        {"allocations", static_cast<std::int64_t>(pass.allocations)},
                        {"failures", static_cast<std::int64_t>(pass.failures)},
                        {"final_fill", pass.final_fill}};
  const std::int64_t mib = static_cast<std::int64_t>(region_bytes >> 20);
  const char* levels[4] = {"<50%", "50-90%", ">90%", "all"};
  for (int lv : {3, 0, 1, 2}) {
    for (int is_free = 0; is_free < 2; ++is_free) {
      const auto& ns = is_free ? pass.free_ns : pass.alloc_ns;
      const auto& at = is_free ? pass.free_level : pass.alloc_level;
      std::vector<double> samples;
      for (std::size_t i = 0; i < ns.size(); ++i)
        if (lv == 3 || at[i] == lv) samples.push_back(ns[i]);
      if (samples.empty()) continue;
      Fields options = {{"op", is_free ? "deallocate" : "allocate"}, {"fill", levels[lv]}, {"region_mib", mib}};
      options.insert(options.end(), stat.begin(), stat.end());
      rec.latency("seed_workload", name, options, "ns", samples, lv == 3 ? extra : Fields{});
    }
  }
}

// Runs the seed workload `replays` times, each on a fresh allocator from `make` (same region,
// same operations), and records the first pass as it was (what a user's thread sees, interrupts
// included) and the per-operation minimum over all passes (the allocator's own cost).
template <class Make>
void seed_workload(Recorder& rec, const char* name, Make make, const std::vector<Op>& ops, std::size_t region_bytes,
                   std::size_t max_failures, int replays) {
  SeedPass first, mins;
  for (int r = 0; r < replays; ++r) {
    auto a = make();
    SeedPass pass = seed_pass(*a, ops, region_bytes, max_failures);
    if (r == 0) {
      first = pass;
      mins = std::move(pass);
      continue;
    }
    keep_min(mins.alloc_ns, pass.alloc_ns, name);
    keep_min(mins.free_ns, pass.free_ns, name);
    mins.alloc_level.resize(mins.alloc_ns.size());
    mins.free_level.resize(mins.free_ns.size());
  }
  record_seed(rec, name, first, region_bytes, {});
  record_seed(rec, name, mins, region_bytes, {{"stat", "replay-min"}, {"R", static_cast<std::int64_t>(replays)}});
}

// ---- 2. small skewed sizes: throughput ------------------------------------------------------
std::size_t skewed_size(Rng& rng) {
  const auto r = rng.below(100);
  if (r < 80) return rng.between(8, 256);
  if (r < 97) return rng.between(257, 2048);
  return rng.between(2049, 16384);
}

template <class A>
void small_random(Recorder& rec, const char* name, A& a, std::size_t steps) {
  Rng rng(42);
  struct Action {
    std::size_t size;
    std::uint32_t victim;
  };
  std::vector<Action> actions(steps);
  for (auto& x : actions) x = {rng.chance(1, 2) ? skewed_size(rng) : 0, static_cast<std::uint32_t>(rng())};
  std::vector<Block> live;
  live.reserve(1 << 16);
  auto run = [&] {
    for (const Action& x : actions) {
      if (x.size != 0 || live.empty()) {
        const std::size_t size = x.size ? x.size : 16;
        if (void* p = a.allocate(size, 16)) live.push_back({p, size, 16});
      } else {
        const std::size_t k = x.victim % live.size();
        a.deallocate(live[k].p, live[k].size, 16);
        live[k] = live.back();
        live.pop_back();
      }
    }
    for (const Block& b : live) a.deallocate(b.p, b.size, 16);
    live.clear();
  };
  run();  // warm-up: page faults and first-touch out of the timed run
  Stopwatch sw;
  run();
  const double secs = sw.seconds();
  rec.throughput("small_random", name, {{"steps", static_cast<std::int64_t>(steps)}}, "ops/s",
                 static_cast<double>(steps) / secs);
}

// ---- 3. heap efficiency ----------------------------------------------------------------------
template <class A>
void efficiency(Recorder& rec, const char* name, std::size_t region_bytes, int rounds) {
  for (int workload = 0; workload < 2; ++workload) {
    double sum = 0;
    for (int r = 0; r < rounds; ++r) {
      auto a = Over<A>::make(region(region_bytes));
      Rng rng(static_cast<std::uint64_t>(r) * 7 + 1);
      std::deque<Block> live;
      std::size_t live_bytes = 0;
      for (;;) {
        const std::size_t size = workload == 0 ? rng.between(64, 16384) : skewed_size(rng);
        const std::size_t align = workload == 0 ? std::size_t{1} << rng.below(8) : 16;
        void* p = a->allocate(size, align);
        if (p == nullptr) break;
        live.push_back({p, size, align});
        live_bytes += size;
        if (rng.chance(1, 10))
          for (int k = 0; k < 7 && !live.empty(); ++k) {
            a->deallocate(live.front().p, live.front().size, live.front().align);
            live_bytes -= live.front().size;
            live.pop_front();
          }
      }
      sum += static_cast<double>(live_bytes) / static_cast<double>(region_bytes);
    }
    rec.value("efficiency", name,
              {{"workload", workload == 0 ? "seed (64..16384, align<=128)" : "small skewed"},
               {"region_mib", static_cast<std::int64_t>(region_bytes >> 20)},
               {"rounds", static_cast<std::int64_t>(rounds)}},
              "ratio", sum / rounds);
  }
}

// ---- 4. worst cases ------------------------------------------------------------------------
// Times `timed` reps times (after an untimed `setup` each), and replays that whole sequence
// `replays` times from the state `prepare` restores: the first pass is recorded as it was, and
// the per-repetition minimum over the passes as `stat=replay-min`.
template <class Prepare, class Setup, class Timed>
void time_case(Recorder& rec, const char* name, const char* what, int reps, int replays, Prepare prepare, Setup setup,
               Timed timed) {
  std::vector<double> first, mins;
  for (int r = 0; r < replays; ++r) {
    prepare();
    std::vector<double> samples;
    samples.reserve(static_cast<std::size_t>(reps));
    for (int i = 0; i < reps; ++i) {
      setup();
      const auto t0 = Tsc::begin();
      timed();
      const auto t1 = Tsc::end();
      samples.push_back(Tsc::to_ns(t1 - t0));
    }
    if (r == 0) {
      first = samples;
      mins = std::move(samples);
    } else {
      keep_min(mins, samples, name);
    }
  }
  rec.latency("worst_case", name, {{"case", what}}, "ns", first);
  rec.latency("worst_case", name, {{"case", what}, {"stat", "replay-min"}, {"R", static_cast<std::int64_t>(replays)}},
              "ns", mins);
}

void worst_cases(Recorder& rec, int reps, int replays) {
  constexpr std::size_t kBytes = 64 << 20;
  const auto nothing = [] {};
  {  // TLSF: a small request split off one huge free block, and its free merging back
    TlsfAllocator t(region(kBytes));
    void* p = nullptr;
    const auto fresh = [&] {
      t.reset();
      p = nullptr;
    };
    time_case(
        rec, "ferro::TlsfAllocator", "allocate 16 B from one 64 MiB free block", reps, replays, fresh,
        [&] {
          if (p) t.deallocate(p);
        },
        [&] { p = t.allocate(16, 16); });
    time_case(
        rec, "ferro::TlsfAllocator", "free merging into one 64 MiB free block", reps, replays, fresh,
        [&] { p = t.allocate(16, 16); }, [&] { t.deallocate(p); });
    void *x = nullptr, *y = nullptr, *z = nullptr, *guard = nullptr;
    time_case(
        rec, "ferro::TlsfAllocator", "free between two free neighbours", reps, replays, nothing,
        [&] {
          t.reset();
          x = t.allocate(1000, 16);
          y = t.allocate(1000, 16);
          z = t.allocate(1000, 16);
          guard = t.allocate(16, 16);
          t.deallocate(x);
          t.deallocate(z);
        },
        [&] { t.deallocate(y); });
    (void)guard;
    time_case(
        rec, "ferro::TlsfAllocator", "allocate 4096-aligned (search with slack)", reps, replays, nothing,
        [&] { t.reset(); }, [&] { p = t.allocate(100, 4096); });
  }
  {  // Chunk vs bitwise reference: a full heap with every other chunk free, asking for 2 chunks
    auto r = region(kBytes);
    ChunkAllocator<256> c(r);
    std::vector<void*> got;
    for (void* p; (p = c.allocate(256, 1)) != nullptr;) got.push_back(p);
    for (std::size_t i = 0; i < got.size(); i += 2) c.deallocate(got[i]);
    // The reference gets exactly the same chunks and the same pattern.
    BitwiseChunkReference<256> ref(r.first(c.chunk_count() * 256));
    while (ref.allocate(256, 1) != nullptr) {
    }
    for (std::size_t i = 0; i < got.size(); i += 2) ref.deallocate(r.data() + i * 256, 256, 1);
    const int few = reps < 50 ? reps : 50;
    // A failing request changes nothing, so every repetition and replay starts from this state.
    time_case(rec, "ferro::ChunkAllocator<256>", "failing 2-chunk request, 64 MiB, every other chunk free", reps,
              replays, nothing, nothing, [&] { do_not_optimize(c.allocate(512, 1)); });
    time_case(rec, "reference chunk (bitwise)", "failing 2-chunk request, 64 MiB, every other chunk free", few, replays,
              nothing, nothing, [&] { do_not_optimize(ref.allocate(512, 1)); });
  }
  {  // Buddy: the smallest block split off the top order, and the free that merges all the way up
    BuddyAllocator b(region(kBytes));
    void* p = nullptr;
    const auto fresh = [&] {
      b.reset();
      p = nullptr;
    };
    time_case(
        rec, "ferro::BuddyAllocator", "allocate 16 B from the top order", reps, replays, fresh,
        [&] {
          if (p) b.deallocate(p);
        },
        [&] { p = b.allocate(16, 16); });
    time_case(
        rec, "ferro::BuddyAllocator", "free merging up to the top order", reps, replays, fresh,
        [&] { p = b.allocate(16, 16); }, [&] { b.deallocate(p); });
  }
  {  // Linked list: 20000 small holes in front of the one place the request fits
    LinkedListAllocator l(region(kBytes));
    std::vector<void*> got;
    for (int i = 0; i < 40000; ++i) got.push_back(l.allocate(48, 16));
    for (std::size_t i = 0; i < got.size(); i += 2) l.deallocate(got[i]);
    void* p = nullptr;
    // Freeing the 4096-byte block merges it back into the tail, so each setup restores the holes.
    time_case(
        rec, "ferro::LinkedListAllocator", "allocate past 20000 small free blocks", reps < 200 ? reps : 200, replays,
        nothing,
        [&] {
          if (p) l.deallocate(p);
        },
        [&] { p = l.allocate(4096, 16); });
  }
}

// ---- 5. the lock inside Synchronized -------------------------------------------------------
template <class Lock>
void synchronized_case(Recorder& rec, const char* lock_name, int threads, std::size_t ops_per_thread) {
  Synchronized<TlsfAllocator, Lock> a(region(64 << 20));
  std::vector<std::thread> ts;
  Stopwatch sw;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      Rng rng(static_cast<std::uint64_t>(t) + 3);
      std::vector<void*> mine;
      for (std::size_t i = 0; i < ops_per_thread; ++i) {
        if (mine.size() < 64 && (mine.empty() || rng.chance(1, 2))) {
          mine.push_back(a.allocate(skewed_size(rng), 16));
        } else {
          a.deallocate(mine.back());
          mine.pop_back();
        }
      }
      for (void* p : mine) a.deallocate(p);
    });
  for (auto& t : ts) t.join();
  const double secs = sw.seconds();
  rec.throughput("synchronized", std::string("Synchronized<TlsfAllocator, ") + lock_name + ">",
                 {{"threads", static_cast<std::int64_t>(threads)}}, "ops/s",
                 static_cast<double>(ops_per_thread) * threads / secs);
}

template <class F>
void each_region_subject(F&& f) {
  f.template operator()<ChunkAllocator<128>>("ferro::ChunkAllocator<128>");
  f.template operator()<ChunkAllocator<256>>("ferro::ChunkAllocator<256>");
  f.template operator()<ChunkAllocator<512>>("ferro::ChunkAllocator<512>");
  f.template operator()<BuddyAllocator>("ferro::BuddyAllocator");
  f.template operator()<LinkedListAllocator>("ferro::LinkedListAllocator");
  f.template operator()<TlsfAllocator>("ferro::TlsfAllocator");
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = parse_args(argc, argv, "alloc");
  Recorder rec(cfg, "alloc");
  Mimalloc* mi = Mimalloc::load();
  if (mi == nullptr) std::printf("mimalloc could not be loaded: left out\n");
  Glibc glibc;
#if FERRO_HAVE_JEMALLOC
  Jemalloc je;
#else
  std::printf("jemalloc not found at configure time: left out\n");
#endif

  // Replays of each timed sequence, for the per-operation minimum (see keep_min).
  const int replays = cfg.scale(5, 3);
  if (cfg.wants("seed_workload")) {
    const std::size_t bytes = cfg.scale<std::size_t>(160u << 20, 16u << 20);
    const auto ops = seed_ops(cfg.scale<std::size_t>(400000, 100000), 2024);
    const std::size_t max_failures = cfg.scale<std::size_t>(2000, 300);
    auto run_region = [&]<class A>(const char* name) {
      seed_workload(
          rec, name, [&] { return Over<A>::make(region(bytes)); }, ops, bytes, max_failures, replays);
    };
    each_region_subject(run_region);
    seed_workload(
        rec, "reference chunk (bitwise)", [&] { return std::make_unique<BitwiseChunkReference<256>>(region(bytes)); },
        ops, bytes, max_failures, replays);
    // The mallocs cannot be reset: each gets one unmeasured pass first, so its page faults are
    // not timed either, and every replay then runs on the same warmed heap.
    auto run_malloc = [&](const char* name, auto* m) {
      seed_pass(*m, ops, bytes, max_failures);
      seed_workload(
          rec, name, [m] { return m; }, ops, bytes, max_failures, replays);
    };
    run_malloc("glibc malloc", &glibc);
    if (mi) run_malloc("mimalloc", mi);
#if FERRO_HAVE_JEMALLOC
    run_malloc("jemalloc", &je);
#endif
  }

  if (cfg.wants("small_random")) {
    const std::size_t steps = cfg.scale<std::size_t>(2000000, 200000);
    const std::size_t bytes = 64u << 20;
    auto run_region = [&]<class A>(const char* name) {
      auto a = Over<A>::make(region(bytes));
      small_random(rec, name, *a, steps);
    };
    each_region_subject(run_region);
    small_random(rec, "glibc malloc", glibc, steps);
    if (mi) small_random(rec, "mimalloc", *mi, steps);
#if FERRO_HAVE_JEMALLOC
    small_random(rec, "jemalloc", je, steps);
#endif
  }

  if (cfg.wants("efficiency")) {
    const int rounds = cfg.scale(40, 6);
    auto run_region = [&]<class A>(const char* name) { efficiency<A>(rec, name, 4u << 20, rounds); };
    each_region_subject(run_region);
  }

  if (cfg.wants("worst_case")) worst_cases(rec, cfg.scale(20000, 2000), replays);

  if (cfg.wants("synchronized")) {
    const std::size_t ops = cfg.scale<std::size_t>(2000000, 200000);
    for (int threads : {1, 2}) {
      synchronized_case<SpinLock>(rec, "SpinLock", threads, ops);
      synchronized_case<std::mutex>(rec, "std::mutex", threads, ops);
    }
  }
  return 0;
}
