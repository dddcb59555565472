// The malloc shim: C semantics on object space, blocks that pin GC objects, and zlib running
// its deflate and inflate state through zalloc/zfree on the shim while collections run.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <vector>

#include "ferro/core/random.hpp"
#include "ferro/gc/malloc.hpp"

namespace ferro::gc {
namespace {

int g_destroyed = 0;
struct Thing : Obj {
  int value;
  explicit Thing(int v) : value(v) {}
  ~Thing() override { ++g_destroyed; }
};

struct Bind {
  explicit Bind(Heap& h) { bind_malloc(&h); }
  ~Bind() { bind_malloc(nullptr); }
};

TEST(GcMalloc, CSemantics) {
  std::vector<std::byte> mem(16 * 1024);
  Heap heap(mem);
  Bind bind(heap);
  auto* p = static_cast<unsigned char*>(gc::malloc(100));
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(heap.owns_block(p));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % alignof(std::max_align_t), 0u);
  for (int i = 0; i < 100; ++i) p[i] = static_cast<unsigned char>(i);
  auto* q = static_cast<unsigned char*>(gc::realloc(p, 3000));
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(q[i], i);
  auto* z = static_cast<unsigned char*>(gc::calloc(50, 7));
  ASSERT_NE(z, nullptr);
  for (int i = 0; i < 350; ++i) ASSERT_EQ(z[i], 0);
  EXPECT_EQ(gc::calloc(std::size_t(-1) / 2, 4), nullptr);  // the product overflows
  EXPECT_EQ(gc::malloc(1 << 20), nullptr);                 // larger than the heap
  EXPECT_EQ(gc::realloc(q, 1 << 20), nullptr);             // fails, and q is untouched
  for (int i = 0; i < 100; ++i) ASSERT_EQ(q[i], i);
  EXPECT_TRUE(heap.check());
  gc::free(q);
  gc::free(z);
  gc::free(nullptr);
  EXPECT_EQ(heap.stats().curr_objs.count, 0u);
  EXPECT_TRUE(heap.check());
  heap.collect();
  EXPECT_EQ(heap.avail(), heap.gap());
}

TEST(GcMalloc, BlocksSurviveCollectionAndNeverMove) {
  g_destroyed = 0;
  std::vector<std::byte> mem(16 * 1024);
  Heap heap(mem);
  Bind bind(heap);
  auto* p = static_cast<char*>(gc::malloc(64));
  std::strcpy(p, "still here");
  Vec v(heap);
  ASSERT_TRUE(v.resize(100));
  for (int i = 0; i < 20; ++i) heap.make<Thing>(i);
  heap.collect();
  heap.collect();
  EXPECT_EQ(g_destroyed, 20);
  EXPECT_STREQ(p, "still here");
  EXPECT_EQ(heap.stats().curr_objs.count, 1u);
  gc::free(p);
  EXPECT_TRUE(heap.check());
}

TEST(GcMalloc, ABlockKeepsItsReferentAlive) {
  std::vector<std::byte> mem(16 * 1024);
  Heap heap(mem);
  Bind bind(heap);
  g_destroyed = 0;
  Thing* t = heap.make<Thing>(5);
  void* block = gc::malloc(32);
  gc::keep_alive(block, t);
  heap.collect();
  EXPECT_EQ(g_destroyed, 0);
  EXPECT_EQ(t->value, 5);
  block = gc::realloc(block, 2000);  // the referent moves with the data
  heap.collect();
  EXPECT_EQ(g_destroyed, 0);
  EXPECT_TRUE(heap.check());
  gc::free(block);
  heap.collect();
  EXPECT_EQ(g_destroyed, 1);
  EXPECT_TRUE(heap.check());
}

TEST(GcMalloc, ObjectDestructorMayFreeAMallocBlock) {
  struct Owner : Obj {
    void* buf;
    explicit Owner(void* b) : buf(b) {}
    ~Owner() override { gc::free(buf); }
  };
  std::vector<std::byte> mem(16 * 1024);
  Heap heap(mem);
  Bind bind(heap);
  void* early = gc::malloc(48);  // above the owner: freed behind the sweep's walk
  heap.make<Owner>(early);
  heap.make<Owner>(gc::malloc(48));  // below it: freed ahead of the walk
  heap.collect();
  EXPECT_EQ(heap.stats().curr_objs.count, 0u);
  EXPECT_TRUE(heap.check()) << heap.check().error().message;
  EXPECT_EQ(heap.avail(), heap.gap());
}

TEST(GcMallocDeathTest, MisuseIsCaughtNotSilent) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::vector<std::byte> mem(16 * 1024);
  Heap heap(mem);
  void* p = heap.malloc(32);
  heap.free(p);
  EXPECT_DEATH(heap.free(p), "double free");
  int outside = 0;
  EXPECT_DEATH(heap.free(&outside), "not from this heap");
  Thing* t = heap.make<Thing>(1);
  EXPECT_DEATH(heap.free(t), "not a live malloc block");  // an object is not a malloc block
  struct Allocates : Obj {
    Heap* h;
    explicit Allocates(Heap* hp) : h(hp) {}
    ~Allocates() override { h->make<Thing>(2); }
  };
  EXPECT_DEATH(
      {
        std::vector<std::byte> other(4096);
        Heap h(other);
        h.make<Allocates>(&h);
        h.collect();
      },
      "during a sweep");
}

// zlib through the shim. The opaque pointer carries the heap, as zlib intends.
void* zalloc(void* opaque, uInt items, uInt size) {
  return static_cast<Heap*>(opaque)->calloc(items, size);  // nullptr makes zlib fail cleanly
}
void zfree(void* opaque, void* p) { static_cast<Heap*>(opaque)->free(p); }

struct Garbage : Obj {
  Vec bytes;
  explicit Garbage(Heap& h) : bytes(h) {}
};

TEST(GcMalloc, ZlibRoundTripsWhileCollectionsRun) {
  std::vector<std::byte> mem(512 * 1024);
  Options o;
  o.auto_collect = true;  // the shim's allocations may trigger collections themselves
  o.trigger_fraction = 0.3;
  Heap heap(mem, o);
  Rng rng(7);
  for (int round = 0; round < 6; ++round) {
    // Compressible input: runs of a few symbols.
    std::vector<unsigned char> input(200'000 + rng.below(100'000));
    for (std::size_t i = 0; i < input.size();) {
      const auto run = 1 + rng.below(40);
      const auto sym = static_cast<unsigned char>(rng.below(round + 2) * 37);
      for (std::size_t k = 0; k < run && i < input.size(); ++k) input[i++] = sym;
    }
    std::vector<unsigned char> packed(compressBound(static_cast<uLong>(input.size())));
    std::vector<unsigned char> output(input.size());

    auto churn = [&] {
      // Garbage objects and vectors between zlib calls, plus explicit collections.
      for (int k = 0; k < 20; ++k) {
        Garbage* g = heap.make<Garbage>(heap);
        if (g != nullptr) (void)g->bytes.resize(rng.below(2000));
      }
      if (rng.chance(1, 3)) heap.collect();
      ASSERT_TRUE(heap.check()) << heap.check().error().message;
    };

    z_stream d{};
    d.zalloc = zalloc;
    d.zfree = zfree;
    d.opaque = &heap;
    ASSERT_EQ(deflateInit2(&d, 6 + round % 4, Z_DEFLATED, 15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    d.next_out = packed.data();
    d.avail_out = static_cast<uInt>(packed.size());
    std::size_t fed = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      const std::size_t chunk = std::min<std::size_t>(input.size() - fed, 4096);
      d.next_in = input.data() + fed;
      d.avail_in = static_cast<uInt>(chunk);
      fed += chunk;
      rc = deflate(&d, fed == input.size() ? Z_FINISH : Z_NO_FLUSH);
      ASSERT_TRUE(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR) << rc;
      churn();
    }
    const std::size_t packed_size = d.total_out;
    ASSERT_EQ(deflateEnd(&d), Z_OK);

    z_stream f{};
    f.zalloc = zalloc;
    f.zfree = zfree;
    f.opaque = &heap;
    ASSERT_EQ(inflateInit(&f), Z_OK);
    f.next_in = packed.data();
    f.avail_in = 0;
    f.next_out = output.data();
    f.avail_out = static_cast<uInt>(output.size());
    std::size_t given = 0;
    rc = Z_OK;
    while (rc != Z_STREAM_END) {
      const std::size_t chunk = std::min<std::size_t>(packed_size - given, 1024);
      f.next_in = packed.data() + given;
      f.avail_in = static_cast<uInt>(chunk);
      given += chunk;
      rc = inflate(&f, Z_NO_FLUSH);
      ASSERT_TRUE(rc == Z_OK || rc == Z_STREAM_END) << rc;
      churn();
    }
    ASSERT_EQ(inflateEnd(&f), Z_OK);
    ASSERT_EQ(f.total_out, input.size());
    ASSERT_EQ(std::memcmp(output.data(), input.data(), input.size()), 0) << "round " << round;
  }
  EXPECT_GT(heap.stats().sweeps, 6u);
  heap.collect();
  EXPECT_EQ(heap.stats().curr_objs.count, 0u);  // zlib freed all its state
  EXPECT_TRUE(heap.check());
}

TEST(GcMalloc, ZlibFailsCleanlyWhenTheHeapIsTooSmall) {
  std::vector<std::byte> mem(8 * 1024);
  Heap heap(mem);
  z_stream d{};
  d.zalloc = zalloc;
  d.zfree = zfree;
  d.opaque = &heap;
  EXPECT_EQ(deflateInit(&d, 9), Z_MEM_ERROR);  // deflate's window alone needs 64 KiB+
  EXPECT_TRUE(heap.check());
  EXPECT_EQ(heap.stats().curr_objs.count, 0u);
}

}  // namespace
}  // namespace ferro::gc
