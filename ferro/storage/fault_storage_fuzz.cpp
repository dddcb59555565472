// Drives random operations, with random fault plans, through FaultStorage over MemoryStorage and
// checks the invariant that matters to every layer above: a write that returned success is on
// the medium; after a cut nothing succeeds until power_on().
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ferro/storage/fault_storage.hpp"
#include "ferro/storage/memory_storage.hpp"
#include "tools/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferro;
  ferro::FuzzInput in(data, size);
  std::vector<std::byte> region(256);
  std::vector<std::byte> model(256);
  MemoryStorage mem(region);
  FaultPlan plan;
  plan.cut_at_write = in.byte() % 16;
  plan.cut_after_bytes = in.byte();
  plan.fail_write_at = in.byte() % 16;
  plan.torn = static_cast<FaultPlan::Torn>(in.byte() % 3);
  plan.seed = in.word();
  FaultStorage fs(mem, plan);
  while (!in.empty()) {
    const auto op = in.byte() % 4;
    const std::uint64_t off = in.byte() + (in.byte() & 1 ? 200 : 0);
    const std::size_t len = in.byte() % 64;
    std::vector<std::byte> buf(len, static_cast<std::byte>(in.byte()));
    const bool powered = fs.powered();
    Status s;
    if (op == 0) {
      s = fs.write(off, buf);
      if (s && len > 0) std::memcpy(model.data() + off, buf.data(), len);
    } else if (op == 1) {
      s = fs.read(off, buf);
      if (s && len > 0 && std::memcmp(buf.data(), region.data() + off, len) != 0) std::abort();
    } else if (op == 2) {
      s = fs.sync();
    } else {
      fs.power_on();
      // A torn write may have changed bytes the model does not know of: adopt the medium.
      model = region;
      continue;
    }
    if (!powered && s) std::abort();                              // nothing works without power
    if (s && op != 2 && off + len > region.size()) std::abort();  // range errors always win
    if (std::memcmp(model.data(), region.data(), region.size()) != 0 && fs.powered()) std::abort();
  }
  return 0;
}
