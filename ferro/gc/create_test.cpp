// Making a heap from a region the caller cannot vouch for: Heap::create() refuses a region or
// options that cannot make a heap with invalid_argument and writes nothing; min_region_bytes()
// is exact (the minimum works, a byte less does not); the constructor, the "I have checked"
// path, panics instead; a heap moves only while nothing refers to it.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "ferro/gc/heap.hpp"

namespace ferro::gc {
namespace {

int g_destroyed = 0;

struct Cell : Obj {
  const Obj* next = nullptr;
  explicit Cell(const Obj* n = nullptr) : next(n) {}
  ~Cell() override { ++g_destroyed; }
  void mark(Heap& h) const override { h.mark(next); }
};

constexpr std::byte kGuard{0xA5};
constexpr std::size_t kSlack = 64;  // guard bytes on each side of the region

// A region of `size` bytes starting `misalign` bytes past a granule boundary, with guard bytes
// on both sides, so a test can see whether anything outside the region was written.
struct Guarded {
  std::vector<std::byte> buf;
  std::span<std::byte> region;
  Guarded(std::size_t size, std::size_t misalign = 0) : buf(size + 2 * kSlack + kGranule, kGuard) {
    const auto at = reinterpret_cast<std::uintptr_t>(buf.data());
    const std::size_t offset = (kGranule - at % kGranule) % kGranule + kSlack + misalign;
    region = std::span<std::byte>(buf).subspan(offset, size);
  }
  bool outside_untouched() const {
    const std::size_t lo = static_cast<std::size_t>(region.data() - buf.data());
    for (std::size_t i = 0; i < buf.size(); ++i)
      if ((i < lo || i >= lo + region.size()) && buf[i] != kGuard) return false;
    return true;
  }
  bool all_untouched() const {
    for (std::byte b : buf)
      if (b != kGuard) return false;
    return true;
  }
};

constexpr Options with_stack(std::size_t entries) {
  Options o;
  o.mark_stack_entries = entries;
  return o;
}

const std::size_t kStacks[] = {1, 2, 3, 32, 100};

TEST(HeapCreate, MinRegionBytesIsTheMarkStackPlusEightGranules) {
  // Usable at compile time, to size a static region.
  static_assert(Heap::min_region_bytes() == 32 * sizeof(void*) + 8 * kGranule);
  static_assert(Heap::min_region_bytes(with_stack(1)) == kGranule + 8 * kGranule);  // the stack rounds up
  EXPECT_EQ(Heap::min_region_bytes(with_stack(3)), 2 * kGranule + 8 * kGranule);
  EXPECT_EQ(Heap::min_region_bytes(with_stack(0)), SIZE_MAX);
  EXPECT_EQ(Heap::min_region_bytes(with_stack(SIZE_MAX / sizeof(void*) + 1)), SIZE_MAX);  // overflow
  EXPECT_EQ(Heap::min_region_bytes(with_stack(SIZE_MAX / sizeof(void*))), SIZE_MAX);      // rounding overflows
}

TEST(HeapCreate, TooSmallRegionsAreRefusedAndNothingIsWritten) {
  for (std::size_t entries : kStacks) {
    const Options o = with_stack(entries);
    const std::size_t min = Heap::min_region_bytes(o);
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, kGranule, min - kGranule, min - 1}) {
      SCOPED_TRACE(testing::Message() << "entries " << entries << ", size " << size);
      Guarded g(size);
      const auto heap = Heap::create(g.region, o);
      ASSERT_FALSE(heap);
      EXPECT_EQ(heap.code(), Errc::invalid_argument);
      EXPECT_NE(std::strstr(heap.error().message, "min_region_bytes"), nullptr) << heap.error().message;
      EXPECT_TRUE(g.all_untouched());
    }
  }
  EXPECT_EQ(Heap::create({}).code(), Errc::invalid_argument);  // no region at all
}

TEST(HeapCreate, ExactlyTheMinimumAllocatesAndCollects) {
  for (std::size_t entries : kStacks) {
    SCOPED_TRACE(testing::Message() << "entries " << entries);
    g_destroyed = 0;
    const Options o = with_stack(entries);
    Guarded g(Heap::min_region_bytes(o));
    {
      auto made = Heap::create(g.region, o);
      ASSERT_TRUE(made) << made.error().message;
      Heap& heap = *made;
      EXPECT_EQ(heap.capacity(), 8 * kGranule);
      Root<Cell> keep(heap, heap.make<Cell>());
      ASSERT_NE(keep.get(), nullptr);
      ASSERT_NE(heap.make<Cell>(keep.get()), nullptr);  // garbage
      Vec bytes(heap);
      ASSERT_TRUE(bytes.resize(kGranule));
      std::memset(bytes.data(), 0x3C, kGranule);
      heap.collect();
      EXPECT_EQ(g_destroyed, 1);
      EXPECT_EQ(heap.stats().curr_objs.count, 1u);
      EXPECT_EQ(bytes.data()[kGranule - 1], std::byte{0x3C});
      EXPECT_TRUE(heap.check()) << heap.check().error().message;
      // Filling it up ends in nullptr and no_space, inside the region.
      while (heap.make<Cell>() != nullptr) {
      }
      EXPECT_EQ(bytes.resize(4 * kGranule).code(), Errc::no_space);
      heap.collect();
      EXPECT_TRUE(heap.check()) << heap.check().error().message;
      EXPECT_TRUE(g.outside_untouched());
    }
    EXPECT_TRUE(g.outside_untouched());
  }
}

TEST(HeapCreate, AnUnalignedRegionNeedsUpToAGranuleMore) {
  const std::size_t min = Heap::min_region_bytes();
  for (std::size_t misalign = 1; misalign < kGranule; ++misalign) {
    SCOPED_TRACE(testing::Message() << "misalign " << misalign);
    Guarded short_one(min, misalign);
    EXPECT_EQ(Heap::create(short_one.region).code(), Errc::invalid_argument);
    EXPECT_TRUE(short_one.all_untouched());
    Guarded enough(min + kGranule - 1, misalign);
    {
      auto heap = Heap::create(enough.region);
      ASSERT_TRUE(heap);
      EXPECT_EQ(heap->capacity(), 8 * kGranule);
      EXPECT_NE(heap->make<Cell>(), nullptr);
      EXPECT_TRUE(heap->check());
    }
    EXPECT_TRUE(enough.outside_untouched());
  }
}

TEST(HeapCreate, OptionsThatCannotMakeAHeapAreRefused) {
  std::vector<std::byte> mem(64 * 1024);
  const auto none = Heap::create(mem, with_stack(0));
  EXPECT_EQ(none.code(), Errc::invalid_argument);
  EXPECT_NE(std::strstr(none.error().message, "mark_stack_entries"), nullptr);
  EXPECT_EQ(Heap::create(mem, with_stack(SIZE_MAX / 2)).code(), Errc::invalid_argument);
  EXPECT_EQ(Heap::create(mem, with_stack(mem.size() / sizeof(void*))).code(), Errc::invalid_argument);
  Options odd;
  odd.trigger_fraction = -3;  // clamped, not refused: any fraction makes a working heap
  EXPECT_TRUE(Heap::create(mem, odd));
}

TEST(HeapCreateDeathTest, TheConstructorIsTheCheckedPathAndPanics) {
  EXPECT_DEATH(
      {
        std::vector<std::byte> mem(Heap::min_region_bytes() - 1);
        Heap heap(mem);
      },
      "region too small");
  EXPECT_DEATH(
      {
        std::vector<std::byte> mem(4096);
        Heap heap(mem, with_stack(0));
      },
      "region too small");
}

// The use create() is made for: a function that reports a bad region to its own caller.
Status build_and_collect(std::span<std::byte> region, int* survivors) {
  FERRO_TRY_ASSIGN(Heap heap, Heap::create(region));
  Root<Cell> root(heap, heap.make<Cell>(heap.make<Cell>()));
  heap.make<Cell>();
  heap.collect();
  *survivors = static_cast<int>(heap.stats().curr_objs.count);
  return heap.check();
}

TEST(HeapCreate, AFreshHeapMovesAndAMovedFromOneIsEmpty) {
  std::vector<std::byte> mem(4096);
  int survivors = 0;
  EXPECT_TRUE(build_and_collect(mem, &survivors));
  EXPECT_EQ(survivors, 2);
  EXPECT_EQ(build_and_collect(std::span<std::byte>(mem).first(100), &survivors).code(), Errc::invalid_argument);

  auto made = Heap::create(mem);
  ASSERT_TRUE(made);
  const std::size_t capacity = made->capacity();
  Heap heap(std::move(*made));
  EXPECT_EQ(heap.capacity(), capacity);
  EXPECT_EQ(made->capacity(), 0u);
  EXPECT_EQ(made->make<Cell>(), nullptr);
  EXPECT_TRUE(made->check());
  EXPECT_NE(heap.make<Cell>(), nullptr);
  EXPECT_TRUE(heap.check());
}

TEST(HeapCreateDeathTest, MovingAHeapInUsePanics) {
  EXPECT_DEATH(
      {
        std::vector<std::byte> mem(4096);
        Heap heap(mem);
        heap.make<Cell>();
        Heap moved(std::move(heap));
      },
      "moved while");
  EXPECT_DEATH(
      {
        std::vector<std::byte> mem(4096);
        Heap heap(mem);
        Root<Cell> root(heap);
        Heap moved(std::move(heap));
      },
      "moved while");
}

}  // namespace
}  // namespace ferro::gc
