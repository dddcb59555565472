#include "ferro/storage/file_flash.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ferro/core/crc32.hpp"
#include "ferro/storage/file_storage.hpp"

namespace ferro {
namespace {

constexpr char kMagic[12] = {'F', 'E', 'R', 'R', 'O', 'F', 'L', 'A', 'S', 'H', 0, 0};

struct Trailer {
  char magic[12];
  std::uint32_t segment_size;
  std::uint32_t segment_count;
  std::uint32_t program_size;
  std::uint32_t reserved;
  std::uint32_t crc;  // of the bytes before it
};
static_assert(sizeof(Trailer) == 32);

std::uint64_t file_bytes(const FlashGeometry& g) {
  return g.bytes() + sizeof(Trailer) + std::uint64_t{g.segment_count} * 4;
}

}  // namespace

Result<std::unique_ptr<FileFlash>> FileFlash::map(int fd, FlashGeometry geometry, std::uint64_t file_size) {
  void* m = ::mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    ::close(fd);
    return make_error(Errc::io_error, "cannot map flash image file");
  }
  std::unique_ptr<FileFlash> f(new FileFlash());
  f->fd_ = fd;
  f->map_ = m;
  f->map_size_ = file_size;
  auto* base = static_cast<std::byte*>(m);
  auto* counters = reinterpret_cast<std::uint32_t*>(base + geometry.bytes() + sizeof(Trailer));
  f->device_ = std::make_unique<EmulatedFlash>(geometry, std::span<std::byte>(base, geometry.bytes()),
                                               std::span<std::uint32_t>(counters, geometry.segment_count));
  return f;
}

Result<std::unique_ptr<FileFlash>> FileFlash::create(const std::string& path, FlashGeometry geometry) {
  FERRO_TRY(geometry.validate());
  FERRO_TRY_ASSIGN(const LockedFile file, open_locked(path, /*create=*/true));
  const int fd = file.fd;
  const std::uint64_t total = file_bytes(geometry);
  if (::ftruncate(fd, 0) != 0 || ::ftruncate(fd, static_cast<off_t>(total)) != 0) {
    ::close(fd);
    return make_error(Errc::no_space, "cannot size flash image file");
  }
  FERRO_TRY_ASSIGN(auto flash, map(fd, geometry, total));
  auto* base = static_cast<std::byte*>(flash->map_);
  std::memset(base, 0xFF, geometry.bytes());
  Trailer t{};
  std::memcpy(t.magic, kMagic, sizeof kMagic);
  t.segment_size = geometry.segment_size;
  t.segment_count = geometry.segment_count;
  t.program_size = geometry.program_size;
  t.crc = crc32(&t, offsetof(Trailer, crc));
  std::memcpy(base + geometry.bytes(), &t, sizeof t);
  FERRO_TRY(flash->sync());
  return flash;
}

Result<std::unique_ptr<FileFlash>> FileFlash::open(const std::string& path) {
  FERRO_TRY_ASSIGN(const LockedFile file, open_locked(path, /*create=*/false));
  const int fd = file.fd;
  const std::uint64_t size = file.size;
  // The trailer sits after the image, whose size it gives: find it by trying the sizes the
  // file's length allows (image + 32 + 4 * segments = length).
  Trailer t{};
  bool found = false;
  for (std::uint32_t shift = 4; shift <= 30 && !found; ++shift) {
    const std::uint64_t seg = std::uint64_t{1} << shift;
    if (size < sizeof(Trailer)) break;
    const std::uint64_t count = (size - sizeof(Trailer)) / (seg + 4);
    if (count == 0 || count > UINT32_MAX || count * (seg + 4) + sizeof(Trailer) != size) continue;
    if (pread(fd, &t, sizeof t, static_cast<off_t>(seg * count)) != static_cast<ssize_t>(sizeof t)) continue;
    found = std::memcmp(t.magic, kMagic, sizeof kMagic) == 0 && t.crc == crc32(&t, offsetof(Trailer, crc)) &&
            t.segment_size == seg && t.segment_count == count;
  }
  if (!found) {
    ::close(fd);
    return make_error(Errc::corrupt, "not a ferro flash image (bad length or trailer)");
  }
  const FlashGeometry g{t.segment_size, t.segment_count, t.program_size};
  if (!g.validate()) {
    ::close(fd);
    return make_error(Errc::corrupt, "flash image trailer has an invalid geometry");
  }
  return map(fd, g, size);
}

Status FileFlash::sync() noexcept {
  if (::msync(map_, map_size_, MS_SYNC) != 0) return make_error(Errc::io_error, "msync of flash image failed");
  return ok();
}

FileFlash::~FileFlash() {
  device_.reset();
  if (map_ != nullptr) ::munmap(map_, map_size_);
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace ferro
