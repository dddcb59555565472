// Operation sequences on the minimum viable core in a small, self-collecting heap made from the
// input's size and options (Heap::create refusing exactly those that cannot fit): lists, dicts
// and strings built, nested, mutated and dropped, malloc blocks taken and freed, collections and
// compactions in between. After every operation check() must pass; at the end, with the root
// dropped, everything must be reclaimed and the gap back to its first size.
#include <cstdint>
#include <cstring>
#include <vector>

#include "ferro/gc/dict.hpp"
#include "ferro/gc/list.hpp"
#include "ferro/gc/str.hpp"

using namespace ferro;
using namespace ferro::gc;

namespace {

struct Input {
  const std::uint8_t* p;
  std::size_t n;
  std::uint32_t next(std::uint32_t bound) {
    if (n == 0 || bound == 0) return 0;
    std::uint32_t v = *p++;
    --n;
    if (bound > 256 && n > 0) {
      v = (v << 8) | *p++;
      --n;
    }
    return v % bound;
  }
};

void must(const Status& s) { FERRO_CHECK(s || s.code() == Errc::no_space, "gc fuzz: unexpected error"); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  alignas(kGranule) static std::byte region[16 * 1024];
  Input in{data, size};
  Options o;
  o.auto_collect = true;
  o.mark_stack_entries = in.next(9);  // 0 is refused
  o.trigger_fraction = 0.05 * in.next(10);
  // One input in eight makes a tiny heap (or asks for one too small to be made).
  const std::size_t bytes = in.next(8) == 0 ? in.next(1024) : sizeof(region);
  auto made = Heap::create(std::span<std::byte>(region, bytes), o);
  if (!made) {
    FERRO_CHECK(made.code() == Errc::invalid_argument && bytes < Heap::min_region_bytes(o),
                "gc fuzz: create refused a region that fits");
    return 0;
  }
  std::vector<void*> blocks;
  {
    Heap& heap = *made;
    const std::size_t gap0 = heap.gap();
    Root<List> root(heap, heap.make<List>(heap));
    FERRO_CHECK(root.get() != nullptr, "gc fuzz: no room for the root");
    char text[64];
    while (in.n > 0) {
      List& top = *root;
      const auto op = in.next(12);
      // One allocation per operation at most: an unrooted object dies at the next one.
      switch (op) {
        case 0:
          must(top.append(Value::integer(in.next(1000))));
          break;
        case 1: {
          const auto len = in.next(sizeof(text));
          for (std::uint32_t i = 0; i < len; ++i) text[i] = static_cast<char>('a' + in.next(26));
          if (Str* s = Str::make(heap, {text, len})) must(top.append(s));
          break;
        }
        case 2:
          if (List* l = heap.make<List>(heap)) must(top.append(l));
          break;
        case 3:
          if (Dict* d = heap.make<Dict>(heap)) must(top.append(d));
          break;
        case 4:
        case 5: {  // into a container held by the root
          if (top.size() == 0) break;
          const Value c = top.get(in.next(static_cast<std::uint32_t>(top.size())));
          const Value v =
              op == 4 ? Value::integer(in.next(50)) : top.get(in.next(static_cast<std::uint32_t>(top.size())));
          if (c.is(Object::Kind::list)) must(static_cast<List*>(c.as_obj())->append(v));
          if (c.is(Object::Kind::dict)) {
            auto* d = static_cast<Dict*>(c.as_obj());
            const Value k = in.next(2) ? Value::integer(in.next(40)) : v;
            if (in.next(4) == 0)
              d->remove(k);
            else
              must(d->set(k, v));
          }
          break;
        }
        case 6:
          if (top.size() > 0) top.pop(in.next(static_cast<std::uint32_t>(top.size())));
          break;
        case 7:
          heap.collect();
          break;
        case 8:
          heap.compact();
          break;
        case 9: {
          void* b = heap.malloc(in.next(600));
          if (b != nullptr) {
            std::memset(b, 0xA5, 1);
            if (top.size() > 0) {
              const Value v = top.get(in.next(static_cast<std::uint32_t>(top.size())));
              if (v.is_obj()) heap.keep_alive(b, v.as_obj());
            }
            blocks.push_back(b);
          }
          break;
        }
        case 10:
          if (!blocks.empty()) {
            const auto i = in.next(static_cast<std::uint32_t>(blocks.size()));
            heap.free(blocks[i]);
            blocks.erase(blocks.begin() + i);
          }
          break;
        case 11:
          if (!blocks.empty()) {
            const auto i = in.next(static_cast<std::uint32_t>(blocks.size()));
            const auto n = in.next(2000);
            void* b = heap.realloc(blocks[i], n);
            if (n == 0)
              blocks.erase(blocks.begin() + i);  // realloc to zero frees
            else if (b != nullptr)
              blocks[i] = b;
          }
          break;
      }
      const Status s = heap.check();
      FERRO_CHECK(s, s.error().message);
    }
    for (void* b : blocks) heap.free(b);
    blocks.clear();
    root = nullptr;
    heap.collect();
    FERRO_CHECK(heap.stats().curr_objs.count == 0 && heap.stats().curr_vecs.count == 0,
                "gc fuzz: something survived the last collection");
    FERRO_CHECK(heap.gap() == gap0, "gc fuzz: the gap did not come back");
  }
  return 0;
}
