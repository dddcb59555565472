// Stands in for libFuzzer where it is not linked (GCC builds, the ordinary test run): feeds the
// target every file named on the command line, then --runs=N pseudo-random inputs of random
// length (seeded, so a failure repeats). Real coverage-guided fuzzing: `./dev fuzz NAME`.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "ferro/core/random.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  long runs = 1000;
  std::uint64_t seed = 1;
  std::size_t max_len = 4096;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--runs=", 7) == 0)
      runs = std::strtol(argv[i] + 7, nullptr, 10);
    else if (std::strncmp(argv[i], "--seed=", 7) == 0)
      seed = std::strtoull(argv[i] + 7, nullptr, 10);
    else if (std::strncmp(argv[i], "--max_len=", 10) == 0)
      max_len = std::strtoull(argv[i] + 10, nullptr, 10);
    else {
      std::ifstream in(argv[i], std::ios::binary);
      std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    }
  }
  ferro::Rng rng(seed);
  std::vector<std::uint8_t> buf;
  for (long r = 0; r < runs; ++r) {
    buf.resize(rng.below(max_len + 1));
    for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  std::printf("fuzz driver: %ld random inputs, no crash\n", runs);
  return 0;
}
