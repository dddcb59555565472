// The four region allocators and the BufferPool on the target.
#include <cstring>

#include "checks.hpp"
#include "ferro/alloc/buddy.hpp"
#include "ferro/alloc/chunk.hpp"
#include "ferro/alloc/linked_list.hpp"
#include "ferro/alloc/tlsf.hpp"
#include "ferro/pool/buffer_pool.hpp"

namespace embedded {
namespace {

alignas(64) std::byte region[32 * 1024];

// Allocates mixed sizes and alignments, fills each block, frees every other one, fills the
// holes again, then frees everything: the contents must survive, check() must hold throughout,
// and the allocator must end empty and serve its largest block again.
template <class A>
void exercise(A& a) {
  constexpr int kBlocks = 24;
  void* p[kBlocks] = {};
  std::size_t size[kBlocks] = {};
  for (int i = 0; i < kBlocks; ++i) {
    size[i] = 8 + static_cast<std::size_t>(i) * 37 % 700;
    const std::size_t align = std::size_t{8} << (i % 4);
    p[i] = a.allocate(size[i], align);
    CHECK(p[i] != nullptr);
    if (p[i] == nullptr) return;
    CHECK(reinterpret_cast<std::uintptr_t>(p[i]) % align == 0);
    CHECK(a.owns(p[i]) && a.usable_size(p[i]) >= size[i]);
    std::memset(p[i], i + 1, size[i]);
  }
  CHECK(a.stats().live_blocks == kBlocks);
  CHECK(a.check());
  for (int i = 0; i < kBlocks; i += 2) {
    a.deallocate(p[i], size[i], 8);
    p[i] = a.allocate(size[i], 8);
    CHECK(p[i] != nullptr);
    if (p[i] != nullptr) std::memset(p[i], i + 1, size[i]);
  }
  CHECK(a.check());
  for (int i = 0; i < kBlocks; ++i) {
    if (p[i] == nullptr) continue;
    const auto* b = static_cast<const unsigned char*>(p[i]);
    CHECK(b[0] == static_cast<unsigned char>(i + 1) && b[size[i] - 1] == static_cast<unsigned char>(i + 1));
    a.deallocate(p[i], size[i], 8);
  }
  const ferro::AllocStats s = a.stats();
  CHECK(s.in_use == 0 && s.live_blocks == 0);
  CHECK(a.check());
  CHECK(a.allocate(s.capacity * 2) == nullptr);  // more than the region: refused, not a crash
  void* big = a.allocate(s.largest_free / 2);
  CHECK(big != nullptr);
  a.deallocate(big, s.largest_free / 2, 8);
  CHECK(a.check());
}

alignas(64) std::byte pool_region[ferro::BufferPool<8, ferro::NoFallback>::overhead + 1024];

}  // namespace

void check_alloc() {
  {
    ferro::ChunkAllocator<64> a(region);
    exercise(a);
  }
  {
    ferro::BuddyAllocator a(region);
    exercise(a);
  }
  {
    ferro::LinkedListAllocator a(region);
    exercise(a);
  }
  {
    ferro::TlsfAllocator a(region);
    exercise(a);
  }
}

void check_pool() {
  ferro::BufferPool<8, ferro::NoFallback> pool(pool_region);
  CHECK(pool.capacity() >= 1000);
  ferro::Slice slices[4];
  for (int i = 0; i < 4; ++i) {
    auto header = pool.get_writable(4);
    CHECK(header.size() == 4);
    std::memset(header.data(), 'a' + i, 4);
    auto body = pool.get_writable(100);
    CHECK(body.size() == 100);
    std::memset(body.data(), 'A' + i, 100);
    slices[i] = pool.get_data_owned();
    CHECK(slices[i].size() == 104);
  }
  CHECK(pool.live_mask() == 0xF);
  for (int i = 0; i < 4; ++i) CHECK(slices[i][0] == std::byte('a' + i) && slices[i][103] == std::byte('A' + i));
  // Without a fallback, a message larger than the region is refused with an empty span.
  CHECK(pool.get_writable(4096).empty());
  CHECK(pool.mode() != ferro::PoolMode::alloc);
  slices[1].reset();
  CHECK(pool.live_mask() == 0xD);
  for (auto& s : slices) s.reset();
  CHECK(pool.live_mask() == 0);
  // Empty again: the whole region is usable once more.
  auto w = pool.get_writable(pool.capacity());
  CHECK(w.size() == pool.capacity());
  auto all = pool.get_data_owned();
  CHECK(all.size() == pool.capacity());
}

}  // namespace embedded
