// CRC-32 throughput: ferro's slicing-by-8 against zlib's crc32 and the bytewise reference.
#include <zlib.h>

#include <vector>

#include "bench/bench.hpp"
#include "ferro/core/crc32.hpp"
#include "ferro/core/random.hpp"

using namespace ferro;
using namespace ferro::bench;

int main(int argc, char** argv) {
  const Config cfg = parse_args(argc, argv, "core");
  Recorder rec(cfg, "core");
  Rng rng(1);
  for (std::size_t size : {64u, 4096u, 1u << 20}) {
    std::vector<std::byte> buf(size);
    for (auto& b : buf) b = static_cast<std::byte>(rng());
    const std::size_t total = cfg.scale<std::size_t>(std::size_t{1} << 30, std::size_t{1} << 26);
    const std::size_t reps = std::max<std::size_t>(1, total / size);
    auto run = [&](const char* subject, auto&& fn) {
      std::uint32_t acc = 0;
      Stopwatch sw;
      for (std::size_t i = 0; i < reps; ++i) acc ^= fn();
      const double secs = sw.seconds();
      do_not_optimize(acc);
      rec.throughput("crc32", subject, {{"bytes", static_cast<std::int64_t>(size)}}, "MB/s",
                     static_cast<double>(reps * size) / secs / 1e6);
    };
    run("ferro::crc32", [&] { return crc32(buf); });
    run("zlib crc32", [&] {
      return static_cast<std::uint32_t>(
          ::crc32(0, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(buf.size())));
    });
    if (size <= 4096) run("bytewise reference", [&] { return crc32_bytewise(buf); });
  }
  return 0;
}
