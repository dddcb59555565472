// Mount, list and find on arbitrary flash images: a corrupt image must mount its valid part or
// give an error, never crash. Half the inputs are raw images; the other half build a valid
// store from the input's bytes first and then damage it (bit flips, erased runs, garbage), so
// the fuzzer also reaches images that are almost right.
#include <cstdint>
#include <cstring>
#include <string>

#include "ferro/core/crc32.hpp"
#include "ferro/mrfs/store.hpp"

using namespace ferro;
using namespace ferro::mrfs;

namespace {

struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  std::uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
};

void build_and_damage(StaticFlash<256, 8>& flash, Reader in) {
  {
    auto m = Store<EmulatedFlash, 16>::mount(flash);
    if (!m) __builtin_trap();  // a fresh flash always mounts
    const int ops = in.byte() % 24;
    for (int i = 0; i < ops; ++i) {
      const std::string name = "f" + std::to_string(in.byte() % 6);
      const std::uint8_t kind = in.byte();
      if (kind % 5 == 0) {
        (void)m->remove(name);
      } else {
        std::byte data[300];
        const std::size_t len = (kind * 7u) % sizeof data;
        std::memset(data, in.byte(), len);
        (void)m->put(name, std::span<const std::byte>(data, len), i);
      }
    }
  }
  auto* image = const_cast<std::byte*>(flash.view().data());
  while (in.n >= 3) {
    const std::uint32_t at = (std::uint32_t{in.byte()} << 8 | in.byte()) % flash.size();
    const std::uint8_t what = in.byte();
    switch (what % 3) {
      case 0:
        image[at] ^= static_cast<std::byte>(1u << (what >> 5));
        break;
      case 1:  // an erased run, as a half-erased segment leaves
        std::memset(image + at, 0xFF, std::min<std::size_t>(what, flash.size() - at));
        break;
      default:
        image[at] = static_cast<std::byte>(what);
        break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  StaticFlash<256, 8> flash;
  Reader in{data, size};
  if (in.byte() & 1) {
    build_and_damage(flash, in);
  } else {
    auto* image = const_cast<std::byte*>(flash.view().data());
    std::memcpy(image, in.p, std::min<std::size_t>(in.n, flash.size()));
  }
  MountReport report;
  auto mounted = Store<EmulatedFlash, 16>::mount(flash, &report);
  if (!mounted) return 0;  // an error is an acceptable answer to a corrupt image
  auto& store = *mounted;
  if (!store.check()) __builtin_trap();
  File files[16];
  const std::size_t n = store.list(files);
  if (n != store.file_count()) __builtin_trap();
  for (std::size_t i = 0; i < std::min<std::size_t>(n, 16); ++i) {
    auto f = store.find(files[i].name());
    if (!f || f->offset() != files[i].offset()) __builtin_trap();
    // The data lies inside the image and its entry CRC checks.
    const auto view = flash.view();
    if (f->data().data() < view.data() || f->data().data() + f->size() > view.data() + view.size()) __builtin_trap();
    const std::uint64_t body = kHeaderSize + f->size();
    if (crc32(view.subspan(f->offset(), body)) != load_u32(view.data() + f->offset() + body)) __builtin_trap();
  }
  // The mounted part stays usable: a write either lands and reads back, or fails cleanly.
  const std::byte probe[5] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}};
  if (store.put("probe", probe, 0)) {
    auto f = store.find("probe");
    if (!f || f->size() != 5 || std::memcmp(f->data().data(), probe, 5) != 0) __builtin_trap();
    if (!store.check()) __builtin_trap();
  }
  return 0;
}
