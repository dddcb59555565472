// The list container: push/pop/iterate against a std::deque model with a RAM buffer far
// smaller than the list, then persist, reopen through a root, and iterate again.
#include <deque>
#include <vector>

#include "ferro/core/random.hpp"
#include "ferro/vnv/list.hpp"
#include "ferro/vnv/vnv_test_util.hpp"

namespace ferro::vnv {
namespace {

using testing::Fram;
using testing::MemHeap;
using IntList = List<std::uint64_t, MemHeap>;

std::vector<std::uint64_t> collect(IntList& list) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t v : list) out.push_back(v);
  EXPECT_TRUE(list.status());
  return out;
}

TEST(VnvList, PushPopIterateAgainstModel) {
  Fram fram(256 * 1024);
  std::vector<std::byte> ram(512 * sizeof(detail::Entry) + 1024);  // ~20 nodes resident at once
  MemHeap heap(ram, fram.storage, {.max_dirty_bytes = 256, .max_objects = 512});
  VNV_ASSERT_OK(heap.create());
  auto list = IntList::create(heap);
  ASSERT_TRUE(list);
  std::deque<std::uint64_t> model;
  Rng rng(9);
  for (int step = 0; step < 3000; ++step) {
    const auto what = rng.below(10);
    if (what < 4 && model.size() < 400) {
      const auto v = rng();
      VNV_ASSERT_OK(list->push_back(v));
      model.push_back(v);
    } else if (what < 6 && model.size() < 400) {
      const auto v = rng();
      VNV_ASSERT_OK(list->push_front(v));
      model.push_front(v);
    } else if (what < 9) {
      auto v = list->pop_front();
      if (model.empty()) {
        EXPECT_EQ(v.code(), Errc::not_found);
      } else {
        ASSERT_TRUE(v) << v.error().message;
        EXPECT_EQ(*v, model.front());
        model.pop_front();
      }
    } else {
      ASSERT_EQ(collect(*list), std::vector<std::uint64_t>(model.begin(), model.end()));
    }
    ASSERT_EQ(*list->size(), model.size());
    if (step % 16 == 0) testing::expect_ok(heap);
  }
  EXPECT_GT(heap.stats().evictions, 0u);
}

TEST(VnvList, SurvivesPersistAndReopen) {
  Fram fram(128 * 1024);
  std::vector<std::byte> ram(256 * sizeof(detail::Entry) + 2048);
  const Config cfg{.max_dirty_bytes = 256, .max_objects = 256};
  {
    MemHeap heap(ram, fram.storage, cfg);
    VNV_ASSERT_OK(heap.create());
    auto list = IntList::create(heap);
    ASSERT_TRUE(list);
    for (std::uint64_t i = 0; i < 100; ++i) VNV_ASSERT_OK(list->push_back(i * i));
    VNV_ASSERT_OK(heap.set_root("squares", list->id()));
    ASSERT_EQ(heap.persist(), PersistOutcome::done);
    list->release();  // the process ends; the heap on storage keeps the list
  }
  std::vector<std::byte> ram2(256 * sizeof(detail::Entry) + 2048);
  MemHeap heap(ram2, fram.storage, cfg);
  VNV_ASSERT_OK(heap.open());
  auto head = heap.root<ListHead>("squares");
  ASSERT_TRUE(head);
  auto list = IntList::attach(heap, std::move(*head));
  ASSERT_TRUE(list);
  const auto got = collect(*list);
  ASSERT_EQ(got.size(), 100u);
  for (std::uint64_t i = 0; i < 100; ++i) EXPECT_EQ(got[i], i * i);
  EXPECT_EQ(*list->pop_front(), 0u);
  VNV_ASSERT_OK(list->clear());
  EXPECT_EQ(*list->size(), 0u);
  EXPECT_EQ(heap.stats().live_objects, 1u);  // only the head is left
  testing::expect_ok(heap);
}

}  // namespace
}  // namespace ferro::vnv
