// ferro's freestanding layers checked on the target: one section per layer, each printing PASS
// or FAIL over semihosting; the program's exit status is the verdict (see startup.cpp).
#include <cstring>
#include <string_view>

#include "checks.hpp"

namespace embedded {

int failed_checks = 0;

void check_failed(const char* what, const char* file, int line) noexcept {
  ++failed_checks;
  put("  check failed: ");
  put(what);
  put(" (");
  put(file);
  put(":");
  put_dec(static_cast<std::uint64_t>(line));
  put(")\n");
}

}  // namespace embedded

namespace {

struct Section {
  const char* name;
  void (*run)();
};

constexpr Section kSections[] = {
    {"core: crc32, Result, Rng, bits", embedded::check_core},
    {"storage: MemoryStorage, FaultStorage power cut, EmulatedFlash", embedded::check_storage},
    {"alloc: Chunk, Buddy, LinkedList, Tlsf", embedded::check_alloc},
    {"pool: BufferPool<8, NoFallback>", embedded::check_pool},
    {"gc: Heap collect and compact", embedded::check_gc},
    {"mrfs: Store on StaticFlash, put/find/remove/remount", embedded::check_mrfs},
    {"vnv: Heap allocate/get_mut/persist/reopen", embedded::check_vnv},
};

}  // namespace

int main() {
  using namespace embedded;
  put("ferro on Cortex-M3 (qemu mps2-an385)\n");
  int failed_sections = 0;
  for (const Section& s : kSections) {
    const int before = failed_checks;
    s.run();
    const bool pass = failed_checks == before;
    put(pass ? "PASS " : "FAIL ");
    put(s.name);
    put("\n");
    if (!pass) ++failed_sections;
  }
  put(failed_sections == 0 ? "ALL PASS\n" : "SOME FAILED\n");
  return failed_sections == 0 ? 0 : 1;
}
