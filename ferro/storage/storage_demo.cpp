// A tour of the storage layer: a file-backed FRAM image that survives a restart, and a power
// cut injected in the middle of a write.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "ferro/storage/fault_storage.hpp"
#include "ferro/storage/file_storage.hpp"
#include "ferro/storage/memory_storage.hpp"

using namespace ferro;

namespace {

std::span<const std::byte> text(const char* s) { return {reinterpret_cast<const std::byte*>(s), std::strlen(s)}; }

std::string show(std::span<const std::byte> b) {
  std::string s;
  for (auto c : b) s += (c == std::byte{0}) ? '.' : static_cast<char>(c);
  return s;
}

int fail(const char* what, Error e) {
  std::printf("  %s failed: %s (%s)\n", what, e.message, errc_name(e.code));
  return 1;
}

}  // namespace

int main() {
  std::printf("== storage: byte storage that survives restarts and power cuts ==\n");
  const auto path = (std::filesystem::temp_directory_path() / ("ferro-demo-fram-" + std::to_string(getpid()))).string();

  std::printf("  1. A 4 KiB FRAM image in a file; write a greeting at offset 100 and sync.\n");
  {
    auto fram = FileStorage::open(path, 4096);
    if (!fram) return fail("open", fram.error());
    if (auto s = fram->write(100, text("hello, FRAM")); !s) return fail("write", s.error());
    if (auto s = fram->sync(); !s) return fail("sync", s.error());
    auto again = FileStorage::open(path, 4096);
    std::printf("     a second opener while it is open gets: %s\n", again ? "success?!" : again.error().message);
  }
  std::printf("  2. The process \"restarts\": reopen the image and read it back.\n");
  {
    auto fram = FileStorage::open(path, 0);
    if (!fram) return fail("reopen", fram.error());
    std::byte buf[11];
    if (auto s = fram->read(100, buf); !s) return fail("read", s.error());
    std::printf("     read back: \"%s\" (size %llu)\n", show(buf).c_str(),
                static_cast<unsigned long long>(fram->size()));
  }
  std::filesystem::remove(path);

  std::printf("  3. Power fails 5 bytes into the second write (FaultStorage, cut_after_bytes = 16).\n");
  std::byte ram[32]{};
  MemoryStorage fram(ram);
  FaultStorage faulty(fram, FaultPlan{.cut_after_bytes = 16});
  auto first = faulty.write(0, text("first-write"));     // 11 bytes
  auto second = faulty.write(11, text("second-write"));  // crosses the 16-byte line
  std::printf("     first write: %s; second write: %s\n", first ? "ok" : first.error().message,
              second ? "ok" : second.error().message);
  std::printf("     the medium now holds \"%s\" (the torn write landed up to the cut)\n",
              show(std::span(ram, 23)).c_str());
  std::byte probe[4];
  auto r = faulty.read(0, probe);
  std::printf("     until power returns every call fails: read -> %s\n", r ? "ok" : errc_name(r.code()));
  faulty.power_on();
  r = faulty.read(0, probe);
  std::printf("     after power_on(): read -> %s\n\n", r ? "ok" : errc_name(r.code()));
  return 0;
}
