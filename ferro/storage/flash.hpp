// NOR flash: the medium MRFS is written for.
//
// A FlashDevice is split into equal segments (erase blocks). Erasing a segment sets every byte
// to 0xFF; programming may only turn 1 bits into 0, in units of program_size() bytes at aligned
// offsets. Its contents can be read in place through view(), as memory-mapped flash is.
//
// EmulatedFlash enforces those rules over a caller-given image (no heap), counts erases per
// segment, and can lose power at the Nth program or erase: the interrupted program leaves a
// torn prefix (the last byte only partly programmed), the interrupted erase leaves the segment
// half-erased (some bytes 0xFF, some old, some in between). After a cut every call fails with
// Errc::power_loss until power_on().
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "ferro/core/random.hpp"
#include "ferro/core/result.hpp"

namespace ferro {

template <class F>
concept FlashDevice = requires(F& f, const F& cf, std::uint32_t segment, std::uint64_t offset, std::span<std::byte> out,
                               std::span<const std::byte> in) {
  { cf.segment_size() } -> std::convertible_to<std::uint32_t>;
  { cf.segment_count() } -> std::convertible_to<std::uint32_t>;
  { cf.program_size() } -> std::convertible_to<std::uint32_t>;
  { cf.size() } -> std::convertible_to<std::uint64_t>;
  { f.read(offset, out) } -> std::same_as<Status>;
  { f.program(offset, in) } -> std::same_as<Status>;
  { f.erase(segment) } -> std::same_as<Status>;
  { cf.erase_count(segment) } -> std::convertible_to<std::uint32_t>;
  { cf.view() } -> std::convertible_to<std::span<const std::byte>>;
};

struct FlashGeometry {
  std::uint32_t segment_size = 4096;
  std::uint32_t segment_count = 16;
  std::uint32_t program_size = 1;  // bytes per program unit (1 for byte-programmable NOR)

  constexpr std::uint64_t bytes() const noexcept { return static_cast<std::uint64_t>(segment_size) * segment_count; }
  // Segment size a power of two and a multiple of program_size, at least one segment.
  Status validate() const noexcept;
};

struct FlashFaultPlan {
  std::uint64_t cut_at_op = 0;      // power fails during the Nth program or erase (1-based; 0 never)
  std::uint32_t power_cut_ppm = 0;  // or at random, per program or erase
  std::uint64_t seed = 1;           // shapes torn programs and half-erased segments
};

struct FlashStats {
  std::uint64_t programs = 0;
  std::uint64_t erases = 0;
  std::uint64_t bytes_programmed = 0;
  std::uint64_t bytes_read = 0;
};

class EmulatedFlash {
 public:
  // `image` holds geometry.bytes() bytes; `erase_counts` one counter per segment. Both outlive
  // the device (a file-backed image keeps them across runs, see FileFlash). The image is taken
  // as it is: a fresh one should be erased first (erase_all()).
  EmulatedFlash(FlashGeometry geometry, std::span<std::byte> image, std::span<std::uint32_t> erase_counts,
                FlashFaultPlan plan = {}) noexcept;

  std::uint32_t segment_size() const noexcept { return geometry_.segment_size; }
  std::uint32_t segment_count() const noexcept { return geometry_.segment_count; }
  std::uint32_t program_size() const noexcept { return geometry_.program_size; }
  std::uint64_t size() const noexcept { return geometry_.bytes(); }
  const FlashGeometry& geometry() const noexcept { return geometry_; }

  Status read(std::uint64_t offset, std::span<std::byte> out) noexcept;
  // Rejects, before changing anything, a program that is misaligned, out of range, or would set
  // a 0 bit to 1.
  Status program(std::uint64_t offset, std::span<const std::byte> in) noexcept;
  Status erase(std::uint32_t segment) noexcept;
  Status erase_all() noexcept;

  std::uint32_t erase_count(std::uint32_t segment) const noexcept {
    return segment < geometry_.segment_count ? erase_counts_[segment] : 0;
  }
  std::span<const std::byte> view() const noexcept { return image_; }
  const FlashStats& stats() const noexcept { return stats_; }

  void power_on() noexcept { powered_ = true; }
  bool powered() const noexcept { return powered_; }
  std::uint64_t ops() const noexcept { return ops_; }  // programs + erases attempted
  std::uint64_t cuts() const noexcept { return cuts_; }
  void set_plan(FlashFaultPlan plan) noexcept {
    plan_ = plan;
    rng_ = Rng(plan.seed);
    ops_ = 0;
  }

 private:
  bool should_cut() noexcept;
  Status lose_power() noexcept;

  FlashGeometry geometry_;
  std::span<std::byte> image_;
  std::span<std::uint32_t> erase_counts_;
  FlashFaultPlan plan_;
  Rng rng_;
  FlashStats stats_{};
  std::uint64_t ops_ = 0;
  std::uint64_t cuts_ = 0;
  bool powered_ = true;
};

static_assert(FlashDevice<EmulatedFlash>);

// An EmulatedFlash with its image and counters inside, sized at compile time: no heap.
template <std::uint32_t SegmentSize, std::uint32_t SegmentCount, std::uint32_t ProgramSize = 1>
class StaticFlash : public EmulatedFlash {
 public:
  explicit StaticFlash(FlashFaultPlan plan = {}) noexcept
      : EmulatedFlash({SegmentSize, SegmentCount, ProgramSize}, image_, counts_, plan) {
    std::memset(image_, 0xFF, sizeof image_);  // as shipped from the factory: erased, never worn
  }

 private:
  alignas(32) std::byte image_[std::size_t{SegmentSize} * SegmentCount];
  std::uint32_t counts_[SegmentCount]{};
};

}  // namespace ferro
