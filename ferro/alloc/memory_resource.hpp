// Any region allocator as a std::pmr::memory_resource, so std::pmr containers can live in a
// static region. Host-only: std::pmr reports exhaustion by throwing std::bad_alloc.
#pragma once

#include <memory_resource>
#include <new>

#include "ferro/alloc/allocator.hpp"

namespace ferro {

template <RegionAllocator A>
class MemoryResource final : public std::pmr::memory_resource {
 public:
  explicit MemoryResource(A& allocator) noexcept : a_(allocator) {}
  A& allocator() const noexcept { return a_; }

 private:
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    void* p = a_.allocate(bytes, align);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t align) override { a_.deallocate(p, bytes, align); }
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override { return this == &other; }

  A& a_;
};

}  // namespace ferro
