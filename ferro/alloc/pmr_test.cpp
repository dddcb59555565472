// std::pmr containers running on each region allocator through MemoryResource.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <memory_resource>
#include <string>
#include <string_view>
#include <vector>

#include "ferro/alloc/alloc_test_util.hpp"
#include "ferro/alloc/buddy.hpp"
#include "ferro/alloc/chunk.hpp"
#include "ferro/alloc/linked_list.hpp"
#include "ferro/alloc/memory_resource.hpp"
#include "ferro/alloc/tlsf.hpp"

namespace ferro {
namespace {

template <class A>
class PmrTest : public ::testing::Test {};
using Allocators = ::testing::Types<BuddyAllocator, LinkedListAllocator, ChunkAllocator<64>, TlsfAllocator>;
TYPED_TEST_SUITE(PmrTest, Allocators);

TYPED_TEST(PmrTest, ContainersLiveInTheRegion) {
  alloc_test::Region region(1 << 20);
  TypeParam a(region.span());
  MemoryResource<TypeParam> mr(a);
  {
    std::pmr::vector<int> v(&mr);
    for (int i = 0; i < 5000; ++i) v.push_back(i * 3);
    std::pmr::map<int, std::pmr::string> m(&mr);
    for (int i = 0; i < 300; ++i) m.emplace(i, std::pmr::string(std::string(40 + i % 30, 'a' + i % 26), &mr));
    EXPECT_TRUE(a.owns(v.data()));
    EXPECT_TRUE(a.owns(m.at(7).data()));
    EXPECT_GT(a.stats().live_blocks, 300u);
    ASSERT_TRUE(a.check());
    for (int i = 0; i < 5000; ++i) ASSERT_EQ(v[static_cast<std::size_t>(i)], i * 3);
    for (int i = 0; i < 300; ++i) ASSERT_EQ(std::string_view(m.at(i)), std::string(40 + i % 30, 'a' + i % 26));
  }
  EXPECT_EQ(a.stats().in_use, 0u) << "containers gave everything back";
  EXPECT_TRUE(a.check());
}

TYPED_TEST(PmrTest, ExhaustionThrowsBadAlloc) {
  alloc_test::Region region(16 * 1024);
  TypeParam a(region.span());
  MemoryResource<TypeParam> mr(a);
  std::pmr::vector<char> v(&mr);
  EXPECT_THROW(v.resize(1 << 20), std::bad_alloc);
  EXPECT_TRUE(a.check());
  v.resize(1000);
  EXPECT_TRUE(a.owns(v.data()));
}

}  // namespace
}  // namespace ferro
