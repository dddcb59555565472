// The benchmark contract: every benchmark program measures, then writes JSON records to
// build/bench-results/<module>.json (or the path given with --out), which bench/report.py
// turns into docs/benchmarks.md and plots.
//
// A record is one measured case:
//   {"record": "bench", "bench": "...", "subject": "ferro::TlsfAllocator", "options": {...},
//    "unit": "ns", "n": ..., "p1", "p50", "p90", "p99", "p999", "max", "mean", "min"}   latency
//   {"record": "bench", ..., "unit": "ops/s", "value": ...}                            throughput
// and each file starts with one {"record": "machine", ...} naming where it ran.
//
// Timing: `Tsc` reads the time-stamp counter fenced on both sides (lfence; rdtsc ... rdtscp;
// lfence), calibrated against steady_clock, for per-operation latencies; `Stopwatch` uses
// steady_clock for longer spans.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ferro::bench {

// An options or extra-field value: a number or a string.
using Value = std::variant<std::int64_t, double, std::string>;
using Fields = std::vector<std::pair<std::string, Value>>;

struct Config {
  bool quick = false;    // --quick: shorter runs, same cases
  std::string out_path;  // --out PATH (default build/bench-results/<module>.json)
  std::string only;      // --only SUBSTR: run only benches whose name contains it
  bool wants(std::string_view bench) const { return only.empty() || bench.find(only) != std::string_view::npos; }
  // Picks the full or quick size of a loop.
  template <class T>
  T scale(T full, T quick_value) const {
    return quick ? quick_value : full;
  }
};

Config parse_args(int argc, char** argv, std::string_view module);

struct Summary {
  std::size_t n = 0;
  double min = 0, p1 = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
};

// Sorts `samples` in place and summarises them.
Summary summarize(std::vector<double>& samples);

// Writes records as they come (so a crash mid-run keeps what was measured) and closes the JSON
// array at destruction. Also prints one readable line per record to stdout.
class Recorder {
 public:
  Recorder(const Config& config, std::string_view module);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  void latency(std::string_view bench, std::string_view subject, const Fields& options, std::string_view unit,
               std::vector<double>& samples, const Fields& extra = {});
  void throughput(std::string_view bench, std::string_view subject, const Fields& options, std::string_view unit,
                  double value, const Fields& extra = {});
  // A single measured quantity that is neither (a ratio, an efficiency, a byte count).
  void value(std::string_view bench, std::string_view subject, const Fields& options, std::string_view unit,
             double value, const Fields& extra = {}) {
    throughput(bench, subject, options, unit, value, extra);
  }

  const Config& config() const { return config_; }

 private:
  void write_record(const std::string& body);
  Config config_;
  std::string path_;
  std::FILE* file_ = nullptr;
  bool first_ = true;
};

// Fenced time-stamp counter reads. On non-x86 targets they fall back to steady_clock ticks.
struct Tsc {
  static std::uint64_t begin() noexcept;
  static std::uint64_t end() noexcept;
  // Nanoseconds per tick, measured once (about 20 ms) on first use.
  static double ns_per_tick();
  static double to_ns(std::uint64_t ticks) { return static_cast<double>(ticks) * ns_per_tick(); }
};

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  double ns() const { return seconds() * 1e9; }
  void restart() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Keeps the optimiser from deleting a computation whose result is otherwise unused.
template <class T>
inline void do_not_optimize(T const& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

// Writes every page of [p, p + n) so page faults are not timed.
void pretouch(void* p, std::size_t n);

// Least-squares fit y = a + b x; returns {a, b, r_squared}.
struct LinearFit {
  double intercept, slope, r2;
};
LinearFit fit_line(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace ferro::bench
