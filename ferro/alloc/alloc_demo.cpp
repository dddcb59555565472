// A tour of the alloc layer: four allocators over the same kind of static region, std::pmr
// containers on one of them, a checkpoint-style rebuild with allocate_at, and a double free
// caught by check().
#include <cstdio>
#include <memory_resource>
#include <string>
#include <vector>

#include "ferro/alloc/buddy.hpp"
#include "ferro/alloc/chunk.hpp"
#include "ferro/alloc/linked_list.hpp"
#include "ferro/alloc/memory_resource.hpp"
#include "ferro/alloc/tlsf.hpp"

using namespace ferro;

namespace {

alignas(4096) std::byte g_regions[4][256 * 1024];
constinit StaticHeap<1024, 256> g_static;
constinit ChunkAllocator<256> g_chunk{g_static};

void show(const char* name, const AllocStats& s) {
  std::printf("  %-22s in use %7zu B  blocks %3zu  largest free %7zu B  of %7zu B\n", name, s.in_use, s.live_blocks,
              s.largest_free, s.capacity);
}

template <class A>
void same_requests(const char* name, A& a) {
  std::vector<void*> got;
  for (std::size_t size : {24, 100, 1000, 3000, 60, 70000, 8}) got.push_back(a.allocate(size, 16));
  a.deallocate(got[1]);
  a.deallocate(got[4]);
  show(name, a.stats());
  for (std::size_t i = 0; i < got.size(); ++i)
    if (i != 1 && i != 4) a.deallocate(got[i]);
}

}  // namespace

int main() {
  std::printf("== alloc: region allocators with one interface ==\n");
  std::printf("1. the same 7 requests (24..70000 bytes), 2 freed, on each allocator:\n");
  ChunkAllocator<256> chunk(g_regions[0]);
  BuddyAllocator buddy(g_regions[1]);
  LinkedListAllocator list(g_regions[2]);
  TlsfAllocator tlsf(g_regions[3]);
  same_requests("ChunkAllocator<256>", chunk);
  same_requests("BuddyAllocator", buddy);
  same_requests("LinkedListAllocator", list);
  same_requests("TlsfAllocator", tlsf);
  std::printf("  (rounding: chunks round to 256 B, buddy to a power of two, list and TLSF to 16 B + header)\n\n");

  std::printf("2. std::pmr containers on a constinit ChunkAllocator over a StaticHeap:\n");
  {
    MemoryResource<ChunkAllocator<256>> mr(g_chunk);
    std::pmr::vector<std::pmr::string> words(&mr);
    for (const char* w : {"ferro", "keeps", "these", "strings", "in", "a", "static", "region", "of", "256 KiB"})
      words.emplace_back(std::string(w) + std::string(30, '.'));
    std::printf("  %zu strings, first \"%.8s...\", all inside the region: %s\n", words.size(), words[0].c_str(),
                g_chunk.owns(words[9].data()) ? "yes" : "no");
    show("ChunkAllocator (pmr)", g_chunk.stats());
  }
  show("after the scope", g_chunk.stats());
  std::printf("\n");

  std::printf("3. rebuilding from a checkpoint: the live set re-claimed with allocate_at:\n");
  {
    std::vector<std::pair<void*, std::size_t>> live;
    for (std::size_t i = 0; i < 40; ++i) live.emplace_back(tlsf.allocate(50 + i * 37, 16), 50 + i * 37);
    for (std::size_t i = 0; i < live.size(); i += 3) tlsf.deallocate(live[i].first);
    show("original", tlsf.stats());
    tlsf.reset();
    for (std::size_t i = 0; i < live.size(); ++i)
      if (i % 3 != 0 && !tlsf.allocate_at(live[i].first, live[i].second, 16)) std::printf("  allocate_at failed!\n");
    show("rebuilt", tlsf.stats());
    std::printf("  check(): %s\n\n", tlsf.check() ? "ok" : "broken");
    tlsf.reset();
  }

  std::printf("4. a double free is refused and remembered (release build; a debug build panics):\n");
#ifdef NDEBUG
  void* p = buddy.allocate(64, 16);
  buddy.deallocate(p);
  buddy.deallocate(p);
  const Status st = buddy.check();
  std::printf("  check(): %s\n", st ? "ok" : st.error().message);
  return st ? 1 : 0;
#else
  std::printf("  (skipped in this debug build)\n");
  return 0;
#endif
}
