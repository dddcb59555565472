// Each run of this program increments a counter that lives in a vnv heap on a file, so the
// count survives the process ending (the seed's counter example).
//
//   vnv_counter [IMAGE]     (default: vnv_counter.img in the current directory)
#include <cstdio>

#include "ferro/alloc/linked_list.hpp"
#include "ferro/storage/file_storage.hpp"
#include "ferro/vnv/heap.hpp"

using namespace ferro;

struct Counter {
  std::uint32_t value;
  void increase() { ++value; }
  void increase_by(std::uint32_t n) { value += n; }
};

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "vnv_counter.img";
  auto file = FileStorage::open(path, 16 * 1024);
  if (!file) {
    std::fprintf(stderr, "cannot open %s: %s\n", path, file.error().message);
    return 1;
  }
  std::byte buffer[2048];
  vnv::Heap<LinkedListAllocator, vnv::NonResidentBuddyAllocator<16, 256>, vnv::DefaultObjectManager, FileStorage> heap(
      buffer, *file, {.max_dirty_bytes = 1024, .max_objects = 8},
      [](const std::byte*, std::size_t) { /* a firmware would tell the power supervisor here */ });
  if (auto s = heap.open_or_create(); !s) {
    std::fprintf(stderr, "cannot open the heap: %s\n", s.error().message);
    return 1;
  }
  auto counter = heap.root<Counter>("counter");
  if (!counter) {  // first run: make it
    auto fresh = heap.allocate<Counter>(Counter{0});
    if (!fresh || !heap.set_root("counter", *fresh)) return 1;
    counter = std::move(fresh);
  }
  {
    auto ref = counter->get();
    std::printf("counter before: %u\n", (*ref)->value);
  }  // the reference ends: the object could be unloaded now
  {
    auto mut = counter->get_mut();
    if (!mut) return 1;
    (*mut)->increase();
  }  // the mutable reference ends: the object is dirty, charged to the budget
  std::printf("counter after: %u (resident: %s, dirty: %s)\n", (*counter->get())->value,
              counter->is_resident() ? "yes" : "no", counter->is_dirty() ? "yes" : "no");
  if (heap.persist() != vnv::PersistOutcome::done) {
    std::fprintf(stderr, "persist failed: %s\n", heap.last_persist_status().error().message);
    return 1;
  }
  counter->release();  // keep the object: the next run finds it through the root
  return 0;
}
