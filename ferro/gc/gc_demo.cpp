// A tour of the gc layer: a 12 KiB heap as on a small microcontroller, Python-like data built
// and dropped, vectors compacted, zlib running on the malloc shim, and the seed's report.
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "ferro/gc/dict.hpp"
#include "ferro/gc/list.hpp"
#include "ferro/gc/malloc.hpp"
#include "ferro/gc/str.hpp"

using namespace ferro;
using namespace ferro::gc;

namespace {

alignas(kGranule) std::byte g_region[12 * 1024];
// A constant region is checked when the program is built: then the constructor cannot fail.
static_assert(sizeof(g_region) >= Heap::min_region_bytes());

void show(Value v, std::string& out) {
  if (v.is_none()) {
    out += "None";
  } else if (v.is_bool()) {
    out += v.as_bool() ? "True" : "False";
  } else if (v.is_int()) {
    out += std::to_string(v.as_int());
  } else if (v.is(Object::Kind::str)) {
    out += "'" + std::string(static_cast<Str*>(v.as_obj())->text()) + "'";
  } else if (v.is(Object::Kind::list)) {
    auto* l = static_cast<List*>(v.as_obj());
    out += "[";
    for (std::size_t i = 0; i < l->size(); ++i) {
      if (i > 0) out += ", ";
      show(l->get(i), out);
    }
    out += "]";
  } else if (v.is(Object::Kind::dict)) {
    auto* d = static_cast<Dict*>(v.as_obj());
    out += "{";
    for (auto it = d->next(0); it; it = d->next(it->pos + 1)) {
      if (it->pos > 0) out += ", ";
      show(it->key, out);
      out += ": ";
      show(it->value, out);
    }
    out += "}";
  } else {
    out += "<object>";
  }
}

void print_report(const Heap& heap) {
  heap.report([](const char* line) { std::printf("     %s\n", line); });
}

Value count_items(ArgVec const& args) {
  std::intptr_t n = 0;
  for (std::size_t i = 0; i < args.size(); ++i)
    if (args[i].is(Object::Kind::list)) n += static_cast<std::intptr_t>(static_cast<List*>(args[i].as_obj())->size());
  return Value::integer(n);
}

}  // namespace

int main() {
  std::printf("== gc: objects that never move, vectors that do, in one 12 KiB region ==\n");
  Heap heap(g_region);
  std::printf("  1. The heap: %zu bytes; vectors grow up from the bottom, objects down from the top.\n",
              heap.capacity());
  {
    // A region sized at run time goes through create(), which says what is wrong instead.
    alignas(kGranule) static std::byte scrap[256];
    const auto refused = Heap::create(scrap);
    std::printf("     Heap::create over %zu bytes: %s (%s); the minimum is %zu bytes.\n", sizeof(scrap),
                errc_name(refused.code()), refused.error().message, Heap::min_region_bytes());
  }

  std::printf("  2. Build Python-like data: a dict holding a string, a list of primes and a nested dict.\n");
  {
    Rooted root(heap, heap.make<Dict>(heap));
    auto* top = static_cast<Dict*>(root.get().as_obj());
    if (!top->set(Str::rom(heap, "name"), Str::make(heap, "ferro"))) return 1;
    List* primes = heap.make<List>(heap);
    if (!top->set(Str::rom(heap, "primes"), primes)) return 1;
    for (std::intptr_t n = 2; n < 40; ++n) {
      bool prime = true;
      for (std::intptr_t d = 2; d * d <= n; ++d) prime = prime && n % d != 0;
      if (prime && !primes->append(Value::integer(n))) return 1;
    }
    Dict* nested = heap.make<Dict>(heap);
    if (!top->set(Str::rom(heap, "nested"), nested)) return 1;
    if (!nested->set(Value::integer(1), Value::boolean(true)) || !nested->set(Value::integer(2), Value())) return 1;
    std::string text;
    show(root.get(), text);
    std::printf("     %s\n", text.c_str());
    Function* fn = heap.make<Function>(count_items, "count_items");
    const Value args[] = {primes};
    std::printf("     %s(primes) -> %zd\n", fn->name(), static_cast<std::ptrdiff_t>((*fn)(ArgVec(args)).as_int()));
    heap.make<Str>(heap);  // garbage, nobody holds it
    heap.collect();
    std::printf("     after a collection (the dict is rooted): %zu objects, %zu vectors live\n",
                heap.stats().curr_objs.count, heap.stats().curr_vecs.count);
  }
  heap.collect();
  std::printf("  3. Drop the root and collect: %zu objects, %zu vectors live, gap %zu bytes.\n",
              heap.stats().curr_objs.count, heap.stats().curr_vecs.count, heap.gap());

  std::printf("  4. Fragment vector space, then compact: holes join the gap, owners follow their bytes.\n");
  {
    Vec v[8] = {Vec(heap), Vec(heap), Vec(heap), Vec(heap), Vec(heap), Vec(heap), Vec(heap), Vec(heap)};
    for (int i = 0; i < 8; ++i) {
      if (!v[i].resize(400)) return 1;
      std::memset(v[i].data(), 'a' + i, 400);
    }
    for (int i = 0; i < 8; i += 2) v[i].release();
    std::printf("     before: avail %zu b, of which gap %zu b (holes %zu b)\n", heap.avail(), heap.gap(),
                heap.avail() - heap.gap());
    heap.compact();
    std::printf("     after:  avail %zu b, of which gap %zu b; v[3] still reads '%c'\n", heap.avail(), heap.gap(),
                static_cast<char>(v[3].data()[399]));
  }

  std::printf("  5. zlib through the malloc shim, in a 64 KiB heap, with collections between calls.\n");
  {
    static std::byte big[64 * 1024];
    Options o;
    o.auto_collect = true;
    Heap zheap(big, o);
    bind_malloc(&zheap);
    const char* msg = "the quick brown fox jumps over the lazy dog; the quick brown fox jumps again";
    unsigned char packed[256], back[256];
    z_stream z{};
    z.zalloc = [](void*, uInt n, uInt sz) { return gc::calloc(n, sz); };
    z.zfree = [](void*, void* p) { gc::free(p); };
    // A small window and hash, as a microcontroller would configure deflate.
    if (deflateInit2(&z, 9, Z_DEFLATED, 12, 5, Z_DEFAULT_STRATEGY) != Z_OK) return 1;
    std::printf("     deflate state: %zu shim blocks in object space\n", zheap.stats().curr_objs.count);
    zheap.collect();  // the blocks are pinned: zlib's state survives
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(msg));
    z.avail_in = static_cast<uInt>(std::strlen(msg) + 1);
    z.next_out = packed;
    z.avail_out = sizeof(packed);
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) return 1;
    const auto n = z.total_out;
    deflateEnd(&z);
    z_stream u{};
    u.zalloc = z.zalloc;
    u.zfree = z.zfree;
    if (inflateInit2(&u, 12) != Z_OK) return 1;
    zheap.collect();
    u.next_in = packed;
    u.avail_in = static_cast<uInt>(n);
    u.next_out = back;
    u.avail_out = sizeof(back);
    if (inflate(&u, Z_FINISH) != Z_STREAM_END) return 1;
    inflateEnd(&u);
    std::printf("     %zu bytes -> %lu compressed -> \"%.25s...\", %zu blocks left\n", std::strlen(msg) + 1,
                static_cast<unsigned long>(n), reinterpret_cast<char*>(back), zheap.stats().curr_objs.count);
    bind_malloc(nullptr);
  }

  std::printf("  6. The report, in the seed's format:\n");
  print_report(heap);
  const Status s = heap.check();
  std::printf("  check(): %s\n", s ? "ok" : s.error().message);
  return s ? 0 : 1;
}
