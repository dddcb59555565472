// The seam between the write pipeline and the medium it writes to: a device addressed in
// fixed-size chunks. FrozenFile is the real one; tests put a fault-injecting device behind the
// same interface to make a write or a sync fail on demand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ferro/core/result.hpp"

namespace ferro {

class ChunkDevice {
 public:
  virtual ~ChunkDevice() = default;

  virtual std::size_t chunk_size() const noexcept = 0;
  // May grow while the device is in use; never shrinks.
  virtual std::uint64_t chunk_count() const noexcept = 0;
  // Writes chunks.size() whole chunks (each pointer addresses chunk_size() bytes) to the
  // consecutive chunks that start at `first_chunk`, all or an error.
  virtual Status write_chunks(std::uint64_t first_chunk, std::span<const std::byte* const> chunks) noexcept = 0;
  // Makes every write that returned before this call durable (fdatasync for a file).
  virtual Status sync() noexcept = 0;
  // A hint that [first_chunk, first_chunk + count) will be synced soon; durability still
  // needs sync().
  virtual Status start_writeback(std::uint64_t first_chunk, std::uint64_t count) noexcept {
    (void)first_chunk;
    (void)count;
    return ok();
  }

 protected:
  ChunkDevice() = default;
  ChunkDevice(const ChunkDevice&) = default;
  ChunkDevice& operator=(const ChunkDevice&) = default;
};

}  // namespace ferro
