// Shadow model: random graph mutations, allocations (which may collect by themselves) and
// explicit collections against a trivially correct model of the object graph. After every step
// the heap's check() must pass; after every collection everything reachable keeps its edges and
// bytes, and everything unreachable has been destroyed exactly once.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <vector>

#include "ferro/core/random.hpp"
#include "ferro/gc/heap.hpp"

namespace ferro::gc {
namespace {

std::vector<int>* g_destroyed = nullptr;  // per id

struct TNode : Obj {
  std::size_t id;
  Vec kids;  // TNode* array
  Vec payload;
  std::size_t nkids = 0;
  std::size_t len = 0;
  TNode(Heap& h, std::size_t i) : id(i), kids(h), payload(h) {}
  ~TNode() override { ++(*g_destroyed)[id]; }
  TNode* kid(std::size_t i) const {
    TNode* k;
    std::memcpy(&k, kids.data() + i * sizeof(k), sizeof(k));
    return k;
  }
  void set_kid(std::size_t i, TNode* k) { std::memcpy(kids.data() + i * sizeof(k), &k, sizeof(k)); }
  bool add_kid(TNode* k) {
    if ((nkids + 1) * sizeof(k) > kids.capacity() && !kids.resize((nkids + 1) * sizeof(k))) return false;
    set_kid(nkids++, k);
    return true;
  }
  void mark(Heap& h) const override {
    for (std::size_t i = 0; i < nkids; ++i) h.mark(kid(i));
  }
};

bool same(const Vec& v, const std::vector<std::byte>& bytes) {
  return v.capacity() == bytes.size() && std::equal(bytes.begin(), bytes.end(), v.data());
}

std::byte pattern(std::size_t id, std::size_t j) { return static_cast<std::byte>(id * 31 + j * 7); }

struct Model {
  struct M {
    TNode* p;
    std::vector<std::size_t> kids;      // ids, or kNone
    std::vector<std::byte> bytes = {};  // the payload's whole capacity, as it must read
    bool collected = false;
  };
  static constexpr std::size_t kNone = ~std::size_t{0};
  std::vector<M> nodes;
  std::deque<Root<TNode>> roots;  // built in place: roots never move
  std::vector<std::size_t> root_ids;

  std::vector<bool> reachable() const {
    std::vector<bool> r(nodes.size(), false);
    std::vector<std::size_t> todo;
    for (auto id : root_ids)
      if (id != kNone && !r[id]) r[id] = true, todo.push_back(id);
    while (!todo.empty()) {
      const auto id = todo.back();
      todo.pop_back();
      for (auto k : nodes[id].kids)
        if (k != kNone && !r[k]) r[k] = true, todo.push_back(k);
    }
    return r;
  }
};

void run_model(std::uint64_t seed, std::size_t heap_bytes, std::size_t steps, Stats& out) {
  std::vector<int> destroyed;
  g_destroyed = &destroyed;
  std::vector<std::byte> mem(heap_bytes);
  Rng rng(seed);
  Options o;
  o.auto_collect = true;
  o.mark_stack_entries = 1 + rng.below(6);  // small, so that rescans happen
  o.trigger_fraction = 0.1 + static_cast<double>(rng.below(40)) / 100;
  Heap heap(mem, o);
  const std::size_t gap0 = heap.gap();
  Model m;
  for (int i = 0; i < 6; ++i) {
    m.roots.emplace_back(heap);
    m.root_ids.push_back(Model::kNone);
  }
  std::uint32_t sweeps_seen = 0;

  auto verify_collection = [&] {
    const auto r = m.reachable();
    for (std::size_t id = 0; id < m.nodes.size(); ++id) {
      auto& n = m.nodes[id];
      if (n.collected) {
        ASSERT_EQ(destroyed[id], 1) << "id " << id << " destroyed more than once";
      } else if (r[id]) {
        ASSERT_EQ(destroyed[id], 0) << "reachable id " << id << " was destroyed";
        ASSERT_EQ(n.p->id, id);
        ASSERT_EQ(n.p->nkids, n.kids.size());
        for (std::size_t k = 0; k < n.kids.size(); ++k) {
          TNode* kp = n.p->kid(k);
          ASSERT_EQ(kp == nullptr ? Model::kNone : kp->id, n.kids[k]);
        }
        ASSERT_EQ(n.p->payload.capacity(), n.bytes.size());
        ASSERT_EQ(same(n.p->payload, n.bytes), true) << id;
      } else {
        ASSERT_EQ(destroyed[id], 1) << "unreachable id " << id << " survived";
        n.collected = true;
      }
    }
  };
  auto after_alloc = [&] {
    const auto s = heap.stats().sweeps;
    if (s != sweeps_seen) {
      sweeps_seen = s;
      verify_collection();
    }
  };
  auto pick_reachable = [&](const std::vector<bool>& r) -> std::size_t {
    std::size_t count = 0;
    for (bool b : r) count += b;
    if (count == 0) return Model::kNone;
    std::size_t k = rng.below(count);
    for (std::size_t id = 0; id < r.size(); ++id)
      if (r[id] && k-- == 0) return id;
    return Model::kNone;
  };

  for (std::size_t step = 0; step < steps; ++step) {
    const auto r = m.reachable();
    const auto op = rng.below(100);
    if (op < 40) {  // allocate and link
      const std::size_t id = m.nodes.size();
      destroyed.push_back(0);
      TNode* p = heap.make<TNode>(heap, id);
      after_alloc();  // a collection it ran happened before the new node existed
      if (::testing::Test::HasFatalFailure()) return;
      m.nodes.push_back({p, {}, {}, p == nullptr});
      if (p == nullptr) destroyed[id] = 1;  // never existed: count it as gone for the model
      if (p == nullptr) continue;
      const std::size_t len = rng.below(300);
      if (p->payload.resize(len)) {
        m.nodes[id].bytes.assign(p->payload.capacity(), std::byte{0});
        for (std::size_t j = 0; j < len; ++j) p->payload.data()[j] = m.nodes[id].bytes[j] = pattern(id, j);
      }
      const auto r2 = m.reachable();
      const std::size_t parent = rng.chance(1, 2) ? Model::kNone : pick_reachable(r2);
      if (parent == Model::kNone) {
        const auto slot = rng.below(m.roots.size());
        m.roots[slot] = p;
        m.root_ids[slot] = id;
      } else if (m.nodes[parent].p->add_kid(p)) {
        m.nodes[parent].kids.push_back(id);
      }
    } else if (op < 60) {  // rewire an edge between reachable nodes
      const auto a = pick_reachable(r);
      if (a == Model::kNone || m.nodes[a].kids.empty()) continue;
      const auto i = rng.below(m.nodes[a].kids.size());
      const auto b = rng.chance(1, 4) ? Model::kNone : pick_reachable(r);
      m.nodes[a].p->set_kid(i, b == Model::kNone ? nullptr : m.nodes[b].p);
      m.nodes[a].kids[i] = b;
    } else if (op < 72) {  // drop or move a root
      const auto slot = rng.below(m.roots.size());
      const auto b = rng.chance(1, 2) ? Model::kNone : pick_reachable(r);
      m.roots[slot] = b == Model::kNone ? nullptr : m.nodes[b].p;
      m.root_ids[slot] = b;
    } else if (op < 90) {  // resize a payload
      const auto a = pick_reachable(r);
      if (a == Model::kNone) continue;
      auto& n = m.nodes[a];
      const std::size_t len = rng.below(400);
      if (n.p->payload.resize(len)) {
        n.bytes.resize(n.p->payload.capacity(), std::byte{0});  // kept bytes kept, new ones zero
        ASSERT_EQ(same(n.p->payload, n.bytes), true) << "resize " << a;
        const std::size_t from = rng.below(len + 1);
        for (std::size_t j = from; j < len; ++j) n.p->payload.data()[j] = n.bytes[j] = pattern(a + step, j);
      } else {
        ASSERT_EQ(n.p->payload.capacity(), n.bytes.size()) << "a failed resize changed the vector";
        ASSERT_EQ(same(n.p->payload, n.bytes), true);
      }
    } else if (op < 97) {
      heap.collect();
      sweeps_seen = heap.stats().sweeps;
      verify_collection();
      if (::testing::Test::HasFatalFailure()) return;
    } else {
      heap.compact();
    }
    const Status s = heap.check();
    EXPECT_TRUE(s) << "step " << step << ": " << s.error().message;
    if (!s) return;
  }
  for (std::size_t i = 0; i < m.roots.size(); ++i) {
    m.roots[i] = nullptr;
    m.root_ids[i] = Model::kNone;
  }
  heap.collect();
  verify_collection();
  out = heap.stats();
  for (std::size_t id = 0; id < m.nodes.size(); ++id) ASSERT_EQ(destroyed[id], 1) << id;
  EXPECT_EQ(heap.gap(), gap0);
  m.roots.clear();
  g_destroyed = nullptr;
}

TEST(GcModel, SmallHeapManySeeds) {
  std::uint32_t auto_sweeps = 0, overflows = 0;
  for (std::uint64_t seed = 1; seed <= 16; ++seed) {
    Stats s;
    run_model(seed, 8 * 1024, 3000, s);
    if (HasFailure()) FAIL() << "seed " << seed;
    auto_sweeps += s.sweeps;
    overflows += s.mark_overflows;
  }
  // The run exercised what it is meant to: many collections, and mark-stack rescans.
  EXPECT_GT(auto_sweeps, 16u * 20);
  EXPECT_GT(overflows, 0u);
}

TEST(GcModel, LargerHeapLongRun) {
  Stats s;
  run_model(99, 64 * 1024, 20000, s);
  EXPECT_GT(s.sweeps, 20u);
}

}  // namespace
}  // namespace ferro::gc
