// Drives operation sequences (allocate, free, reallocate, allocate_at, reset) from fuzzer bytes
// into each allocator, with every live block filled with its own pattern and check() after every
// step. Any overlap, lost content or broken invariant traps.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <vector>

#include "ferro/alloc/alloc_test_util.hpp"
#include "ferro/alloc/buddy.hpp"
#include "ferro/alloc/chunk.hpp"
#include "ferro/alloc/linked_list.hpp"
#include "ferro/alloc/tlsf.hpp"
#include "tools/fuzz_input.hpp"

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

struct Block {
  std::size_t size, align;
  std::uint64_t seed;
};

template <class A>
void drive(ferro::FuzzInput& in, std::span<std::byte> region) {
  using ferro::alloc_test::fill;
  using ferro::alloc_test::verify;
  A a(region);
  std::map<std::uintptr_t, Block> live;
  std::uint64_t seed = 1;
  auto add = [&](void* p, std::size_t size, std::size_t align) {
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    require(ferro::is_aligned(p, align) && a.owns(p) && a.usable_size(p) >= size);
    auto next = live.lower_bound(addr);
    require(next == live.end() || addr + (size ? size : 1) <= next->first);
    if (next != live.begin()) {
      auto prev = std::prev(next);
      require(prev->first + (prev->second.size ? prev->second.size : 1) <= addr);
    }
    fill(p, size, ++seed);
    live[addr] = Block{size, align, seed};
  };
  auto nth = [&](std::uint8_t k) {
    auto it = live.begin();
    std::advance(it, k % live.size());
    return it;
  };
  // Bounded so one input stays cheap: check() after every step walks the whole region.
  for (int step = 0; step < 120 && !in.empty(); ++step) {
    const std::uint8_t op = in.byte() % 8;
    std::size_t size = in.word();
    if (size > 60000) size = SIZE_MAX - size;                      // now and then, an absurd size
    const std::size_t align = std::size_t{1} << (in.byte() % 14);  // up to 8192: one above the limit
    if (op < 3 || live.empty()) {
      if (void* p = a.allocate(size, align)) {
        add(p, size, align);
      } else {  // an empty region must serve any small request with a valid alignment
        require(!live.empty() || align > ferro::kMaxAlign || size > 1000);
      }
    } else if (op < 5) {
      auto it = nth(in.byte());
      require(verify(reinterpret_cast<void*>(it->first), it->second.size, it->second.seed) == it->second.size);
      a.deallocate(reinterpret_cast<void*>(it->first), it->second.size, it->second.align);
      live.erase(it);
    } else if (op < 7) {
      auto it = nth(in.byte());
      const Block b = it->second;
      void* q = a.reallocate(reinterpret_cast<void*>(it->first), b.size, size, b.align);
      if (q != nullptr) {
        const std::size_t kept = b.size < size ? b.size : size;
        require(verify(q, kept, b.seed) == kept);
        live.erase(it);
        add(q, size, b.align);
      } else {
        require(verify(reinterpret_cast<void*>(it->first), b.size, b.seed) == b.size);
      }
    } else if (in.byte() % 8 == 0) {
      a.reset();
      live.clear();
    } else {
      // A claim at an address derived from the input: must succeed only where nothing lives.
      auto* p = region.data() + (std::size_t{in.word()} * 16) % (region.size() ? region.size() : 1);
      const std::size_t small = size % 600;
      if (a.allocate_at(p, small, align)) add(p, small, align);
    }
    require(static_cast<bool>(a.check()));
    require(a.stats().live_blocks == live.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ferro::FuzzInput in(data, size);
  static std::vector<std::byte>* storage = [] {
    auto* v = new std::vector<std::byte>(48 * 1024 + 4096);
    return v;
  }();
  const auto misalign = in.byte() % 64;
  auto base = reinterpret_cast<std::uintptr_t>(storage->data());
  base = (base + 4095) / 4096 * 4096 + misalign;
  std::span<std::byte> region(reinterpret_cast<std::byte*>(base), 48 * 1024 - 64);
  switch (in.byte() % 5) {
    case 0:
      drive<ferro::ChunkAllocator<64>>(in, region);
      break;
    case 1:
      drive<ferro::ChunkAllocator<256>>(in, region);
      break;
    case 2:
      drive<ferro::BuddyAllocator>(in, region);
      break;
    case 3:
      drive<ferro::LinkedListAllocator>(in, region);
      break;
    default:
      drive<ferro::TlsfAllocator>(in, region);
      break;
  }
  return 0;
}
