// MRFS benchmarks on an emulated 256 KiB NOR flash (64 segments of 4 KiB):
//  - put, find and replace latency (per operation, compaction spikes included in replace), with
//    peers measured in the same run: a raw program of the same bytes (the floor any store pays)
//    and a std::map lookup (a host index);
//  - compaction time against fill level;
//  - write amplification and erase spread (max/mean erases per segment) for a replace-heavy
//    workload at 25, 50 and 75 % fill, beside the analytic ideal of a sliding log.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench.hpp"
#include "ferro/core/crc32.hpp"
#include "ferro/core/random.hpp"
#include "ferro/mrfs/store.hpp"

using namespace ferro;
using namespace ferro::bench;

namespace {

constexpr std::uint32_t kSeg = 4096;
constexpr std::uint32_t kSegs = 64;
using BenchStore = mrfs::Store<EmulatedFlash, 1024>;

struct Device {
  std::vector<std::byte> image = std::vector<std::byte>(std::size_t{kSeg} * kSegs, std::byte{0xFF});
  std::vector<std::uint32_t> counts = std::vector<std::uint32_t>(kSegs, 0);
  EmulatedFlash flash{FlashGeometry{kSeg, kSegs, 1}, image, counts};
  Device() {
    pretouch(image.data(), image.size());  // writes the pages: erase them again after
    std::fill(image.begin(), image.end(), std::byte{0xFF});
  }
};

BenchStore mount(EmulatedFlash& f) {
  auto s = BenchStore::mount(f);
  if (!s) {
    std::fprintf(stderr, "mount failed: %s\n", s.error().message);
    std::exit(1);
  }
  return std::move(s).value();
}

void must(Status s, const char* what) {
  if (!s) {
    std::fprintf(stderr, "%s failed: %s\n", what, s.error().message);
    std::exit(1);
  }
}

std::vector<std::byte> payload(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

std::string name_of(std::size_t i) { return "file-" + std::to_string(i); }

void bench_put_find(Recorder& rec, const Config& cfg) {
  for (std::size_t size : {64u, 1024u, 4000u}) {
    const Fields opts{{"file_bytes", static_cast<std::int64_t>(size)}};
    const auto data = payload(size, size);
    // Fresh names into an empty store up to about half full: no compaction in the way.
    const std::size_t files = std::min<std::size_t>(1000, (kSeg * kSegs / 2) / *mrfs::entry_span(size));
    const int rounds = cfg.scale(20, 3);
    std::vector<double> put_ns, raw_ns, find_ns, map_ns;
    for (int round = 0; round < rounds; ++round) {
      Device d;
      BenchStore s = mount(d.flash);
      for (std::size_t i = 0; i < files; ++i) {
        const std::string n = name_of(i);
        const auto t0 = Tsc::begin();
        must(s.put(n, data, 0), "put");
        put_ns.push_back(Tsc::to_ns(Tsc::end() - t0));
      }
      // The floor: programming the same entry bytes (header, data, CRC) with nothing else.
      Device raw;
      std::vector<std::byte> entry(*mrfs::entry_span(size), std::byte{0xFF});
      std::uint64_t at = 0;
      for (std::size_t i = 0; i < files; ++i) {
        const auto t0 = Tsc::begin();
        std::memcpy(entry.data() + mrfs::kHeaderSize, data.data(), size);
        mrfs::store_u32(entry.data() + mrfs::kHeaderSize + size, crc32(entry.data(), mrfs::kHeaderSize + size));
        must(raw.flash.program(at, std::span<const std::byte>(entry.data(), mrfs::kHeaderSize + size + 4)), "program");
        raw_ns.push_back(Tsc::to_ns(Tsc::end() - t0));
        at += entry.size();
      }
      std::map<std::string, std::span<const std::byte>> host;
      for (std::size_t i = 0; i < files; ++i) host[name_of(i)] = s.find(name_of(i))->data();
      Rng rng(round);
      std::vector<std::string> probes;
      for (int i = 0; i < 2000; ++i) probes.push_back(name_of(rng.below(files)));
      for (const auto& n : probes) {
        const auto t0 = Tsc::begin();
        auto f = s.find(n);
        do_not_optimize(f->data().data());
        find_ns.push_back(Tsc::to_ns(Tsc::end() - t0));
      }
      for (const auto& n : probes) {
        const auto t0 = Tsc::begin();
        auto it = host.find(n);
        do_not_optimize(it->second.data());
        map_ns.push_back(Tsc::to_ns(Tsc::end() - t0));
      }
    }
    Fields fo = opts;
    fo.push_back({"files", static_cast<std::int64_t>(files)});
    rec.latency("put", "ferro::mrfs::Store put", opts, "ns", put_ns);
    rec.latency("put", "raw flash program of the entry", opts, "ns", raw_ns);
    rec.latency("find", "ferro::mrfs::Store find", fo, "ns", find_ns);
    rec.latency("find", "std::map<string, span> find", fo, "ns", map_ns);
  }
}

// Steady-state replaces of `files` files of random size, live data about `fill` of the flash.
struct Workload {
  std::size_t files;
  std::size_t max_size;
};

Workload workload_for(double fill) {
  const std::size_t max_size = 1500;  // mean entry about 800 bytes
  const double mean_span = (max_size / 2.0) + mrfs::kHeaderSize + mrfs::kCrcSize + 16;
  return {static_cast<std::size_t>(fill * kSeg * kSegs / mean_span), max_size};
}

void bench_replace_wear(Recorder& rec, const Config& cfg) {
  for (int pct : {25, 50, 75}) {
    const double fill = pct / 100.0;
    const Workload w = workload_for(fill);
    Device d;
    BenchStore s = mount(d.flash);
    Rng rng(pct);
    std::vector<std::size_t> sizes(w.files);
    const auto big = payload(w.max_size, 99);
    for (std::size_t i = 0; i < w.files; ++i) {
      sizes[i] = rng.between(1, w.max_size);
      must(s.put(name_of(i), std::span<const std::byte>(big.data(), sizes[i]), 0), "fill");
    }
    const auto at_fill = s.stat();
    const auto erases_before = d.counts;
    // Replace-heavy: each file rewritten at the same size, uniformly at random, until the
    // flash has been written over many times.
    const std::uint64_t target = static_cast<std::uint64_t>(cfg.scale(40, 6)) * kSeg * kSegs;
    std::vector<double> lat;
    std::uint64_t written = 0;
    const auto user0 = at_fill.user_bytes, prog0 = at_fill.bytes_programmed;
    const std::uint64_t compactions0 = at_fill.compactions;
    Stopwatch sw;
    while (written < target) {
      const std::size_t i = rng.below(w.files);
      const auto t0 = Tsc::begin();
      must(s.put(name_of(i), std::span<const std::byte>(big.data(), sizes[i]), 0), "replace");
      lat.push_back(Tsc::to_ns(Tsc::end() - t0));
      written += sizes[i];
    }
    const double secs = sw.seconds();
    const auto st = s.stat();
    const double wa = static_cast<double>(st.bytes_programmed - prog0) / static_cast<double>(st.user_bytes - user0);
    double sum = 0, mx = 0;
    for (std::uint32_t seg = 0; seg < kSegs; ++seg) {
      const double e = d.counts[seg] - erases_before[seg];
      sum += e;
      mx = std::max(mx, e);
    }
    const double mean = sum / kSegs;
    const double live_fraction = static_cast<double>(st.live_bytes) / (kSeg * kSegs);
    const Fields opts{{"fill", std::to_string(pct) + " %"}};
    const Fields extra{{"files", static_cast<std::int64_t>(w.files)},
                       {"live_fraction", live_fraction},
                       {"compactions", static_cast<std::int64_t>(st.compactions - compactions0)},
                       {"replaces", static_cast<std::int64_t>(lat.size())}};
    rec.latency("replace", "ferro::mrfs::Store put (replace)", opts, "ns", lat, extra);
    rec.throughput("replace throughput", "ferro::mrfs::Store put (replace)", opts, "MB/s", written / secs / 1e6, extra);
    rec.value("write amplification", "ferro::mrfs::Store", opts, "programmed/written", wa, extra);
    rec.value("write amplification", "ideal sliding log 1/(1-u) (analytic)", opts, "programmed/written",
              1.0 / (1.0 - live_fraction));
    rec.value("erase spread", "ferro::mrfs::Store", opts, "max/mean erases", mean > 0 ? mx / mean : 0, extra);
    rec.value("erase spread", "ideal (every segment equally)", opts, "max/mean erases", 1.0);
  }
}

// Compaction time against fill: live files scattered among dead versions, then compact().
void bench_compaction(Recorder& rec, const Config& cfg) {
  for (int pct : {10, 25, 50, 75}) {
    std::vector<double> ms;
    std::vector<double> moved;
    for (int rep = 0; rep < cfg.scale(8, 2); ++rep) {
      Device d;
      BenchStore s = mount(d.flash);
      Rng rng(pct * 100 + rep);
      const Workload w = workload_for(pct / 100.0);
      const auto big = payload(w.max_size, 7);
      std::vector<std::size_t> sizes(w.files);
      for (std::size_t i = 0; i < w.files; ++i) {
        sizes[i] = rng.between(1, w.max_size);
        must(s.put(name_of(i), std::span<const std::byte>(big.data(), sizes[i]), 0), "fill");
      }
      // Replace at random until the next put would have to compact.
      for (;;) {
        const std::size_t i = rng.below(w.files);
        const auto before = s.stat().compactions;
        must(s.put(name_of(i), std::span<const std::byte>(big.data(), sizes[i]), 0), "replace");
        if (s.stat().compactions != before) continue;
        const auto st = s.stat();
        if (st.log_end + 3 * 4096 > st.capacity) break;
      }
      const auto b = s.stat();
      Stopwatch sw;
      must(s.compact(), "compact");
      ms.push_back(sw.seconds() * 1e3);
      moved.push_back(static_cast<double>(s.stat().bytes_programmed - b.bytes_programmed));
    }
    double mean_moved = 0;
    for (double m : moved) mean_moved += m / moved.size();
    rec.latency("compaction", "ferro::mrfs::Store compact", {{"fill", std::to_string(pct) + " %"}}, "ms", ms,
                {{"bytes_moved_mean", mean_moved}});
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = parse_args(argc, argv, "mrfs");
  Recorder rec(cfg, "mrfs");
  if (cfg.wants("put") || cfg.wants("find")) bench_put_find(rec, cfg);
  if (cfg.wants("compaction")) bench_compaction(rec, cfg);
  if (cfg.wants("replace") || cfg.wants("write amplification") || cfg.wants("erase spread")) {
    bench_replace_wear(rec, cfg);
  }
  return 0;
}
