// Every open vnv heap of the process, in a fixed table (no heap), so that one call from a
// power-failure interrupt or signal handler can persist them all.
#pragma once

#include <cstddef>

namespace ferro::vnv {

inline constexpr std::size_t kMaxHeaps = 16;

namespace detail {

class Persistable {
 public:
  // Persist now, or at the end of the heap operation this call interrupted.
  virtual void persist_from_registry() noexcept = 0;

 protected:
  ~Persistable() = default;
};

// False when kMaxHeaps heaps are registered already.
bool register_heap(Persistable* heap) noexcept;
void unregister_heap(Persistable* heap) noexcept;

}  // namespace detail

// Persists every registered heap (each runs now or is queued behind the operation it
// interrupted). Async-signal-safe. Returns how many heaps it reached.
std::size_t persist_all() noexcept;

}  // namespace ferro::vnv
