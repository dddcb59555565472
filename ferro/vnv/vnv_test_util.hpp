// Shared by the vnv tests: heap types over RAM-backed storage and a shadow-model helper.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "ferro/alloc/buddy.hpp"
#include "ferro/alloc/linked_list.hpp"
#include "ferro/storage/fault_storage.hpp"
#include "ferro/storage/memory_storage.hpp"
#include "ferro/vnv/heap.hpp"

namespace ferro::vnv::testing {

using MemHeap = Heap<BuddyAllocator, NonResidentBuddyAllocator<16, 8192>, DefaultObjectManager, MemoryStorage>;
using FaultHeap =
    Heap<BuddyAllocator, NonResidentBuddyAllocator<16, 8192>, DefaultObjectManager, FaultStorage<MemoryStorage>>;

// RAM that stands in for FRAM, plus the storage over it.
struct Fram {
  explicit Fram(std::size_t n) : bytes(n), storage(bytes) {}
  std::vector<std::byte> bytes;
  MemoryStorage storage;
};

template <class H>
void expect_ok(const H& heap) {
  const auto s = heap.check();
  ASSERT_TRUE(s) << s.error().message;
}

}  // namespace ferro::vnv::testing

#define VNV_ASSERT_OK(expr)                                         \
  do {                                                              \
    const auto vnv_s_ = (expr);                                     \
    ASSERT_TRUE(vnv_s_) << #expr << ": " << vnv_s_.error().message; \
  } while (0)
