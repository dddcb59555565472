// Sequence numbers: each name counts its versions in 32 bits, wrapping, and the newest must win
// on every side of the wrap. Images start near 2^32 (laid with the format functions), since
// four billion real writes would take hours.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "ferro/mrfs/mrfs_test_util.hpp"
#include "ferro/mrfs/store.hpp"

namespace ferro::mrfs {
namespace {

using Flash = StaticFlash<1024, 8>;
using testing::bytes;
using testing::mount_ok;
using testing::plant;

std::string text(const std::optional<File>& f) { return f ? testing::text(f->data()) : "(no file)"; }

TEST(MrfsSeq, SerialOrder) {
  EXPECT_TRUE(seq_newer(1, 0));
  EXPECT_TRUE(seq_newer(0, 0xFFFFFFFFu));
  EXPECT_FALSE(seq_newer(0xFFFFFFFFu, 0));
  EXPECT_FALSE(seq_newer(7, 7));
  EXPECT_TRUE(seq_newer(0x7FFFFFFFu, 0));   // the far end of the window
  EXPECT_FALSE(seq_newer(0x80000000u, 0));  // half the space apart: no order either way
  EXPECT_FALSE(seq_newer(0, 0x80000000u));
}

std::string version(int v) { return "version " + std::to_string(v) + std::string(150 + v % 90, '.'); }

// A file three versions short of the wrap (and another name at the very top, which once
// stopped every write) is replaced again and again: after each put and a remount, the newest
// version is the one found, through the wrap and the compactions that copy it.
TEST(MrfsSeq, NewestVersionWinsAcrossTheWrap) {
  Flash flash;
  std::uint64_t at = plant(flash, 0, "cfg", 0xFFFFFFFCu, version(0));
  at = plant(flash, at, "top", 0xFFFFFFFFu, "at the top");
  plant(flash, at, "cfg", 0xFFFFFFFDu, version(1));
  bool crossed = false;
  std::uint64_t compactions = 0;
  for (int v = 2; v < 80; ++v) {
    auto s = mount_ok(flash);
    ASSERT_EQ(text(s.find("cfg")), version(v - 1)) << v;
    const std::uint32_t before = s.find("cfg")->seq();
    ASSERT_TRUE(s.put("cfg", bytes(version(v)), 0)) << v;
    EXPECT_EQ(s.find("cfg")->seq(), before + 1);
    crossed |= s.find("cfg")->seq() < before;
    if (v % 7 == 0) {
      ASSERT_TRUE(s.compact());  // copies cfg with the next number
    }
    ASSERT_TRUE(s.check());
    compactions += s.stat().compactions;
  }
  auto s = mount_ok(flash);
  EXPECT_EQ(text(s.find("cfg")), version(79));
  EXPECT_EQ(text(s.find("top")), "at the top");
  EXPECT_TRUE(crossed);
  EXPECT_LT(s.find("cfg")->seq(), 1000u);
  EXPECT_GT(compactions, 10u);
}

// The same through a remove: the tombstone takes the next number, and a later put the one after.
TEST(MrfsSeq, TombstoneAcrossTheWrap) {
  Flash flash;
  plant(flash, 0, "gone", 0xFFFFFFFFu, "old contents");
  {
    auto s = mount_ok(flash);
    ASSERT_TRUE(s.remove("gone"));
  }
  {
    auto s = mount_ok(flash);
    EXPECT_FALSE(s.find("gone"));
    ASSERT_TRUE(s.put("gone", bytes("back again"), 0));
  }
  auto s = mount_ok(flash);
  EXPECT_EQ(text(s.find("gone")), "back again");
  EXPECT_EQ(s.find("gone")->seq(), 1u);
}

// A put keeps a name's entries within half the serial window, so that compaction's copies have
// the other half: here the oldest entry of "w" lies 2^30 - 1 behind its newest, the put's
// number would be 2^30 ahead of it, so the put first compacts (erasing the old version, whose
// segment holds live files) and only then writes.
TEST(MrfsSeq, PutCompactsBeforeLeavingTheWindow) {
  Flash flash;
  std::uint64_t at = plant(flash, 0, "w", 0x80000000u, "oldest");
  at = plant(flash, at, "keep", 5, "kept");
  plant(flash, at, "w", 0xBFFFFFFFu, "newest");
  {
    MountReport r;
    auto s = mount_ok(flash, &r);
    EXPECT_EQ(r.stale, 1u);
    EXPECT_EQ(text(s.find("w")), "newest");
    ASSERT_TRUE(s.put("w", bytes("next"), 0));
    EXPECT_GE(s.stat().compactions, 1u);
    EXPECT_GT(s.find("w")->seq(), 0xBFFFFFFFu);  // after compaction's copies
    ASSERT_TRUE(s.check());
  }
  MountReport r;
  auto s = mount_ok(flash, &r);
  EXPECT_EQ(r.stale, 1u);  // "newest", just replaced; "oldest" is gone
  EXPECT_EQ(text(s.find("w")), "next");
  EXPECT_EQ(text(s.find("keep")), "kept");
}

}  // namespace
}  // namespace ferro::mrfs
