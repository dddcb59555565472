#include "ferro/vnv/persist_signal.hpp"

#include <signal.h>

#include "ferro/vnv/registry.hpp"

namespace ferro::vnv {
namespace {

extern "C" void on_persist_signal(int) { (void)persist_all(); }

}  // namespace

Status install_persist_signal(int signo) noexcept {
  struct sigaction sa {};
  sa.sa_handler = on_persist_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(signo, &sa, nullptr) != 0) return make_error(Errc::io_error, "sigaction failed");
  return ok();
}

}  // namespace ferro::vnv
