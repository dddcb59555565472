// Fuzzes Heap::open() with arbitrary images: either raw bytes, or a valid image with
// input-chosen bytes changed and (optionally) its CRCs and commit record recomputed, so the
// structural checks behind the CRCs are reached too. open() must return an error or a heap
// that passes check() and keeps working; never crash.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ferro/alloc/buddy.hpp"
#include "ferro/core/crc32.hpp"
#include "ferro/storage/memory_storage.hpp"
#include "ferro/vnv/heap.hpp"

namespace {

using namespace ferro;
using namespace ferro::vnv;
using FuzzHeap = Heap<BuddyAllocator, NonResidentBuddyAllocator<16, 1024>, DefaultObjectManager, MemoryStorage>;
const Config kConfig{.max_dirty_bytes = 128, .max_objects = 8, .block_size = 16, .sync = false};
constexpr std::size_t kStorage = 6144;
constexpr std::size_t kRam = 8 * sizeof(detail::Entry) + 512;

struct Rec {
  std::uint8_t b[24];
};

void build_valid(std::vector<std::byte>& medium, std::uint8_t seed) {
  MemoryStorage mem(medium);
  std::vector<std::byte> ram(kRam);
  FuzzHeap heap(ram, mem, kConfig);
  if (!heap.create()) std::abort();
  for (std::uint32_t k = 0; k < 4; ++k) {
    auto o = heap.allocate<Rec>();
    if (!o) std::abort();
    {
      auto m = o->get_mut();
      m->get()->b[k] = seed;
    }
    (void)heap.set_root(k, *o);
    if (k == 2) (void)heap.persist();
    o->release();
  }
  if (seed & 1) (void)heap.set_root("named", kNoObject);
  (void)heap.persist();
}

// Recomputes a slot's CRCs and commit record so the damage passes the checksums.
void reseal(std::vector<std::byte>& medium, const format::Geometry& g, std::uint64_t slot) {
  const std::uint64_t base = slot * g.slot_bytes;
  format::SlotHeader h;
  std::memcpy(&h, medium.data() + base, sizeof(h));
  if (h.entries_used > g.table_capacity || h.log_bytes > g.log_capacity) return;
  std::uint32_t crc = crc32(medium.data() + base + g.table_offset(), h.entries_used * sizeof(format::TableEntry));
  crc = crc32(medium.data() + base + g.roots_offset(), format::kRoots * sizeof(format::Root), crc);
  crc = crc32(medium.data() + base + g.log_offset(), h.log_bytes, crc);
  h.body_crc = crc;
  h.header_crc = format::header_crc(h);
  std::memcpy(medium.data() + base, &h, sizeof(h));
  const format::CommitRecord c{h.sequence, h.header_crc, format::kCommit};
  std::memcpy(medium.data() + base + g.commit_offset(), &c, sizeof(c));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::byte> medium(kStorage);
  std::vector<std::byte> ram(kRam);
  MemoryStorage mem(medium);
  const std::uint8_t mode = size > 0 ? data[0] : 0;
  if (mode % 3 == 0) {
    std::memcpy(medium.data(), data, size < kStorage ? size : kStorage);
  } else {
    build_valid(medium, size > 1 ? data[1] : 0);
    FuzzHeap probe(ram, mem, kConfig);
    const format::Geometry g = probe.geometry();
    // data[2] % 6 triples (offset low, offset high, xor) inside the two slots: few changes,
    // so that resealed images often get past the checksums.
    const std::size_t changes = size > 2 ? data[2] % 6 : 0;
    for (std::size_t i = 3; i + 2 < size && i < 3 + 3 * changes; i += 3) {
      const std::size_t at = (data[i] | (std::size_t{data[i + 1]} << 8)) % (2 * g.slot_bytes);
      medium[at] ^= std::byte{data[i + 2]};
    }
    if (mode % 3 == 2) {
      reseal(medium, g, 0);
      reseal(medium, g, 1);
    }
  }
  FuzzHeap heap(ram, mem, kConfig);
  if (!heap.open()) return 0;
  if (!heap.check()) std::abort();
  // The restored heap must work: read and write every root object, persist, reopen.
  for (std::uint32_t k = 0; k < format::kRoots; ++k) {
    auto o = heap.root<Rec>(k);
    if (!o) continue;
    if (auto m = o->get_mut(); m) m->get()->b[0] ^= 1;
    (void)o->unload();
    (void)o->get();
    o->release();
  }
  if (!heap.check()) std::abort();
  if (heap.persist() != PersistOutcome::done) std::abort();
  std::vector<std::byte> ram2(kRam);
  FuzzHeap again(ram2, mem, kConfig);
  if (!again.open() || !again.check()) std::abort();
  return 0;
}
