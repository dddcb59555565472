// A tour of MRFS: files on emulated NOR flash, read in place, replaced, compacted, and kept
// through power cuts in the middle of a write and in the middle of a compaction.
#include <cstdio>
#include <string>

#include "ferro/mrfs/store.hpp"

using namespace ferro;
using namespace ferro::mrfs;

namespace {

using Flash = StaticFlash<1024, 8>;
using DemoStore = Store<EmulatedFlash, 16>;

std::span<const std::byte> bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
std::string text(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

int fail(const char* what, Error e) {
  std::printf("  %s failed: %s (%s)\n", what, e.message, errc_name(e.code));
  return 1;
}

void show(const DemoStore& s) {
  s.for_each([](const File& f) {
    std::printf("       %-12.*s %5llu bytes at flash offset %5llu, seq %u\n", static_cast<int>(f.name().size()),
                f.name().data(), static_cast<unsigned long long>(f.size()), static_cast<unsigned long long>(f.offset()),
                f.seq());
  });
}

}  // namespace

int main() {
  std::printf("== mrfs: replaceable files on NOR flash ==\n");
  Flash flash;
  auto mounted = DemoStore::mount(flash);
  if (!mounted) return fail("mount", mounted.error());
  DemoStore& s = *mounted;

  std::printf("  1. An empty 8 x 1 KiB flash. Store two files.\n");
  if (auto r = s.put("boot.mpy", bytes(std::string(300, 'B')), 1'700'000'000); !r) return fail("put", r.error());
  if (auto r = s.put("config.json", bytes("{\"baud\": 9600}"), 1'700'000'000); !r) return fail("put", r.error());
  show(s);
  auto cfg = s.find("config.json");
  std::printf("     find(\"config.json\") -> \"%s\", read in place: data() points %s the flash image\n",
              text(cfg->data()).c_str(),
              cfg->data().data() == flash.view().data() + cfg->offset() + 64 ? "into" : "outside");

  std::printf(
      "  2. Replace config.json 60 times: new versions go on top, the flash fills, compaction\n"
      "     slides live files down and erases the rest.\n");
  for (int i = 0; i < 60; ++i) {
    const std::string v = "{\"baud\": " + std::to_string(9600 + i) + ", \"pad\": \"" + std::string(100, '.') + "\"}";
    if (auto r = s.put("config.json", bytes(v), 1'700'000'000 + 60 * i); !r) return fail("replace", r.error());
  }
  show(s);
  Stats st = s.stat();
  std::printf("     %llu compactions, %llu erases, write amplification %.2f, erases per segment:",
              static_cast<unsigned long long>(st.compactions), static_cast<unsigned long long>(st.erases),
              st.write_amplification());
  for (std::uint32_t i = 0; i < st.segment_count; ++i) std::printf(" %u", s.segment_erases(i));
  std::printf("\n");

  std::printf("  3. Power fails in the middle of writing a new config.json (its first program).\n");
  flash.set_plan(FlashFaultPlan{.cut_at_op = 1, .seed = 42});
  auto r = s.put("config.json", bytes("{\"baud\": 115200}"), 1'700'100'000);
  std::printf("     put says: %s\n", r ? "ok?!" : r.error().message);
  flash.power_on();
  flash.set_plan({});
  MountReport report;
  auto again = DemoStore::mount(flash, &report);
  if (!again) return fail("remount", again.error());
  std::printf(
      "     after reboot: %llu torn bytes found and stepped over; config.json is the last complete\n"
      "     version: %.15s...\n",
      static_cast<unsigned long long>(report.garbage_bytes), text(again->find("config.json")->data()).c_str());

  std::printf("  4. Power fails in the middle of a compaction (its 3rd program or erase).\n");
  for (int i = 0; i < 20; ++i) (void)again->put("log" + std::to_string(i % 4), bytes(std::string(150, 'x')), 0);
  flash.set_plan(FlashFaultPlan{.cut_at_op = 3, .seed = 7});
  auto c = again->compact();
  std::printf("     compact says: %s\n", c ? "ok?!" : c.error().message);
  flash.power_on();
  flash.set_plan({});
  auto third = DemoStore::mount(flash, &report);
  if (!third) return fail("remount", third.error());
  std::printf("     mount: interrupted compaction %s, %s; %zu files, all readable:\n",
              report.compaction_interrupted ? "found" : "not found",
              report.compaction_finished ? "finished it" : "nothing to finish", third->file_count());
  show(*third);
  if (auto ck = third->check(); !ck) return fail("check", ck.error());
  std::printf("  done: every file that was completely written survived both cuts.\n");
  return 0;
}
