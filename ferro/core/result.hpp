// Errors as values: `Result<T>` holds either a T or an `Error` (a code and a static message).
// No exceptions, no allocation: usable in the freestanding layers.
#pragma once

#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "ferro/core/assert.hpp"

namespace ferro {

enum class Errc : std::uint8_t {
  ok = 0,
  invalid_argument,  // the caller passed something the operation cannot accept
  out_of_range,      // an offset or length beyond the end of the object
  no_space,          // the region, device or budget is full
  corrupt,           // stored bytes fail their checks (magic, CRC, invariants)
  io_error,          // the operating system or device reported a failure
  power_loss,        // the (emulated) device lost power; reopen it
  busy,              // held by someone else (a lock, a pinned object)
  not_found,
  already_exists,
  closed,  // the object was shut down
  timed_out,
  unsupported,
};

// Short lower-case name of a code, for messages ("no_space").
const char* errc_name(Errc code) noexcept;

struct Error {
  Errc code = Errc::ok;
  const char* message = "";  // always a string literal: never freed, safe in a signal handler

  friend constexpr bool operator==(const Error& a, const Error& b) noexcept { return a.code == b.code; }
  friend constexpr bool operator==(const Error& a, Errc b) noexcept { return a.code == b; }
};

constexpr Error make_error(Errc code, const char* message) noexcept { return Error{code, message}; }

template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_reference_v<T>, "Result<T&> is not supported; use a pointer");

 public:
  using value_type = T;

  // NOLINTNEXTLINE(google-explicit-constructor): returning a value or an error reads naturally.
  constexpr Result(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) : ok_(true) { ::new (&value_) T(v); }
  constexpr Result(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(true) {
    ::new (&value_) T(std::move(v));
  }
  constexpr Result(Error e) noexcept : ok_(false) { error_ = e; }

  Result(const Result& o) noexcept(std::is_nothrow_copy_constructible_v<T>) : ok_(o.ok_) {
    if (ok_)
      ::new (&value_) T(o.value_);
    else
      error_ = o.error_;
  }
  Result(Result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(o.ok_) {
    if (ok_)
      ::new (&value_) T(std::move(o.value_));
    else
      error_ = o.error_;
  }
  Result& operator=(const Result& o) {
    if (this != &o) {
      destroy();
      ok_ = o.ok_;
      if (ok_)
        ::new (&value_) T(o.value_);
      else
        error_ = o.error_;
    }
    return *this;
  }
  Result& operator=(Result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (this != &o) {
      destroy();
      ok_ = o.ok_;
      if (ok_)
        ::new (&value_) T(std::move(o.value_));
      else
        error_ = o.error_;
    }
    return *this;
  }
  ~Result() { destroy(); }

  constexpr bool has_value() const noexcept { return ok_; }
  constexpr explicit operator bool() const noexcept { return ok_; }

  T& value() & noexcept {
    FERRO_CHECK(ok_, "Result::value() on an error");
    return value_;
  }
  const T& value() const& noexcept {
    FERRO_CHECK(ok_, "Result::value() on an error");
    return value_;
  }
  T&& value() && noexcept {
    FERRO_CHECK(ok_, "Result::value() on an error");
    return std::move(value_);
  }
  T& operator*() & noexcept { return value(); }
  const T& operator*() const& noexcept { return value(); }
  T&& operator*() && noexcept { return std::move(*this).value(); }
  T* operator->() noexcept { return &value(); }
  const T* operator->() const noexcept { return &value(); }

  template <class U>
  T value_or(U&& fallback) const& {
    return ok_ ? value_ : static_cast<T>(std::forward<U>(fallback));
  }

  constexpr Error error() const noexcept { return ok_ ? Error{} : error_; }
  constexpr Errc code() const noexcept { return ok_ ? Errc::ok : error_.code; }

 private:
  void destroy() noexcept {
    if (ok_) value_.~T();
  }
  union {
    T value_;
    Error error_;
  };
  bool ok_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  constexpr Result() noexcept = default;
  constexpr Result(Error e) noexcept : error_(e) {}  // NOLINT(google-explicit-constructor)

  constexpr bool has_value() const noexcept { return error_.code == Errc::ok; }
  constexpr explicit operator bool() const noexcept { return has_value(); }
  void value() const noexcept { FERRO_CHECK(has_value(), "Result<void>::value() on an error"); }
  constexpr Error error() const noexcept { return error_; }
  constexpr Errc code() const noexcept { return error_.code; }

 private:
  Error error_{};
};

using Status = Result<void>;

constexpr Status ok() noexcept { return Status{}; }

}  // namespace ferro

// Returns the error of `expr` (a Result or Status) from the enclosing function.
#define FERRO_TRY(expr)                              \
  do {                                               \
    if (auto ferro_try_r_ = (expr); !ferro_try_r_) { \
      return ferro_try_r_.error();                   \
    }                                                \
  } while (0)

#define FERRO_CONCAT_INNER_(a, b) a##b
#define FERRO_CONCAT_(a, b) FERRO_CONCAT_INNER_(a, b)
// `FERRO_TRY_ASSIGN(auto x, f());` declares x from f()'s value, or returns f()'s error.
#define FERRO_TRY_ASSIGN(decl, expr) FERRO_TRY_ASSIGN_(FERRO_CONCAT_(ferro_try_a_, __LINE__), decl, expr)
#define FERRO_TRY_ASSIGN_(tmp, decl, expr) \
  auto tmp = (expr);                       \
  if (!tmp) return tmp.error();            \
  decl = std::move(tmp).value()
