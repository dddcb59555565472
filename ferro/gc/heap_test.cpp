// The heap itself: Monty's own test list (type sizes, new object, mark and mark-through, reuse,
// merging, vector capacity rounding, reuse of vector gaps, compaction, contents surviving moves,
// out of vector memory, ROM versus RAM vectors), the teardown invariant, the bounded mark stack.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "ferro/gc/heap.hpp"
#include "ferro/gc/list.hpp"

namespace ferro::gc {
namespace {

int g_destroyed = 0;

// A node with one reference and a payload; counts its destruction.
struct Node : Obj {
  const Obj* next = nullptr;
  std::uint64_t payload = 0;
  explicit Node(const Obj* n = nullptr, std::uint64_t p = 0) : next(n), payload(p) {}
  ~Node() override { ++g_destroyed; }
  void mark(Heap& h) const override { h.mark(next); }
};

template <std::size_t N>
struct Sized : Obj {
  std::byte bytes[N]{};
  ~Sized() override { ++g_destroyed; }
};

// An object whose children are kept in a vector: a wide fan-out.
struct Wide : Obj {
  Vec kids;
  std::size_t n = 0;
  explicit Wide(Heap& h) : kids(h) {}
  ~Wide() override { ++g_destroyed; }
  bool add(const Obj* o) {
    if ((n + 1) * sizeof(o) > kids.capacity() && !kids.resize((n + 1) * 2 * sizeof(o))) return false;
    std::memcpy(kids.data() + n * sizeof(o), &o, sizeof(o));
    ++n;
    return true;
  }
  void mark(Heap& h) const override {
    for (std::size_t i = 0; i < n; ++i) {
      const Obj* o;
      std::memcpy(&o, kids.data() + i * sizeof(o), sizeof(o));
      h.mark(o);
    }
  }
};

// The block a Node takes: its size rounded to granules, plus the header granule.
constexpr std::size_t kNodeBlock = (sizeof(Node) + kGranule - 1) / kGranule * kGranule + kGranule;

struct HeapTest : ::testing::Test {
  void SetUp() override { g_destroyed = 0; }
  std::vector<std::byte> mem = std::vector<std::byte>(64 * 1024);
};

void fill(Vec& v, std::uint8_t seed) {
  for (std::size_t i = 0; i < v.capacity(); ++i) v.data()[i] = static_cast<std::byte>(seed + i);
}
bool holds(const Vec& v, std::uint8_t seed, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (v.data()[i] != static_cast<std::byte>(seed + i)) return false;
  return true;
}

TEST_F(HeapTest, TypeSizes) {
  EXPECT_EQ(kGranule, 2 * sizeof(void*));
  EXPECT_EQ(sizeof(Obj), sizeof(void*));       // just the vtable pointer
  EXPECT_EQ(sizeof(Vec), 3 * sizeof(void*));   // heap, data, capacity
  EXPECT_EQ(sizeof(List), 5 * sizeof(void*));  // vtable, Vec, length
  EXPECT_EQ(sizeof(Node), 3 * sizeof(void*));
}

TEST_F(HeapTest, NewObjectTakesFromTheTopAndCounts) {
  Heap heap(mem);
  const std::size_t gap0 = heap.gap();
  Node* n = heap.make<Node>(nullptr, 7);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->payload, 7u);
  EXPECT_EQ(gap0 - heap.gap(), kNodeBlock);  // header granule + the object rounded up
  EXPECT_TRUE(heap.owns_block(n));
  const Stats s = heap.stats();
  EXPECT_EQ(s.curr_objs.count, 1u);
  EXPECT_EQ(s.total_objs.count, 1u);
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, MarkAndMarkThrough) {
  Heap heap(mem);
  Node* c = heap.make<Node>(nullptr, 3);
  Node* b = heap.make<Node>(c, 2);
  Node* a = heap.make<Node>(b, 1);
  Node* lone = heap.make<Node>(nullptr, 9);
  (void)lone;
  {
    Root<Node> root(heap, a);
    heap.collect();
    EXPECT_EQ(g_destroyed, 1);  // only the unreferenced one
    EXPECT_EQ(a->payload + b->payload + c->payload, 6u);
    EXPECT_EQ(heap.stats().curr_objs.count, 3u);
    EXPECT_TRUE(heap.check());
    root = c;  // a and b are now unreachable
    heap.collect();
    EXPECT_EQ(g_destroyed, 3);
    EXPECT_EQ(c->payload, 3u);
  }
  heap.collect();
  EXPECT_EQ(g_destroyed, 4);
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, FreedObjectsAreReused) {
  Heap heap(mem);
  Root<Node> keep(heap, heap.make<Node>());  // holds the top, so later holes are real holes
  Node* dead = heap.make<Node>();
  Root<Node> low(heap, heap.make<Node>());  // below `dead`
  heap.collect();
  EXPECT_EQ(g_destroyed, 1);
  const std::size_t gap = heap.gap();
  Node* again = heap.make<Node>();
  EXPECT_EQ(static_cast<void*>(again), static_cast<void*>(dead));
  EXPECT_EQ(heap.gap(), gap);  // came from the hole, not the gap
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, AdjacentHolesMerge) {
  Heap heap(mem);
  Root<Node> top(heap, heap.make<Node>());
  heap.make<Node>();
  heap.make<Node>();
  Node* lowest_dead = heap.make<Node>();
  Root<Node> bottom(heap, heap.make<Node>());
  heap.collect();
  EXPECT_EQ(g_destroyed, 3);
  // Three holes merged into one block: an object of their joint size fits there.
  auto* big = heap.make<Sized<3 * kNodeBlock - kGranule - sizeof(void*)>>();
  EXPECT_EQ(static_cast<void*>(big), static_cast<void*>(lowest_dead));
  EXPECT_EQ(heap.stats().avail, heap.gap());
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, LowestHoleReturnsToTheGap) {
  Heap heap(mem);
  const std::size_t gap0 = heap.gap();
  Root<Node> top(heap, heap.make<Node>());
  for (int i = 0; i < 100; ++i) heap.make<Node>();
  heap.collect();
  EXPECT_EQ(heap.gap(), gap0 - kNodeBlock);
  EXPECT_EQ(heap.avail(), heap.gap());
}

TEST_F(HeapTest, ObjectAllocationUsesSizeClassesNotAWalk) {
  Heap heap(mem);
  Root<Node> top(heap, heap.make<Node>());
  // Interleave small live objects with dead 64-byte ones, then ask for both sizes.
  std::deque<Root<Node>> live;
  std::vector<void*> dead;
  for (int i = 0; i < 50; ++i) {
    dead.push_back(heap.make<Sized<40>>());
    live.emplace_back(heap, heap.make<Node>());
  }
  heap.collect();
  EXPECT_EQ(g_destroyed, 50);
  // 64-byte holes satisfy a 64-byte request exactly, and a smaller one by splitting.
  void* p = heap.make<Sized<40>>();
  EXPECT_NE(std::find(dead.begin(), dead.end(), p), dead.end());
  EXPECT_TRUE(heap.check());
  live.clear();
}

TEST_F(HeapTest, LargeBlocksUseBinsFirstFitAndSplit) {
  Heap heap(mem);
  Root<Node> top(heap, heap.make<Node>());
  // Sizes from 1 KiB up land in power-of-two bins; free some between live ones.
  std::vector<void*> blocks;
  for (std::size_t n : {1200u, 3000u, 1500u, 5000u, 2100u, 1100u}) blocks.push_back(heap.malloc(n));
  Root<Node> bottom(heap, heap.make<Node>());
  heap.free(blocks[1]);  // 3000: bin [2048, 4096)
  heap.free(blocks[3]);  // 5000: bin [4096, 8192)
  ASSERT_TRUE(heap.check());
  const std::size_t gap = heap.gap();
  void* a = heap.malloc(2900);  // first fit inside its own bin
  EXPECT_EQ(a, blocks[1]);
  void* b = heap.malloc(2500);  // its bin is empty now: taken from the next bin, and split
  EXPECT_EQ(b, blocks[3]);
  void* c = heap.malloc(2000);  // the rest of the split block
  EXPECT_GT(static_cast<std::byte*>(c), static_cast<std::byte*>(b));
  EXPECT_LT(static_cast<std::byte*>(c), static_cast<std::byte*>(b) + 5000);
  EXPECT_EQ(heap.gap(), gap);  // none of it came from the gap
  EXPECT_TRUE(heap.check());
  for (void* p : {a, b, c, blocks[0], blocks[2], blocks[4], blocks[5]}) heap.free(p);
  heap.collect();
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, UnalignedRegionIsTrimmedToGranules) {
  Heap heap(std::span<std::byte>(mem).subspan(3, 5000));
  EXPECT_LE(heap.capacity(), 5000u - 3);
  EXPECT_EQ(heap.capacity() % kGranule, 0u);
  Vec v(heap);
  ASSERT_TRUE(v.resize(100));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(v.data()) % kGranule, 0u);
  Node* n = heap.make<Node>();
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(n) % kGranule, 0u);
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, VectorCapacityRoundsToGranules) {
  Heap heap(mem);
  Vec v(heap);
  EXPECT_EQ(v.capacity(), 0u);
  ASSERT_TRUE(v.resize(1));
  EXPECT_EQ(v.capacity(), kGranule);
  ASSERT_TRUE(v.resize(kGranule + 1));
  EXPECT_EQ(v.capacity(), 2 * kGranule);
  ASSERT_TRUE(v.resize(100));
  EXPECT_EQ(v.capacity(), 112u);
  for (std::size_t i = 0; i < v.capacity(); ++i) ASSERT_EQ(v.data()[i], std::byte{0});
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, TopMostVectorGrowsAndShrinksInPlace) {
  Heap heap(mem);
  Vec v(heap);
  ASSERT_TRUE(v.resize(64));
  fill(v, 1);
  const std::byte* at = v.data();
  const std::size_t gap = heap.gap();
  ASSERT_TRUE(v.resize(1024));
  EXPECT_EQ(v.data(), at);
  EXPECT_EQ(heap.gap(), gap - 960);
  EXPECT_TRUE(holds(v, 1, 64));
  for (std::size_t i = 64; i < 1024; ++i) ASSERT_EQ(v.data()[i], std::byte{0});  // new bytes zeroed
  ASSERT_TRUE(v.resize(32));
  EXPECT_EQ(v.data(), at);
  EXPECT_EQ(heap.gap(), gap + 32);
  EXPECT_TRUE(holds(v, 1, 32));
  // Shrink then grow again: the regained bytes read as zero, not as the old contents.
  ASSERT_TRUE(v.resize(64));
  for (std::size_t i = 32; i < 64; ++i) ASSERT_EQ(v.data()[i], std::byte{0});
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, VectorGapsAreReused) {
  Heap heap(mem);
  Vec a(heap), b(heap), c(heap);
  ASSERT_TRUE(a.resize(64));
  ASSERT_TRUE(b.resize(128));
  ASSERT_TRUE(c.resize(64));
  const std::byte* hole = b.data();
  b.release();
  EXPECT_EQ(heap.stats().avail - heap.gap(), 128 + kGranule);
  Vec d(heap);
  ASSERT_TRUE(d.resize(48));  // fits in the hole, which splits
  EXPECT_EQ(d.data(), hole);
  Vec e(heap);
  ASSERT_TRUE(e.resize(48));  // the rest of the hole
  EXPECT_EQ(e.data(), hole + 48 + kGranule);
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, CompactionSlidesVectorsDownAndUpdatesOwners) {
  Heap heap(mem);
  Vec v[6] = {Vec(heap), Vec(heap), Vec(heap), Vec(heap), Vec(heap), Vec(heap)};
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(v[i].resize(32 * (i + 1)));
    fill(v[i], static_cast<std::uint8_t>(i * 40));
  }
  const std::byte* bottom = v[0].data();
  v[0].release();
  v[3].release();
  const std::size_t avail = heap.avail();
  EXPECT_GT(avail, heap.gap());
  heap.compact();
  EXPECT_EQ(heap.avail(), avail);
  EXPECT_EQ(heap.avail(), heap.gap());  // every hole went into the gap
  EXPECT_EQ(v[1].data(), bottom);
  EXPECT_EQ(v[2].data(), v[1].data() + v[1].capacity() + kGranule);
  for (int i : {1, 2, 4, 5}) EXPECT_TRUE(holds(v[i], static_cast<std::uint8_t>(i * 40), 32 * (i + 1))) << i;
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, ContentsSurviveManyMoves) {
  Heap heap(mem);
  constexpr int kN = 40;
  std::vector<Vec> v;
  v.reserve(kN);  // a Vec is moved only by its move operations, never by memcpy
  for (int i = 0; i < kN; ++i) v.emplace_back(heap);
  std::vector<std::size_t> len(kN, 0);
  std::uint64_t x = 12345;
  for (int round = 0; round < 2000; ++round) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const int i = static_cast<int>((x >> 33) % kN);
    const std::size_t n = (x >> 20) % 600;
    const std::size_t keep = std::min(n, len[i]);
    if (v[i].resize(n)) {
      // The first `keep` bytes kept their pattern; fill the rest.
      for (std::size_t k = 0; k < keep; ++k) ASSERT_EQ(v[i].data()[k], static_cast<std::byte>(i + k));
      for (std::size_t k = 0; k < v[i].capacity(); ++k) v[i].data()[k] = static_cast<std::byte>(i + k);
      len[i] = n == 0 ? 0 : v[i].capacity();
    }
    if (round % 97 == 0) heap.compact();
    for (int j = 0; j < kN; ++j)
      for (std::size_t k = 0; k < len[j]; ++k) ASSERT_EQ(v[j].data()[k], static_cast<std::byte>(j + k)) << round;
    ASSERT_TRUE(heap.check()) << heap.check().error().message;
  }
}

TEST_F(HeapTest, OutOfVectorMemoryKeepsOldContents) {
  std::vector<std::byte> small(4096);
  Heap heap(small);
  Vec a(heap), b(heap);
  ASSERT_TRUE(a.resize(1000));
  fill(a, 5);
  ASSERT_TRUE(b.resize(1000));
  fill(b, 9);
  const std::byte* where = a.data();
  const Status s = a.resize(3500);
  EXPECT_EQ(s.code(), Errc::no_space);
  EXPECT_EQ(a.capacity(), 1008u);
  EXPECT_TRUE(holds(a, 5, 1000));
  EXPECT_TRUE(holds(b, 9, 1000));
  EXPECT_EQ(a.data(), where);
  EXPECT_EQ(a.resize(std::size_t(-1)).code(), Errc::no_space);  // no overflow on absurd sizes
  EXPECT_TRUE(heap.check());
  // Vectors and objects share the gap: objects fill it, and then a vector cannot grow.
  while (heap.make<Sized<200>>() != nullptr) {
  }
  EXPECT_EQ(b.resize(2000).code(), Errc::no_space);
  EXPECT_TRUE(holds(b, 9, 1000));
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, GrowingAVectorBelowOthersMovesItOrCompacts) {
  std::vector<std::byte> small(4096);
  Heap heap(small);
  Vec a(heap), b(heap), c(heap);
  ASSERT_TRUE(a.resize(800));
  fill(a, 1);
  ASSERT_TRUE(b.resize(800));
  fill(b, 2);
  ASSERT_TRUE(c.resize(800));
  fill(c, 3);
  b.release();
  // a is not top-most and the gap alone is too small for 1600 bytes: compaction makes room.
  ASSERT_TRUE(a.resize(1600)) << heap.gap();
  EXPECT_TRUE(holds(a, 1, 800));
  EXPECT_TRUE(holds(c, 3, 800));
  EXPECT_GE(heap.stats().compacts, 1u);
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, RomVectorsAreReadOnlyAndNotResizable) {
  static const char kText[] = "constant bytes in flash";
  Vec rom = Vec::rom({reinterpret_cast<const std::byte*>(kText), sizeof(kText)});
  EXPECT_TRUE(rom.is_rom());
  EXPECT_FALSE(rom.resizable());
  EXPECT_EQ(std::memcmp(rom.bytes().data(), kText, sizeof(kText)), 0);
  EXPECT_EQ(rom.resize(100).code(), Errc::unsupported);
  EXPECT_EQ(rom.capacity(), sizeof(kText));
  Heap heap(mem);
  Vec ram(heap);
  EXPECT_FALSE(ram.is_rom());
  EXPECT_TRUE(ram.resizable());
  EXPECT_TRUE(ram.resize(10));
  Vec moved(std::move(ram));  // moving keeps the back-pointer right
  EXPECT_TRUE(heap.check());
  EXPECT_EQ(ram.capacity(), 0u);
  Vec unbound;
  EXPECT_EQ(unbound.resize(8).code(), Errc::unsupported);
}

TEST_F(HeapTest, VectorsOwnedByObjectsAreFreedBySweep) {
  Heap heap(mem);
  Wide* w = heap.make<Wide>(heap);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(w->add(heap.make<Node>()));
  EXPECT_EQ(heap.stats().curr_vecs.count, 1u);
  heap.collect();
  EXPECT_EQ(g_destroyed, 101);
  EXPECT_EQ(heap.stats().curr_vecs.count, 0u);
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, TeardownInvariant) {
  Heap heap(mem);
  const std::size_t gap0 = heap.gap();
  int made = 0;
  Node* prev = nullptr;
  for (int i = 0; i < 300; ++i) {
    if (i % 3 == 0) {
      Wide* w = heap.make<Wide>(heap);
      ASSERT_NE(w, nullptr);
      ASSERT_TRUE(w->add(prev));
      prev = heap.make<Node>(w, static_cast<std::uint64_t>(i));
      made += 2;
    } else {
      prev = heap.make<Node>(prev, static_cast<std::uint64_t>(i));
      ++made;
    }
  }
  EXPECT_EQ(heap.stats().curr_objs.count, static_cast<std::size_t>(made));
  heap.sweep();  // nothing was marked
  EXPECT_EQ(g_destroyed, made);
  EXPECT_EQ(heap.stats().curr_objs.count, 0u);
  EXPECT_EQ(heap.stats().curr_vecs.count, 0u);
  heap.compact();
  EXPECT_EQ(heap.gap(), gap0);
  EXPECT_EQ(heap.avail(), gap0);
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, HeapDestructorDestroysWhatIsLeft) {
  {
    Heap heap(mem);
    for (int i = 0; i < 10; ++i) heap.make<Node>();
    Wide* w = heap.make<Wide>(heap);
    ASSERT_TRUE(w->add(nullptr));
  }
  EXPECT_EQ(g_destroyed, 11);
}

TEST_F(HeapTest, MillionElementLinkedListIsCollectedWithoutRecursion) {
  constexpr std::size_t kN = 1'000'000;
  std::vector<std::byte> big(kN * 3 * kGranule + 4096);
  Heap heap(big);
  Node* head = nullptr;
  for (std::size_t i = 0; i < kN; ++i) {
    head = heap.make<Node>(head, i);
    ASSERT_NE(head, nullptr);
  }
  {
    Root<Node> root(heap, head);
    heap.collect();
    EXPECT_EQ(g_destroyed, 0);
    // Walk it: every element survived with its contents.
    std::size_t n = 0;
    for (const Node* p = head; p != nullptr; p = static_cast<const Node*>(p->next)) ASSERT_EQ(p->payload, kN - 1 - n++);
    EXPECT_EQ(n, kN);
  }
  heap.collect();
  EXPECT_EQ(g_destroyed, static_cast<int>(kN));
  EXPECT_EQ(heap.stats().curr_objs.count, 0u);
}

TEST_F(HeapTest, MarkStackOverflowFallsBackToRescanning) {
  Options o;
  o.mark_stack_entries = 2;
  Heap heap(mem, o);
  Root<Wide> root(heap, heap.make<Wide>(heap));
  // A wide level, then a second level beneath each: far more than two entries at once.
  std::vector<Wide*> mids;
  for (int i = 0; i < 20; ++i) {
    Wide* m = heap.make<Wide>(heap);
    ASSERT_TRUE(root->add(m));
    for (int k = 0; k < 10; ++k) ASSERT_TRUE(m->add(heap.make<Node>(nullptr, 77)));
    mids.push_back(m);
  }
  for (int i = 0; i < 50; ++i) heap.make<Node>();  // garbage
  heap.collect();
  EXPECT_EQ(g_destroyed, 50);
  EXPECT_GT(heap.stats().mark_overflows, 0u);
  EXPECT_EQ(heap.stats().curr_objs.count, 1u + 20u + 200u);
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, TriggerCountsHolesNotOnlyTheGap) {
  Options o;
  o.trigger_fraction = 0.5;
  Heap heap(mem, o);
  EXPECT_FALSE(heap.should_collect());
  Root<Node> top(heap, heap.make<Node>());
  std::vector<Node*> junk;
  while (heap.gap() > heap.capacity() / 4) junk.push_back(heap.make<Node>());
  Root<Node> bottom(heap, heap.make<Node>());
  EXPECT_TRUE(heap.should_collect());
  heap.collect();
  // The freed space is a hole between two live objects, not gap; it still counts.
  EXPECT_LT(heap.gap(), heap.capacity() / 4);
  EXPECT_FALSE(heap.should_collect());
  EXPECT_GE(heap.stats().checks, 3u);
}

TEST_F(HeapTest, AutoCollectReclaimsGarbageDuringAllocation) {
  std::vector<std::byte> small(12 * 1024);
  Options o;
  o.auto_collect = true;
  Heap heap(small, o);
  Root<Node> keep(heap, heap.make<Node>(nullptr, 42));
  for (int i = 0; i < 5000; ++i) ASSERT_NE(heap.make<Node>(), nullptr) << i;
  EXPECT_EQ(keep->payload, 42u);
  EXPECT_GT(heap.stats().sweeps, 0u);
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, AutoCollectDoesNotThrashWhenLiveDataStaysAboveTheTrigger) {
  Options o;
  o.auto_collect = true;
  o.trigger_fraction = 0.5;
  Heap heap(mem, o);
  Root<Wide> live(heap, heap.make<Wide>(heap));
  while (heap.avail() > heap.capacity() / 5) ASSERT_TRUE(live->add(heap.make<Node>()));  // 80% live
  const auto sweeps = heap.stats().sweeps;
  for (int i = 0; i < 2000; ++i) ASSERT_NE(heap.make<Node>(), nullptr);
  // Each collection frees what 1/32 of the heap allowed; not one collection per allocation.
  const auto ran = heap.stats().sweeps - sweeps;
  EXPECT_GT(ran, 0u);
  EXPECT_LT(ran, 2000u / 20);
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, CheckFindsABrokenInvariant) {
  Heap heap(mem);
  Node* n = heap.make<Node>();
  ASSERT_TRUE(heap.check());
  auto* header = reinterpret_cast<std::uintptr_t*>(n) - 2;
  *header |= 1;  // a mark bit left set outside a collection
  EXPECT_EQ(heap.check().code(), Errc::corrupt);
  *header &= ~std::uintptr_t{1};
  *header += kGranule * 1000;  // a size running past the end
  EXPECT_EQ(heap.check().code(), Errc::corrupt);
  *header -= kGranule * 1000;
  EXPECT_TRUE(heap.check());
}

TEST_F(HeapTest, ReportPrintsTheSeedsFourLines) {
  Heap heap(mem);
  Vec a(heap), b(heap);
  ASSERT_TRUE(a.resize(512));
  ASSERT_TRUE(b.resize(512));
  a.release();
  b.release();
  heap.collect();
  std::vector<std::string> lines;
  heap.report([&](const char* line) { lines.emplace_back(line); });
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].rfind("gc: avail ", 0), 0u);
  EXPECT_NE(lines[0].find(" b, 0 checks, 1 sweeps, 1 compacts"), std::string::npos);
  EXPECT_EQ(lines[1], "gc: total      0 objs        0 b,      2 vecs     1056 b");
  EXPECT_EQ(lines[2], "gc:  curr      0 objs        0 b,      0 vecs        0 b");
  EXPECT_EQ(lines[3], "gc:   max      0 objs        0 b,      2 vecs     1056 b");
}

}  // namespace
}  // namespace ferro::gc
