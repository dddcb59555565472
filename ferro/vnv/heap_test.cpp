// The heap's contract: allocate/get/get_mut/unload/flush, borrow rules as errors, the dirty
// budget invariant after every operation, partial dirtiness, persist + open, roots, several
// heaps and persist_all, the deferred persist, and the seed's large random system test.
#include <signal.h>

#include <array>
#include <cstring>
#include <vector>

#include "ferro/alloc/chunk.hpp"
#include "ferro/alloc/tlsf.hpp"
#include "ferro/core/random.hpp"
#include "ferro/storage/sliced_storage.hpp"
#include "ferro/vnv/persist_signal.hpp"
#include "ferro/vnv/vnv_test_util.hpp"

namespace ferro::vnv {
namespace {

using testing::Fram;
using testing::MemHeap;

struct Counter {
  std::uint64_t value;
};

struct Big {
  std::array<std::uint64_t, 512> words;  // 4 KiB
};

TEST(VnvHeap, AllocateMutatePersistReopen) {
  Fram fram(64 * 1024);
  std::vector<std::byte> ram(8192);
  {
    MemHeap heap(ram, fram.storage, {.max_dirty_bytes = 256});
    VNV_ASSERT_OK(heap.create());
    auto c = heap.allocate<Counter>(Counter{41});
    ASSERT_TRUE(c);
    {
      auto m = c->get_mut();
      ASSERT_TRUE(m);
      ++(*m)->value;
    }
    VNV_ASSERT_OK(heap.set_root("counter", *c));
    EXPECT_EQ(heap.persist(), PersistOutcome::done);
    testing::expect_ok(heap);
    c->release();
  }
  std::vector<std::byte> ram2(8192);
  MemHeap again(ram2, fram.storage, {.max_dirty_bytes = 256});
  VNV_ASSERT_OK(again.open());
  auto c = again.root<Counter>("counter");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->is_resident());  // the resident set came back (same buffer size, BuddyAllocator)
  EXPECT_FALSE(c->is_dirty());
  EXPECT_EQ(again.stats().loads, 0u);
  auto r = c->get();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->value, 42u);
  EXPECT_EQ(again.root<Counter>("nope").code(), Errc::not_found);
  EXPECT_EQ(again.root<Big>("counter").code(), Errc::invalid_argument);  // wrong type
  EXPECT_EQ(again.root<Counter>("counter").code(), Errc::busy);          // already owned
}

TEST(VnvHeap, FreeingARootedObjectClearsTheRoot) {
  Fram fram(64 * 1024);
  std::vector<std::byte> ram(8192);
  {
    MemHeap heap(ram, fram.storage);
    VNV_ASSERT_OK(heap.create());
    auto a = heap.allocate<Counter>(Counter{1});
    auto b = heap.allocate<Counter>(Counter{2});
    VNV_ASSERT_OK(heap.set_root("a", *a));
    VNV_ASSERT_OK(heap.set_root(3u, *b));
    ASSERT_EQ(heap.persist(), PersistOutcome::done);
    a->reset();
    b->reset();
    EXPECT_EQ(heap.root_id("a").code(), Errc::not_found);
    EXPECT_EQ(heap.root_id(3u).code(), Errc::not_found);
    ASSERT_EQ(heap.persist(), PersistOutcome::done);
    EXPECT_EQ(heap.stats().live_objects, 0u);
    testing::expect_ok(heap);
  }
  MemHeap again(ram, fram.storage);
  VNV_ASSERT_OK(again.open());
  EXPECT_EQ(again.root_id("a").code(), Errc::not_found);
  EXPECT_EQ(again.stats().live_objects, 0u);
  EXPECT_EQ(again.non_resident().stats().in_use, 0u);  // the freed blocks went back
}

TEST(VnvHeap, BorrowRulesAreErrors) {
  Fram fram(32 * 1024);
  std::vector<std::byte> ram(4096);
  MemHeap heap(ram, fram.storage);
  VNV_ASSERT_OK(heap.create());
  auto c = heap.allocate<Counter>(Counter{1});
  ASSERT_TRUE(c);
  {
    auto r1 = c->get();
    auto r2 = c->get();
    ASSERT_TRUE(r1 && r2);
    EXPECT_EQ(c->get_mut().code(), Errc::busy);
    EXPECT_EQ(c->unload().code(), Errc::busy);
  }
  {
    auto m = c->get_mut();
    ASSERT_TRUE(m);
    EXPECT_EQ(c->get().code(), Errc::busy);
    EXPECT_EQ(c->get_mut().code(), Errc::busy);
    EXPECT_EQ(c->flush().code(), Errc::busy);
  }
  EXPECT_TRUE(c->get());
  testing::expect_ok(heap);
}

TEST(VnvHeap, UnloadFlushAndResidency) {
  Fram fram(32 * 1024);
  std::vector<std::byte> ram(4096);
  MemHeap heap(ram, fram.storage);
  VNV_ASSERT_OK(heap.create());
  auto c = heap.allocate<Counter>(Counter{7});
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->is_resident());
  EXPECT_TRUE(c->is_dirty());
  VNV_ASSERT_OK(c->flush());
  EXPECT_FALSE(c->is_dirty());
  EXPECT_TRUE(c->is_resident());
  { (*c->get_mut())->value = 8; }
  VNV_ASSERT_OK(c->unload());
  EXPECT_FALSE(c->is_resident());
  EXPECT_FALSE(c->is_dirty());
  testing::expect_ok(heap);
  EXPECT_EQ((*c->get())->value, 8u);
  EXPECT_TRUE(c->is_resident());
  testing::expect_ok(heap);
}

TEST(VnvHeap, DirtyBudgetWritesBackOthersAndHoldsInvariant) {
  Fram fram(64 * 1024);
  std::vector<std::byte> ram(16 * 1024);
  MemHeap heap(ram, fram.storage, {.max_dirty_bytes = 64});
  VNV_ASSERT_OK(heap.create());
  std::vector<Object<std::array<std::uint64_t, 4>>> objs;  // 32 bytes each
  for (int i = 0; i < 6; ++i) {
    auto o = heap.allocate<std::array<std::uint64_t, 4>>();
    ASSERT_TRUE(o) << o.error().message;
    objs.push_back(std::move(*o));
    testing::expect_ok(heap);
    EXPECT_LE(heap.stats().dirty_bytes, 64u);
  }
  EXPECT_GE(heap.stats().write_backs, 4u);
  // Two mutable borrows use the whole budget: a third is a clear error, nothing changes.
  auto m0 = objs[0].get_mut();
  auto m1 = objs[1].get_mut();
  ASSERT_TRUE(m0 && m1);
  EXPECT_EQ(objs[2].get_mut().code(), Errc::no_space);
  testing::expect_ok(heap);
  // An object larger than the budget can never be dirty: refused at allocation.
  EXPECT_EQ(heap.allocate<Big>().code(), Errc::invalid_argument);
}

TEST(VnvHeap, RamFullOfPinnedObjectsIsAnError) {
  Fram fram(64 * 1024);
  std::vector<std::byte> ram(64 * sizeof(detail::Entry) + 1024);
  MemHeap heap(ram, fram.storage, {.max_dirty_bytes = 4096});
  VNV_ASSERT_OK(heap.create());
  std::vector<Object<std::array<std::uint64_t, 16>>> objs;
  std::vector<Ref<std::array<std::uint64_t, 16>>> pins;
  for (int i = 0; i < 64; ++i) {
    auto o = heap.allocate<std::array<std::uint64_t, 16>>();
    if (!o) {
      EXPECT_EQ(o.code(), Errc::no_space);
      break;
    }
    objs.push_back(std::move(*o));
    auto r = objs.back().get();
    ASSERT_TRUE(r);
    pins.push_back(std::move(*r));
    testing::expect_ok(heap);
  }
  EXPECT_LT(objs.size(), 64u);
  testing::expect_ok(heap);
  pins.clear();
  auto o = heap.allocate<std::array<std::uint64_t, 16>>();  // now something can be evicted
  EXPECT_TRUE(o) << o.error().message;
  testing::expect_ok(heap);
}

TEST(VnvHeap, PartialDirtinessChargesAndWritesOneBlock) {
  Fram fram(128 * 1024);
  std::vector<std::byte> ram(32 * 1024);
  MemHeap heap(ram, fram.storage, {.max_dirty_bytes = 8192, .block_size = 32});
  VNV_ASSERT_OK(heap.create());
  auto big = heap.allocate<Big>();
  ASSERT_TRUE(big);
  EXPECT_EQ(heap.persist(), PersistOutcome::done);
  EXPECT_EQ(heap.stats().dirty_bytes, 0u);
  {
    auto part = big->get_mut_bytes(offsetof(Big, words) + 100 * 8, 8);
    ASSERT_TRUE(part);
    part->store(0, std::uint64_t{0xABCD});
  }
  EXPECT_EQ(heap.stats().dirty_bytes, 32u);
  testing::expect_ok(heap);
  EXPECT_EQ(heap.persist(), PersistOutcome::done);
  const auto st = heap.stats();
  EXPECT_EQ(st.last_persist_bytes - st.last_persist_metadata, 32u);
  EXPECT_EQ(st.last_apply_bytes, 32u);
  VNV_ASSERT_OK(big->unload());
  EXPECT_EQ((*big->get())->words[100], 0xABCDu);
}

TEST(VnvHeap, PersistWritesAtMostBudgetPlusMetadata) {
  Fram fram(256 * 1024);
  std::vector<std::byte> ram(64 * 1024);
  const std::uint32_t kBudget = 512;
  MemHeap heap(ram, fram.storage, {.max_dirty_bytes = kBudget, .max_objects = 128});
  VNV_ASSERT_OK(heap.create());
  std::vector<Object<std::array<std::uint8_t, 24>>> objs;
  Rng rng(3);
  for (int i = 0; i < 100; ++i) objs.push_back(std::move(*heap.allocate<std::array<std::uint8_t, 24>>()));
  for (int round = 0; round < 50; ++round) {
    for (int k = 0; k < 30; ++k) {
      auto m = objs[rng.below(objs.size())].get_mut();
      ASSERT_TRUE(m);
      (**m)[rng.below(24)] = static_cast<std::uint8_t>(rng());
    }
    const auto before = fram.storage.stats().bytes_written;
    ASSERT_EQ(heap.persist(), PersistOutcome::done);
    const auto st = heap.stats();
    const auto g = heap.geometry();
    // metadata: commit zeroing + header + table + roots + one 8-byte record per dirty run.
    const std::uint64_t table = 100 * sizeof(format::TableEntry) + format::kRoots * sizeof(format::Root);
    EXPECT_LE(st.last_persist_bytes, kBudget + 16 + 64 + table + kBudget / 8 * 8 + 16);
    EXPECT_LE(st.last_persist_bytes - st.last_persist_metadata, kBudget);
    EXPECT_EQ(fram.storage.stats().bytes_written - before, st.last_persist_bytes + st.last_apply_bytes);
    (void)g;
    testing::expect_ok(heap);
  }
}

TEST(VnvHeap, PersistRewritesOnlyChangedTableEntries) {
  Fram fram(256 * 1024);
  std::vector<std::byte> ram(64 * 1024);
  MemHeap heap(ram, fram.storage, {.max_dirty_bytes = 512, .max_objects = 200});
  VNV_ASSERT_OK(heap.create());
  std::vector<Object<Counter>> objs;
  for (int i = 0; i < 200; ++i) objs.push_back(std::move(*heap.allocate<Counter>(Counter{0})));
  // Each slot gets the whole table once; after that only what changed since that slot's
  // checkpoint (two persists ago) is rewritten.
  for (int round = 0; round < 4; ++round) ASSERT_EQ(heap.persist(), PersistOutcome::done);
  const std::uint64_t full_table = 200 * sizeof(format::TableEntry);
  { (*objs[7].get_mut())->value = 1; }
  ASSERT_EQ(heap.persist(), PersistOutcome::done);
  EXPECT_LT(heap.stats().last_persist_bytes, full_table / 4);
  { (*objs[9].get_mut())->value = 2; }
  ASSERT_EQ(heap.persist(), PersistOutcome::done);
  EXPECT_LT(heap.stats().last_persist_bytes, full_table / 4);
  testing::expect_ok(heap);
  std::vector<ObjectId> ids;
  for (auto& o : objs) ids.push_back(o.release());
  std::vector<std::byte> ram2(64 * 1024);
  MemHeap again(ram2, fram.storage, {.max_dirty_bytes = 512, .max_objects = 200});
  VNV_ASSERT_OK(again.open());
  EXPECT_EQ(again.stats().sequence, heap.stats().sequence);
  EXPECT_EQ((*again.adopt<Counter>(ids[7])->get())->value, 1u);
  EXPECT_EQ((*again.adopt<Counter>(ids[9])->get())->value, 2u);
}

TEST(VnvHeap, MutRefAliveAcrossPersistKeepsObjectDirty) {
  Fram fram(64 * 1024);
  std::vector<std::byte> ram(8192);
  ObjectId id = kNoObject;
  {
    MemHeap heap(ram, fram.storage, {.max_dirty_bytes = 256});
    VNV_ASSERT_OK(heap.create());
    auto c = heap.allocate<Counter>(Counter{1});
    ASSERT_TRUE(c);
    {
      auto m = c->get_mut();
      ASSERT_TRUE(m);
      (*m)->value = 2;
      ASSERT_EQ(heap.persist(), PersistOutcome::done);  // as if a signal arrived here
      EXPECT_TRUE(c->is_dirty());                       // it may still change
      (*m)->value = 3;
    }
    testing::expect_ok(heap);
    EXPECT_TRUE(c->is_dirty());
    id = c->release();
  }
  MemHeap again(ram, fram.storage, {.max_dirty_bytes = 256});
  VNV_ASSERT_OK(again.open());
  auto c = again.adopt<Counter>(id);
  ASSERT_TRUE(c);
  EXPECT_EQ((*c->get())->value, 2u);  // the value at the persist, not the later one
}

TEST(VnvHeap, PersistSignalPersistsEveryHeap) {
  Fram fram(64 * 1024);
  std::vector<std::byte> ram(8192);
  MemHeap heap(ram, fram.storage);
  VNV_ASSERT_OK(heap.create());
  struct sigaction old {};
  sigaction(SIGUSR2, nullptr, &old);
  VNV_ASSERT_OK(install_persist_signal(SIGUSR2));
  const auto before = heap.stats().sequence;
  raise(SIGUSR2);
  sigaction(SIGUSR2, &old, nullptr);
  EXPECT_EQ(heap.stats().sequence, before + 1);
}

TEST(VnvHeap, SeveralHeapsAndPersistAll) {
  Fram fa(32 * 1024), fb(32 * 1024);
  std::vector<std::byte> ra(4096), rb(4096);
  {
    MemHeap a(ra, fa.storage), b(rb, fb.storage);
    VNV_ASSERT_OK(a.create());
    VNV_ASSERT_OK(b.create());
    auto ca = a.allocate<Counter>(Counter{1});
    auto cb = b.allocate<Counter>(Counter{2});
    VNV_ASSERT_OK(a.set_root(0u, *ca));
    VNV_ASSERT_OK(b.set_root(0u, *cb));
    EXPECT_GE(persist_all(), 2u);
    ca->release();
    cb->release();
  }
  MemHeap a(ra, fa.storage), b(rb, fb.storage);
  VNV_ASSERT_OK(a.open());
  VNV_ASSERT_OK(b.open());
  EXPECT_EQ((*a.root<Counter>(0u)->get())->value, 1u);
  EXPECT_EQ((*b.root<Counter>(0u)->get())->value, 2u);
}

// A storage that raises SIGUSR1 from inside a write: the persist it triggers interrupts a heap
// operation and must be queued until that operation ends.
struct SignallingStorage {
  MemoryStorage* inner;
  bool armed = false;
  Status read(std::uint64_t o, std::span<std::byte> b) noexcept { return inner->read(o, b); }
  Status write(std::uint64_t o, std::span<const std::byte> b) noexcept {
    if (armed) {
      armed = false;
      raise(SIGUSR1);
    }
    return inner->write(o, b);
  }
  Status sync() noexcept { return inner->sync(); }
  std::uint64_t size() const noexcept { return inner->size(); }
};

using SignalHeap = Heap<BuddyAllocator, NonResidentBitmapAllocator<32, 2048>, ClockObjectManager, SignallingStorage>;
SignalHeap* g_signal_heap = nullptr;
PersistOutcome g_outcome = PersistOutcome::failed;
int g_handler_calls = 0;

TEST(VnvHeap, PersistInterruptingAnOperationIsQueued) {
  Fram fram(64 * 1024);
  SignallingStorage st{&fram.storage};
  std::vector<std::byte> ram(8192);
  SignalHeap heap(ram, st, {.max_dirty_bytes = 64}, [](const std::byte*, std::size_t) { ++g_handler_calls; });
  g_signal_heap = &heap;
  struct sigaction sa {
  }, old{};
  sa.sa_handler = [](int) { g_outcome = g_signal_heap->persist(); };
  sigaction(SIGUSR1, &sa, &old);
  VNV_ASSERT_OK(heap.create());
  g_handler_calls = 0;
  auto a = heap.allocate<std::array<std::uint64_t, 6>>();
  auto b = heap.allocate<std::array<std::uint64_t, 6>>();  // 48 + 48 > 64: writes `a` back
  ASSERT_TRUE(a && b);
  st.armed = true;
  auto c = heap.allocate<std::array<std::uint64_t, 6>>();  // the write-back raises the signal
  ASSERT_TRUE(c);
  sigaction(SIGUSR1, &old, nullptr);
  EXPECT_EQ(g_outcome, PersistOutcome::queued);
  EXPECT_EQ(g_handler_calls, 1);  // ran when allocate() let go of the heap
  EXPECT_TRUE(heap.last_persist_status());
  testing::expect_ok(heap);
}

// The seed's system test: a seeded random get/get_mut/unload/flush/persist workload checked
// against a plain in-memory copy, with the invariants checked after every operation.
template <class H, class S>
void random_workload(S& storage, std::size_t ram_size, std::uint64_t seed, int ops, Config cfg) {
  struct Small {
    std::uint8_t b[8];
  };
  struct Mid {
    std::uint8_t b[40];
  };
  struct Large {
    std::uint8_t b[200];
  };
  std::vector<std::byte> ram(ram_size);
  H heap(ram, storage, cfg);
  VNV_ASSERT_OK(heap.create());
  Rng rng(seed);
  constexpr int kObjects = 40;
  std::vector<Object<Small>> small;
  std::vector<Object<Mid>> mid;
  std::vector<Object<Large>> large;
  std::vector<std::vector<std::uint8_t>> model;
  for (int i = 0; i < kObjects; ++i) {
    const int kind = i % 3;
    if (kind == 0) small.push_back(std::move(*heap.template allocate<Small>()));
    if (kind == 1) mid.push_back(std::move(*heap.template allocate<Mid>()));
    if (kind == 2) large.push_back(std::move(*heap.template allocate<Large>()));
    model.emplace_back(kind == 0 ? 8 : kind == 1 ? 40 : 200, 0);
  }
  auto visit = [&](int i, auto&& f) {
    const int kind = i % 3;
    if (kind == 0) return f(small[i / 3]);
    if (kind == 1) return f(mid[i / 3]);
    return f(large[i / 3]);
  };
  // Every operation is checked at first; later every 32nd, to stay inside the test budget.
  for (int op = 0; op < ops; ++op) {
    const int i = static_cast<int>(rng.below(kObjects));
    const auto what = rng.below(100);
    if (what < 55) {
      visit(i, [&](auto& o) {
        auto r = o.get();
        ASSERT_TRUE(r) << r.error().message;
        ASSERT_EQ(std::memcmp((*r)->b, model[i].data(), model[i].size()), 0) << "op " << op;
      });
    } else if (what < 93) {
      visit(i, [&](auto& o) {
        auto m = o.get_mut();
        ASSERT_TRUE(m) << m.error().message;
        const auto at = rng.below(model[i].size());
        const auto v = static_cast<std::uint8_t>(rng());
        (*m)->b[at] = v;
        model[i][at] = v;
      });
    } else if (what < 96) {
      visit(i, [&](auto& o) { VNV_ASSERT_OK(o.unload()); });
    } else if (what < 99) {
      visit(i, [&](auto& o) { VNV_ASSERT_OK(o.flush()); });
    } else {
      ASSERT_EQ(heap.persist(), PersistOutcome::done);
    }
    if (op < 20000 || op % 32 == 0) {
      const auto s = heap.check();
      ASSERT_TRUE(s) << s.error().message << " after op " << op;
    }
  }
  EXPECT_GT(heap.stats().loads, 0u) << "the workload never went to storage";
  EXPECT_GT(heap.stats().write_backs, 0u);
  // Persist, reopen in a fresh heap, compare everything.
  ASSERT_EQ(heap.persist(), PersistOutcome::done);
  for (int i = 0; i < kObjects; ++i) VNV_ASSERT_OK(heap.set_root(static_cast<std::uint32_t>(i % 16), kNoObject));
  std::vector<ObjectId> ids;
  for (int i = 0; i < kObjects; ++i) ids.push_back(visit(i, [](auto& o) { return o.release(); }));
  std::vector<std::byte> ram2(ram_size);
  H again(ram2, storage, cfg);
  VNV_ASSERT_OK(again.open());
  testing::expect_ok(again);
  for (int i = 0; i < kObjects; ++i) {
    const int kind = i % 3;
    auto cmp = [&](auto obj) {
      ASSERT_TRUE(obj) << obj.error().message;
      auto r = obj->get();
      ASSERT_TRUE(r);
      EXPECT_EQ(std::memcmp((*r)->b, model[i].data(), model[i].size()), 0) << "object " << i;
    };
    if (kind == 0) cmp(again.template adopt<Small>(ids[i]));
    if (kind == 1) cmp(again.template adopt<Mid>(ids[i]));
    if (kind == 2) cmp(again.template adopt<Large>(ids[i]));
  }
}

TEST(VnvHeapSystem, RandomWorkloadDefaultManager) {
  Fram fram(128 * 1024);
  random_workload<MemHeap>(fram.storage, 64 * sizeof(detail::Entry) + 2048, 1, 150000, {.max_dirty_bytes = 512});
}

TEST(VnvHeapSystem, RandomWorkloadClockBitmapLinkedListSliced) {
  Fram fram(128 * 1024);
  SlicedStorage<4, MemoryStorage> sliced(fram.storage);
  using H = Heap<LinkedListAllocator, NonResidentBitmapAllocator<32, 4096>, ClockObjectManager,
                 SlicedStorage<4, MemoryStorage>>;
  random_workload<H>(sliced, 64 * sizeof(detail::Entry) + 1536, 2, 100000, {.max_dirty_bytes = 256});
}

// The heap works over every RAM allocator of the alloc layer.
TEST(VnvHeapSystem, RandomWorkloadTlsfAndChunkAllocators) {
  {
    Fram fram(128 * 1024);
    using H = Heap<TlsfAllocator, NonResidentBuddyAllocator<16, 8192>, ClockObjectManager, MemoryStorage>;
    random_workload<H>(fram.storage, 64 * sizeof(detail::Entry) + 2048, 4, 40000, {.max_dirty_bytes = 512});
  }
  {
    Fram fram(128 * 1024);
    using H = Heap<ChunkAllocator<32>, NonResidentBitmapAllocator<16, 8192>, DefaultObjectManager, MemoryStorage>;
    random_workload<H>(fram.storage, 64 * sizeof(detail::Entry) + 3072, 5, 40000, {.max_dirty_bytes = 512});
  }
}

TEST(VnvHeapSystem, RandomWorkloadMillionOps) {
  Fram fram(128 * 1024);
  // The seed's scale: a million operations, invariants checked every 64th.
  random_workload<MemHeap>(fram.storage, 64 * sizeof(detail::Entry) + 4096, 3, 1000000,
                           {.max_dirty_bytes = 1024, .block_size = 16});
}

}  // namespace
}  // namespace ferro::vnv
