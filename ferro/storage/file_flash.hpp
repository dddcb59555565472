// An EmulatedFlash whose image lives in a file (host only), so that a flash store survives the
// process: the `ferro mrfs` tool and the process-level crash tests use it.
//
// File layout: the raw image (segment_size * segment_count bytes, exactly what the device would
// hold), then a 32-byte trailer (magic "FERROFLASH\0\0", segment size, segment count, program
// size, a CRC-32 of the trailer), then one little-endian u32 erase counter per segment. The file
// is memory-mapped, so view() reads the image in place, and locked exclusively.
#pragma once

#include <memory>
#include <string>

#include "ferro/storage/flash.hpp"

namespace ferro {

class FileFlash {
 public:
  // Creates (or overwrites) an image file of that geometry, fully erased.
  static Result<std::unique_ptr<FileFlash>> create(const std::string& path, FlashGeometry geometry);
  // Opens an existing image; its geometry comes from the trailer. A file that is too short or
  // has a bad trailer is Errc::corrupt.
  static Result<std::unique_ptr<FileFlash>> open(const std::string& path);

  ~FileFlash();
  FileFlash(const FileFlash&) = delete;
  FileFlash& operator=(const FileFlash&) = delete;

  EmulatedFlash& device() noexcept { return *device_; }
  Status sync() noexcept;  // msync: the image and counters reach the file

 private:
  FileFlash() = default;
  static Result<std::unique_ptr<FileFlash>> map(int fd, FlashGeometry geometry, std::uint64_t file_size);

  int fd_ = -1;
  void* map_ = nullptr;
  std::size_t map_size_ = 0;
  std::unique_ptr<EmulatedFlash> device_;
};

}  // namespace ferro
