// The malloc shim for third-party code (the seed's "How to handle malloc"): C-style allocation
// on a heap the program binds. Blocks live in object space, so they never move; they count as
// marked until freed, and each can be told to keep one GC object alive (register a List to keep
// many). A library such as zlib gets these through its allocator hooks.
//
// The binding is one global pointer, as on the single-threaded microcontroller this is for;
// on a host, bind per thread of use or pass the Heap itself through the library's opaque
// pointer and call Heap::malloc and friends directly.
#pragma once

#include <cstddef>

#include "ferro/gc/heap.hpp"

namespace ferro::gc {

// The heap gc::malloc and friends use from now on (nullptr: none, and malloc returns nullptr).
void bind_malloc(Heap* heap) noexcept;
Heap* bound_malloc_heap() noexcept;

void* malloc(std::size_t size) noexcept;
void* calloc(std::size_t count, std::size_t size) noexcept;
void* realloc(void* ptr, std::size_t size) noexcept;
void free(void* ptr) noexcept;
// While `block` lives, `referent` survives collections.
void keep_alive(void* block, const Obj* referent) noexcept;

}  // namespace ferro::gc
