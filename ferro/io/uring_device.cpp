#include "ferro/io/uring_device.hpp"

#include <sys/uio.h>

#include <cerrno>
#include <vector>

#include "ferro/core/bits.hpp"
#include "ferro/storage/file_storage.hpp"

#if FERRO_HAVE_URING
#include <liburing.h>
#endif

namespace ferro {

#if FERRO_HAVE_URING

namespace {

// iovecs per submission; the kernel's limit is IOV_MAX (1024).
constexpr std::size_t kIovPerSqe = 256;

// Submits one prepared entry and reaps its completion; retries the wait on EINTR.
int submit_one(io_uring& ring) {
  int rc = io_uring_submit(&ring);
  if (rc < 0) return rc;
  io_uring_cqe* cqe = nullptr;
  do {
    rc = io_uring_wait_cqe(&ring, &cqe);
  } while (rc == -EINTR);
  if (rc < 0) return rc;
  const int res = cqe->res;
  io_uring_cqe_seen(&ring, cqe);
  return res;
}

}  // namespace

struct UringDevice::Rings {
  io_uring write_ring{};
  io_uring sync_ring{};
  std::mutex write_mu, sync_mu;
  std::vector<iovec> iov;  // under write_mu
};

bool UringDevice::compiled_in() noexcept { return true; }

Result<std::unique_ptr<UringDevice>> UringDevice::open(FrozenFile& file) {
  if (file.fd() < 0) return make_error(Errc::closed, "chunked file is closed");
  auto rings = std::make_unique<Rings>();
  if (io_uring_queue_init(4, &rings->write_ring, 0) != 0) {
    return make_error(Errc::unsupported, "the kernel refused an io_uring");
  }
  if (io_uring_queue_init(4, &rings->sync_ring, 0) != 0) {
    io_uring_queue_exit(&rings->write_ring);
    return make_error(Errc::unsupported, "the kernel refused an io_uring");
  }
  return std::unique_ptr<UringDevice>(new UringDevice(file, std::move(rings)));
}

UringDevice::~UringDevice() {
  io_uring_queue_exit(&rings_->write_ring);
  io_uring_queue_exit(&rings_->sync_ring);
}

Status UringDevice::write_chunks(std::uint64_t first_chunk, std::span<const std::byte* const> chunks) noexcept {
  if (!range_fits(first_chunk, chunks.size(), chunk_count()))
    return make_error(Errc::out_of_range, "chunk beyond the end");
  const std::size_t cs = chunk_size();
  std::lock_guard lk(rings_->write_mu);
  auto& iov = rings_->iov;
  std::uint64_t offset = first_chunk * cs;
  while (!chunks.empty()) {
    const std::size_t n = chunks.size() < kIovPerSqe ? chunks.size() : kIovPerSqe;
    iov.resize(n);
    for (std::size_t i = 0; i < n; ++i) iov[i] = {const_cast<std::byte*>(chunks[i]), cs};
    io_uring_sqe* sqe = io_uring_get_sqe(&rings_->write_ring);
    if (sqe == nullptr) return make_error(Errc::io_error, "io_uring submission queue full");
    io_uring_prep_writev(sqe, file_.fd(), iov.data(), static_cast<unsigned>(n), offset);
    int res = submit_one(rings_->write_ring);
    if (res == -EINTR || res == -EAGAIN) res = 0;  // nothing written: the fallback below does it all
    if (res < 0) {
      if (res == -ENOSPC) return make_error(Errc::no_space, "io_uring write: no space left");
      return make_error(Errc::io_error, "io_uring write failed");
    }
    // A short write: finish the rest with plain pwrite, buffer by buffer.
    auto done = static_cast<std::size_t>(res);
    for (std::size_t i = 0; i < n; ++i) {
      if (done >= cs) {
        done -= cs;
        continue;
      }
      FERRO_TRY(
          pwrite_full(file_.fd(), std::span<const std::byte>(chunks[i] + done, cs - done), offset + i * cs + done));
      done = 0;
    }
    offset += static_cast<std::uint64_t>(n) * cs;
    chunks = chunks.subspan(n);
  }
  return ok();
}

Status UringDevice::sync() noexcept {
  std::lock_guard lk(rings_->sync_mu);
  for (;;) {
    io_uring_sqe* sqe = io_uring_get_sqe(&rings_->sync_ring);
    if (sqe == nullptr) return make_error(Errc::io_error, "io_uring submission queue full");
    io_uring_prep_fsync(sqe, file_.fd(), IORING_FSYNC_DATASYNC);
    const int res = submit_one(rings_->sync_ring);
    if (res == -EINTR || res == -EAGAIN) continue;
    if (res < 0) return make_error(Errc::io_error, "io_uring fdatasync failed");
    return ok();
  }
}

#else  // built without liburing

struct UringDevice::Rings {};
bool UringDevice::compiled_in() noexcept { return false; }
Result<std::unique_ptr<UringDevice>> UringDevice::open(FrozenFile&) {
  return make_error(Errc::unsupported, "ferro was built without io_uring");
}
UringDevice::~UringDevice() = default;
Status UringDevice::write_chunks(std::uint64_t, std::span<const std::byte* const>) noexcept {
  return make_error(Errc::unsupported, "ferro was built without io_uring");
}
Status UringDevice::sync() noexcept { return make_error(Errc::unsupported, "ferro was built without io_uring"); }

#endif

UringDevice::UringDevice(FrozenFile& file, std::unique_ptr<Rings> rings) noexcept
    : file_(file), rings_(std::move(rings)) {}

}  // namespace ferro
