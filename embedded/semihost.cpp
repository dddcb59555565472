// ARM semihosting: `bkpt 0xAB` with the operation in r0 and its argument in r1. qemu runs it
// when started with -semihosting-config enable=on,target=native.
#include "semihost.hpp"

namespace embedded {
namespace {

constexpr std::uint32_t kWrite0 = 0x04;  // print a NUL-terminated string
constexpr std::uint32_t kExit = 0x18;
// SYS_EXIT's reasons; qemu exits with status 0 for the first and 1 for any other.
constexpr std::uint32_t kApplicationExit = 0x20026;
constexpr std::uint32_t kRunTimeError = 0x20023;

std::uint32_t call(std::uint32_t op, const void* arg) noexcept {
  register std::uint32_t r0 asm("r0") = op;
  register const void* r1 asm("r1") = arg;
  asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

}  // namespace

void put(const char* s) noexcept { call(kWrite0, s); }

void put_dec(std::uint64_t v) noexcept {
  char buf[24];
  char* p = buf + sizeof buf;
  *--p = '\0';
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  put(p);
}

void put_hex(std::uint32_t v) noexcept {
  char buf[11] = "0x";
  for (int i = 0; i < 8; ++i) buf[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xF];
  buf[10] = '\0';
  put(buf);
}

void exit(bool success) noexcept {
  // On 32-bit ARM the argument of SYS_EXIT is the reason itself, not a pointer to a block.
  call(kExit, reinterpret_cast<const void*>(success ? kApplicationExit : kRunTimeError));
  while (true) {
  }
}

}  // namespace embedded
