// A file addressed in fixed-size chunks (host only). Opening takes an exclusive lock (a second
// opener gets Errc::busy), reopening keeps the contents, and a file whose length is not a whole
// number of chunks is reported corrupt rather than truncated. Every transfer is whole: EINTR
// and short reads or writes are retried until all bytes have moved.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "ferro/core/result.hpp"
#include "ferro/io/chunk_device.hpp"

namespace ferro {

struct FrozenFileConfig {
  std::string path;
  std::size_t chunk_size = 4096;
  // A new file is created with this many zeroed chunks; a shorter existing one is grown to it.
  std::uint64_t initial_chunks = 0;
};

class FrozenFile final : public ChunkDevice {
 public:
  static Result<FrozenFile> open(const FrozenFileConfig& config);

  FrozenFile(FrozenFile&& other) noexcept;
  FrozenFile& operator=(FrozenFile&& other) noexcept;
  FrozenFile(const FrozenFile&) = delete;
  FrozenFile& operator=(const FrozenFile&) = delete;
  ~FrozenFile() override;

  std::size_t chunk_size() const noexcept override { return chunk_size_; }
  std::uint64_t chunk_count() const noexcept override {
    // Acquire pairs with grow()'s release: a reader that sees the new count also sees the
    // space allocated for it.
    return chunk_count_.load(std::memory_order_acquire);
  }
  int fd() const noexcept { return fd_; }

  // `bytes` must be a whole number of chunks, inside the file.
  Status pread(std::uint64_t first_chunk, std::span<std::byte> bytes) const noexcept;
  Status pwrite(std::uint64_t first_chunk, std::span<const std::byte> bytes) noexcept;
  // One chunk per pointer, to consecutive chunks.
  Status preadv(std::uint64_t first_chunk, std::span<std::byte* const> chunks) const noexcept;
  Status pwritev(std::uint64_t first_chunk, std::span<const std::byte* const> chunks) noexcept;

  // Adds `more` zeroed chunks at the end (fallocate, or ftruncate where unsupported). Not safe
  // against a concurrent grow(); safe against concurrent reads and writes of existing chunks.
  Status grow(std::uint64_t more) noexcept;
  Status sync() noexcept override;  // fdatasync
  // Starts write-back of a range (sync_file_range) so that the next sync() has less to do.
  Status sync_range(std::uint64_t first_chunk, std::uint64_t count) noexcept;

  Status write_chunks(std::uint64_t first_chunk, std::span<const std::byte* const> chunks) noexcept override {
    return pwritev(first_chunk, chunks);
  }
  Status start_writeback(std::uint64_t first_chunk, std::uint64_t count) noexcept override {
    return sync_range(first_chunk, count);
  }

 private:
  FrozenFile(int fd, std::size_t chunk_size, std::uint64_t chunks) noexcept
      : fd_(fd), chunk_size_(chunk_size), chunk_count_(chunks) {}
  Status check(std::uint64_t first_chunk, std::uint64_t count) const noexcept;
  void close() noexcept;

  int fd_ = -1;
  std::size_t chunk_size_ = 0;
  std::atomic<std::uint64_t> chunk_count_{0};
};

}  // namespace ferro
