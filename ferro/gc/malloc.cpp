#include "ferro/gc/malloc.hpp"

namespace ferro::gc {
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
