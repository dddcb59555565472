// The vnv heap's on-storage format (docs/vnv.md describes it byte by byte).
//
// Storage = [slot 0][slot 1][data area]. A slot holds one checkpoint: header, object table,
// roots, a redo log of the dirty blocks, and a commit record written last. Persist N writes
// slot N % 2 and never touches the slot of N - 1, so a power cut at any byte leaves N - 1
// whole; open() takes the valid slot with the highest sequence number.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ferro/core/bits.hpp"
#include "ferro/core/crc32.hpp"
#include "ferro/core/result.hpp"

namespace ferro::vnv {

static_assert(std::endian::native == std::endian::little, "the format is little-endian; add byte swaps");

using ObjectId = std::uint32_t;
inline constexpr ObjectId kNoObject = 0xFFFFFFFFu;
inline constexpr std::uint64_t kNoOffset = ~std::uint64_t{0};
inline constexpr std::uint32_t kNotResident = 0xFFFFFFFFu;

namespace format {

inline constexpr std::uint32_t kMagic = 0x564E5646u;   // "FVNV"
inline constexpr std::uint32_t kCommit = 0x54494D43u;  // "CMIT"
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::uint32_t kRoots = 16;
inline constexpr std::size_t kRootName = 24;
// Objects occupy whole 8-byte words on storage and in the dirty budget, so a log record
// (8-byte header) never costs more than the bytes it carries.
inline constexpr std::uint32_t kWord = 8;

struct SlotHeader {
  std::uint32_t magic;
  std::uint16_t version;
  std::uint16_t block_size;
  std::uint64_t sequence;
  std::uint64_t data_offset;
  std::uint64_t data_size;
  std::uint32_t table_capacity;
  std::uint32_t entries_used;
  std::uint32_t log_capacity;
  std::uint32_t log_bytes;
  std::uint32_t ram_capacity;
  std::uint32_t max_dirty_bytes;
  std::uint32_t body_crc;
  std::uint32_t header_crc;  // of bytes [0, 60)
};
static_assert(sizeof(SlotHeader) == 64);

struct TableEntry {
  std::uint64_t offset;      // in storage; meaningful when live
  std::uint32_t size;        // bytes of the object (unpadded)
  std::uint32_t ram_offset;  // where it was resident, from the allocator region's start
  std::uint16_t align;
  std::uint8_t live;
  std::uint8_t reserved0;
  std::uint32_t reserved1;
};
static_assert(sizeof(TableEntry) == 24);

struct Root {
  char name[kRootName];  // NUL-padded; empty for a numbered root
  std::uint32_t object;  // kNoObject when unset
  std::uint32_t reserved;
};
static_assert(sizeof(Root) == 32);

// One run of consecutive dirty blocks of one object; the data follows.
struct LogRecord {
  std::uint32_t object;
  std::uint16_t first_block;
  std::uint16_t block_count;
};
static_assert(sizeof(LogRecord) == 8);

struct CommitRecord {
  std::uint64_t sequence;
  std::uint32_t header_crc;
  std::uint32_t magic;  // last: a torn commit leaves the zeros persist wrote here first
};
static_assert(sizeof(CommitRecord) == 16);

constexpr std::uint32_t padded(std::uint32_t size) noexcept { return size == 0 ? kWord : align_up(size, kWord); }
constexpr std::uint32_t block_count(std::uint32_t size, std::uint32_t block) noexcept {
  return (padded(size) + block - 1) / block;
}
constexpr std::uint32_t block_length(std::uint32_t size, std::uint32_t block, std::uint32_t index) noexcept {
  const std::uint32_t start = index * block;
  const std::uint32_t end = padded(size);
  return end - start < block ? end - start : block;
}

// Where everything lies, derived from the configuration and the storage size. An image is
// opened only with the geometry it was made with.
struct Geometry {
  std::uint32_t block_size = 0;
  std::uint32_t table_capacity = 0;
  std::uint32_t max_dirty_bytes = 0;
  std::uint32_t log_capacity = 0;
  std::uint64_t slot_bytes = 0;
  std::uint64_t data_offset = 0;
  std::uint64_t data_size = 0;

  static constexpr std::uint64_t table_offset() noexcept { return sizeof(SlotHeader); }
  constexpr std::uint64_t roots_offset() const noexcept {
    return table_offset() + std::uint64_t{table_capacity} * sizeof(TableEntry);
  }
  constexpr std::uint64_t log_offset() const noexcept { return roots_offset() + kRoots * sizeof(Root); }
  constexpr std::uint64_t commit_offset() const noexcept { return slot_bytes - sizeof(CommitRecord); }
  constexpr std::uint64_t slot_offset(std::uint64_t sequence) const noexcept { return (sequence & 1) * slot_bytes; }

  static Result<Geometry> make(std::uint32_t block_size, std::uint32_t table_capacity, std::uint32_t max_dirty,
                               std::uint64_t storage_size) noexcept {
    if (!is_pow2(block_size) || block_size < kWord || block_size > 4096)
      return make_error(Errc::invalid_argument, "block_size must be a power of two in [8, 4096]");
    if (table_capacity == 0 || table_capacity > (1u << 20))
      return make_error(Errc::invalid_argument, "max_objects must be in [1, 2^20]");
    if (max_dirty < kWord || max_dirty > (1u << 28))
      return make_error(Errc::invalid_argument, "max_dirty_bytes must be in [8, 2^28]");
    Geometry g;
    g.block_size = block_size;
    g.table_capacity = table_capacity;
    g.max_dirty_bytes = align_down(max_dirty, kWord);
    // Every record carries at least one 8-byte word, so headers never outweigh the data.
    g.log_capacity = 2 * g.max_dirty_bytes;
    g.slot_bytes = align_up<std::uint64_t>(g.log_offset() + g.log_capacity + sizeof(CommitRecord), 64);
    g.data_offset = 2 * g.slot_bytes;
    if (storage_size <= g.data_offset) return make_error(Errc::no_space, "storage too small for two checkpoint slots");
    g.data_size = align_down<std::uint64_t>(storage_size - g.data_offset, kWord);
    return g;
  }
};

inline std::uint32_t header_crc(const SlotHeader& h) noexcept { return crc32(&h, offsetof(SlotHeader, header_crc)); }

}  // namespace format
}  // namespace ferro::vnv
