// Bit and alignment utilities. The checked forms report overflow instead of wrapping, so that
// a size near SIZE_MAX becomes a refused request rather than a tiny allocation.
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>

namespace ferro {

template <std::unsigned_integral T>
constexpr int ctz(T x) noexcept {
  return std::countr_zero(x);
}  // x == 0 gives the bit width
template <std::unsigned_integral T>
constexpr int clz(T x) noexcept {
  return std::countl_zero(x);
}
template <std::unsigned_integral T>
constexpr int popcount(T x) noexcept {
  return std::popcount(x);
}

template <std::unsigned_integral T>
constexpr bool is_pow2(T x) noexcept {
  return x != 0 && (x & (x - 1)) == 0;
}

// floor(log2(x)) for x > 0.
template <std::unsigned_integral T>
constexpr int log2_floor(T x) noexcept {
  return std::numeric_limits<T>::digits - 1 - std::countl_zero(x);
}

// ceil(log2(x)) for x > 0.
template <std::unsigned_integral T>
constexpr int log2_ceil(T x) noexcept {
  return x <= 1 ? 0 : log2_floor(static_cast<T>(x - 1)) + 1;
}

// `align` must be a power of two. The unchecked forms assume no overflow.
template <std::unsigned_integral T>
constexpr T align_down(T x, T align) noexcept {
  return x & ~(align - 1);
}
template <std::unsigned_integral T>
constexpr T align_up(T x, T align) noexcept {
  return (x + (align - 1)) & ~(align - 1);
}
template <std::unsigned_integral T>
constexpr bool is_aligned(T x, T align) noexcept {
  return (x & (align - 1)) == 0;
}
inline bool is_aligned(const void* p, std::size_t align) noexcept {
  return is_aligned(reinterpret_cast<std::uintptr_t>(p), static_cast<std::uintptr_t>(align));
}

// nullopt when x rounded up would not fit in T, or align is not a power of two.
template <std::unsigned_integral T>
constexpr std::optional<T> checked_align_up(T x, T align) noexcept {
  if (!is_pow2(align)) return std::nullopt;
  if (x > std::numeric_limits<T>::max() - (align - 1)) return std::nullopt;
  return align_up(x, align);
}

template <std::unsigned_integral T>
constexpr std::optional<T> checked_add(T a, T b) noexcept {
  T r{};
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

template <std::unsigned_integral T>
constexpr std::optional<T> checked_mul(T a, T b) noexcept {
  T r{};
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// Smallest power of two >= x; nullopt if it does not fit.
template <std::unsigned_integral T>
constexpr std::optional<T> checked_pow2_ceil(T x) noexcept {
  if (x <= 1) return T{1};
  const int bits = log2_ceil(x);
  if (bits >= std::numeric_limits<T>::digits) return std::nullopt;
  return static_cast<T>(T{1} << bits);
}

// True when [offset, offset + length) lies inside [0, size), without overflow.
constexpr bool range_fits(std::uint64_t offset, std::uint64_t length, std::uint64_t size) noexcept {
  return offset <= size && length <= size - offset;
}

}  // namespace ferro
