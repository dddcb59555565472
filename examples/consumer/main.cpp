// Built against an installed ferro: checks that headers, libraries and the package config are
// all in place, and that the library works from outside its own tree.
#include <cstdio>

#include "ferro/core/crc32.hpp"
#include "ferro/storage/memory_storage.hpp"

int main() {
  std::byte fram[64]{};
  ferro::MemoryStorage storage(fram);
  const char msg[] = "123456789";
  if (!storage.write(8, std::as_bytes(std::span(msg, 9)))) return 1;
  std::byte back[9];
  if (!storage.read(8, back)) return 1;
  const auto crc = ferro::crc32(back);
  std::printf("consumer: crc32(\"123456789\") from storage = %08x\n", crc);
  return crc == 0xCBF43926u ? 0 : 1;
}
