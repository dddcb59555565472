// Operation sequences against BufferPool with a shadow model: every live slice must hold
// exactly the bytes written into it until it is dropped, pool-backed slices must sit in live
// slots of the slot map, and nothing may crash whatever the capacity, message lengths, write
// chunks and drop order. Slot counts 1, 3, 8 and 64 exercise the bit and counted lifetimes.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "ferro/pool/buffer_pool.hpp"
#include "tools/fuzz_input.hpp"

namespace {

struct Live {
  ferro::Slice slice;
  std::uint8_t fill;
};

[[noreturn]] void fail() { std::abort(); }

template <std::size_t Slots>
void run(ferro::FuzzInput& in, std::size_t capacity) {
  auto pool = std::make_unique<ferro::BufferPool<Slots>>(capacity);
  std::vector<Live> live;
  std::uint8_t next_fill = 1;
  while (!in.empty()) {
    const std::uint8_t op = in.byte();
    if (op < 100) {  // one message in random chunks
      std::size_t len = in.word() % 3000;
      const std::uint8_t fill = next_fill++;
      std::size_t written = 0;
      while (written < len) {
        std::size_t chunk = std::min<std::size_t>(len - written, 1 + in.byte() % 200);
        auto w = pool->get_writable(chunk);
        if (w.size() != chunk) fail();
        std::memset(w.data(), fill, chunk);
        written += chunk;
      }
      ferro::Slice s = pool->get_data_owned();
      if (s.size() != len) fail();
      live.push_back({std::move(s), fill});
    } else if (op < 220) {
      if (!live.empty()) live.erase(live.begin() + static_cast<std::ptrdiff_t>(in.byte() % live.size()));
    } else if (op < 250) {
      // A message abandoned half-way, then continued: the bytes so far must survive moves.
      const std::uint8_t fill = next_fill++;
      const std::size_t a = in.byte(), b = in.word() % 2000;
      if (a != 0) std::memset(pool->get_writable(a).data(), fill, a);
      live.clear();  // everything dropped mid-message: the pool may reset under it
      if (b != 0) std::memset(pool->get_writable(b).data(), fill, b);
      ferro::Slice s = pool->get_data_owned();
      if (s.size() != a + b) fail();
      live.push_back({std::move(s), fill});
    } else {
      pool = std::make_unique<ferro::BufferPool<Slots>>(capacity);  // old slices outlive it
    }
    std::uint64_t seen = 0;
    for (const Live& l : live) {
      for (std::byte x : l.slice)
        if (x != std::byte(l.fill)) fail();
      for (std::size_t i = 0; i < Slots; ++i) {
        const ferro::SlotInfo info = pool->slot(i);
        if (!l.slice.empty() && info.live && info.data == l.slice.data()) seen |= std::uint64_t{1} << i;
      }
    }
    if (seen != pool->live_mask()) fail();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ferro::FuzzInput in(data, size);
  const std::uint8_t kind = in.byte();
  const std::size_t capacity = in.word() % 8192;
  switch (kind % 4) {
    case 0:
      run<1>(in, capacity);
      break;
    case 1:
      run<3>(in, capacity);
      break;
    case 2:
      run<8>(in, capacity);
      break;
    default:
      run<64>(in, capacity);
      break;
  }
  return 0;
}
