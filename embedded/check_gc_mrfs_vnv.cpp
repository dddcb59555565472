// The gc heap, the mrfs store and the vnv heap on the target.
#include <cstring>

#include "checks.hpp"
#include "ferro/alloc/buddy.hpp"
#include "ferro/gc/heap.hpp"
#include "ferro/mrfs/store.hpp"
#include "ferro/storage/memory_storage.hpp"
#include "ferro/vnv/heap.hpp"

namespace embedded {
namespace {

// A singly linked list node; mark() names the one object it references.
struct Node : ferro::gc::Obj {
  explicit Node(std::uint32_t v, Node* n = nullptr) noexcept : value(v), next(n) {}
  void mark(ferro::gc::Heap& heap) const override { heap.mark(next); }
  std::uint32_t value;
  Node* next;
};

alignas(8) std::byte gc_region[8 * 1024];

std::span<const std::byte> bytes(const char* s) noexcept {
  return {reinterpret_cast<const std::byte*>(s), std::strlen(s)};
}

bool holds(const std::optional<ferro::mrfs::File>& f, const char* text) noexcept {
  return f && f->size() == std::strlen(text) && std::memcmp(f->data().data(), text, f->size()) == 0;
}

ferro::StaticFlash<1024, 8> mrfs_flash;
using Store = ferro::mrfs::Store<ferro::EmulatedFlash, 16>;

struct Pair {
  std::uint32_t a, b;
};
using VnvHeap = ferro::vnv::Heap<ferro::BuddyAllocator, ferro::vnv::NonResidentBuddyAllocator<16, 1024>,
                                 ferro::vnv::DefaultObjectManager, ferro::MemoryStorage>;
alignas(16) std::byte vnv_fram[32 * 1024];
alignas(16) std::byte vnv_ram[4096];

}  // namespace

void check_gc() {
  ferro::gc::Heap heap(gc_region);
  CHECK(ferro::gc::kGranule == 8);  // two 32-bit pointers
  {
    ferro::gc::Root<Node> list(heap);
    for (std::uint32_t i = 0; i < 10; ++i) {
      list = heap.make<Node>(i, list.get());
      CHECK(list.get() != nullptr);
      // Garbage between the live nodes: nothing references it.
      CHECK(heap.make<Node>(1000 + i) != nullptr);
    }
    ferro::gc::Vec v(heap);
    CHECK(v.resize(300));
    std::memset(v.data(), 0x5A, 300);
    {
      ferro::gc::Vec dropped(heap);  // freed before v: a hole below it that compaction closes
      CHECK(dropped.resize(200));
    }
    CHECK(heap.stats().curr_objs.count == 20);
    heap.collect();
    CHECK(heap.check());
    CHECK(heap.stats().curr_objs.count == 10);
    std::uint32_t expect = 9, n = 0;
    for (Node* p = list.get(); p != nullptr; p = p->next, ++n) CHECK(p->value == expect--);
    CHECK(n == 10);
    CHECK(v.capacity() >= 300 && v.data()[0] == std::byte{0x5A} && v.data()[299] == std::byte{0x5A});
    CHECK(heap.stats().vec_holes == 0);
  }
  heap.collect();  // no roots left: everything goes
  CHECK(heap.stats().curr_objs.count == 0);
  CHECK(heap.check());
}

void check_mrfs() {
  CHECK(Store::format(mrfs_flash));
  {
    auto store = Store::mount(mrfs_flash);
    CHECK(store);
    if (!store) return;
    CHECK(store->put("config", bytes("baud=115200"), 1700000000));
    CHECK(store->put("log", bytes("boot 1"), 1700000001));
    CHECK(store->put("config", bytes("baud=9600"), 1700000002));  // replaces
    CHECK(holds(store->find("config"), "baud=9600"));
    CHECK(holds(store->find("log"), "boot 1"));
    CHECK(store->remove("log"));
    CHECK(!store->find("log"));
    CHECK(store->file_count() == 1);
    CHECK(store->check());
  }
  // Remount: the RAM index is rebuilt from the flash alone.
  auto again = Store::mount(mrfs_flash);
  CHECK(again);
  if (!again) return;
  CHECK(holds(again->find("config"), "baud=9600"));
  CHECK(!again->find("log"));
  CHECK(again->check());
  // Enough replacements to wrap the 8 KiB flash: compaction must keep the newest copy.
  char text[32] = "counter=000";
  for (int i = 0; i < 200; ++i) {
    text[8] = static_cast<char>('0' + i / 100);
    text[9] = static_cast<char>('0' + i / 10 % 10);
    text[10] = static_cast<char>('0' + i % 10);
    CHECK(again->put("counter", bytes(text), 1700000100 + i));
  }
  CHECK(holds(again->find("counter"), "counter=199"));
  CHECK(holds(again->find("config"), "baud=9600"));
  CHECK(again->check());
}

void check_vnv() {
  ferro::MemoryStorage fram(vnv_fram);
  {
    VnvHeap heap(vnv_ram, fram, {.max_dirty_bytes = 256, .max_objects = 16});
    CHECK(heap.create());
    auto obj = heap.allocate<Pair>(Pair{1, 2});
    CHECK(obj);
    if (!obj) return;
    {
      auto m = obj->get_mut();
      CHECK(m);
      if (m) (*m)->b = 42;
    }
    CHECK(heap.set_root("pair", *obj));
    CHECK(heap.persist() == ferro::vnv::PersistOutcome::done);
    {
      // Changed after the persist: a reopen must not see this.
      auto m = obj->get_mut();
      CHECK(m);
      if (m) (*m)->a = 99;
    }
    CHECK(heap.check());
    obj->release();
  }
  std::memset(vnv_ram, 0xEE, sizeof vnv_ram);  // RAM lost, as after a reset
  VnvHeap heap(vnv_ram, fram, {.max_dirty_bytes = 256, .max_objects = 16});
  CHECK(heap.open());
  auto obj = heap.root<Pair>("pair");
  CHECK(obj);
  if (!obj) return;
  auto r = obj->get();
  CHECK(r);
  if (r) CHECK((*r)->a == 1 && (*r)->b == 42);
  CHECK(heap.check());
}

}  // namespace embedded
