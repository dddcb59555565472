// Routes the program's global operator new / delete (every form: sized, aligned, nothrow,
// array) through one static allocator. Expand FERRO_GLOBAL_ALLOCATOR(object) in exactly one
// .cpp file of the program, at namespace scope, naming a constinit allocator, so that it already
// works for allocations made before main:
//
//   constinit ferro::StaticHeap<16384, 64> heap;
//   constinit ferro::Synchronized<ferro::ChunkAllocator<64>> heap_alloc{heap};
//   FERRO_GLOBAL_ALLOCATOR(heap_alloc)
//
// Host-only: the throwing forms throw std::bad_alloc when the region is full. malloc is not
// affected (C code and the C library keep their own heap).
#pragma once

#include <cstddef>
#include <new>

#include "ferro/alloc/allocator.hpp"

namespace ferro::global_new_detail {

template <class A>
void* allocate_or_throw(A& a, std::size_t n, std::size_t align) {
  if (void* p = a.allocate(n, align)) return p;
  throw std::bad_alloc();
}

}  // namespace ferro::global_new_detail

#define FERRO_GLOBAL_ALLOCATOR(object)                                                                                 \
  void* operator new(std::size_t n) {                                                                                  \
    return ::ferro::global_new_detail::allocate_or_throw(object, n, __STDCPP_DEFAULT_NEW_ALIGNMENT__);                 \
  }                                                                                                                    \
  void* operator new[](std::size_t n) {                                                                                \
    return ::ferro::global_new_detail::allocate_or_throw(object, n, __STDCPP_DEFAULT_NEW_ALIGNMENT__);                 \
  }                                                                                                                    \
  void* operator new(std::size_t n, std::align_val_t a) {                                                              \
    return ::ferro::global_new_detail::allocate_or_throw(object, n, static_cast<std::size_t>(a));                      \
  }                                                                                                                    \
  void* operator new[](std::size_t n, std::align_val_t a) {                                                            \
    return ::ferro::global_new_detail::allocate_or_throw(object, n, static_cast<std::size_t>(a));                      \
  }                                                                                                                    \
  void* operator new(std::size_t n, const std::nothrow_t&) noexcept {                                                  \
    return object.allocate(n, __STDCPP_DEFAULT_NEW_ALIGNMENT__);                                                       \
  }                                                                                                                    \
  void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {                                                \
    return object.allocate(n, __STDCPP_DEFAULT_NEW_ALIGNMENT__);                                                       \
  }                                                                                                                    \
  void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {                              \
    return object.allocate(n, static_cast<std::size_t>(a));                                                            \
  }                                                                                                                    \
  void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {                            \
    return object.allocate(n, static_cast<std::size_t>(a));                                                            \
  }                                                                                                                    \
  void operator delete(void* p) noexcept { object.deallocate(p); }                                                     \
  void operator delete[](void* p) noexcept { object.deallocate(p); }                                                   \
  void operator delete(void* p, std::size_t n) noexcept { object.deallocate(p, n); }                                   \
  void operator delete[](void* p, std::size_t n) noexcept { object.deallocate(p, n); }                                 \
  void operator delete(void* p, std::align_val_t a) noexcept { object.deallocate(p, 0, static_cast<std::size_t>(a)); } \
  void operator delete[](void* p, std::align_val_t a) noexcept {                                                       \
    object.deallocate(p, 0, static_cast<std::size_t>(a));                                                              \
  }                                                                                                                    \
  void operator delete(void* p, std::size_t n, std::align_val_t a) noexcept {                                          \
    object.deallocate(p, n, static_cast<std::size_t>(a));                                                              \
  }                                                                                                                    \
  void operator delete[](void* p, std::size_t n, std::align_val_t a) noexcept {                                        \
    object.deallocate(p, n, static_cast<std::size_t>(a));                                                              \
  }                                                                                                                    \
  void operator delete(void* p, const std::nothrow_t&) noexcept { object.deallocate(p); }                              \
  void operator delete[](void* p, const std::nothrow_t&) noexcept { object.deallocate(p); }                            \
  static_assert(true)
