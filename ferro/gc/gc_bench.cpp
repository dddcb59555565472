// gc benchmarks: the seed's list churn (2,500 list allocations in a 12 KiB heap), a larger
// mixed churn in 1 MiB, collection pauses against live heap size, fragmentation before and
// after compaction, and why object allocation uses size classes (against a first-fit walk).
// Peers on the same data structure: Boehm GC (libgc) and glibc malloc/free.
#include <gc.h>
#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "bench/bench.hpp"
#include "ferro/core/random.hpp"
#include "ferro/gc/list.hpp"
#include "ferro/gc/str.hpp"

using namespace ferro;
using namespace ferro::bench;
namespace gcf = ferro::gc;

namespace {

// CPU time of this thread: a collection's own cost, without the preemptions that a shared
// machine adds to wall-clock pauses.
double thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// ---- the same list on the three subjects ------------------------------------------------------

// A list as Boehm or malloc users would write it: a header and a growable item array.
struct CList {
  std::size_t len, cap;
  std::uintptr_t* items;
};

template <bool kBoehm>
CList* clist_new() {
  auto* l = static_cast<CList*>(kBoehm ? GC_MALLOC(sizeof(CList)) : std::malloc(sizeof(CList)));
  l->len = l->cap = 0;
  l->items = nullptr;
  return l;
}
template <bool kBoehm>
void clist_append(CList* l, std::uintptr_t v) {
  if (l->len == l->cap) {
    l->cap = l->cap < 2 ? 4 : l->cap * 2;
    const std::size_t bytes = l->cap * sizeof(std::uintptr_t);
    l->items = static_cast<std::uintptr_t*>(kBoehm ? GC_REALLOC(l->items, bytes) : std::realloc(l->items, bytes));
  }
  l->items[l->len++] = v;
}
void clist_free(CList* l) {
  if (l == nullptr) return;
  std::free(l->items);
  std::free(l);
}

constexpr int kRing = 8;
CList* g_ring[512];  // Boehm scans this (it is in .bss) as a root

// The seed's churn: each allocation builds a list of 1..8 items and replaces one of 8 live ones.
double ferro_list_churn(std::vector<std::byte>& mem, int allocs, int reps, gcf::Stats* last) {
  gcf::Options o;
  o.auto_collect = true;
  Stopwatch sw;
  for (int r = 0; r < reps; ++r) {
    gcf::Heap heap(mem, o);
    gcf::Root<gcf::List> ring(heap, heap.make<gcf::List>(heap));
    for (int i = 0; i < kRing; ++i)
      if (!ring->append(gcf::Value())) std::abort();
    for (int i = 0; i < allocs; ++i) {
      gcf::List* l = heap.make<gcf::List>(heap);
      if (l == nullptr) std::abort();
      for (int k = 0; k <= i % 8; ++k)
        if (!l->append(gcf::Value::integer(k))) std::abort();
      ring->set(static_cast<std::size_t>(i % kRing), l);
    }
    if (r == reps - 1 && last != nullptr) *last = heap.stats();
  }
  return static_cast<double>(allocs) * reps / sw.seconds();
}

template <bool kBoehm>
double c_list_churn(int allocs, int reps) {
  Stopwatch sw;
  for (int r = 0; r < reps; ++r) {
    for (int i = 0; i < allocs; ++i) {
      CList* l = clist_new<kBoehm>();
      for (int k = 0; k <= i % 8; ++k) clist_append<kBoehm>(l, static_cast<std::uintptr_t>(k) * 2 + 1);
      if (!kBoehm) clist_free(g_ring[i % kRing]);
      g_ring[i % kRing] = l;
    }
    for (auto*& l : g_ring) {
      if (!kBoehm) clist_free(l);
      l = nullptr;
    }
  }
  return static_cast<double>(allocs) * reps / sw.seconds();
}

// ---- the larger, mixed churn ------------------------------------------------------------------

constexpr int kBigRing = 512;

struct MixedOp {
  int kind;  // 0: list of n ints, 1: bytes of n
  std::size_t n;
  std::size_t slot;
};

std::vector<MixedOp> mixed_ops(std::size_t count) {
  Rng rng(11);
  std::vector<MixedOp> ops(count);
  for (auto& op : ops) {
    op.kind = static_cast<int>(rng.below(2));
    op.n = op.kind == 0 ? rng.below(33) : 16 + rng.below(1000);
    op.slot = rng.below(kBigRing);
  }
  return ops;
}

double ferro_mixed_churn(std::vector<std::byte>& mem, const std::vector<MixedOp>& ops, gcf::Stats* out,
                         std::vector<double>* pauses) {
  gcf::Options o;
  o.auto_collect = true;
  gcf::Heap heap(mem, o);
  gcf::Root<gcf::List> ring(heap, heap.make<gcf::List>(heap));
  if (!ring->reserve(kBigRing)) std::abort();
  for (int i = 0; i < kBigRing; ++i)
    if (!ring->append(gcf::Value())) std::abort();
  static std::byte payload[1024];
  std::uint32_t sweeps = 0;
  Stopwatch sw;
  for (const auto& op : ops) {
    const std::uint64_t t0 = pauses != nullptr ? Tsc::begin() : 0;
    gcf::Value v;
    if (op.kind == 0) {
      gcf::List* l = heap.make<gcf::List>(heap);
      if (l == nullptr || !l->reserve(op.n)) std::abort();
      for (std::size_t k = 0; k < op.n; ++k) (void)l->append(gcf::Value::integer(static_cast<std::intptr_t>(k)));
      v = l;
    } else {
      gcf::Bytes* b = gcf::Bytes::make(heap, {payload, op.n});
      if (b == nullptr) std::abort();
      v = b;
    }
    ring->set(op.slot, v);
    if (pauses != nullptr && heap.stats().sweeps != sweeps) {
      sweeps = heap.stats().sweeps;
      pauses->push_back(Tsc::to_ns(Tsc::end() - t0));  // this allocation ran a collection
    }
  }
  const double rate = static_cast<double>(ops.size()) / sw.seconds();
  if (out != nullptr) *out = heap.stats();
  return rate;
}

template <bool kBoehm>
double c_mixed_churn(const std::vector<MixedOp>& ops) {
  static std::byte payload[1024];
  static void* slots[kBigRing];  // CList* or a byte buffer; kinds[] says which
  static int kinds[kBigRing];
  Stopwatch sw;
  for (const auto& op : ops) {
    void* v;
    if (op.kind == 0) {
      CList* l = clist_new<kBoehm>();
      for (std::size_t k = 0; k < op.n; ++k) clist_append<kBoehm>(l, k * 2 + 1);
      v = l;
    } else {
      v = kBoehm ? GC_MALLOC_ATOMIC(op.n) : std::malloc(op.n);
      std::memcpy(v, payload, op.n);
    }
    if (!kBoehm && slots[op.slot] != nullptr) {
      if (kinds[op.slot] == 0)
        clist_free(static_cast<CList*>(slots[op.slot]));
      else
        std::free(slots[op.slot]);
    }
    slots[op.slot] = v;
    kinds[op.slot] = op.kind;
  }
  const double rate = static_cast<double>(ops.size()) / sw.seconds();
  for (int i = 0; i < kBigRing; ++i) {
    if (!kBoehm && slots[i] != nullptr) {
      if (kinds[i] == 0)
        clist_free(static_cast<CList*>(slots[i]));
      else
        std::free(slots[i]);
    }
    slots[i] = nullptr;
  }
  return rate;
}

// ---- collection pauses against live heap size ---------------------------------------------------

// Half the heap live (lists of ints plus strings), then garbage between timed collections.
void pauses(Recorder& rec, const Config& cfg) {
  for (std::size_t kib : {16u, 64u, 256u, 1024u}) {
    std::vector<std::byte> mem(kib * 1024);
    gcf::Heap heap(mem);
    gcf::Root<gcf::List> live(heap, heap.make<gcf::List>(heap));
    std::size_t structures = 0;
    const auto used = [&] {
      const auto s = heap.stats();
      return s.curr_objs.bytes + s.curr_vecs.bytes;
    };
    while (used() < mem.size() / 2) {
      gcf::List* l = heap.make<gcf::List>(heap);
      if (l == nullptr || !live->append(l)) break;
      for (int k = 0; k < 8; ++k) (void)l->append(gcf::Value::integer(k));
      if (gcf::Str* s = gcf::Str::make(heap, "a string of some thirty-two bytes")) (void)l->append(s);
      ++structures;
    }
    const std::size_t live_bytes = used();
    std::vector<double> ferro_ns, boehm_ns, ferro_cpu, boehm_cpu;
    const int reps = cfg.scale(1000, 30);
    Rng rng(kib);
    for (int r = 0; r < reps; ++r) {
      while (heap.avail() > mem.size() / 4) {  // garbage up to three quarters full
        gcf::List* g = heap.make<gcf::List>(heap);
        if (g == nullptr || !g->append(gcf::Value::integer(r))) break;
      }
      const double c0 = thread_cpu_ns();
      const auto t0 = Tsc::begin();
      heap.collect();
      ferro_ns.push_back(Tsc::to_ns(Tsc::end() - t0));
      ferro_cpu.push_back(thread_cpu_ns() - c0);
    }
    // Boehm with the same live structures (its heap is its own size: it cannot be held to ours).
    std::vector<CList*> boehm_live(structures);
    auto** roots = static_cast<CList**>(GC_MALLOC(structures * sizeof(CList*) + 1));
    for (std::size_t i = 0; i < structures; ++i) {
      CList* l = clist_new<true>();
      for (int k = 0; k < 8; ++k) clist_append<true>(l, static_cast<std::uintptr_t>(k) * 2 + 1);
      char* s = static_cast<char*>(GC_MALLOC_ATOMIC(33));
      std::memcpy(s, "a string of some thirty-two bytes", 33);
      clist_append<true>(l, reinterpret_cast<std::uintptr_t>(s));
      roots[i] = l;
    }
    g_ring[0] = reinterpret_cast<CList*>(roots);
    for (int r = 0; r < reps; ++r) {
      for (std::size_t g = 0; g < structures / 2; ++g) clist_append<true>(clist_new<true>(), 1);
      const double c0 = thread_cpu_ns();
      const auto t0 = Tsc::begin();
      GC_gcollect();
      boehm_ns.push_back(Tsc::to_ns(Tsc::end() - t0));
      boehm_cpu.push_back(thread_cpu_ns() - c0);
    }
    g_ring[0] = nullptr;
    const Fields opts = {{"heap_kib", static_cast<std::int64_t>(kib)},
                         {"live_kib", static_cast<std::int64_t>(live_bytes / 1024)},
                         {"live_structures", static_cast<std::int64_t>(structures)}};
    rec.latency("collect_pause", "ferro::gc::Heap", opts, "ns", ferro_ns);
    rec.latency("collect_pause", "Boehm GC", opts, "ns", boehm_ns,
                {{"boehm_heap_kib", static_cast<std::int64_t>(GC_get_heap_size() / 1024)}});
    rec.latency("collect_pause_cpu", "ferro::gc::Heap", opts, "ns", ferro_cpu);
    rec.latency("collect_pause_cpu", "Boehm GC", opts, "ns", boehm_cpu);
  }
}

// ---- fragmentation before and after compaction --------------------------------------------------

void fragmentation(Recorder& rec, const Config& cfg, const std::vector<MixedOp>& ops) {
  std::vector<std::byte> mem(1 << 20);
  gcf::Heap heap(mem);
  gcf::Root<gcf::List> ring(heap, heap.make<gcf::List>(heap));
  if (!ring->reserve(kBigRing)) std::abort();
  for (int i = 0; i < kBigRing; ++i) (void)ring->append(gcf::Value());
  static std::byte payload[1024];
  const std::size_t n = std::min<std::size_t>(ops.size(), cfg.scale<std::size_t>(20000, 5000));
  for (std::size_t i = 0; i < n; ++i) {
    const auto& op = ops[i];
    gcf::Value v;
    if (op.kind == 0) {
      gcf::List* l = heap.make<gcf::List>(heap);
      if (l == nullptr) break;
      for (std::size_t k = 0; k < op.n; ++k) (void)l->append(gcf::Value::integer(1));
      v = l;
    } else {
      v = gcf::Bytes::make(heap, {payload, op.n});
    }
    ring->set(op.slot, v);
    if (heap.should_collect()) {  // collect without compacting: vectors stay where they were
      heap.mark_roots();
      heap.sweep();
    }
  }
  heap.mark_roots();
  heap.sweep();
  auto measure = [&](const char* subject) {
    const auto s = heap.stats();
    const Fields opts = {{"heap_kib", std::int64_t{1024}}, {"ops", static_cast<std::int64_t>(n)}};
    const Fields extra = {{"avail_b", static_cast<std::int64_t>(s.avail)},
                          {"gap_b", static_cast<std::int64_t>(s.gap)},
                          {"vec_holes_b", static_cast<std::int64_t>(s.vec_holes)},
                          {"obj_holes_b", static_cast<std::int64_t>(s.obj_holes)}};
    // The share of free space that is not in the gap, i.e. unusable for a large new vector.
    rec.value("fragmentation", subject, opts, "holes/avail",
              static_cast<double>(s.avail - s.gap) / static_cast<double>(s.avail), extra);
    rec.value("largest_new_vector", subject, opts, "bytes", static_cast<double>(s.gap), extra);
  };
  measure("ferro::gc before compaction");
  const auto t0 = Tsc::begin();
  heap.compact();
  const double ns = Tsc::to_ns(Tsc::end() - t0);
  measure("ferro::gc after compaction");
  rec.value("compaction_time", "ferro::gc::Heap::compact", {{"heap_kib", std::int64_t{1024}}}, "ns", ns,
            {{"live_vecs", static_cast<std::int64_t>(heap.stats().curr_vecs.count)}});
}

// ---- why size classes: allocation cost against the number of live objects ---------------------

// Monty's object allocator, for comparison: first fit over every block, merging as it walks.
class FirstFit {
 public:
  explicit FirstFit(std::span<std::byte> mem) : base_(mem.data()), end_(mem.data() + mem.size()), top_(base_) {}
  void* allocate(std::size_t n) {
    const std::size_t need = (n + 15) / 16 * 16 + 16;
    for (std::byte* p = base_; p < top_;) {
      auto* h = reinterpret_cast<std::size_t*>(p);
      if (h[1] == 0) {  // free: merge the free blocks after it, then try it
        std::byte* q = p + h[0];
        while (q < top_ && reinterpret_cast<std::size_t*>(q)[1] == 0) q += reinterpret_cast<std::size_t*>(q)[0];
        h[0] = static_cast<std::size_t>(q - p);
        if (h[0] >= need) {
          if (h[0] - need >= 32) {
            auto* rest = reinterpret_cast<std::size_t*>(p + need);
            rest[0] = h[0] - need;
            rest[1] = 0;
            h[0] = need;
          }
          h[1] = 1;
          return p + 16;
        }
      }
      p += h[0];
    }
    if (static_cast<std::size_t>(end_ - top_) < need) return nullptr;
    auto* h = reinterpret_cast<std::size_t*>(top_);
    h[0] = need;
    h[1] = 1;
    top_ += need;
    return h + 2;
  }
  void free(void* p) { reinterpret_cast<std::size_t*>(p)[-1] = 0; }

 private:
  std::byte *base_, *end_, *top_;
};

void object_allocation(Recorder& rec, const Config& cfg) {
  for (std::size_t live : {100u, 1000u, 10000u}) {
    const std::size_t bytes = live * 2 * 300 + (1 << 16);
    std::vector<std::byte> mem(bytes), mem2(bytes);
    gcf::Heap heap(mem);
    FirstFit ff(mem2);
    // The same layout in both: long-lived objects of all sizes with small freed ones between
    // them, the usual shape of a heap after short-lived small objects die.
    Rng rng(live);
    std::vector<void*> keep_a, keep_b, drop_a, drop_b;
    for (std::size_t i = 0; i < 2 * live; ++i) {
      const std::size_t n = i % 2 ? 24 + rng.below(24) : 24 + rng.below(200);
      void* a = heap.malloc(n);
      void* b = ff.allocate(n);
      (i % 2 ? drop_a : keep_a).push_back(a);
      (i % 2 ? drop_b : keep_b).push_back(b);
    }
    for (void* p : drop_a) heap.free(p);
    for (void* p : drop_b) ff.free(p);
    heap.collect();  // merges the holes as a sweep would
    const int n = cfg.scale(20000, 4000);
    std::vector<std::size_t> sizes(static_cast<std::size_t>(n));
    for (auto& s : sizes) s = 24 + rng.below(200);
    std::vector<double> ta, tb;
    std::vector<void*> got(sizes.size());
    for (int round = 0; round < 2; ++round) {
      auto& t = round == 0 ? ta : tb;
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        const auto t0 = Tsc::begin();
        got[i] = round == 0 ? heap.malloc(sizes[i]) : ff.allocate(sizes[i]);
        t.push_back(Tsc::to_ns(Tsc::end() - t0));
        if (got[i] == nullptr) std::abort();
        if (i % 64 == 63) {  // keep the heap from filling: give back this batch
          for (std::size_t k = i - 63; k <= i; ++k) round == 0 ? heap.free(got[k]) : ff.free(got[k]);
        }
      }
    }
    const Fields opts = {{"live_objects", static_cast<std::int64_t>(live)}};
    rec.latency("object_alloc_vs_live", "ferro::gc size classes", opts, "ns", ta);
    rec.latency("object_alloc_vs_live", "first-fit walk (Monty's)", opts, "ns", tb);
    for (void* p : keep_a) heap.free(p);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = parse_args(argc, argv, "gc");
  GC_INIT();
  Recorder rec(cfg, "gc");

  if (cfg.wants("list_churn")) {
    const int reps = cfg.scale(1000, 40);
    std::vector<std::byte> mem(12 * 1024);
    gcf::Stats s;
    const Fields opts = {{"heap_kib", std::int64_t{12}}, {"allocs", std::int64_t{2500}}, {"live_lists", kRing}};
    // Interleave the subjects so that machine noise hits them alike; keep each one's best run.
    double f = 0, b = 0, m = 0;
    for (int k = 0; k < cfg.scale(5, 2); ++k) {
      f = std::max(f, ferro_list_churn(mem, 2500, reps, &s));
      b = std::max(b, c_list_churn<true>(2500, reps));
      m = std::max(m, c_list_churn<false>(2500, reps));
    }
    rec.throughput("list_churn", "ferro::gc::Heap", opts, "lists/s", f,
                   {{"sweeps", static_cast<std::int64_t>(s.sweeps)},
                    {"max_live_b", static_cast<std::int64_t>(s.max_objs.bytes + s.max_vecs.bytes)}});
    rec.throughput("list_churn", "Boehm GC", opts, "lists/s", b);
    rec.throughput("list_churn", "malloc/free", opts, "lists/s", m);
  }

  const auto ops = mixed_ops(cfg.scale<std::size_t>(400000, 40000));
  if (cfg.wants("mixed_churn")) {
    std::vector<std::byte> mem(1 << 20);
    gcf::Stats s;
    std::vector<double> pause_ns;
    double f = 0, b = 0, m = 0;
    for (int k = 0; k < cfg.scale(5, 2); ++k) {
      f = std::max(f, ferro_mixed_churn(mem, ops, &s, nullptr));
      b = std::max(b, c_mixed_churn<true>(ops));
      m = std::max(m, c_mixed_churn<false>(ops));
    }
    const Fields opts = {
        {"heap_kib", std::int64_t{1024}}, {"ops", static_cast<std::int64_t>(ops.size())}, {"ring", kBigRing}};
    rec.throughput(
        "mixed_churn", "ferro::gc::Heap", opts, "allocs/s", f,
        {{"sweeps", static_cast<std::int64_t>(s.sweeps)}, {"compacts", static_cast<std::int64_t>(s.compacts)}});
    rec.throughput("mixed_churn", "Boehm GC", opts, "allocs/s", b);
    rec.throughput("mixed_churn", "malloc/free", opts, "allocs/s", m);
    ferro_mixed_churn(mem, ops, nullptr, &pause_ns);
    rec.latency("mixed_churn_pause", "ferro::gc::Heap", opts, "ns", pause_ns);
  }
  if (cfg.wants("collect_pause")) pauses(rec, cfg);
  if (cfg.wants("fragmentation")) fragmentation(rec, cfg, ops);
  if (cfg.wants("object_alloc")) object_allocation(rec, cfg);
  return 0;
}
