// The minimum viable core: Value, List, Dict, Str/Bytes and the function signature, over the
// heap: contents survive collections and compactions, and dropped structures are reclaimed.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "ferro/core/random.hpp"
#include "ferro/gc/dict.hpp"
#include "ferro/gc/list.hpp"
#include "ferro/gc/str.hpp"

namespace ferro::gc {
namespace {

struct TypesTest : ::testing::Test {
  std::vector<std::byte> mem = std::vector<std::byte>(256 * 1024);
  Heap heap{mem};
};

TEST_F(TypesTest, ValueIsOneWordWithFourKinds) {
  static_assert(sizeof(Value) == sizeof(void*));
  EXPECT_TRUE(Value().is_none());
  EXPECT_FALSE(Value().is_obj());
  EXPECT_TRUE(Value::boolean(true).is_bool());
  EXPECT_TRUE(Value::boolean(true).as_bool());
  EXPECT_FALSE(Value::boolean(false).as_bool());
  EXPECT_FALSE(Value::boolean(false).is_none());
  for (std::intptr_t v : {std::intptr_t{0}, std::intptr_t{1}, std::intptr_t{-1}, Value::kIntMax, Value::kIntMin}) {
    ASSERT_TRUE(Value::fits(v));
    const Value x = Value::integer(v);
    EXPECT_TRUE(x.is_int());
    EXPECT_FALSE(x.is_obj() || x.is_none() || x.is_bool());
    EXPECT_EQ(x.as_int(), v);
  }
  EXPECT_FALSE(Value::fits(Value::kIntMax + 1));
  Str* s = Str::make(heap, "x");
  const Value o(s);
  EXPECT_TRUE(o.is_obj());
  EXPECT_EQ(o.as_obj(), s);
  EXPECT_TRUE(o.is(Object::Kind::str));
  EXPECT_FALSE(Value(static_cast<Object*>(nullptr)).is_obj());  // a null reference is none
}

TEST_F(TypesTest, ListAppendsInsertsPopsAndKeepsItemsAlive) {
  Root<List> list(heap, heap.make<List>(heap));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(list->append(Value::integer(i)));
  ASSERT_TRUE(list->insert(0, Value::integer(-1)));
  ASSERT_TRUE(list->insert(50, Str::make(heap, "middle")));
  EXPECT_EQ(list->size(), 102u);
  EXPECT_EQ(list->get(0).as_int(), -1);
  EXPECT_EQ(list->get(1).as_int(), 0);
  heap.make<Str>(heap);  // garbage
  heap.collect();
  EXPECT_EQ(heap.stats().curr_objs.count, 2u);
  ASSERT_TRUE(list->get(50).is(Object::Kind::str));
  EXPECT_EQ(static_cast<Str*>(list->get(50).as_obj())->text(), "middle");
  EXPECT_EQ(list->pop(50).is_obj(), true);
  EXPECT_EQ(list->pop(0).as_int(), -1);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(list->get(static_cast<std::size_t>(i)).as_int(), i);
  heap.collect();
  EXPECT_EQ(heap.stats().curr_objs.count, 1u);  // the popped string is gone
  EXPECT_TRUE(heap.check());
}

TEST_F(TypesTest, ListAppendFailsCleanlyWhenFull) {
  std::vector<std::byte> small(2048);
  Heap tiny(small);
  List* list = tiny.make<List>(tiny);
  std::size_t n = 0;
  while (list->append(Value::integer(static_cast<std::intptr_t>(n)))) ++n;
  EXPECT_GT(n, 100u);
  EXPECT_EQ(list->append(Value()).code(), Errc::no_space);
  EXPECT_EQ(list->size(), n);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(list->get(i).as_int(), static_cast<std::intptr_t>(i));
  EXPECT_TRUE(tiny.check());
}

TEST_F(TypesTest, StrAndBytesCompareByContent) {
  Str* a = Str::make(heap, "hello");
  Str* b = Str::make(heap, "hel");
  ASSERT_TRUE(b->append({reinterpret_cast<const std::byte*>("lo"), 2}));
  EXPECT_EQ(b->text(), "hello");
  EXPECT_TRUE(Value::equal(a, b));
  EXPECT_EQ(Value(a).hash(), Value(b).hash());
  Bytes* c = Bytes::make(heap, {reinterpret_cast<const std::byte*>("hello"), 5});
  EXPECT_FALSE(Value::equal(a, c));  // text is not bytes
  Str* r = Str::rom(heap, "hello");
  EXPECT_TRUE(r->is_rom());
  EXPECT_TRUE(Value::equal(a, r));
  EXPECT_EQ(r->append({reinterpret_cast<const std::byte*>("!"), 1}).code(), Errc::unsupported);
  EXPECT_EQ(heap.stats().curr_vecs.count, 3u);  // the ROM string has no vector
}

TEST_F(TypesTest, DictKeepsInsertionOrderAndMatchesAModel) {
  Root<Dict> dict(heap, heap.make<Dict>(heap));
  std::map<std::intptr_t, std::intptr_t> model;
  std::vector<std::intptr_t> order;  // keys in first-insertion order, as the dict must list them
  Rng rng(3);
  for (int step = 0; step < 5000; ++step) {
    const auto k = static_cast<std::intptr_t>(rng.below(300));
    const auto v = static_cast<std::intptr_t>(rng());
    if (rng.chance(2, 3)) {
      ASSERT_TRUE(dict->set(Value::integer(k), Value::integer(v >> 2)));
      if (!model.count(k)) order.push_back(k);
      model[k] = v >> 2;
    } else {
      EXPECT_EQ(dict->remove(Value::integer(k)), model.erase(k) == 1);
      std::erase(order, k);
    }
    if (step % 500 == 0) heap.collect();
  }
  ASSERT_EQ(dict->size(), model.size());
  for (auto [k, v] : model) {
    auto got = dict->get(Value::integer(k));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->as_int(), v);
  }
  EXPECT_FALSE(dict->get(Value::integer(1000)).has_value());
  std::size_t i = 0;
  for (auto it = dict->next(0); it; it = dict->next(it->pos + 1)) ASSERT_EQ(it->key.as_int(), order[i++]);
  EXPECT_EQ(i, order.size());
  EXPECT_TRUE(heap.check());
}

// Value::from_raw() can make any word, including the one a removed entry's key holds: a key
// from foreign bits is refused or not found, and never matches a tombstone.
TEST_F(TypesTest, DictRefusesTheTombstoneWord) {
  const Value odd = Value::from_raw(10);  // neither none, a bool, an integer nor an object
  for (std::intptr_t n = 2; n < 400; ++n) {
    Root<Dict> dict(heap, heap.make<Dict>(heap));
    for (std::intptr_t k = 0; k < n; ++k) ASSERT_TRUE(dict->set(Value::integer(k), Value::integer(k)));
    for (std::intptr_t k = 0; k + 1 < n; ++k) ASSERT_TRUE(dict->remove(Value::integer(k)));  // tombstones
    EXPECT_EQ(dict->set(odd, Value::integer(1)).code(), Errc::invalid_argument);
    EXPECT_FALSE(dict->get(odd).has_value());
    EXPECT_FALSE(dict->remove(odd));
    ASSERT_EQ(dict->size(), 1u) << n;
    EXPECT_EQ(dict->get(Value::integer(n - 1))->as_int(), n - 1);
    ASSERT_TRUE(dict->next(0).has_value());
    EXPECT_FALSE(dict->next(dict->next(0)->pos + 1).has_value());
    dict = nullptr;
    heap.collect();
  }
  EXPECT_TRUE(heap.check());
}

TEST_F(TypesTest, DictWithStringKeysSurvivesCompaction) {
  Root<Dict> dict(heap, heap.make<Dict>(heap));
  for (int i = 0; i < 200; ++i) {
    const std::string k = "key" + std::to_string(i);
    ASSERT_TRUE(dict->set(Str::make(heap, k), Value::integer(i)));
    Bytes::make(heap, {reinterpret_cast<const std::byte*>(k.data()), k.size()});  // garbage in between
  }
  heap.collect();  // moves every surviving vector down
  EXPECT_EQ(heap.stats().curr_objs.count, 201u);
  EXPECT_FALSE(dict->get(Str::rom(heap, "key200")).has_value());
  EXPECT_FALSE(dict->get(Value::integer(5)).has_value());
  for (int i = 0; i < 200; i += 7) {
    const std::string k = "key" + std::to_string(i);
    auto v = dict->get(Str::make(heap, k));  // an equal but distinct string finds it
    ASSERT_TRUE(v.has_value()) << k;
    EXPECT_EQ(v->as_int(), i);
  }
  EXPECT_TRUE(dict->set(Str::make(heap, "key5"), Value::boolean(true)));  // replaces, keeps position
  auto first = dict->next(0);
  ASSERT_TRUE(first);
  EXPECT_EQ(static_cast<Str*>(first->key.as_obj())->text(), "key0");
  EXPECT_EQ(dict->next(5)->value, Value::boolean(true));
  EXPECT_TRUE(heap.check());
}

Value sum(ArgVec const& args) {
  std::intptr_t total = 0;
  for (std::size_t i = 0; i < args.size(); ++i) total += args[i].as_int();
  return Value::integer(total);
}

TEST_F(TypesTest, FunctionsTakeArgVecs) {
  Function* f = heap.make<Function>(sum, "sum");
  const Value fixed[] = {Value::integer(1), Value::integer(2), Value::integer(3)};
  EXPECT_EQ((*f)(ArgVec(fixed)).as_int(), 6);
  List* l = heap.make<List>(heap);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(l->append(Value::integer(i)));
  EXPECT_EQ((*f)(ArgVec(*l, 2, 3)).as_int(), 2 + 3 + 4);
  EXPECT_STREQ(f->name(), "sum");
}

Value forty_two(ArgVec const&) { return Value::integer(42); }

TEST_F(TypesTest, StaticObjectsOutsideTheHeapAreLeftAlone) {
  static Function builtin(forty_two, "forty_two");  // in .data, as a firmware's built-ins are
  Root<List> list(heap, heap.make<List>(heap));
  ASSERT_TRUE(list->append(&builtin));
  ASSERT_TRUE(list->append(Str::make(heap, "heap string")));
  heap.collect();
  heap.collect();
  EXPECT_EQ(static_cast<Function*>(list->get(0).as_obj())->name(), std::string_view("forty_two"));
  EXPECT_EQ(builtin(ArgVec(std::span<const Value>())).as_int(), 42);
  EXPECT_EQ(heap.stats().curr_objs.count, 2u);
  EXPECT_TRUE(heap.check());
}

TEST_F(TypesTest, APythonLikeTreeIsReclaimedWhenDropped) {
  const std::size_t gap0 = heap.gap();
  {
    Rooted root(heap, heap.make<Dict>(heap));
    auto* top = static_cast<Dict*>(root.get().as_obj());
    for (int i = 0; i < 30; ++i) {
      List* l = heap.make<List>(heap);
      ASSERT_TRUE(top->set(Str::make(heap, "list" + std::to_string(i)), l));
      for (int k = 0; k < 20; ++k) {
        Dict* leaf = heap.make<Dict>(heap);
        ASSERT_TRUE(leaf->set(Str::rom(heap, "name"), Str::make(heap, "leaf" + std::to_string(k))));
        ASSERT_TRUE(leaf->set(Value::integer(k), Value::boolean(k % 2 == 0)));
        ASSERT_TRUE(l->append(leaf));
      }
    }
    heap.collect();
    EXPECT_EQ(heap.stats().curr_objs.count, 1u + 30 * 2 + 30 * 20 * 3);  // leaf dict, its key, its string
    auto l7 = top->get(Str::rom(heap, "list7"));
    ASSERT_TRUE(l7);
    auto* leaf = static_cast<Dict*>(static_cast<List*>(l7->as_obj())->get(3).as_obj());
    EXPECT_EQ(static_cast<Str*>(leaf->get(Str::rom(heap, "name"))->as_obj())->text(), "leaf3");
    EXPECT_TRUE(heap.check());
  }
  heap.collect();
  EXPECT_EQ(heap.stats().curr_objs.count, 0u);
  EXPECT_EQ(heap.stats().curr_vecs.count, 0u);
  EXPECT_EQ(heap.gap(), gap0);
}

}  // namespace
}  // namespace ferro::gc
