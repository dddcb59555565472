// A file as persistent storage (host only): pread/pwrite with EINTR and short-transfer
// handling, fdatasync, and an exclusive lock so that a second opener gets Errc::busy instead of
// two writers corrupting one image. Reopening keeps the contents.
#pragma once

#include <string>

#include "ferro/storage/storage.hpp"

namespace ferro {

class FileStorage {
 public:
  // Opens `path`, creating it with `size` zero bytes when missing. An existing file must have
  // exactly `size` bytes (0 accepts whatever size it has): a mismatch is an error, never a
  // silent truncation.
  static Result<FileStorage> open(const std::string& path, std::uint64_t size);

  FileStorage(FileStorage&& other) noexcept;
  FileStorage& operator=(FileStorage&& other) noexcept;
  FileStorage(const FileStorage&) = delete;
  FileStorage& operator=(const FileStorage&) = delete;
  ~FileStorage();

  Status read(std::uint64_t offset, std::span<std::byte> out) noexcept;
  Status write(std::uint64_t offset, std::span<const std::byte> in) noexcept;
  Status sync() noexcept;  // fdatasync
  std::uint64_t size() const noexcept { return size_; }
  const StorageStats& stats() const noexcept { return stats_; }
  int fd() const noexcept { return fd_; }

 private:
  FileStorage(int fd, std::uint64_t size) noexcept : fd_(fd), size_(size) {}
  void close() noexcept;

  int fd_ = -1;
  std::uint64_t size_ = 0;
  StorageStats stats_{};
};

static_assert(PersistentStorage<FileStorage>);

// A file opened read-write and locked exclusively (flock, without waiting), with its size at
// the time of locking. Every file-backed structure opens through it, so each gets the same
// rule: the lock comes before any size change, and a second opener gets Errc::busy.
struct LockedFile {
  int fd = -1;
  std::uint64_t size = 0;
};
// `create`: make the file when missing (otherwise a missing file is Errc::not_found).
Result<LockedFile> open_locked(const std::string& path, bool create) noexcept;

// Whole-transfer pread/pwrite: retry on EINTR and continue after short transfers. A read that
// meets end-of-file is an error (the caller asked for bytes that are not there). Shared with
// the io layer's chunked file.
Status pread_full(int fd, std::span<std::byte> out, std::uint64_t offset) noexcept;
Status pwrite_full(int fd, std::span<const std::byte> in, std::uint64_t offset) noexcept;

}  // namespace ferro
