// core and storage on the target.
#include <cstring>

#include "checks.hpp"
#include "ferro/core/bits.hpp"
#include "ferro/core/crc32.hpp"
#include "ferro/core/random.hpp"
#include "ferro/core/result.hpp"
#include "ferro/storage/fault_storage.hpp"
#include "ferro/storage/flash.hpp"
#include "ferro/storage/memory_storage.hpp"

namespace embedded {
namespace {

ferro::Result<std::uint32_t> halve(std::uint32_t v) noexcept {
  if (v % 2 != 0) return ferro::make_error(ferro::Errc::invalid_argument, "odd");
  return v / 2;
}

ferro::Result<std::uint32_t> quarter(std::uint32_t v) noexcept {
  FERRO_TRY_ASSIGN(auto h, halve(v));
  return halve(h);
}

std::span<const std::byte> bytes(const char* s) noexcept {
  return {reinterpret_cast<const std::byte*>(s), std::strlen(s)};
}

std::byte fram[4096];
ferro::StaticFlash<1024, 4> flash;

}  // namespace

void check_core() {
  // The CRC-32 (IEEE) check value, and continuation across a split.
  CHECK(ferro::crc32(bytes("123456789")) == 0xCBF43926u);
  CHECK(ferro::crc32(bytes("6789"), ferro::crc32(bytes("12345"))) == 0xCBF43926u);
  CHECK(ferro::crc32_bytewise(bytes("123456789")) == 0xCBF43926u);

  auto q = quarter(12);
  CHECK(q && *q == 3);
  auto bad = quarter(6);  // 6 / 2 = 3 is odd
  CHECK(!bad && bad.error() == ferro::Errc::invalid_argument);

  // The same numbers as on a 64-bit host (values from the host's __int128 path): here below()
  // takes the 32-bit schoolbook multiply.
  ferro::Rng rng(42);
  CHECK(rng() == 1546998764402558742ull);
  CHECK(rng.below(1000003) == 378981u);
  CHECK(rng.below(~0ull - 12345) == 12544586762248550613ull);

  // size_t is 32 bits here: the checked helpers must see the overflow.
  static_assert(sizeof(std::size_t) == 4);
  CHECK(!ferro::checked_add<std::size_t>(0xFFFFFFF0u, 0x20u));
  CHECK(!ferro::checked_mul<std::size_t>(0x10000u, 0x10000u));
  CHECK(ferro::range_fits(0xFFFFFFF0ull, 0x20ull, 0x100000010ull));
  CHECK(!ferro::range_fits(~0ull - 4, 8, ~0ull));
}

void check_storage() {
  ferro::MemoryStorage mem(fram);
  const char text[] = "ferro on a Cortex-M";
  CHECK(mem.write(100, bytes(text)));
  std::byte back[sizeof text - 1];
  CHECK(mem.read(100, back));
  CHECK(std::memcmp(back, text, sizeof back) == 0);
  CHECK(mem.write(4090, bytes(text)).code() == ferro::Errc::out_of_range);

  // A power cut during the second write: half of it lands, then the device is down until
  // power_on().
  std::memset(fram, 0, sizeof fram);
  ferro::FaultPlan plan;
  plan.cut_at_write = 2;
  plan.torn = ferro::FaultPlan::Torn::half;
  ferro::FaultStorage<ferro::MemoryStorage> faulty(mem, plan);
  const std::byte ones[8] = {std::byte{1}, std::byte{1}, std::byte{1}, std::byte{1},
                             std::byte{1}, std::byte{1}, std::byte{1}, std::byte{1}};
  CHECK(faulty.write(0, ones));
  CHECK(faulty.write(64, ones).code() == ferro::Errc::power_loss);
  CHECK(faulty.power_was_cut() && !faulty.powered());
  CHECK(fram[64 + 3] == std::byte{1} && fram[64 + 4] == std::byte{0});  // the torn half
  std::byte one[1];
  CHECK(faulty.read(0, one).code() == ferro::Errc::power_loss);
  faulty.power_on();
  CHECK(faulty.read(0, one) && one[0] == std::byte{1});

  // NOR flash: programming clears bits, only an erase sets them again.
  CHECK(flash.segment_count() == 4 && flash.size() == 4096);
  const std::byte pattern[4] = {std::byte{0xA5}, std::byte{0x0F}, std::byte{0xF0}, std::byte{0x00}};
  CHECK(flash.program(1024 + 16, pattern));
  std::byte got[4];
  CHECK(flash.read(1024 + 16, got) && std::memcmp(got, pattern, 4) == 0);
  const std::byte ff[1] = {std::byte{0xFF}};
  CHECK(!flash.program(1024 + 16, ff));  // would set 0 bits to 1: refused
  CHECK(flash.erase(1));
  CHECK(flash.erase_count(1) == 1 && flash.erase_count(0) == 0);
  CHECK(flash.read(1024 + 16, got) && got[0] == std::byte{0xFF} && got[3] == std::byte{0xFF});
}

}  // namespace embedded
