// The malloc shim: Heap's C-style primitives and the free functions bound to one heap.
// A malloc block is an object-space block of kind kMalloc: it never moves, is live until
// freed, and may name one referent object that marking keeps alive with it.
//
// Invariants: referents_ counts the live malloc blocks whose link is not null; a block freed
// during a sweep is left for that sweep to relist (deferred_free_), since the walk may already
// have passed it.
#include <cstring>

#include "ferro/core/bits.hpp"
#include "ferro/gc/internal/object_space.hpp"
#include "ferro/gc/malloc.hpp"

namespace ferro::gc {

using internal::kFree;
using internal::kMalloc;
using internal::poison;

bool Heap::owns_block(const void* ptr) const noexcept {
  const auto* p = static_cast<const std::byte*>(ptr);
  return p >= obj_low_ + sizeof(Block) && p < obj_top_ && is_aligned(ptr, kGranule);
}

void* Heap::malloc(std::size_t size) noexcept {
  void* p = allocate_object(size == 0 ? 1 : size);
  if (p == nullptr) return nullptr;
  Block* b = Block::of(p);
  b->set(b->size(), kMalloc);
  return p;
}

void* Heap::calloc(std::size_t count, std::size_t size) noexcept {
  const auto total = checked_mul(count, size);
  if (!total) return nullptr;
  void* p = malloc(*total);
  if (p != nullptr) std::memset(p, 0, *total);
  return p;
}

void Heap::free(void* ptr) noexcept {
  if (ptr == nullptr) return;
  const auto* p = static_cast<const std::byte*>(ptr);
  FERRO_CHECK(p >= base_ && p < obj_top_, "gc::free: pointer not from this heap");
  // A freed block at the bottom of object space went back to the gap: still a double free.
  FERRO_CHECK(owns_block(ptr), "gc::free: not a live malloc block (double free?)");
  Block* b = Block::of(ptr);
  FERRO_CHECK(b->kind() == kMalloc, "gc::free: not a live malloc block (double free?)");
  if (b->link != nullptr) --referents_;
  const std::size_t size = b->size();
  uncount_obj(size);
  if (sweeping_) {
    b->set(size, kFree);  // the sweep in progress relists it
    poison(b + 1, size - sizeof(Block));
    deferred_free_ = true;
  } else {
    flush_run(b->bytes(), b->bytes() + size);
  }
}

void* Heap::realloc(void* ptr, std::size_t size) noexcept {
  if (ptr == nullptr) return malloc(size);
  if (size == 0) {
    free(ptr);
    return nullptr;
  }
  FERRO_CHECK(owns_block(ptr), "gc::realloc: pointer not from this heap's malloc");
  Block* b = Block::of(ptr);
  FERRO_CHECK(b->kind() == kMalloc, "gc::realloc: not a live malloc block");
  const std::size_t have = b->size() - sizeof(Block);
  if (size <= have) return ptr;
  void* q = malloc(size);
  if (q == nullptr) return nullptr;  // the old block is untouched
  std::memcpy(q, ptr, have);
  Block* nb = Block::of(q);
  nb->link = b->link;  // the referent moves with the data
  b->link = nullptr;
  free(ptr);
  return q;
}

void Heap::keep_alive(void* block, const Obj* referent) noexcept {
  FERRO_CHECK(owns_block(block), "gc::keep_alive: pointer not from this heap's malloc");
  Block* b = Block::of(block);
  FERRO_CHECK(b->kind() == kMalloc, "gc::keep_alive: not a live malloc block");
  if (b->link != nullptr) --referents_;
  b->link = const_cast<Obj*>(referent);
  if (referent != nullptr) ++referents_;
}

namespace {
Heap* g_heap = nullptr;  // single-threaded by design (see the header)
}  // namespace

void bind_malloc(Heap* heap) noexcept { g_heap = heap; }
Heap* bound_malloc_heap() noexcept { return g_heap; }

void* malloc(std::size_t size) noexcept { return g_heap != nullptr ? g_heap->malloc(size) : nullptr; }
void* calloc(std::size_t count, std::size_t size) noexcept {
  return g_heap != nullptr ? g_heap->calloc(count, size) : nullptr;
}
void* realloc(void* ptr, std::size_t size) noexcept {
  if (g_heap == nullptr) {
    FERRO_CHECK(ptr == nullptr, "gc::realloc: no heap bound");
    return nullptr;
  }
  return g_heap->realloc(ptr, size);
}
void free(void* ptr) noexcept {
  if (ptr == nullptr) return;
  FERRO_CHECK(g_heap != nullptr, "gc::free: no heap bound");
  g_heap->free(ptr);
}
void keep_alive(void* block, const Obj* referent) noexcept {
  FERRO_CHECK(g_heap != nullptr, "gc::keep_alive: no heap bound");
  g_heap->keep_alive(block, referent);
}

}  // namespace ferro::gc
