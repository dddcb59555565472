// Every operator new of this program, the C++ runtime's included, is served by a constinit
// ChunkAllocator over a static region: no runtime initialisation, so it already works for
// allocations made before main. The program prints the region's usage before and after some
// ordinary C++ work, then proves the allocations came from the region.
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ferro/alloc/chunk.hpp"
#include "ferro/alloc/global_new.hpp"
#include "ferro/alloc/synchronized.hpp"

namespace {
constinit ferro::StaticHeap<16384, 64> g_heap;  // 1 MiB in 64-byte chunks, page-aligned
constinit ferro::Synchronized<ferro::ChunkAllocator<64>> g_alloc{g_heap};

// Allocates during static initialisation, before main runs.
const std::string* const g_early = new std::string("allocated before main, from the static region");

void print_usage(const char* when) {
  const ferro::AllocStats s = g_alloc.stats();
  std::printf("%-8s in use %7zu of %7zu bytes in %4zu blocks (peak %zu)\n", when, s.in_use, s.capacity, s.live_blocks,
              s.peak);
}
}  // namespace

FERRO_GLOBAL_ALLOCATOR(g_alloc);

int main() {
  print_usage("before");
  if (!g_alloc.owns(g_early)) {
    std::printf("the early string is not in the region\n");
    return 1;
  }
  {
    std::vector<int> v;
    for (int i = 0; i < 10000; ++i) v.push_back(i);
    std::map<std::string, std::vector<double>> m;
    for (int i = 0; i < 200; ++i) m["key number " + std::to_string(i)].assign(static_cast<std::size_t>(i), 1.5);
    auto shared = std::make_shared<std::string>(300, 'x');
    print_usage("during");
    if (!g_alloc.owns(v.data()) || !g_alloc.owns(shared.get()) || !g_alloc.owns(&*m.begin())) {
      std::printf("a container's memory is not in the region\n");
      return 1;
    }
  }
  print_usage("after");
  const ferro::Status st = g_alloc.check();
  std::printf("check(): %s\n", st ? "ok" : st.error().message);
  std::printf("%s\n", g_early->c_str());
  return st ? 0 : 1;
}
