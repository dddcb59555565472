#include "bench/bench.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define FERRO_BENCH_HAVE_TSC 1
#endif

namespace ferro::bench {
namespace {

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string json_value(const Value& v) {
  if (auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&v)) return json_number(*d);
  return json_escape(std::get<std::string>(v));
}

std::string json_object(const Fields& fields) {
  std::string out = "{";
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ", ";
    out += json_escape(fields[i].first) + ": " + json_value(fields[i].second);
  }
  return out + "}";
}

std::string options_text(const Fields& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += ' ';
    out += k + '=';
    if (auto* s = std::get_if<std::string>(&v))
      out += *s;
    else
      out += json_value(v);
  }
  return out;
}

std::string read_first_match(const char* path, const char* key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto v = line.substr(colon + 1);
        v.erase(0, v.find_first_not_of(" \t"));
        return v;
      }
    }
  }
  return "unknown";
}

std::string compiler_name() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#else
  return "unknown";
#endif
}

}  // namespace

Config parse_args(int argc, char** argv, std::string_view module) {
  Config c;
  if (const char* q = std::getenv("FERRO_BENCH_QUICK"); q != nullptr && q[0] == '1') c.quick = true;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--quick")
      c.quick = true;
    else if (a == "--out" && i + 1 < argc)
      c.out_path = argv[++i];
    else if (a == "--only" && i + 1 < argc)
      c.only = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--quick] [--out FILE.json] [--only BENCH]\n", argv[0]);
      std::exit(2);
    }
  }
  if (c.out_path.empty()) {
    const char* dir = std::getenv("FERRO_BENCH_DIR");
    c.out_path = std::string(dir ? dir : "build/bench-results") + "/" + std::string(module) + ".json";
  }
  return c;
}

Summary summarize(std::vector<double>& samples) {
  Summary s;
  s.n = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  auto pct = [&](double p) {
    // Nearest-rank percentile: a value that was actually observed.
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(samples.size())));
    rank = std::clamp<std::size_t>(rank, 1, samples.size());
    return samples[rank - 1];
  };
  s.min = samples.front();
  s.p1 = pct(1);
  s.p50 = pct(50);
  s.p90 = pct(90);
  s.p99 = pct(99);
  s.p999 = pct(99.9);
  s.max = samples.back();
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  return s;
}

Recorder::Recorder(const Config& config, std::string_view module) : config_(config), path_(config.out_path) {
  std::filesystem::path p(path_);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  file_ = std::fopen(path_.c_str(), "w");
  if (file_ == nullptr) {
    std::fprintf(stderr, "cannot write %s: %s\n", path_.c_str(), std::strerror(errno));
    std::exit(1);
  }
  std::fputs("[\n", file_);

  utsname u{};
  uname(&u);
  Fields machine = {
      {"record", std::string("machine")},
      {"module", std::string(module)},
      {"cpu", read_first_match("/proc/cpuinfo", "model name")},
      {"cores", static_cast<std::int64_t>(std::thread::hardware_concurrency())},
      {"memory", read_first_match("/proc/meminfo", "MemTotal")},
      {"kernel", std::string(u.sysname) + " " + u.release},
      {"compiler", compiler_name()},
      {"quick", static_cast<std::int64_t>(config_.quick)},
      {"tsc_ns_per_tick", Tsc::ns_per_tick()},
  };
  write_record(json_object(machine));
  std::printf("# %s benchmarks on %s (%u cores)%s -> %s\n", std::string(module).c_str(),
              read_first_match("/proc/cpuinfo", "model name").c_str(), std::thread::hardware_concurrency(),
              config_.quick ? " [quick]" : "", path_.c_str());
}

Recorder::~Recorder() {
  std::fputs("\n]\n", file_);
  std::fclose(file_);
}

void Recorder::write_record(const std::string& body) {
  if (!first_) std::fputs(",\n", file_);
  first_ = false;
  std::fputs(body.c_str(), file_);
  std::fflush(file_);
}

void Recorder::latency(std::string_view bench, std::string_view subject, const Fields& options, std::string_view unit,
                       std::vector<double>& samples, const Fields& extra) {
  const Summary s = summarize(samples);
  Fields f = {{"record", std::string("bench")},
              {"bench", std::string(bench)},
              {"subject", std::string(subject)},
              {"unit", std::string(unit)},
              {"n", static_cast<std::int64_t>(s.n)},
              {"min", s.min},
              {"p1", s.p1},
              {"p50", s.p50},
              {"p90", s.p90},
              {"p99", s.p99},
              {"p999", s.p999},
              {"max", s.max},
              {"mean", s.mean}};
  f.insert(f.end(), extra.begin(), extra.end());
  std::string body = json_object(f);
  body.pop_back();
  body += ", \"options\": " + json_object(options) + "}";
  write_record(body);
  std::printf("%-28s %-32s %-36s p50 %10.1f  p99 %10.1f  p99.9 %10.1f  max %12.1f %s\n", std::string(bench).c_str(),
              std::string(subject).c_str(), options_text(options).c_str(), s.p50, s.p99, s.p999, s.max,
              std::string(unit).c_str());
  std::fflush(stdout);
}

void Recorder::throughput(std::string_view bench, std::string_view subject, const Fields& options,
                          std::string_view unit, double value, const Fields& extra) {
  Fields f = {{"record", std::string("bench")},
              {"bench", std::string(bench)},
              {"subject", std::string(subject)},
              {"unit", std::string(unit)},
              {"value", value}};
  f.insert(f.end(), extra.begin(), extra.end());
  std::string body = json_object(f);
  body.pop_back();
  body += ", \"options\": " + json_object(options) + "}";
  write_record(body);
  std::printf("%-28s %-32s %-36s %14.4g %s\n", std::string(bench).c_str(), std::string(subject).c_str(),
              options_text(options).c_str(), value, std::string(unit).c_str());
  std::fflush(stdout);
}

#ifdef FERRO_BENCH_HAVE_TSC
std::uint64_t Tsc::begin() noexcept {
  _mm_lfence();
  const std::uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}
std::uint64_t Tsc::end() noexcept {
  unsigned aux;
  const std::uint64_t t = __rdtscp(&aux);
  _mm_lfence();
  return t;
}
#else
std::uint64_t Tsc::begin() noexcept {
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}
std::uint64_t Tsc::end() noexcept { return begin(); }
#endif

double Tsc::ns_per_tick() {
  static const double value = [] {
    const auto t0 = std::chrono::steady_clock::now();
    const auto c0 = begin();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(20)) {
    }
    const auto c1 = end();
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(c1 - c0);
  }();
  return value;
}

void pretouch(void* p, std::size_t n) {
  auto* bytes = static_cast<volatile unsigned char*>(p);
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  for (std::size_t i = 0; i < n; i += page) bytes[i] = 0;
}

LinearFit fit_line(const std::vector<double>& x, const std::vector<double>& y) {
  const auto n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  const double slope = sxx > 0 ? sxy / sxx : 0;
  const double r2 = (sxx > 0 && syy > 0) ? (sxy * sxy) / (sxx * syy) : 1.0;
  return {my - slope * mx, slope, r2};
}

}  // namespace ferro::bench
