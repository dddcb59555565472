#include "ferro/storage/file_storage.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace ferro {

Status pread_full(int fd, std::span<std::byte> out, std::uint64_t offset) noexcept {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(Errc::io_error, "pread failed");
    }
    if (n == 0) return make_error(Errc::io_error, "pread met end of file");
    done += static_cast<std::size_t>(n);
  }
  return ok();
}

Status pwrite_full(int fd, std::span<const std::byte> in, std::uint64_t offset) noexcept {
  std::size_t done = 0;
  while (done < in.size()) {
    const ssize_t n = ::pwrite(fd, in.data() + done, in.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOSPC) return make_error(Errc::no_space, "pwrite: no space left on device");
      return make_error(Errc::io_error, "pwrite failed");
    }
    done += static_cast<std::size_t>(n);
  }
  return ok();
}

Result<LockedFile> open_locked(const std::string& path, bool create) noexcept {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
  if (fd < 0) {
    if (errno == ENOENT && !create) return make_error(Errc::not_found, "file does not exist");
    return make_error(Errc::io_error, "cannot open file");
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK) return make_error(Errc::busy, "file is locked by another opener");
    return make_error(Errc::io_error, "cannot lock file");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return make_error(Errc::io_error, "cannot stat file");
  }
  return LockedFile{fd, static_cast<std::uint64_t>(st.st_size)};
}

Result<FileStorage> FileStorage::open(const std::string& path, std::uint64_t size) {
  FERRO_TRY_ASSIGN(const LockedFile file, open_locked(path, /*create=*/true));
  const int fd = file.fd;
  const std::uint64_t existing = file.size;
  std::uint64_t final_size = existing;
  if (existing == 0 && size != 0) {
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
      ::close(fd);
      return make_error(Errc::no_space, "cannot size storage file");
    }
    final_size = size;
  } else if (size != 0 && existing != size) {
    ::close(fd);
    return make_error(Errc::invalid_argument, "existing storage file has a different size");
  }
  return FileStorage(fd, final_size);
}

FileStorage::FileStorage(FileStorage&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), size_(other.size_), stats_(other.stats_) {}

FileStorage& FileStorage::operator=(FileStorage&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
    stats_ = other.stats_;
  }
  return *this;
}

FileStorage::~FileStorage() { close(); }

void FileStorage::close() noexcept {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor also drops the flock
  fd_ = -1;
}

Status FileStorage::read(std::uint64_t offset, std::span<std::byte> out) noexcept {
  if (fd_ < 0) return make_error(Errc::closed, "storage file is closed");
  FERRO_TRY(check_range(offset, out.size(), size_));
  FERRO_TRY(pread_full(fd_, out, offset));
  ++stats_.reads;
  stats_.bytes_read += out.size();
  return ok();
}

Status FileStorage::write(std::uint64_t offset, std::span<const std::byte> in) noexcept {
  if (fd_ < 0) return make_error(Errc::closed, "storage file is closed");
  FERRO_TRY(check_range(offset, in.size(), size_));
  FERRO_TRY(pwrite_full(fd_, in, offset));
  ++stats_.writes;
  stats_.bytes_written += in.size();
  return ok();
}

Status FileStorage::sync() noexcept {
  if (fd_ < 0) return make_error(Errc::closed, "storage file is closed");
  while (::fdatasync(fd_) != 0) {
    if (errno != EINTR) return make_error(Errc::io_error, "fdatasync failed");
  }
  ++stats_.syncs;
  return ok();
}

}  // namespace ferro
