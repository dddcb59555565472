// A small tour of the vnv heap API over RAM-backed "FRAM": allocation, references and their
// borrow rules, residency, the dirty budget, partial dirtiness, the list, persist and reopen.
#include <array>
#include <cstdio>
#include <vector>

#include "ferro/alloc/buddy.hpp"
#include "ferro/storage/memory_storage.hpp"
#include "ferro/vnv/heap.hpp"
#include "ferro/vnv/list.hpp"

using namespace ferro;
using namespace ferro::vnv;

using FramHeap = Heap<BuddyAllocator, NonResidentBitmapAllocator<32, 2048>, ClockObjectManager, MemoryStorage>;

struct Point {
  double x, y;
};
using Page = std::array<std::uint8_t, 1024>;

void show(const char* what, const FramHeap& heap) {
  const auto s = heap.stats();
  std::printf("%-44s dirty %4u / %u  resident %u of %u  loads %llu  write-backs %llu\n", what, s.dirty_bytes,
              s.max_dirty_bytes, s.resident_objects, s.live_objects, static_cast<unsigned long long>(s.loads),
              static_cast<unsigned long long>(s.write_backs));
}

int main() {
  std::vector<std::byte> fram(64 * 1024);
  MemoryStorage storage(fram, LatencyModel::spi_fram());
  std::vector<std::byte> ram(64 * sizeof(detail::Entry) + 3072);
  const Config config{.max_dirty_bytes = 1536, .max_objects = 64, .block_size = 32};
  {
    FramHeap heap(ram, storage, config);
    if (!heap.create()) return 1;
    auto p = heap.allocate<Point>(Point{1.5, -2.0});
    auto page = heap.allocate<Page>();
    if (!p || !page) return 1;
    show("allocated a Point and a 1 KiB Page", heap);
    {
      auto r1 = p->get();
      auto r2 = p->get();
      std::printf("two Refs at once: ok; get_mut now says: %s\n", p->get_mut().error().message);
    }
    if (heap.persist() != PersistOutcome::done) return 1;
    show("persisted", heap);
    {
      auto part = page->get_mut_bytes(100, 4);  // one 32-byte block of the page
      part->store(0, std::uint32_t{0xC0FFEE});
    }
    show("changed 4 bytes of the Page", heap);
    (void)page->unload();
    show("unloaded the Page (copied on write to a new block)", heap);
    auto list = List<Point, FramHeap>::create(heap);
    for (int i = 0; i < 30; ++i) (void)list->push_back(Point{double(i), double(i * i)});
    show("a list of 30 Points", heap);
    double sum = 0;
    for (Point q : *list) sum += q.y;
    std::printf("sum of y over the list: %.0f\n", sum);
    (void)heap.set_root("point", *p);
    (void)heap.set_root("list", list->id());
    if (heap.persist() != PersistOutcome::done) return 1;
    show("persisted again", heap);
    std::printf("persist wrote %llu bytes (%llu of them metadata); simulated FRAM time so far %.2f ms\n",
                static_cast<unsigned long long>(heap.stats().last_persist_bytes),
                static_cast<unsigned long long>(heap.stats().last_persist_metadata), storage.simulated_ns() / 1e6);
    p->release();
    page->release();
    list->release();
  }
  FramHeap heap(ram, storage, config);
  if (!heap.open()) return 1;
  auto p = heap.root<Point>("point");
  auto head = heap.root<ListHead>("list");
  if (!p || !head) return 1;
  auto list = List<Point, FramHeap>::attach(heap, std::move(*head));
  std::printf("after reopen: point (%.1f, %.1f), list of %llu\n", (*p->get())->x, (*p->get())->y,
              static_cast<unsigned long long>(*list->size()));
  return 0;
}
