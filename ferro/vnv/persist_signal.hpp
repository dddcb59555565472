// Host helper: persist every open vnv heap when a signal arrives (SIGUSR1 standing in for a
// power-failure interrupt). The handler only calls persist_all(), which is async-signal-safe.
#pragma once

#include "ferro/core/result.hpp"

namespace ferro::vnv {

// Installs the handler for `signo` (SA_RESTART, so interrupted system calls resume).
Status install_persist_signal(int signo) noexcept;

}  // namespace ferro::vnv
