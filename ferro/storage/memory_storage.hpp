// RAM standing in for FRAM: a caller-given byte region (no heap), with an optional latency model
// so that benchmarks see a device's cost rather than memcpy's.
#pragma once

#include <cstring>

#include "ferro/storage/storage.hpp"

namespace ferro {

// Cost of one transfer: fixed_ns + per_byte_ns * bytes. Time is always accumulated in
// simulated_ns(); when `delay` is set it is also spent for real (a host benchmark passes a
// spin-wait; firmware leaves it null).
struct LatencyModel {
  std::uint64_t fixed_ns = 0;
  double per_byte_ns = 0;
  void (*delay)(std::uint64_t ns) = nullptr;

  // A typical SPI FRAM at 20 MHz: ~5 us command overhead, 8 bits per byte at 50 ns each.
  static constexpr LatencyModel spi_fram() noexcept { return {5000, 400.0, nullptr}; }
};

class MemoryStorage {
 public:
  explicit MemoryStorage(std::span<std::byte> region, LatencyModel latency = {}) noexcept
      : region_(region), latency_(latency) {}

  Status read(std::uint64_t offset, std::span<std::byte> out) noexcept {
    FERRO_TRY(check_range(offset, out.size(), region_.size()));
    if (!out.empty()) std::memcpy(out.data(), region_.data() + offset, out.size());
    ++stats_.reads;
    stats_.bytes_read += out.size();
    charge(out.size());
    return ok();
  }

  Status write(std::uint64_t offset, std::span<const std::byte> in) noexcept {
    FERRO_TRY(check_range(offset, in.size(), region_.size()));
    if (!in.empty()) std::memcpy(region_.data() + offset, in.data(), in.size());
    ++stats_.writes;
    stats_.bytes_written += in.size();
    charge(in.size());
    return ok();
  }

  Status sync() noexcept {
    ++stats_.syncs;
    return ok();
  }

  std::uint64_t size() const noexcept { return region_.size(); }
  std::span<const std::byte> contents() const noexcept { return region_; }
  const StorageStats& stats() const noexcept { return stats_; }
  std::uint64_t simulated_ns() const noexcept { return simulated_ns_; }
  void reset_stats() noexcept {
    stats_ = {};
    simulated_ns_ = 0;
  }

 private:
  void charge(std::size_t bytes) noexcept {
    if (latency_.fixed_ns == 0 && latency_.per_byte_ns == 0) return;
    const auto ns = latency_.fixed_ns + static_cast<std::uint64_t>(latency_.per_byte_ns * static_cast<double>(bytes));
    simulated_ns_ += ns;
    if (latency_.delay != nullptr) latency_.delay(ns);
  }

  std::span<std::byte> region_;
  LatencyModel latency_;
  StorageStats stats_{};
  std::uint64_t simulated_ns_ = 0;
};

static_assert(PersistentStorage<MemoryStorage>);

}  // namespace ferro
