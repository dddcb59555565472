// Splits every transfer into pieces of at most N bytes, as an SPI FRAM driver with an N-byte
// transfer buffer does (the vNVHeap seed's Zephyr driver moves 4 bytes at a time). Wraps any
// storage by reference.
#pragma once

#include <algorithm>

#include "ferro/storage/storage.hpp"

namespace ferro {

template <std::size_t N, PersistentStorage Inner>
class SlicedStorage {
  static_assert(N > 0, "a transfer moves at least one byte");

 public:
  explicit SlicedStorage(Inner& inner) noexcept : inner_(&inner) {}

  Status read(std::uint64_t offset, std::span<std::byte> out) noexcept {
    FERRO_TRY(check_range(offset, out.size(), size()));
    for (std::size_t done = 0; done < out.size(); done += N) {
      const std::size_t n = std::min(N, out.size() - done);
      FERRO_TRY(inner_->read(offset + done, out.subspan(done, n)));
      ++transfers_;
    }
    return ok();
  }

  Status write(std::uint64_t offset, std::span<const std::byte> in) noexcept {
    FERRO_TRY(check_range(offset, in.size(), size()));
    for (std::size_t done = 0; done < in.size(); done += N) {
      const std::size_t n = std::min(N, in.size() - done);
      FERRO_TRY(inner_->write(offset + done, in.subspan(done, n)));
      ++transfers_;
    }
    return ok();
  }

  Status sync() noexcept { return inner_->sync(); }
  std::uint64_t size() const noexcept { return inner_->size(); }
  std::uint64_t transfers() const noexcept { return transfers_; }
  Inner& inner() noexcept { return *inner_; }

 private:
  Inner* inner_;
  std::uint64_t transfers_ = 0;
};

}  // namespace ferro
