// Wraps any storage and injects the failures a real device has: a power cut in the middle of a
// write (a torn write: only a prefix reaches the medium), read, write and sync errors. Faults
// come from a plan (exact operation or byte numbers, for exhaustive littlefs-style tests) or at
// random from a seed (for soak tests). After a power cut every call fails with
// Errc::power_loss until power_on(), as a device that has lost power until it is reopened.
#pragma once

#include <algorithm>

#include "ferro/core/random.hpp"
#include "ferro/storage/storage.hpp"

namespace ferro {

struct FaultPlan {
  // How much of the write that a power cut interrupts reaches the medium.
  enum class Torn : std::uint8_t {
    nothing,  // the write is lost whole
    half,     // the first half (rounded down)
    random,   // a random prefix, from `seed`
  };

  // 0 means never. Numbers count from 1: cut_at_write = 3 lets two writes complete and cuts
  // power during the third.
  std::uint64_t cut_at_write = 0;
  Torn torn = Torn::nothing;
  // Byte granularity: power fails once this many bytes have been written in all; the write that
  // crosses the line lands exactly up to it. 0 means never.
  std::uint64_t cut_after_bytes = 0;

  std::uint64_t fail_read_at = 0;   // the Nth read fails with io_error (the device stays up)
  std::uint64_t fail_write_at = 0;  // the Nth write fails with io_error and writes nothing
  std::uint64_t fail_sync_at = 0;   // the Nth sync fails with io_error

  // Random faults, in parts per million per call, drawn from `seed`.
  std::uint64_t seed = 1;
  std::uint32_t read_error_ppm = 0;
  std::uint32_t write_error_ppm = 0;
  std::uint32_t sync_error_ppm = 0;
  std::uint32_t power_cut_ppm = 0;  // per write; the cut write is torn as `torn` says
};

template <PersistentStorage Inner>
class FaultStorage {
 public:
  explicit FaultStorage(Inner& inner, FaultPlan plan = {}) noexcept : inner_(&inner), plan_(plan), rng_(plan.seed) {}

  Status read(std::uint64_t offset, std::span<std::byte> out) noexcept {
    FERRO_TRY(check_powered());
    FERRO_TRY(check_range(offset, out.size(), size()));
    ++reads_;
    if (reads_ == plan_.fail_read_at || roll(plan_.read_error_ppm)) {
      return make_error(Errc::io_error, "injected read error");
    }
    return inner_->read(offset, out);
  }

  Status write(std::uint64_t offset, std::span<const std::byte> in) noexcept {
    FERRO_TRY(check_powered());
    FERRO_TRY(check_range(offset, in.size(), size()));
    ++writes_;
    if (writes_ == plan_.fail_write_at || roll(plan_.write_error_ppm)) {
      return make_error(Errc::io_error, "injected write error");
    }
    if (writes_ == plan_.cut_at_write || roll(plan_.power_cut_ppm)) {
      return cut(offset, in.first(torn_length(in.size())));
    }
    if (plan_.cut_after_bytes != 0 && bytes_written_ < plan_.cut_after_bytes &&
        bytes_written_ + in.size() >= plan_.cut_after_bytes) {
      // The write that reaches the line lands up to it (possibly whole) and is not acknowledged.
      return cut(offset, in.first(static_cast<std::size_t>(plan_.cut_after_bytes - bytes_written_)));
    }
    FERRO_TRY(inner_->write(offset, in));
    bytes_written_ += in.size();
    return ok();
  }

  Status sync() noexcept {
    FERRO_TRY(check_powered());
    ++syncs_;
    if (syncs_ == plan_.fail_sync_at || roll(plan_.sync_error_ppm)) {
      return make_error(Errc::io_error, "injected sync error");
    }
    return inner_->sync();
  }

  std::uint64_t size() const noexcept { return inner_->size(); }

  // Power returns: calls work again; the plan's one-shot faults have fired and stay spent.
  void power_on() noexcept { powered_ = true; }
  // Replaces the plan and restarts the counters, keeping the power state.
  void set_plan(FaultPlan plan) noexcept {
    plan_ = plan;
    rng_ = Rng(plan.seed);
    reads_ = writes_ = syncs_ = bytes_written_ = 0;
  }

  bool powered() const noexcept { return powered_; }
  bool power_was_cut() const noexcept { return cuts_ > 0; }
  std::uint64_t cuts() const noexcept { return cuts_; }
  std::uint64_t writes() const noexcept { return writes_; }
  std::uint64_t bytes_written() const noexcept { return bytes_written_; }
  Inner& inner() noexcept { return *inner_; }

 private:
  Status check_powered() const noexcept {
    if (!powered_) return make_error(Errc::power_loss, "storage has lost power");
    return ok();
  }

  bool roll(std::uint32_t ppm) noexcept { return ppm != 0 && rng_.below(1'000'000) < ppm; }

  std::size_t torn_length(std::size_t n) noexcept {
    switch (plan_.torn) {
      case FaultPlan::Torn::nothing:
        return 0;
      case FaultPlan::Torn::half:
        return n / 2;
      case FaultPlan::Torn::random:
        return static_cast<std::size_t>(rng_.below(n + 1));
    }
    return 0;
  }

  Status cut(std::uint64_t offset, std::span<const std::byte> prefix) noexcept {
    if (!prefix.empty()) (void)inner_->write(offset, prefix);
    bytes_written_ += prefix.size();
    powered_ = false;
    ++cuts_;
    return make_error(Errc::power_loss, "power cut during write");
  }

  Inner* inner_;
  FaultPlan plan_;
  Rng rng_;
  bool powered_ = true;
  std::uint64_t cuts_ = 0;
  std::uint64_t reads_ = 0;
  std::uint64_t writes_ = 0;
  std::uint64_t syncs_ = 0;
  std::uint64_t bytes_written_ = 0;
};

}  // namespace ferro
