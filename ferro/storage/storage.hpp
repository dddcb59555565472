// Byte-addressed persistent storage: FRAM, a file, or RAM standing in for either.
//
// A PersistentStorage has a fixed size() and reads and writes any byte range inside it.
// Every call returns a Status; an out-of-range offset or length is Errc::out_of_range, never
// undefined behaviour. write() may be cached until sync() (a file) or be durable at once (FRAM).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

#include "ferro/core/bits.hpp"
#include "ferro/core/result.hpp"

namespace ferro {

template <class S>
concept PersistentStorage = requires(S& s, const S& cs, std::uint64_t offset, std::span<std::byte> out,
                                     std::span<const std::byte> in) {
  { s.read(offset, out) } -> std::same_as<Status>;
  { s.write(offset, in) } -> std::same_as<Status>;
  { s.sync() } -> std::same_as<Status>;
  { cs.size() } -> std::convertible_to<std::uint64_t>;
};

// The range check every storage performs first.
constexpr Status check_range(std::uint64_t offset, std::uint64_t length, std::uint64_t size) noexcept {
  if (!range_fits(offset, length, size)) return make_error(Errc::out_of_range, "access beyond the end of storage");
  return ok();
}

// Counters every storage keeps, for tests and benchmarks.
struct StorageStats {
  std::uint64_t reads = 0;
  std::uint64_t writes = 0;
  std::uint64_t syncs = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_written = 0;
};

// Views a trivially copyable object as bytes, for read/write of plain structs.
template <class T>
std::span<const std::byte> as_bytes_of(const T& v) noexcept {
  return std::as_bytes(std::span<const T, 1>(&v, 1));
}
template <class T>
std::span<std::byte> as_writable_bytes_of(T& v) noexcept {
  return std::as_writable_bytes(std::span<T, 1>(&v, 1));
}

}  // namespace ferro
