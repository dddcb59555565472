// A FrozenFile written through io_uring instead of pwritev/fdatasync (host only, Linux).
//
// open() returns Errc::unsupported when ferro was built without liburing or the kernel refuses
// to set up a ring (old kernel, io_uring disabled by sysctl or seccomp), so callers pick it at run
// time and fall back to the FrozenFile itself:
//
//   std::unique_ptr<ferro::UringDevice> uring;
//   if (auto u = ferro::UringDevice::open(file)) uring = std::move(*u);
//   ferro::ChunkDevice& device = uring ? static_cast<ferro::ChunkDevice&>(*uring) : file;
//
// Writes and syncs use separate rings, each behind its own mutex, so the pipe's flusher and
// syncer threads never contend for one.
#pragma once

#include <memory>
#include <mutex>

#include "ferro/io/frozen_file.hpp"

namespace ferro {

class UringDevice final : public ChunkDevice {
 public:
  // `file` must outlive the device.
  static Result<std::unique_ptr<UringDevice>> open(FrozenFile& file);
  ~UringDevice() override;
  UringDevice(const UringDevice&) = delete;
  UringDevice& operator=(const UringDevice&) = delete;

  std::size_t chunk_size() const noexcept override { return file_.chunk_size(); }
  std::uint64_t chunk_count() const noexcept override { return file_.chunk_count(); }
  Status write_chunks(std::uint64_t first_chunk, std::span<const std::byte* const> chunks) noexcept override;
  Status sync() noexcept override;  // IORING_OP_FSYNC with IORING_FSYNC_DATASYNC
  Status start_writeback(std::uint64_t first_chunk, std::uint64_t count) noexcept override {
    return file_.sync_range(first_chunk, count);
  }

  // True when this build has io_uring support compiled in (the kernel may still refuse it).
  static bool compiled_in() noexcept;

 private:
  struct Rings;
  UringDevice(FrozenFile& file, std::unique_ptr<Rings> rings) noexcept;
  FrozenFile& file_;
  std::unique_ptr<Rings> rings_;
};

}  // namespace ferro
