// Any PersistentStorage as a ChunkDevice, so that the write pipeline can run over the storage
// layer's MemoryStorage or FaultStorage (injected write and sync failures, power cuts) in tests
// and demos. Calls are serialized by a mutex: the storages are single-threaded, while the pipe
// writes from one thread and syncs from another.
#pragma once

#include <mutex>

#include "ferro/io/chunk_device.hpp"
#include "ferro/storage/storage.hpp"

namespace ferro {

template <PersistentStorage S>
class StorageDevice final : public ChunkDevice {
 public:
  StorageDevice(S& storage, std::size_t chunk_size) noexcept : storage_(&storage), chunk_size_(chunk_size) {
    FERRO_CHECK(chunk_size > 0, "StorageDevice: chunk size must be positive");
  }

  std::size_t chunk_size() const noexcept override { return chunk_size_; }
  std::uint64_t chunk_count() const noexcept override { return storage_->size() / chunk_size_; }

  Status write_chunks(std::uint64_t first_chunk, std::span<const std::byte* const> chunks) noexcept override {
    if (!range_fits(first_chunk, chunks.size(), chunk_count()))
      return make_error(Errc::out_of_range, "chunk beyond the end");
    std::lock_guard lk(mu_);
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      FERRO_TRY(storage_->write((first_chunk + i) * chunk_size_, {chunks[i], chunk_size_}));
    }
    return ok();
  }
  Status sync() noexcept override {
    std::lock_guard lk(mu_);
    return storage_->sync();
  }
  // Whole chunks starting at `first_chunk`.
  Status read(std::uint64_t first_chunk, std::span<std::byte> out) {
    std::lock_guard lk(mu_);
    return storage_->read(first_chunk * chunk_size_, out);
  }

 private:
  S* storage_;
  std::size_t chunk_size_;
  std::mutex mu_;
};

}  // namespace ferro
