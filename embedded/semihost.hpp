// Talking to the debugger (here qemu's -semihosting): text out, and the exit status.
#pragma once

#include <cstdint>

namespace embedded {

void put(const char* s) noexcept;
void put_dec(std::uint64_t v) noexcept;
void put_hex(std::uint32_t v) noexcept;
[[noreturn]] void exit(bool success) noexcept;

}  // namespace embedded
