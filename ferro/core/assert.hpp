// Assertions that work without exceptions or a heap.
//
// FERRO_CHECK(cond, msg): always on; a broken invariant that must not be carried on from.
// FERRO_DEBUG_CHECK(cond, msg): on in debug builds (no NDEBUG) only: costly or hot-path checks.
//
// Both call ferro::panic, which prints (on the host) and aborts. A firmware build may supply its
// own `ferro_panic_hook` (a weak symbol) to log the message and reset the device.
#pragma once

namespace ferro {

[[noreturn]] void panic(const char* message, const char* file, int line) noexcept;

}  // namespace ferro

#define FERRO_CHECK(cond, msg)                   \
  do {                                           \
    if (!(cond)) [[unlikely]]                    \
      ::ferro::panic((msg), __FILE__, __LINE__); \
  } while (0)

#ifdef NDEBUG
#define FERRO_DEBUG_CHECK(cond, msg) \
  do {                               \
  } while (0)
#define FERRO_DEBUG 0
#else
#define FERRO_DEBUG_CHECK(cond, msg) FERRO_CHECK(cond, msg)
#define FERRO_DEBUG 1
#endif
