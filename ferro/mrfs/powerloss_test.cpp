// Power loss, littlefs style: a scripted workload is cut at its 1st, 2nd, 3rd, ... program or
// erase; after each cut the store is mounted from what the flash holds, must hold every file
// that was completely written at its newest complete version, and the script carries on.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ferro/core/random.hpp"
#include "ferro/mrfs/mrfs_test_util.hpp"
#include "ferro/mrfs/store.hpp"
#include "ferro/storage/file_flash.hpp"

namespace ferro::mrfs {
namespace {

using FsStore = Store<EmulatedFlash, 16>;
using Model = std::map<std::string, std::string>;

struct Op {
  std::string name;
  std::optional<std::string> data;  // nullopt: remove
};

using testing::bytes;
using testing::text;

using TestFlash = StaticFlash<256, 8>;

Status apply(FsStore& s, const Op& op, int step) {
  return op.data ? s.put(op.name, bytes(*op.data), step * 60) : s.remove(op.name);
}

// What the flash holds before a script starts (nothing but erased bytes when null).
using Prepare = void (*)(EmulatedFlash&);

// A tombstone of each script name just below the wrap of its sequence numbers, each a few
// versions from it, so the script's puts, replaces and compaction copies cross the wrap.
void tombstones_near_the_wrap(EmulatedFlash& flash) {
  std::uint64_t at = 0;
  for (std::uint32_t i = 0; i < 5; ++i) {
    at = testing::plant(flash, at, "f" + std::to_string(i), 0xFFFFFFF4u + 2 * i, "", kFlagTombstone);
  }
}

// Puts, replaces and removes of five names, some files spanning a segment boundary, enough to
// force several compactions on 8 segments of 256 bytes. Ops a healthy store refuses for lack
// of room are left out (checked by a dry run), so every op of the script must succeed.
std::vector<Op> script(std::uint64_t seed, int length, Prepare prepare = nullptr) {
  Rng rng(seed);
  TestFlash flash;
  if (prepare) prepare(flash);
  FsStore dry = std::move(FsStore::mount(flash)).value();
  std::vector<Op> ops;
  Model model;
  for (int tries = 0; static_cast<int>(ops.size()) < length; ++tries) {
    if (tries == 100 * length) {
      ADD_FAILURE() << "a healthy store refuses nearly every op";
      break;
    }
    const std::string name = "f" + std::to_string(rng.below(5));
    Op op{name, std::nullopt};
    if (!model.count(name) || !rng.chance(1, 5)) {
      std::string data(rng.below(rng.chance(1, 8) ? 200 : 90), 0);
      for (auto& c : data) c = static_cast<char>(rng());
      op.data = data;
    }
    if (!apply(dry, op, static_cast<int>(ops.size()))) continue;
    if (op.data)
      model[name] = *op.data;
    else
      model.erase(name);
    ops.push_back(op);
  }
  return ops;
}

// Every file of the model is there at its version; the op in flight may have landed or not.
::testing::AssertionResult holds(const FsStore& s, const Model& model, const Op* in_flight, bool* landed) {
  if (auto c = s.check(); !c) return ::testing::AssertionFailure() << "check: " << c.error().message;
  std::size_t expect_files = model.size();
  for (const auto& [name, data] : model) {
    if (in_flight && in_flight->name == name) continue;
    auto f = s.find(name);
    if (!f) return ::testing::AssertionFailure() << name << " lost";
    if (text(f->data()) != data) {
      return ::testing::AssertionFailure() << name << " has the wrong contents";
    }
  }
  if (in_flight) {
    auto f = s.find(in_flight->name);
    const auto old = model.find(in_flight->name);
    auto is = [&](const std::optional<std::string>& v) {
      if (!v) return !f.has_value();
      return f && text(f->data()) == *v;
    };
    const std::optional<std::string> before =
        old == model.end() ? std::nullopt : std::optional<std::string>(old->second);
    *landed = is(in_flight->data) && !(before == in_flight->data);
    if (!is(before) && !is(in_flight->data)) {
      return ::testing::AssertionFailure() << in_flight->name << " is neither its old nor its new version";
    }
    expect_files += (old == model.end() && *landed) ? 1 : 0;
    expect_files -= (old != model.end() && !in_flight->data && *landed) ? 1 : 0;
  }
  if (s.file_count() != expect_files) {
    return ::testing::AssertionFailure() << "holds " << s.file_count() << " files, expected " << expect_files;
  }
  return ::testing::AssertionSuccess();
}

// Runs the script with the flash set to fail at its `cut`th program or erase. After a cut:
// power on, mount (which may finish a compaction), check, and carry on. Returns the number of
// flash operations the run made, so the caller knows when every cut point has been tried.
template <class Flash = TestFlash>
std::uint64_t run_with_cut(const std::vector<Op>& ops, std::uint64_t cut, std::uint64_t seed, bool* cut_happened,
                           Prepare prepare = nullptr) {
  Flash flash;
  if (prepare) prepare(flash);
  flash.set_plan(FlashFaultPlan{.cut_at_op = cut, .seed = seed});
  auto mounted = FsStore::mount(flash);
  EXPECT_TRUE(mounted.has_value());
  FsStore s = std::move(mounted).value();
  Model model;
  *cut_happened = false;
  std::uint64_t ops_done = 0;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    Status st = apply(s, op, static_cast<int>(i));
    if (st) {
      if (op.data)
        model[op.name] = *op.data;
      else
        model.erase(op.name);
      continue;
    }
    EXPECT_EQ(st.code(), Errc::power_loss) << "op " << i << ": " << st.error().message;
    if (st.code() != Errc::power_loss) return 0;
    *cut_happened = true;
    ops_done = flash.ops();
    flash.power_on();
    flash.set_plan({});
    MountReport report;
    auto again = FsStore::mount(flash, &report);
    EXPECT_TRUE(again.has_value()) << "cut " << cut << ": mount failed: " << again.error().message;
    if (!again) return 0;
    s = std::move(again).value();
    bool landed = false;
    EXPECT_TRUE(holds(s, model, &op, &landed)) << "cut " << cut << " during op " << i;
    if (landed) {
      if (op.data)
        model[op.name] = *op.data;
      else
        model.erase(op.name);
    } else {
      // Redo the op the cut interrupted: re-entrant, as a device would after reboot.
      EXPECT_TRUE(apply(s, op, static_cast<int>(i))) << "cut " << cut << ": redo of op " << i;
      if (op.data)
        model[op.name] = *op.data;
      else
        model.erase(op.name);
    }
  }
  EXPECT_TRUE(holds(s, model, nullptr, nullptr)) << "cut " << cut << " at the end";
  MountReport final_report;
  auto last = FsStore::mount(flash, &final_report);
  EXPECT_TRUE(last.has_value());
  if (last) {
    EXPECT_TRUE(holds(*last, model, nullptr, nullptr)) << "cut " << cut << " after a final remount";
  }
  return *cut_happened ? ops_done : flash.ops();
}

TEST(MrfsPowerLoss, ScriptRunsCleanAndCompactsSeveralTimes) {
  const auto ops = script(11, 120);
  TestFlash flash;
  FsStore s = std::move(FsStore::mount(flash)).value();
  Model model;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    ASSERT_TRUE(apply(s, ops[i], static_cast<int>(i))) << i;
    if (ops[i].data)
      model[ops[i].name] = *ops[i].data;
    else
      model.erase(ops[i].name);
  }
  EXPECT_TRUE(holds(s, model, nullptr, nullptr));
  EXPECT_GE(s.stat().compactions, 3u);
}

template <class Flash>
void cut_everywhere(std::uint64_t script_seed, Prepare prepare = nullptr) {
  const auto ops = script(script_seed, 120, prepare);
  std::uint64_t cuts = 0;
  for (std::uint64_t cut = 1;; ++cut) {
    bool happened = false;
    run_with_cut<Flash>(ops, cut, cut, &happened, prepare);
    if (::testing::Test::HasFailure()) FAIL() << "first failure at cut " << cut;
    if (!happened) break;
    ++cuts;
  }
  EXPECT_GT(cuts, 300u);
  std::printf("power cut at each of %llu program/erase operations: invariant held\n",
              static_cast<unsigned long long>(cuts));
}

TEST(MrfsPowerLoss, CutAtEveryProgramAndErase) { cut_everywhere<TestFlash>(11); }

// Another script, on a device that programs 8 bytes at a time (entries padded to the unit).
TEST(MrfsPowerLoss, CutAtEveryProgramAndEraseWith8ByteUnits) { cut_everywhere<StaticFlash<256, 8, 8>>(23); }

// The first script again, its names' sequence numbers wrapping from 2^32 - 1 to 0 on the way.
TEST(MrfsPowerLoss, CutAtEveryProgramAndEraseAcrossTheSequenceWrap) {
  const auto ops = script(11, 120, tombstones_near_the_wrap);
  TestFlash flash;
  tombstones_near_the_wrap(flash);
  FsStore s = std::move(FsStore::mount(flash)).value();
  int wrapped = 0;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const auto before = s.find(ops[i].name);
    ASSERT_TRUE(apply(s, ops[i], static_cast<int>(i))) << i;
    const auto after = s.find(ops[i].name);
    if (before && after && after->seq() < before->seq()) ++wrapped;
  }
  ASSERT_GE(wrapped, 3) << "the script must carry names across the wrap";
  cut_everywhere<TestFlash>(11, tombstones_near_the_wrap);
}

// Many cuts in one run, at random programs and erases, with different torn shapes; recovery
// itself may be cut again.
TEST(MrfsPowerLoss, RandomCutsTornProgramsAndHalfErasedSegments) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    const auto ops = script(100 + seed, 200);
    TestFlash flash(FlashFaultPlan{.power_cut_ppm = 30'000, .seed = seed});
    Model model;
    std::optional<FsStore> s;
    std::size_t i = 0;
    int cuts = 0;
    const Op* in_flight = nullptr;
    while (i < ops.size()) {
      if (!s) {
        flash.power_on();
        MountReport r;
        auto m = FsStore::mount(flash, &r);
        if (!m) {
          ASSERT_EQ(m.code(), Errc::power_loss) << m.error().message;
          ++cuts;
          continue;
        }
        s = std::move(m).value();
        bool landed = false;
        ASSERT_TRUE(holds(*s, model, in_flight, &landed)) << "seed " << seed << " op " << i;
        if (in_flight && landed) {
          if (in_flight->data)
            model[in_flight->name] = *in_flight->data;
          else
            model.erase(in_flight->name);
          ++i;
        }
        in_flight = nullptr;
        continue;
      }
      const Op& op = ops[i];
      Status st = apply(*s, op, static_cast<int>(i));
      if (!st) {
        ASSERT_EQ(st.code(), Errc::power_loss) << st.error().message;
        ++cuts;
        in_flight = &op;
        s.reset();
        continue;
      }
      if (op.data)
        model[op.name] = *op.data;
      else
        model.erase(op.name);
      ++i;
    }
    EXPECT_GT(cuts, 5) << "seed " << seed;
  }
}

// A segment holding only garbage (a half-erased one, or random bytes) mounts, reports it, and
// the store writes around it and reclaims it at the next compaction.
TEST(MrfsPowerLoss, GarbageSegmentIsReportedAndReclaimed) {
  TestFlash flash;
  {
    FsStore s = std::move(FsStore::mount(flash)).value();
    ASSERT_TRUE(s.put("keep", bytes("precious"), 0));
  }
  Rng rng(5);
  std::vector<std::byte> junk(256);
  for (auto& b : junk) b = static_cast<std::byte>(rng() | 0x01);
  ASSERT_TRUE(flash.program(3 * 256, junk));
  MountReport r;
  FsStore s = std::move(FsStore::mount(flash, &r)).value();
  EXPECT_EQ(r.garbage_segments, 1u);
  EXPECT_GT(r.garbage_bytes, 200u);
  EXPECT_FALSE(r.compaction_interrupted);
  EXPECT_EQ(s.stat().log_end, 4 * 256u);
  ASSERT_TRUE(s.put("next", bytes("after the junk"), 0));
  EXPECT_EQ(s.find("next")->offset(), 4 * 256u);
  ASSERT_TRUE(s.remove("next"));
  ASSERT_TRUE(s.compact());  // the tombstone outlives the file it buries by one compaction
  ASSERT_TRUE(s.compact());
  EXPECT_EQ(s.stat().log_end, 96u);
  EXPECT_EQ(text(s.find("keep")->data()), "precious");
}

// A file whose data holds complete MRFS entries of another name (an MRFS image kept as a file,
// say), built with the module's own format functions, one every 128 bytes so some always sit
// inside whatever part of the write landed.
std::string image_with_ghosts(std::size_t size) {
  std::string data(size, '\x5a');
  const auto entry = testing::complete_entry("ghost", 0x7FFFFFF0u, "boo!boo!");
  for (std::size_t at = 0; at + entry.size() <= size; at += 128)
    std::memcpy(data.data() + at, entry.data(), entry.size());
  return data;
}

// The inner entries of a torn file, or of a dead one whose segments are being erased, never
// show: the scan skips the whole declared extent of a header that checks, and compaction zeroes
// the rest of an entry before erasing the segment that holds part of it.
TEST(MrfsPowerLoss, EntriesInsideFileDataNeverAppear) {
  using Flash = StaticFlash<256, 32>;
  const std::string image = image_with_ghosts(1000);
  const std::string small = "a much shorter version";
  // The put of the image is cut at each of its programs (several torn shapes per cut); then the
  // image is replaced and compaction, which erases the segments the dead image spans, is cut at
  // each of its programs and erases.
  int cuts = 0, torn = 0;
  for (int phase = 0; phase < 2; ++phase) {
    for (std::uint64_t cut = 1;; ++cut) {
      bool happened = false;
      for (std::uint64_t seed = 1; seed <= 8; ++seed) {
        Flash flash;
        FsStore s = std::move(FsStore::mount(flash)).value();
        ASSERT_TRUE(s.put("keep", bytes("kept"), 0));
        if (phase == 1) {
          ASSERT_TRUE(s.put("image", bytes(image), 0));
          ASSERT_TRUE(s.put("image", bytes(small), 0));
          ASSERT_TRUE(s.put("live", bytes("after the image"), 0));
        }
        flash.set_plan(FlashFaultPlan{.cut_at_op = cut, .seed = seed});
        const Status st = phase == 0 ? s.put("image", bytes(image), 0) : s.compact();
        if (st) break;
        ASSERT_EQ(st.code(), Errc::power_loss);
        happened = true;
        ++cuts;
        flash.power_on();
        flash.set_plan({});
        MountReport r;
        auto m = FsStore::mount(flash, &r);
        ASSERT_TRUE(m.has_value()) << m.error().message;
        torn += r.torn_entries > 0 ? 1 : 0;
        ASSERT_FALSE(m->find("ghost")) << "phase " << phase << " cut " << cut << " seed " << seed;
        ASSERT_TRUE(m->check());
        auto f = m->find("image");
        const std::string want = phase == 0 ? image : small;
        if (f || phase == 1) {
          ASSERT_TRUE(f);
          ASSERT_EQ(text(f->data()), want);
        }
        // Later puts land and mount, the image again included.
        ASSERT_TRUE(m->put("later", bytes("written after the cut"), 0));
        ASSERT_TRUE(m->put("image", bytes(image), 0));
        ASSERT_TRUE(m->compact());
        auto again = FsStore::mount(flash);
        ASSERT_TRUE(again.has_value());
        ASSERT_FALSE(again->find("ghost"));
        ASSERT_TRUE(again->check());
        for (const char* name : {"keep", "later", "image"}) ASSERT_TRUE(again->find(name)) << name;
        EXPECT_EQ(again->find("image")->size(), image.size());
      }
      if (!happened) break;
    }
  }
  EXPECT_GT(cuts, 40);
  EXPECT_GT(torn, 10);
  std::printf("file holding MRFS entries: %d cuts (%d left a torn entry), no inner entry surfaced\n", cuts, torn);
}

// Mount finishes a compaction that was cut: the report says so, and the store ends packed.
TEST(MrfsPowerLoss, MountFinishesAnInterruptedCompaction) {
  int finished = 0;
  for (std::uint64_t cut = 1; cut < 60; ++cut) {
    TestFlash flash;
    FsStore s = std::move(FsStore::mount(flash)).value();
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(s.put("n" + std::to_string(i), bytes(std::string(100, 'a' + i)), 0));
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(s.put("n" + std::to_string(i), bytes(std::string(60, 'A' + i)), 0));
    flash.set_plan(FlashFaultPlan{.cut_at_op = cut, .seed = cut});
    if (s.compact()) continue;
    flash.power_on();
    flash.set_plan({});
    MountReport r;
    FsStore again = std::move(FsStore::mount(flash, &r)).value();
    if (r.compaction_interrupted) {
      EXPECT_TRUE(r.compaction_finished);
      ++finished;
      MountReport clean;
      (void)FsStore::mount(flash, &clean);
      EXPECT_FALSE(clean.compaction_interrupted) << "cut " << cut;
    }
    for (int i = 0; i < 4; ++i) {
      auto f = again.find("n" + std::to_string(i));
      ASSERT_TRUE(f) << "cut " << cut;
      EXPECT_EQ(text(f->data()), std::string(60, 'A' + i));
    }
  }
  EXPECT_GT(finished, 3);
}

// Process level: a child replaces files in a file-backed image as fast as it can and is
// SIGKILLed at a random moment; the parent remounts and finds every acknowledged version (or
// the one in flight, if it completed).
std::string versioned(int file, std::uint64_t counter) {
  std::string d(8 + 40 + counter % 200, 0);
  std::memcpy(d.data(), &counter, 8);
  for (std::size_t i = 8; i < d.size(); ++i) d[i] = static_cast<char>(counter * 31 + i + file);
  return d;
}

TEST(MrfsPowerLoss, ProcessKilledMidWrite) {
  const std::string path = ::testing::TempDir() + "mrfs-kill-" + std::to_string(getpid()) + ".img";
  {
    auto f = FileFlash::create(path, FlashGeometry{512, 8, 1});
    ASSERT_TRUE(f.has_value());
  }
  Rng rng(77);
  std::uint64_t acked[3] = {0, 0, 0};
  std::uint64_t total = 0;
  for (int round = 0; round < 8; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      auto f = FileFlash::open(path);
      if (!f) _exit(3);
      auto s = FsStore::mount((*f)->device());
      if (!s) _exit(4);
      for (std::uint64_t i = 1; i < 10'000'000; ++i) {
        const int file = static_cast<int>(i % 3);
        const std::uint64_t counter = (round + 1) * 10'000'000ull + i;
        if (!s->put("p" + std::to_string(file), bytes(versioned(file, counter)), 0)) _exit(5);
        const std::uint64_t record[2] = {static_cast<std::uint64_t>(file), counter};
        if (write(fds[1], record, sizeof record) != sizeof record) _exit(6);
      }
      _exit(0);
    }
    close(fds[1]);
    std::uint64_t record[2];
    std::uint64_t in_round = 0, last = 0;
    auto take = [&] {
      acked[record[0]] = record[1];
      last = record[1];
      ++in_round;
    };
    // The kill comes after a random number of acknowledged puts plus a random delay, not after
    // a fixed time: on a loaded machine (or under ASan) the child may ack only a few puts per
    // millisecond, and every round must still cut it mid-work.
    const std::uint64_t before_kill = rng.between(2, 40);
    while (in_round < before_kill) {
      ASSERT_EQ(read(fds[0], record, sizeof record), static_cast<ssize_t>(sizeof record));
      take();
    }
    usleep(static_cast<useconds_t>(rng.below(2'000)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child ended on its own, status " << status;
    while (read(fds[0], record, sizeof record) == sizeof record) take();
    close(fds[0]);
    auto f = FileFlash::open(path);
    ASSERT_TRUE(f.has_value()) << f.error().message;
    MountReport r;
    auto s = FsStore::mount((*f)->device(), &r);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    ASSERT_TRUE(s->check());
    for (int file = 0; file < 3; ++file) {
      if (acked[file] == 0) continue;
      auto got = s->find("p" + std::to_string(file));
      ASSERT_TRUE(got) << "round " << round << ": p" << file << " lost";
      std::uint64_t counter = 0;
      std::memcpy(&counter, got->data().data(), 8);
      // The acknowledged version, or the one in flight at the kill if it completed.
      EXPECT_TRUE(counter == acked[file] || counter == last + 1) << "round " << round << " p" << file;
      EXPECT_EQ(text(got->data()), versioned(file, counter));
      acked[file] = counter;
    }
    EXPECT_GT(in_round, 1u);
    total += in_round;
  }
  std::printf("8 SIGKILLs, %llu puts acknowledged: every one found after remount\n",
              static_cast<unsigned long long>(total));
  std::remove(path.c_str());
}

// 100,000 replaces of a few files: every segment wears about evenly.
TEST(MrfsWear, HundredThousandReplaces) {
  StaticFlash<512, 8> flash;
  FsStore s = std::move(FsStore::mount(flash)).value();
  Rng rng(9);
  std::string data(120, 'x');
  for (int i = 0; i < 100'000; ++i) {
    data[0] = static_cast<char>(i);
    ASSERT_TRUE(s.put("w" + std::to_string(rng.below(4)), bytes(data), i));
  }
  const Stats st = s.stat();
  std::printf("wear: %llu compactions, erases per segment min %u max %u mean %.1f (max/mean %.3f), WA %.2f\n",
              static_cast<unsigned long long>(st.compactions), st.min_erases, st.max_erases, st.mean_erases,
              st.erase_spread(), st.write_amplification());
  EXPECT_LE(st.erase_spread(), 1.5);
}

}  // namespace
}  // namespace ferro::mrfs
