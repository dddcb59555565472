// Power loss, littlefs style: FaultStorage cuts power at every write of a scripted workload
// (whole, half or random torn writes) and at every byte of chosen persists. After each cut the
// heap is reopened from what the medium holds and must show exactly the state of the last
// completed persist (or of the interrupted one, when its commit record landed whole); then it
// must keep working: modify, persist, reopen, compare again.
#include <array>
#include <cstdio>
#include <optional>
#include <vector>

#include "ferro/core/random.hpp"
#include "ferro/vnv/vnv_test_util.hpp"

namespace ferro::vnv {
namespace {

using testing::FaultHeap;

constexpr std::uint32_t kSlots = 6;  // numbered roots 0..5 hold small records, 6 holds a big one
using Rec = std::array<std::uint8_t, 48>;
using BigRec = std::array<std::uint8_t, 512>;
const Config kConfig{.max_dirty_bytes = 768, .max_objects = 24, .block_size = 32};
constexpr std::size_t kStorage = 24 * 1024;
constexpr std::size_t kRam = 24 * sizeof(detail::Entry) + 1400;  // a few objects at a time

using Model = std::array<std::optional<std::vector<std::uint8_t>>, kSlots + 1>;

struct Outcome {
  std::optional<Model> last_done;  // state of the last persist that returned done
  std::uint64_t last_done_seq = 0;
  std::optional<Model> in_flight;                 // state the failed persist was writing
  std::vector<std::uint64_t> persist_byte_marks;  // bytes_written before and after each persist
};

// Runs the script until the first error (the power cut); returns what was persisted.
Outcome run_script(FaultStorage<MemoryStorage>& fs, std::uint64_t seed) {
  Outcome out;
  std::vector<std::byte> ram(kRam);
  FaultHeap heap(ram, fs, kConfig);
  if (!heap.create()) return out;
  Model model{};
  out.last_done = model;
  out.last_done_seq = 1;
  std::array<Object<Rec>, kSlots> recs;
  Object<BigRec> big;
  Rng rng(seed);
  auto fail = [&] { return !fs.powered(); };
  for (int step = 0; step < 120; ++step) {
    const auto what = rng.below(100);
    const auto k = static_cast<std::uint32_t>(rng.below(kSlots));
    if (what < 12) {  // allocate or free a record
      if (recs[k]) {
        if (!heap.set_root(k, kNoObject)) break;
        recs[k].reset();
        model[k].reset();
      } else {
        Rec init{};
        for (auto& b : init) b = static_cast<std::uint8_t>(rng());
        auto o = heap.allocate<Rec>(init);
        if (!o) break;
        if (!heap.set_root(k, *o)) break;
        recs[k] = std::move(*o);
        model[k] = std::vector<std::uint8_t>(init.begin(), init.end());
      }
    } else if (what < 20) {  // the big record, partially dirtied
      if (!big) {
        auto o = heap.allocate<BigRec>();
        if (!o || !heap.set_root(kSlots, *o)) break;
        big = std::move(*o);
        model[kSlots] = std::vector<std::uint8_t>(512, 0);
      }
      const auto at = rng.below(512 - 8);
      auto m = big.get_mut_bytes(at, 8);
      if (!m) break;
      for (std::size_t i = 0; i < 8; ++i) {
        const auto v = static_cast<std::uint8_t>(rng());
        m->bytes()[i] = std::byte{v};
        (*model[kSlots])[at + i] = v;
      }
    } else if (what < 70) {
      if (!recs[k]) continue;
      auto m = recs[k].get_mut();
      if (!m) break;
      const auto at = rng.below(48);
      const auto v = static_cast<std::uint8_t>(rng());
      (**m)[at] = v;
      (*model[k])[at] = v;
    } else if (what < 80) {
      if (recs[k] && !recs[k].unload()) break;
    } else if (what < 86) {
      if (recs[k] && !recs[k].get()) break;
    } else {
      out.persist_byte_marks.push_back(fs.bytes_written());
      const auto r = heap.persist();
      out.persist_byte_marks.push_back(fs.bytes_written());
      if (r != PersistOutcome::done) {
        out.in_flight = model;
        break;
      }
      out.last_done = model;
      out.last_done_seq = heap.stats().sequence;
      EXPECT_TRUE(heap.check());
    }
    if (fail()) break;
  }
  for (auto& r : recs) r.release();  // the process "dies": nothing more reaches storage
  big.release();
  return out;
}

template <class H>
::testing::AssertionResult matches(H& heap, const Model& model) {
  for (std::uint32_t k = 0; k <= kSlots; ++k) {
    auto id = heap.root_id(k);
    if (!model[k]) {
      if (id) return ::testing::AssertionFailure() << "root " << k << " should be empty";
      continue;
    }
    if (!id) return ::testing::AssertionFailure() << "root " << k << " missing";
    bool same = false;
    if (k == kSlots) {
      auto o = heap.template adopt<BigRec>(*id);
      if (!o) return ::testing::AssertionFailure() << "adopt big: " << o.error().message;
      auto r = o->get();
      same = r && std::equal((*r)->begin(), (*r)->end(), model[k]->begin());
      o->release();
    } else {
      auto o = heap.template adopt<Rec>(*id);
      if (!o) return ::testing::AssertionFailure() << "adopt: " << o.error().message;
      auto r = o->get();
      same = r && std::equal((*r)->begin(), (*r)->end(), model[k]->begin());
      o->release();
    }
    if (!same) return ::testing::AssertionFailure() << "root " << k << " has other contents";
  }
  return ::testing::AssertionSuccess();
}

// After a cut: reopen, compare, then show the heap still works (re-entrant test).
void verify_after_cut(FaultStorage<MemoryStorage>& fs, const Outcome& out, const char* what, std::uint64_t at) {
  fs.power_on();
  fs.set_plan({});
  std::vector<std::byte> ram(kRam);
  FaultHeap heap(ram, fs, kConfig);
  const auto s = heap.open();
  if (!out.last_done) {  // create() never completed: an error, not a crash, is all we ask
    EXPECT_FALSE(s && heap.stats().sequence > 1) << what << " " << at;
    return;
  }
  ASSERT_TRUE(s) << what << " " << at << ": " << s.error().message;
  ASSERT_TRUE(heap.check()) << what << " " << at;
  const auto seq = heap.stats().sequence;
  if (seq == out.last_done_seq) {
    ASSERT_TRUE(matches(heap, *out.last_done)) << what << " " << at;
  } else {
    // Only possible when the interrupted persist's commit record landed whole.
    ASSERT_EQ(seq, out.last_done_seq + 1) << what << " " << at;
    ASSERT_TRUE(out.in_flight.has_value()) << what << " " << at;
    ASSERT_TRUE(matches(heap, *out.in_flight)) << what << " " << at;
  }
  // Keep working: change a record, persist, reopen, and find the change.
  auto id = heap.root_id(0u);
  if (!id) return;
  {
    auto o = heap.adopt<Rec>(*id);
    ASSERT_TRUE(o);
    {
      auto m = o->get_mut();
      ASSERT_TRUE(m);
      (**m)[0] = 0xEE;
    }
    ASSERT_EQ(heap.persist(), PersistOutcome::done);
    o->release();
  }
  std::vector<std::byte> ram2(kRam);
  FaultHeap again(ram2, fs, kConfig);
  ASSERT_TRUE(again.open());
  auto o = again.adopt<Rec>(*id);
  ASSERT_TRUE(o);
  EXPECT_EQ((**o->get())[0], 0xEE);
  o->release();
}

TEST(VnvPowerLoss, CutAtEveryWrite) {
  int runs = 0;
  for (const auto torn : {FaultPlan::Torn::nothing, FaultPlan::Torn::half, FaultPlan::Torn::random}) {
    for (std::uint64_t cut = 1;; ++cut) {
      std::vector<std::byte> medium(kStorage);
      MemoryStorage mem(medium);
      FaultStorage fs(mem, FaultPlan{.cut_at_write = cut, .torn = torn, .seed = cut});
      const Outcome out = run_script(fs, 7);
      if (!fs.power_was_cut()) break;  // the script finished before write `cut`
      verify_after_cut(fs, out, "cut at write", cut);
      if (::testing::Test::HasFatalFailure()) return;
      ASSERT_LT(cut, 20000u);
      ++runs;
    }
  }
  EXPECT_GT(runs, 300);
  std::printf("power cuts verified: %d\n", runs);
}

TEST(VnvPowerLoss, CutAtEveryByteOfPersists) {
  // Learn where each persist's bytes lie in a run without faults.
  std::vector<std::byte> clean(kStorage);
  MemoryStorage clean_mem(clean);
  FaultStorage clean_fs(clean_mem);
  const Outcome full = run_script(clean_fs, 11);
  ASSERT_GE(full.persist_byte_marks.size(), 6u);
  // The first, a middle and the last persist, every byte (checkpoint and the copy home).
  const std::size_t n = full.persist_byte_marks.size() / 2;
  int runs = 0;
  for (const std::size_t p : {std::size_t{0}, n / 2, n - 1}) {
    const auto from = full.persist_byte_marks[2 * p], to = full.persist_byte_marks[2 * p + 1];
    for (std::uint64_t b = from + 1; b <= to; ++b) {
      std::vector<std::byte> medium(kStorage);
      MemoryStorage mem(medium);
      FaultStorage fs(mem, FaultPlan{.cut_after_bytes = b});
      const Outcome out = run_script(fs, 11);
      ASSERT_TRUE(fs.power_was_cut());
      verify_after_cut(fs, out, "cut after byte", b);
      if (::testing::Test::HasFatalFailure()) return;
      ++runs;
    }
  }
  EXPECT_GT(runs, 1000);
  std::printf("byte-granular power cuts verified: %d\n", runs);
}

TEST(VnvPowerLoss, CorruptAndForeignImagesAreErrors) {
  std::vector<std::byte> medium(kStorage);
  MemoryStorage mem(medium);
  FaultStorage fs(mem);
  const Outcome out = run_script(fs, 5);
  ASSERT_TRUE(out.last_done);
  const std::vector<std::byte> good = medium;
  std::vector<std::byte> ram(kRam);
  {
    FaultHeap heap(ram, fs, kConfig);
    ASSERT_TRUE(heap.open());
  }
  // A byte flipped anywhere in the two slots: open either fails or restores a checkpoint
  // that passes check() (the other slot), never crashes.
  FaultHeap probe(ram, fs, kConfig);
  const std::uint64_t slots = 2 * probe.geometry().slot_bytes;
  Rng rng(1);
  int fallbacks = 0;
  for (int i = 0; i < 2000; ++i) {
    medium = good;
    const std::size_t at = rng.below(slots);
    medium[at] ^= std::byte{static_cast<std::uint8_t>(1 + rng.below(255))};
    FaultHeap heap(ram, fs, kConfig);
    if (const auto s = heap.open(); s) {
      EXPECT_TRUE(heap.check());
      fallbacks += heap.stats().sequence != out.last_done_seq;
    }
  }
  EXPECT_GT(fallbacks, 0);
  // Both slots damaged: an error.
  for (int i = 0; i < 200; ++i) {
    medium = good;
    medium[rng.below(64)] ^= std::byte{0x10};
    medium[probe.geometry().slot_bytes + rng.below(64)] ^= std::byte{0x01};
    FaultHeap heap(ram, fs, kConfig);
    EXPECT_EQ(heap.open().code(), Errc::corrupt);
  }
  // A foreign image (random bytes) and another configuration are errors.
  for (auto& b : medium) b = std::byte{static_cast<std::uint8_t>(rng())};
  {
    FaultHeap heap(ram, fs, kConfig);
    EXPECT_EQ(heap.open().code(), Errc::corrupt);
  }
  medium = good;
  {
    Config other = kConfig;
    other.max_dirty_bytes = 1024;
    FaultHeap heap(ram, fs, other);
    EXPECT_EQ(heap.open().code(), Errc::invalid_argument);
  }
  std::fill(medium.begin(), medium.end(), std::byte{0});
  {
    FaultHeap heap(ram, fs, kConfig);
    EXPECT_EQ(heap.open().code(), Errc::not_found);
  }
}

}  // namespace
}  // namespace ferro::vnv
