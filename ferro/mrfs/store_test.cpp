#include "ferro/mrfs/store.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "ferro/core/random.hpp"
#include "ferro/mrfs/mrfs_test_util.hpp"

namespace ferro::mrfs {
namespace {

using Flash = StaticFlash<1024, 8>;
using FsStore = Store<EmulatedFlash, 64>;

using testing::bytes;
using testing::mount_ok;
using testing::text;

TEST(MrfsFormat, HeaderRoundTripsAndRejectsDamage) {
  Header h;
  h.seq = 7;
  h.size = 123;
  h.minutes = 29000000;
  h.flags = kFlagMoved;
  h.name_len = 5;
  std::memcpy(h.name, "hello", 5);
  std::byte raw[kHeaderSize];
  encode_header(h, raw);
  EXPECT_EQ(load_u32(raw), kMagic);
  EXPECT_EQ(raw[0], std::byte{'M'});
  EXPECT_EQ(raw[3], std::byte{'S'});
  auto d = decode_header(raw);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->seq, 7u);
  EXPECT_EQ(d->size, 123u);
  EXPECT_EQ(d->minutes, 29000000u);
  EXPECT_TRUE(d->moved());
  EXPECT_FALSE(d->tombstone());
  EXPECT_EQ(d->name_view(), "hello");
  for (std::size_t i = 0; i < kHeaderSize; ++i) {
    std::byte copy[kHeaderSize];
    std::memcpy(copy, raw, sizeof copy);
    copy[i] ^= std::byte{0x10};
    EXPECT_FALSE(decode_header(copy)) << "flipped byte " << i;
  }
  EXPECT_EQ(*entry_span(0), 96u);
  EXPECT_EQ(*entry_span(28), 96u);
  EXPECT_EQ(*entry_span(29), 128u);
  EXPECT_FALSE(entry_span(std::uint64_t{1} << 33));
}

TEST(MrfsFormat, Names) {
  EXPECT_TRUE(validate_name("boot.mpy"));
  EXPECT_TRUE(validate_name(std::string(40, 'a')));
  EXPECT_EQ(validate_name(std::string(41, 'a')).code(), Errc::invalid_argument);
  EXPECT_EQ(validate_name("").code(), Errc::invalid_argument);
  EXPECT_EQ(validate_name("a b").code(), Errc::invalid_argument);
  EXPECT_EQ(validate_name(std::string("a\0b", 3)).code(), Errc::invalid_argument);
  EXPECT_EQ(validate_name("caf\xc3\xa9").code(), Errc::invalid_argument);
}

TEST(MrfsFormat, Timestamps) {
  EXPECT_EQ(minutes_from_unix(0), 0u);
  EXPECT_EQ(minutes_from_unix(119), 1u);
  EXPECT_EQ(unix_from_minutes(minutes_from_unix(1'700'000'000)), 1'700'000'000 / 60 * 60);
}

TEST(MrfsStore, EmptyStoreMountsEmpty) {
  Flash f;
  MountReport r;
  auto s = mount_ok(f, &r);
  EXPECT_EQ(r.entries, 0u);
  EXPECT_EQ(r.garbage_bytes, 0u);
  EXPECT_FALSE(r.compaction_interrupted);
  EXPECT_EQ(s.file_count(), 0u);
  EXPECT_FALSE(s.find("nothing"));
  EXPECT_EQ(s.remove("nothing").code(), Errc::not_found);
  EXPECT_EQ(s.stat().live_bytes, 0u);
  EXPECT_TRUE(s.compact());
  EXPECT_TRUE(s.check());
}

TEST(MrfsStore, PutFindInPlaceAndSurvivesRemount) {
  Flash f;
  {
    auto s = mount_ok(f);
    ASSERT_TRUE(s.put("config.json", bytes("{\"rate\": 9600}"), 1'700'000'000));
    ASSERT_TRUE(s.put("empty", {}, 60));
    auto file = s.find("config.json");
    ASSERT_TRUE(file);
    EXPECT_EQ(text(file->data()), "{\"rate\": 9600}");
    EXPECT_EQ(file->unix_time(), 1'700'000'000 / 60 * 60);
    // In place: the span points into the flash image itself.
    EXPECT_EQ(file->data().data(), f.view().data() + file->offset() + kHeaderSize);
    EXPECT_EQ(file->offset() % kAlign, 0u);
    EXPECT_EQ(s.find("empty")->size(), 0u);
    EXPECT_TRUE(s.check());
  }
  auto s = mount_ok(f);
  EXPECT_EQ(text(s.find("config.json")->data()), "{\"rate\": 9600}");
  EXPECT_EQ(s.file_count(), 2u);
}

TEST(MrfsStore, ReplaceKeepsNewestAndRemoveWritesTombstone) {
  Flash f;
  auto s = mount_ok(f);
  ASSERT_TRUE(s.put("a", bytes("one"), 0));
  ASSERT_TRUE(s.put("a", bytes("two"), 0));
  EXPECT_EQ(text(s.find("a")->data()), "two");
  ASSERT_TRUE(s.remove("a"));
  EXPECT_FALSE(s.find("a"));
  EXPECT_EQ(s.remove("a").code(), Errc::not_found);
  MountReport r;
  auto again = mount_ok(f, &r);
  EXPECT_FALSE(again.find("a"));
  EXPECT_EQ(r.entries, 3u);
  EXPECT_EQ(r.stale, 2u);
  ASSERT_TRUE(again.put("a", bytes("three"), 0));
  EXPECT_EQ(text(again.find("a")->data()), "three");
}

TEST(MrfsStore, ListSortsByName) {
  Flash f;
  auto s = mount_ok(f);
  for (const char* n : {"zeta", "alpha", "mid"}) ASSERT_TRUE(s.put(n, bytes(n), 0));
  ASSERT_TRUE(s.remove("mid"));
  File out[4];
  ASSERT_EQ(s.list(out), 2u);
  EXPECT_EQ(out[0].name(), "alpha");
  EXPECT_EQ(out[1].name(), "zeta");
  File one[1];
  EXPECT_EQ(s.list(one), 2u);
  EXPECT_EQ(one[0].name(), "alpha");
}

TEST(MrfsStore, BadArguments) {
  Flash f;
  auto s = mount_ok(f);
  EXPECT_EQ(s.put(std::string(41, 'n'), bytes("x"), 0).code(), Errc::invalid_argument);
  EXPECT_EQ(s.put("", bytes("x"), 0).code(), Errc::invalid_argument);
  EXPECT_EQ(s.put("white space", bytes("x"), 0).code(), Errc::invalid_argument);
  EXPECT_EQ(s.put("ok", bytes("x"), -1).code(), Errc::invalid_argument);
  EXPECT_EQ(s.remove("").code(), Errc::invalid_argument);
  EXPECT_FALSE(s.find(std::string(41, 'n')));
  std::vector<std::byte> huge(f.size() + 1);
  EXPECT_EQ(s.put("huge", huge, 0).code(), Errc::no_space);
  std::vector<std::byte> big(f.size() / 2);
  EXPECT_EQ(s.put("big", big, 0).code(), Errc::no_space);
  EXPECT_EQ(s.file_count(), 0u);
  EXPECT_TRUE(s.check());
}

TEST(MrfsStore, RejectsUnsupportedGeometry) {
  StaticFlash<1024, 2> two;
  EXPECT_EQ(FsStore::mount(two).code(), Errc::unsupported);
  StaticFlash<64, 8> tiny;
  EXPECT_EQ(FsStore::mount(tiny).code(), Errc::unsupported);
  StaticFlash<1024, 4, 64> wide;
  EXPECT_EQ(FsStore::mount(wide).code(), Errc::unsupported);
}

TEST(MrfsStore, FullStoreFailsWithoutLosingAnything) {
  Flash f;
  auto s = mount_ok(f);
  std::vector<std::byte> chunk(400, std::byte{0x5A});
  int stored = 0;
  for (; stored < 100; ++stored) {
    auto st = s.put("f" + std::to_string(stored), chunk, 0);
    if (!st) {
      EXPECT_EQ(st.code(), Errc::no_space);
      break;
    }
  }
  EXPECT_GT(stored, 8);
  EXPECT_LT(stored, 100);
  for (int i = 0; i < stored; ++i) ASSERT_TRUE(s.find("f" + std::to_string(i))) << i;
  // A full store can always remove, and the room comes back for a replacement or a new file.
  ASSERT_TRUE(s.remove("f1"));
  EXPECT_TRUE(s.put("f0", chunk, 0));
  ASSERT_TRUE(s.remove("f2"));
  EXPECT_TRUE(s.put("new", chunk, 0));
  EXPECT_FALSE(s.find("f1"));
  EXPECT_TRUE(s.check());
}

TEST(MrfsStore, TooManyNames) {
  Flash f;
  Store<EmulatedFlash, 4> s = std::move(Store<EmulatedFlash, 4>::mount(f)).value();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(s.put("n" + std::to_string(i), bytes("x"), 0));
  EXPECT_EQ(s.put("n4", bytes("x"), 0).code(), Errc::no_space);
  EXPECT_TRUE(s.put("n0", bytes("y"), 0));
  // Removed names free their slots once compaction has dropped their tombstones.
  ASSERT_TRUE(s.remove("n1"));
  ASSERT_TRUE(s.remove("n2"));
  EXPECT_TRUE(s.put("n5", bytes("x"), 0));
  EXPECT_TRUE(s.put("n6", bytes("x"), 0));
  EXPECT_EQ(s.put("n7", bytes("x"), 0).code(), Errc::no_space);
  EXPECT_TRUE(s.check());
}

TEST(MrfsStore, CompactionPacksLowAndKeepsEverything) {
  Flash f;
  auto s = mount_ok(f);
  Rng rng(3);
  std::map<std::string, std::string> model;
  for (int i = 0; i < 60; ++i) {
    const std::string name = "file" + std::to_string(rng.below(6));
    const std::string data(rng.between(1, 300), static_cast<char>('a' + i % 26));
    ASSERT_TRUE(s.put(name, bytes(data), i * 60));
    model[name] = data;
  }
  ASSERT_TRUE(s.compact());
  ASSERT_TRUE(s.check());
  std::uint64_t live = 0;
  for (auto& [n, d] : model) {
    auto file = s.find(n);
    ASSERT_TRUE(file);
    EXPECT_EQ(text(file->data()), d);
    live += *entry_span(d.size());
  }
  EXPECT_EQ(s.stat().log_end, live);  // packed at the low end, nothing in between
  for (std::uint64_t i = live; i < f.size(); ++i) ASSERT_EQ(f.view()[i], std::byte{0xFF});
  MountReport r;
  mount_ok(f, &r);
  EXPECT_FALSE(r.compaction_interrupted);
  EXPECT_EQ(r.stale, 0u);
}

TEST(MrfsStore, StepsOverTornBytesInsteadOfProgrammingThem) {
  Flash f;
  {
    auto s = mount_ok(f);
    ASSERT_TRUE(s.put("a", bytes("first"), 0));
  }
  // A torn write after it: a few programmed bytes of a header that never finished.
  const std::byte junk[5] = {std::byte{'M'}, std::byte{'R'}, std::byte{0}, std::byte{1}, std::byte{2}};
  ASSERT_TRUE(f.program(96, junk));
  MountReport r;
  auto s = mount_ok(f, &r);
  EXPECT_EQ(r.garbage_bytes, 5u);
  ASSERT_TRUE(s.put("b", bytes("second"), 0));
  EXPECT_EQ(s.find("b")->offset(), 128u);
  EXPECT_EQ(text(s.find("a")->data()), "first");
}

// A torn entry whose header checks claims its whole declared extent, erased tail included: the
// next entry goes after it (so the scan, which skips the extent, finds it), and the erased
// segment inside it is no compaction window.
TEST(MrfsStore, TornEntryClaimsItsDeclaredExtent) {
  Flash f;
  {
    auto s = mount_ok(f);
    ASSERT_TRUE(s.put("a", bytes("first"), 0));
  }
  Header h;
  h.seq = 2;
  h.size = 2500;
  h.name_len = 4;
  std::memcpy(h.name, "torn", 4);
  std::byte head[kHeaderSize];
  encode_header(h, head);
  ASSERT_TRUE(f.program(96, head));  // the cut came right after the header
  const std::uint64_t end = 96 + *entry_span(2500);
  MountReport r;
  auto s = mount_ok(f, &r);
  EXPECT_EQ(r.torn_entries, 1u);
  EXPECT_EQ(r.erased_holes, 0u);
  EXPECT_FALSE(r.compaction_interrupted);
  EXPECT_EQ(s.stat().log_end, end);
  ASSERT_TRUE(s.put("b", bytes("second"), 0));
  EXPECT_EQ(s.find("b")->offset(), end);
  auto again = mount_ok(f);
  EXPECT_EQ(text(again.find("b")->data()), "second");
  EXPECT_FALSE(again.find("torn"));
  ASSERT_TRUE(again.compact());  // erases the torn entry with its segment
  EXPECT_EQ(again.stat().log_end, 192u);
  EXPECT_EQ(text(again.find("a")->data()), "first");
  EXPECT_EQ(text(again.find("b")->data()), "second");
}

TEST(MrfsStore, StatCountsProgramsAndErases) {
  Flash f;
  auto s = mount_ok(f);
  std::vector<std::byte> d(200, std::byte{1});
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(s.put("x" + std::to_string(i % 3), d, 0));
  const Stats st = s.stat();
  EXPECT_EQ(st.files, 3u);
  EXPECT_EQ(st.data_bytes, 600u);
  EXPECT_GT(st.compactions, 0u);
  EXPECT_GT(st.erases, 0u);
  EXPECT_GE(st.bytes_programmed, st.user_bytes);
  EXPECT_GE(st.write_amplification(), 1.0);
  EXPECT_GT(st.max_erases, 0u);
  EXPECT_EQ(st.capacity, f.size());
}

// Shadow model: random puts, replaces and removes against a std::map, with check() each step.
TEST(MrfsStore, ShadowModel) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    StaticFlash<512, 6> f;
    auto s = mount_ok(f);
    Rng rng(seed);
    std::map<std::string, std::string> model;
    for (int step = 0; step < 1500; ++step) {
      const std::string name = "k" + std::to_string(rng.below(8));
      if (rng.chance(1, 5)) {
        auto st = s.remove(name);
        ASSERT_EQ(st.has_value(), model.erase(name) == 1) << st.error().message << " seed " << seed << " step " << step;
      } else {
        const std::string data(rng.below(rng.chance(1, 10) ? 600 : 120), static_cast<char>(rng()));
        auto st = s.put(name, bytes(data), step);
        if (st)
          model[name] = data;
        else
          ASSERT_EQ(st.code(), Errc::no_space) << st.error().message;
      }
      ASSERT_TRUE(s.check()) << "seed " << seed << " step " << step;
      if (step % 50 == 49 && s.compact()) {
        // A finished compaction leaves no old version: the sequence window rests on it.
        MountReport r;
        ASSERT_TRUE(FsStore::mount(f, &r, false));
        ASSERT_EQ(r.stale, 0u) << "seed " << seed << " step " << step;
      }
      ASSERT_EQ(s.file_count(), model.size()) << "seed " << seed << " step " << step;
      for (auto& [n, d] : model) ASSERT_EQ(text(s.find(n)->data()), d);
    }
  }
}

// Devices that program in units of 4, 16 or 32 bytes: entries are padded to the unit, and the
// shadow model and a power cut still hold.
template <std::uint32_t Unit>
void program_unit_round_trip() {
  StaticFlash<512, 6, Unit> f;
  auto s = mount_ok(f);
  Rng rng(Unit);
  std::map<std::string, std::string> model;
  for (int step = 0; step < 400; ++step) {
    const std::string name = "u" + std::to_string(rng.below(5));
    const std::string data(rng.below(150), static_cast<char>(rng()));
    ASSERT_TRUE(s.put(name, bytes(data), step)) << "unit " << Unit << " step " << step;
    model[name] = data;
  }
  ASSERT_TRUE(s.check());
  f.set_plan(FlashFaultPlan{.cut_at_op = 3, .seed = Unit});
  for (int step = 0; step < 50; ++step) {
    if (!s.put("u0", bytes(std::string(100, 'z')), 0)) break;
    model["u0"] = std::string(100, 'z');
  }
  f.power_on();
  f.set_plan({});
  auto again = mount_ok(f);
  ASSERT_TRUE(again.check());
  for (auto& [n, d] : model) {
    if (n != "u0") {
      ASSERT_EQ(text(again.find(n)->data()), d) << "unit " << Unit;
    }
  }
  ASSERT_TRUE(again.find("u0"));
}

TEST(MrfsStore, ProgramUnitsUpTo32Bytes) {
  program_unit_round_trip<4>();
  program_unit_round_trip<16>();
  program_unit_round_trip<32>();
}

}  // namespace
}  // namespace ferro::mrfs
