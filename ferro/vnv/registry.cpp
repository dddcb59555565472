#include "ferro/vnv/registry.hpp"

#include <atomic>

namespace ferro::vnv {
namespace {

static_assert(std::atomic<detail::Persistable*>::is_always_lock_free, "the registry is read from signal handlers");
constinit std::atomic<detail::Persistable*> g_heaps[kMaxHeaps] = {};

}  // namespace

namespace detail {

bool register_heap(Persistable* heap) noexcept {
  for (auto& slot : g_heaps) {
    Persistable* expected = nullptr;
    // release: a persist_all that sees the pointer sees the heap fully constructed.
    if (slot.compare_exchange_strong(expected, heap, std::memory_order_release, std::memory_order_relaxed)) return true;
  }
  return false;
}

void unregister_heap(Persistable* heap) noexcept {
  for (auto& slot : g_heaps) {
    Persistable* expected = heap;
    // relaxed suffices: the heap's own lock orders its teardown against a persist in progress.
    if (slot.compare_exchange_strong(expected, nullptr, std::memory_order_relaxed)) return;
  }
}

}  // namespace detail

std::size_t persist_all() noexcept {
  std::size_t reached = 0;
  for (auto& slot : g_heaps) {
    // acquire: pairs with register_heap's release.
    if (auto* heap = slot.load(std::memory_order_acquire)) {
      heap->persist_from_registry();
      ++reached;
    }
  }
  return reached;
}

}  // namespace ferro::vnv
