// The few out-of-line pieces of core: the panic path and error names.
#include <cstdlib>

#include "ferro/core/assert.hpp"
#include "ferro/core/result.hpp"

#if __has_include(<unistd.h>)
#include <unistd.h>
#define FERRO_HAVE_WRITE 1
#endif

// A firmware build defines this to log and reset; the default prints to stderr.
extern "C" __attribute__((weak)) void ferro_panic_hook(const char* message, const char* file, int line);

namespace ferro {
namespace {

#ifdef FERRO_HAVE_WRITE
// write(2) rather than stdio: panic may run in a signal handler or with the heap broken.
void write_str(const char* s) noexcept {
  std::size_t n = 0;
  while (s[n] != '\0') ++n;
  while (n > 0) {
    const auto w = ::write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

void write_int(int v) noexcept {
  char buf[16];
  int i = 15;
  buf[i] = '\0';
  if (v == 0) buf[--i] = '0';
  while (v > 0 && i > 0) {
    buf[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  write_str(buf + i);
}
#endif

}  // namespace

void panic(const char* message, const char* file, int line) noexcept {
  if (ferro_panic_hook != nullptr) ferro_panic_hook(message, file, line);
#ifdef FERRO_HAVE_WRITE
  write_str("ferro: panic: ");
  write_str(message);
  write_str(" (");
  write_str(file);
  write_str(":");
  write_int(line);
  write_str(")\n");
#endif
  __builtin_trap();
}

const char* errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::ok:
      return "ok";
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::out_of_range:
      return "out_of_range";
    case Errc::no_space:
      return "no_space";
    case Errc::corrupt:
      return "corrupt";
    case Errc::io_error:
      return "io_error";
    case Errc::power_loss:
      return "power_loss";
    case Errc::busy:
      return "busy";
    case Errc::not_found:
      return "not_found";
    case Errc::already_exists:
      return "already_exists";
    case Errc::closed:
      return "closed";
    case Errc::timed_out:
      return "timed_out";
    case Errc::unsupported:
      return "unsupported";
  }
  return "unknown";
}

}  // namespace ferro
