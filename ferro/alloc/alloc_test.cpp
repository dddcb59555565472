// Properties every region allocator must have, run against each of them: shadow-model random
// sequences with check() after every step, exhaustion and recovery, alignment, huge and zero
// sizes, bad frees, and restore equivalence through allocate_at.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "ferro/alloc/alloc_test_util.hpp"
#include "ferro/alloc/buddy.hpp"
#include "ferro/alloc/chunk.hpp"
#include "ferro/alloc/linked_list.hpp"
#include "ferro/alloc/tlsf.hpp"
#include "ferro/core/random.hpp"

namespace ferro {
namespace {

using alloc_test::fill;
using alloc_test::Region;
using alloc_test::verify;

template <class A>
struct Heap {
  explicit Heap(std::size_t bytes) : region(bytes), a(std::make_unique<A>(region.span())) {}
  Region region;
  std::unique_ptr<A> a;
};

template <class A>
class AllocatorTest : public ::testing::Test {};

using Allocators =
    ::testing::Types<BuddyAllocator, LinkedListAllocator, ChunkAllocator<256>, ChunkAllocator<16>, TlsfAllocator>;
TYPED_TEST_SUITE(AllocatorTest, Allocators);

struct Live {
  std::size_t size, align;
  std::uint64_t seed;
};

// Mostly small sizes, sometimes large; mostly small alignments, sometimes up to 4096.
std::size_t random_size(Rng& rng) {
  switch (rng.below(8)) {
    case 0:
      return rng.below(4);
    case 1:
      return rng.between(1000, 9000);
    default:
      return rng.between(1, 300);
  }
}
std::size_t random_align(Rng& rng) {
  return rng.chance(1, 6) ? std::size_t{1} << rng.below(13) : std::size_t{1} << rng.below(5);
}

template <class A>
class Shadow {
 public:
  explicit Shadow(A& a) : a_(a) {}

  void add(void* p, std::size_t size, std::size_t align, std::uint64_t seed) {
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    ASSERT_TRUE(is_aligned(p, align)) << "align " << align;
    ASSERT_TRUE(a_.owns(p));
    ASSERT_GE(a_.usable_size(p), size);
    auto next = live_.lower_bound(addr);
    if (next != live_.end()) {
      ASSERT_LE(addr + std::max<std::size_t>(size, 1), next->first) << "overlaps the next block";
    }
    if (next != live_.begin()) {
      auto prev = std::prev(next);
      ASSERT_LE(prev->first + std::max<std::size_t>(prev->second.size, 1), addr) << "overlaps the previous block";
    }
    fill(p, size, seed);
    live_[addr] = Live{size, align, seed};
  }
  void verify_block(std::uintptr_t addr) const {
    const Live& l = live_.at(addr);
    ASSERT_EQ(verify(reinterpret_cast<void*>(addr), l.size, l.seed), l.size) << "block pattern overwritten";
  }
  std::uintptr_t pick(Rng& rng) const {
    auto it = live_.begin();
    std::advance(it, static_cast<long>(rng.below(live_.size())));
    return it->first;
  }
  std::size_t requested() const {
    std::size_t sum = 0;
    for (const auto& [addr, l] : live_) sum += l.size;
    return sum;
  }
  std::map<std::uintptr_t, Live>& live() { return live_; }

 private:
  A& a_;
  std::map<std::uintptr_t, Live> live_;
};

template <class A>
void run_shadow(std::uint64_t seed, std::size_t region_bytes, int steps) {
  Heap<A> heap(region_bytes);
  A& a = *heap.a;
  Shadow<A> model(a);
  Rng rng(seed);
  for (int step = 0; step < steps; ++step) {
    SCOPED_TRACE(step);
    const auto op = rng.below(100);
    auto& live = model.live();
    if (op < 45 || live.empty()) {
      const std::size_t size = random_size(rng), align = random_align(rng);
      void* p = a.allocate(size, align);
      if (p != nullptr) {
        ASSERT_NO_FATAL_FAILURE(model.add(p, size, align, rng()));
      }
    } else if (op < 75) {
      const auto addr = model.pick(rng);
      ASSERT_NO_FATAL_FAILURE(model.verify_block(addr));
      const Live l = live.at(addr);
      a.deallocate(reinterpret_cast<void*>(addr), l.size, l.align);
      live.erase(addr);
    } else if (op < 90) {
      const auto addr = model.pick(rng);
      ASSERT_NO_FATAL_FAILURE(model.verify_block(addr));
      const Live l = live.at(addr);
      const std::size_t size = random_size(rng);
      void* q = a.reallocate(reinterpret_cast<void*>(addr), l.size, size, l.align);
      if (q == nullptr) {
        ASSERT_NO_FATAL_FAILURE(model.verify_block(addr)) << "a failed reallocate must keep the block";
      } else {
        const std::size_t kept = std::min(l.size, size);
        ASSERT_EQ(verify(q, kept, l.seed), kept) << "reallocate lost the contents";
        live.erase(addr);
        ASSERT_NO_FATAL_FAILURE(model.add(q, size, l.align, rng()));
      }
    } else {
      // Whatever allocate hands out and takes back, allocate_at must be able to claim again;
      // a live block's address must be refused.
      const std::size_t size = random_size(rng), align = random_align(rng);
      void* p = a.allocate(size, align);
      if (p != nullptr) {
        const auto before = a.stats().in_use;
        a.deallocate(p, size, align);
        ASSERT_TRUE(a.allocate_at(p, size, align));
        ASSERT_EQ(a.stats().in_use, before);
        ASSERT_NO_FATAL_FAILURE(model.add(p, size, align, rng()));
        ASSERT_FALSE(a.allocate_at(p, size, align)) << "claimed a live block twice";
      }
    }
    const Status st = a.check();
    ASSERT_TRUE(st) << st.error().message;
    const AllocStats s = a.stats();
    ASSERT_EQ(s.live_blocks, live.size());
    ASSERT_GE(s.in_use, model.requested());
    ASSERT_LE(s.in_use, s.capacity);
    ASSERT_LE(s.in_use, s.peak);
  }
  for (auto& [addr, l] : model.live()) {
    ASSERT_NO_FATAL_FAILURE(model.verify_block(addr));
    a.deallocate(reinterpret_cast<void*>(addr), l.size, l.align);
  }
  ASSERT_TRUE(a.check());
  const AllocStats drained = a.stats();
  EXPECT_EQ(drained.in_use, 0u);
  EXPECT_EQ(drained.live_blocks, 0u);
  a.reset();
  EXPECT_EQ(a.stats().largest_free, drained.largest_free) << "freeing everything must merge back to the start";
}

TYPED_TEST(AllocatorTest, ShadowModelSmallRegion) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE(seed);
    run_shadow<TypeParam>(seed, 48 * 1024, 1500);
    if (this->HasFatalFailure()) return;
  }
}

TYPED_TEST(AllocatorTest, ShadowModelLargeRegion) { run_shadow<TypeParam>(99, 1024 * 1024 + 123, 3000); }

TYPED_TEST(AllocatorTest, ExhaustionAndRecovery) {
  Heap<TypeParam> heap(64 * 1024);
  auto& a = *heap.a;
  for (std::size_t size : {1u, 48u, 300u, 5000u}) {
    std::vector<void*> got;
    for (void* p; (p = a.allocate(size, 16)) != nullptr;) got.push_back(p);
    ASSERT_FALSE(got.empty());
    const auto failed = a.stats().failed;
    EXPECT_EQ(a.allocate(size, 16), nullptr) << "full stays full";
    EXPECT_EQ(a.stats().failed, failed + 1);
    ASSERT_TRUE(a.check());
    const std::size_t first_round = got.size();
    for (void* p : got) a.deallocate(p, size, 16);
    EXPECT_EQ(a.stats().in_use, 0u);
    got.clear();
    for (void* p; (p = a.allocate(size, 16)) != nullptr;) got.push_back(p);
    EXPECT_EQ(got.size(), first_round) << "everything freed is usable again";
    for (void* p : got) a.deallocate(p, size, 16);
    ASSERT_TRUE(a.check());
  }
}

TYPED_TEST(AllocatorTest, EveryAlignment) {
  Heap<TypeParam> heap(256 * 1024);
  auto& a = *heap.a;
  for (std::size_t align = 1; align <= kMaxAlign; align *= 2) {
    for (std::size_t size : {0u, 1u, 17u, 100u, 4096u}) {
      void* p = a.allocate(size, align);
      ASSERT_NE(p, nullptr) << size << " @ " << align;
      EXPECT_TRUE(is_aligned(p, align)) << size << " @ " << align;
      void* q = a.allocate(size, align);
      ASSERT_NE(q, nullptr);
      EXPECT_NE(p, q);
      a.deallocate(p, size, align);
      a.deallocate(q, size, align);
    }
  }
  for (std::size_t bad : {std::size_t{0}, std::size_t{3}, std::size_t{24}, 2 * kMaxAlign}) {
    EXPECT_EQ(a.allocate(8, bad), nullptr) << bad;
  }
  EXPECT_TRUE(a.check());
  EXPECT_EQ(a.stats().in_use, 0u);
}

TYPED_TEST(AllocatorTest, HugeSizesFailCleanly) {
  Heap<TypeParam> heap(64 * 1024);
  auto& a = *heap.a;
  for (std::size_t size : {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 4095, SIZE_MAX / 2 + 1, std::size_t{1} << 40}) {
    EXPECT_EQ(a.allocate(size, 16), nullptr);
    EXPECT_EQ(a.allocate(size, 4096), nullptr);
  }
  void* p = a.allocate(100, 16);
  ASSERT_NE(p, nullptr);
  fill(p, 100, 7);
  EXPECT_EQ(a.reallocate(p, 100, SIZE_MAX - 8, 16), nullptr);
  EXPECT_EQ(verify(p, 100, 7), 100u);
  EXPECT_FALSE(a.allocate_at(p, SIZE_MAX, 16));
  a.deallocate(p, 100, 16);
  EXPECT_TRUE(a.check());
  EXPECT_GE(a.stats().failed, 11u);
}

TYPED_TEST(AllocatorTest, ZeroSizeGivesDistinctLiveBlocks) {
  Heap<TypeParam> heap(16 * 1024);
  auto& a = *heap.a;
  void* p = a.allocate(0, 1);
  void* q = a.allocate(0, 1);
  ASSERT_NE(p, nullptr);
  ASSERT_NE(q, nullptr);
  EXPECT_NE(p, q);
  EXPECT_EQ(a.stats().live_blocks, 2u);
  a.deallocate(p, 0, 1);
  a.deallocate(q, 0, 1);
  EXPECT_EQ(a.stats().in_use, 0u);
  EXPECT_TRUE(a.check());
}

TYPED_TEST(AllocatorTest, DeallocateUsesTheRecordedExtent) {
  Heap<TypeParam> heap(64 * 1024);
  auto& a = *heap.a;
  void* p = a.allocate(3000, 16);
  ASSERT_NE(p, nullptr);
  // A caller that passes a smaller size must not leak the tail (the original chunk allocator did).
  a.deallocate(p, 3000, 16);
  EXPECT_EQ(a.stats().in_use, 0u);
  EXPECT_TRUE(a.check());
}

TYPED_TEST(AllocatorTest, DoubleFreeAndForeignPointerAreCaught) {
  Heap<TypeParam> heap(64 * 1024);
  auto& a = *heap.a;
  void* p = a.allocate(64, 16);
  void* keep = a.allocate(64, 16);
  ASSERT_NE(p, nullptr);
  a.deallocate(p, 64, 16);
  int outside = 0;
  if constexpr (FERRO_DEBUG) {
    EXPECT_DEATH(a.deallocate(p, 64, 16), "not a live block");
    EXPECT_DEATH(a.deallocate(&outside, 4, 4), "not a live block");
  } else {
    ASSERT_TRUE(a.check());
    a.deallocate(p, 64, 16);
    EXPECT_FALSE(a.check()) << "a double free must be reported";
    EXPECT_EQ(a.stats().in_use, a.usable_size(keep) == 0 ? 0u : a.stats().in_use);
    Heap<TypeParam> other(64 * 1024);
    other.a->deallocate(&outside, 4, 4);
    EXPECT_FALSE(other.a->check()) << "a foreign pointer must be reported";
    void* inner = a.allocate(256, 16);
    ASSERT_NE(inner, nullptr);
    Heap<TypeParam> third(64 * 1024);
    void* r = third.a->allocate(256, 16);
    third.a->deallocate(static_cast<std::byte*>(r) + 32, 4, 4);
    EXPECT_FALSE(third.a->check()) << "a pointer into the middle of a block must be reported";
  }
  a.deallocate(keep, 64, 16);
}

// The vnv heap rebuilds its RAM allocator from a checkpoint: the live set re-claimed with
// allocate_at, in any order, must give the same stats and the same room for further requests.
TYPED_TEST(AllocatorTest, RestoreEquivalence) {
  constexpr std::size_t kBytes = 512 * 1024;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    Heap<TypeParam> orig(kBytes), copy(kBytes);
    Rng rng(seed);
    std::map<std::uintptr_t, Live> live;
    for (int i = 0; i < 3000; ++i) {
      if (live.empty() || rng.chance(3, 5)) {
        const std::size_t size = random_size(rng), align = random_align(rng);
        if (void* p = orig.a->allocate(size, align)) live[reinterpret_cast<std::uintptr_t>(p)] = {size, align, 0};
      } else {
        auto it = live.begin();
        std::advance(it, static_cast<long>(rng.below(live.size())));
        orig.a->deallocate(reinterpret_cast<void*>(it->first), it->second.size, it->second.align);
        live.erase(it);
      }
    }
    std::vector<std::pair<std::uintptr_t, Live>> order(live.begin(), live.end());
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    const auto delta =
        reinterpret_cast<std::uintptr_t>(copy.region.data) - reinterpret_cast<std::uintptr_t>(orig.region.data);
    for (const auto& [addr, l] : order)
      ASSERT_TRUE(copy.a->allocate_at(reinterpret_cast<void*>(addr + delta), l.size, l.align));
    ASSERT_TRUE(copy.a->check());
    const AllocStats s1 = orig.a->stats(), s2 = copy.a->stats();
    EXPECT_EQ(s1.in_use, s2.in_use);
    EXPECT_EQ(s1.live_blocks, s2.live_blocks);
    EXPECT_EQ(s1.largest_free, s2.largest_free);
    EXPECT_EQ(s1.capacity, s2.capacity);
    // The same number of small blocks fits in the rest of both.
    std::size_t n1 = 0, n2 = 0;
    while (orig.a->allocate(16, 16) != nullptr) ++n1;
    while (copy.a->allocate(16, 16) != nullptr) ++n2;
    EXPECT_EQ(n1, n2);
    EXPECT_TRUE(orig.a->check());
    EXPECT_TRUE(copy.a->check());
  }
}

TYPED_TEST(AllocatorTest, ReallocateKeepsContents) {
  Heap<TypeParam> heap(256 * 1024);
  auto& a = *heap.a;
  void* p = a.allocate(10, 16);
  fill(p, 10, 3);
  std::size_t size = 10;
  for (std::size_t next : {40u, 700u, 5000u, 33u, 20000u, 1u, 0u, 64u}) {
    void* q = a.reallocate(p, size, next, 16);
    ASSERT_NE(q, nullptr);
    const std::size_t kept = std::min(size, next);
    ASSERT_EQ(verify(q, kept, 3), kept);
    fill(q, next, 3);
    p = q;
    size = next;
    ASSERT_TRUE(a.check());
  }
  EXPECT_EQ(a.stats().live_blocks, 1u);
  void* fresh = a.reallocate(nullptr, 0, 50, 16);
  ASSERT_NE(fresh, nullptr);
  a.deallocate(fresh, 50, 16);
  a.deallocate(p, size, 16);
  EXPECT_EQ(a.stats().in_use, 0u);
}

TYPED_TEST(AllocatorTest, ConceptAndEmptyRegion) {
  static_assert(RegionAllocator<TypeParam>);
  TypeParam a{std::span<std::byte>{}};
  EXPECT_EQ(a.allocate(1, 1), nullptr);
  EXPECT_TRUE(a.check());
  EXPECT_EQ(a.stats().capacity, 0u);
}

}  // namespace
}  // namespace ferro
