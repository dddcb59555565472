#include "ferro/io/frozen_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "ferro/core/bits.hpp"
#include "ferro/storage/file_storage.hpp"

namespace ferro {
namespace {

// iovecs handed to the kernel per call: small enough for the stack, and far below IOV_MAX.
constexpr std::size_t kIovBatch = 64;

enum class Direction { read, write };

// Moves every byte described by `iov` (modified in place), retrying on EINTR and resuming
// after short transfers.
Status transfer_all(int fd, Direction dir, iovec* iov, std::size_t count, std::uint64_t offset) noexcept {
  while (count > 0) {
    const int n = static_cast<int>(count < kIovBatch ? count : kIovBatch);
    const ssize_t done = dir == Direction::read ? ::preadv(fd, iov, n, static_cast<off_t>(offset))
                                                : ::pwritev(fd, iov, n, static_cast<off_t>(offset));
    if (done < 0) {
      if (errno == EINTR) continue;
      if (dir == Direction::write && errno == ENOSPC) return make_error(Errc::no_space, "pwritev: no space left");
      return make_error(Errc::io_error, dir == Direction::read ? "preadv failed" : "pwritev failed");
    }
    if (done == 0 && dir == Direction::read) return make_error(Errc::io_error, "preadv met end of file");
    offset += static_cast<std::uint64_t>(done);
    auto left = static_cast<std::size_t>(done);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (left > 0) {  // a short transfer stopped inside this buffer
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return ok();
}

template <class Ptr>
Status vectored(int fd, Direction dir, std::span<Ptr const> chunks, std::size_t chunk_size,
                std::uint64_t offset) noexcept {
  iovec iov[kIovBatch];
  while (!chunks.empty()) {
    const std::size_t n = chunks.size() < kIovBatch ? chunks.size() : kIovBatch;
    for (std::size_t i = 0; i < n; ++i) {
      // pwritev takes non-const bases; the kernel only reads them for a write.
      iov[i].iov_base = const_cast<std::byte*>(chunks[i]);
      iov[i].iov_len = chunk_size;
    }
    FERRO_TRY(transfer_all(fd, dir, iov, n, offset));
    offset += static_cast<std::uint64_t>(n) * chunk_size;
    chunks = chunks.subspan(n);
  }
  return ok();
}

Status allocate_range(int fd, std::uint64_t from, std::uint64_t length) noexcept {
  if (length == 0) return ok();
  int rc;
  do {
    rc = ::fallocate(fd, 0, static_cast<off_t>(from), static_cast<off_t>(length));
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) return ok();
  if (errno == ENOSPC) return make_error(Errc::no_space, "fallocate: no space left");
  if (errno != EOPNOTSUPP && errno != ENOSYS) return make_error(Errc::io_error, "fallocate failed");
  // The file system cannot reserve blocks (tmpfs on old kernels, some network file systems):
  // a sparse extension still gives zeroed chunks.
  do {
    rc = ::ftruncate(fd, static_cast<off_t>(from + length));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return make_error(Errc::io_error, "ftruncate failed");
  return ok();
}

}  // namespace

Result<FrozenFile> FrozenFile::open(const FrozenFileConfig& config) {
  if (config.chunk_size == 0) return make_error(Errc::invalid_argument, "chunk size must be positive");
  const auto initial_bytes = checked_mul<std::uint64_t>(config.initial_chunks, config.chunk_size);
  if (!initial_bytes || *initial_bytes > static_cast<std::uint64_t>(INT64_MAX)) {
    return make_error(Errc::invalid_argument, "initial chunk count overflows the file size");
  }
  // Locked before any size change, so a second opener can never resize a live file.
  FERRO_TRY_ASSIGN(const LockedFile file, open_locked(config.path, /*create=*/true));
  const int fd = file.fd;
  const std::uint64_t existing = file.size;
  if (existing % config.chunk_size != 0) {
    ::close(fd);
    return make_error(Errc::corrupt, "file length is not a whole number of chunks");
  }
  if (existing < *initial_bytes) {
    if (auto s = allocate_range(fd, existing, *initial_bytes - existing); !s) {
      ::close(fd);
      return s.error();
    }
  }
  const std::uint64_t bytes = existing < *initial_bytes ? *initial_bytes : existing;
  return FrozenFile(fd, config.chunk_size, bytes / config.chunk_size);
}

FrozenFile::FrozenFile(FrozenFile&& other) noexcept
    : ChunkDevice(other),
      fd_(std::exchange(other.fd_, -1)),
      chunk_size_(other.chunk_size_),
      chunk_count_(other.chunk_count_.load(std::memory_order_relaxed)) {}  // a move has no concurrent users

FrozenFile& FrozenFile::operator=(FrozenFile&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    chunk_size_ = other.chunk_size_;
    chunk_count_.store(other.chunk_count_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  return *this;
}

FrozenFile::~FrozenFile() { close(); }

void FrozenFile::close() noexcept {
  if (fd_ >= 0) ::close(fd_);  // also drops the flock
  fd_ = -1;
}

Status FrozenFile::check(std::uint64_t first_chunk, std::uint64_t count) const noexcept {
  if (fd_ < 0) return make_error(Errc::closed, "chunked file is closed");
  if (!range_fits(first_chunk, count, chunk_count())) return make_error(Errc::out_of_range, "chunk beyond the end");
  return ok();
}

Status FrozenFile::pread(std::uint64_t first_chunk, std::span<std::byte> bytes) const noexcept {
  if (bytes.size() % chunk_size_ != 0) return make_error(Errc::invalid_argument, "not a whole number of chunks");
  FERRO_TRY(check(first_chunk, bytes.size() / chunk_size_));
  return pread_full(fd_, bytes, first_chunk * chunk_size_);
}

Status FrozenFile::pwrite(std::uint64_t first_chunk, std::span<const std::byte> bytes) noexcept {
  if (bytes.size() % chunk_size_ != 0) return make_error(Errc::invalid_argument, "not a whole number of chunks");
  FERRO_TRY(check(first_chunk, bytes.size() / chunk_size_));
  return pwrite_full(fd_, bytes, first_chunk * chunk_size_);
}

Status FrozenFile::preadv(std::uint64_t first_chunk, std::span<std::byte* const> chunks) const noexcept {
  FERRO_TRY(check(first_chunk, chunks.size()));
  return vectored<std::byte*>(fd_, Direction::read, chunks, chunk_size_, first_chunk * chunk_size_);
}

Status FrozenFile::pwritev(std::uint64_t first_chunk, std::span<const std::byte* const> chunks) noexcept {
  FERRO_TRY(check(first_chunk, chunks.size()));
  if (chunks.size() == 1) return pwrite_full(fd_, {chunks[0], chunk_size_}, first_chunk * chunk_size_);
  return vectored<const std::byte*>(fd_, Direction::write, chunks, chunk_size_, first_chunk * chunk_size_);
}

Status FrozenFile::grow(std::uint64_t more) noexcept {
  if (fd_ < 0) return make_error(Errc::closed, "chunked file is closed");
  const std::uint64_t now = chunk_count();
  const auto total = checked_add(now, more);
  const auto bytes = total ? checked_mul<std::uint64_t>(*total, chunk_size_) : std::nullopt;
  if (!bytes || *bytes > static_cast<std::uint64_t>(INT64_MAX)) {
    return make_error(Errc::invalid_argument, "grow overflows the file size");
  }
  FERRO_TRY(allocate_range(fd_, now * chunk_size_, more * chunk_size_));
  // Release: the new chunks exist before any thread can see them counted.
  chunk_count_.store(*total, std::memory_order_release);
  return ok();
}

Status FrozenFile::sync() noexcept {
  if (fd_ < 0) return make_error(Errc::closed, "chunked file is closed");
  while (::fdatasync(fd_) != 0) {
    if (errno != EINTR) return make_error(Errc::io_error, "fdatasync failed");
  }
  return ok();
}

Status FrozenFile::sync_range(std::uint64_t first_chunk, std::uint64_t count) noexcept {
  FERRO_TRY(check(first_chunk, count));
  if (count == 0) return ok();
  while (::sync_file_range(fd_, static_cast<off_t>(first_chunk * chunk_size_), static_cast<off_t>(count * chunk_size_),
                           SYNC_FILE_RANGE_WRITE) != 0) {
    if (errno == EINTR) continue;
    if (errno == ENOSYS || errno == EOPNOTSUPP) return ok();  // only a hint
    return make_error(Errc::io_error, "sync_file_range failed");
  }
  return ok();
}

}  // namespace ferro
