#include "ferro/storage/flash.hpp"

#include <cstring>

#include "ferro/core/bits.hpp"

namespace ferro {

Status FlashGeometry::validate() const noexcept {
  if (segment_count == 0) return make_error(Errc::invalid_argument, "flash needs at least one segment");
  if (!is_pow2(segment_size)) return make_error(Errc::invalid_argument, "segment size must be a power of two");
  if (program_size == 0 || !is_pow2(program_size) || program_size > segment_size) {
    return make_error(Errc::invalid_argument, "program size must be a power of two no larger than a segment");
  }
  return ok();
}

EmulatedFlash::EmulatedFlash(FlashGeometry geometry, std::span<std::byte> image, std::span<std::uint32_t> erase_counts,
                             FlashFaultPlan plan) noexcept
    : geometry_(geometry), image_(image), erase_counts_(erase_counts), plan_(plan), rng_(plan.seed) {
  FERRO_CHECK(geometry.validate().has_value(), "invalid flash geometry");
  FERRO_CHECK(image.size() == geometry.bytes(), "flash image size does not match its geometry");
  FERRO_CHECK(erase_counts.size() == geometry.segment_count, "one erase counter per segment");
}

bool EmulatedFlash::should_cut() noexcept {
  ++ops_;
  if (ops_ == plan_.cut_at_op) return true;
  return plan_.power_cut_ppm != 0 && rng_.below(1'000'000) < plan_.power_cut_ppm;
}

Status EmulatedFlash::lose_power() noexcept {
  powered_ = false;
  ++cuts_;
  return make_error(Errc::power_loss, "flash lost power");
}

Status EmulatedFlash::read(std::uint64_t offset, std::span<std::byte> out) noexcept {
  if (!powered_) return make_error(Errc::power_loss, "flash has no power");
  if (!range_fits(offset, out.size(), size())) return make_error(Errc::out_of_range, "flash read out of range");
  if (!out.empty()) std::memcpy(out.data(), image_.data() + offset, out.size());
  stats_.bytes_read += out.size();
  return ok();
}

Status EmulatedFlash::program(std::uint64_t offset, std::span<const std::byte> in) noexcept {
  if (!powered_) return make_error(Errc::power_loss, "flash has no power");
  if (!range_fits(offset, in.size(), size())) return make_error(Errc::out_of_range, "flash program out of range");
  const std::uint64_t unit = geometry_.program_size;
  if (offset % unit != 0 || in.size() % unit != 0) {
    return make_error(Errc::invalid_argument, "flash program not aligned to the program size");
  }
  std::byte* dst = image_.data() + offset;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if ((dst[i] & in[i]) != in[i]) return make_error(Errc::invalid_argument, "flash program would set a 0 bit to 1");
  }
  if (should_cut()) {
    // A torn program: a prefix lands, and the byte where power failed is only partly programmed.
    const auto landed = static_cast<std::size_t>(rng_.below(in.size() + 1));
    for (std::size_t i = 0; i < landed; ++i) dst[i] &= in[i];
    if (landed < in.size()) {
      const auto partial = static_cast<std::byte>(rng_());
      dst[landed] &= (in[landed] | partial);
    }
    stats_.bytes_programmed += landed;
    return lose_power();
  }
  for (std::size_t i = 0; i < in.size(); ++i) dst[i] &= in[i];
  ++stats_.programs;
  stats_.bytes_programmed += in.size();
  return ok();
}

Status EmulatedFlash::erase(std::uint32_t segment) noexcept {
  if (!powered_) return make_error(Errc::power_loss, "flash has no power");
  if (segment >= geometry_.segment_count) return make_error(Errc::out_of_range, "no such flash segment");
  std::byte* seg = image_.data() + std::size_t{segment} * geometry_.segment_size;
  ++erase_counts_[segment];  // an interrupted erase still wears the cells
  if (should_cut()) {
    // A half-erased segment: some bytes reached 0xFF, some kept their old value, some are in
    // between (bits partly set).
    for (std::size_t i = 0; i < geometry_.segment_size; ++i) {
      switch (rng_.below(4)) {
        case 0:
        case 1:
          seg[i] = std::byte{0xFF};
          break;
        case 2:
          break;
        default:
          seg[i] |= static_cast<std::byte>(rng_());
          break;
      }
    }
    return lose_power();
  }
  std::memset(seg, 0xFF, geometry_.segment_size);
  ++stats_.erases;
  return ok();
}

Status EmulatedFlash::erase_all() noexcept {
  for (std::uint32_t s = 0; s < geometry_.segment_count; ++s) FERRO_TRY(erase(s));
  return ok();
}

}  // namespace ferro
