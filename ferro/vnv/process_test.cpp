// Process-level crash test: a forked child opens a file-backed heap, works on it and persists
// again and again, reporting each persist on a pipe (intent before, done after); the parent
// SIGKILLs it at a random moment (often inside a persist), reopens the file and checks that
// the heap holds exactly the last state the child reported done, or the one it was persisting.
// Each round continues from the image the previous one left behind; many seeds.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ferro/core/crc32.hpp"
#include "ferro/core/random.hpp"
#include "ferro/storage/file_storage.hpp"
#include "ferro/vnv/vnv_test_util.hpp"

namespace ferro::vnv {
namespace {

using Rec = std::array<std::uint64_t, 16>;
using FileHeap = Heap<BuddyAllocator, NonResidentBuddyAllocator<16, 8192>, ClockObjectManager, FileStorage>;
constexpr std::uint32_t kObjects = 8;
constexpr std::uint64_t kFileSize = 64 * 1024;
const Config kConfig{.max_dirty_bytes = 512, .max_objects = 16, .block_size = 32, .sync = false};
constexpr std::size_t kRam = 16 * sizeof(detail::Entry) + 900;  // about half the objects fit

struct Report {
  std::uint64_t sequence;
  std::uint32_t crc;
  std::uint32_t done;  // 0: about to persist, 1: persisted
};

// Reads every object through its root; the checksum of their bytes in root order.
Result<std::uint32_t> checksum(FileHeap& heap, std::array<Rec, kObjects>* out = nullptr) {
  std::uint32_t crc = 0;
  for (std::uint32_t k = 0; k < kObjects; ++k) {
    FERRO_TRY_ASSIGN(auto obj, heap.root<Rec>(k));
    {
      FERRO_TRY_ASSIGN(auto r, obj.get());
      crc = crc32(r.get(), sizeof(Rec), crc);
      if (out != nullptr) (*out)[k] = *r;
    }
    obj.release();
  }
  return crc;
}

[[noreturn]] void child(const std::string& path, int fd, std::uint64_t seed) {
  auto file = FileStorage::open(path, kFileSize);
  if (!file) _exit(10);
  std::vector<std::byte> ram(kRam);
  FileHeap heap(ram, *file, kConfig);
  if (!heap.open()) _exit(11);
  std::array<Rec, kObjects> model{};
  if (!checksum(heap, &model)) _exit(12);
  std::array<Object<Rec>, kObjects> objs;
  for (std::uint32_t k = 0; k < kObjects; ++k) objs[k] = std::move(*heap.root<Rec>(k));
  Rng rng(seed);
  for (;;) {
    for (int i = 0; i < 6; ++i) {
      const auto k = rng.below(kObjects);
      auto m = objs[k].get_mut();
      if (!m) _exit(13);
      const auto at = rng.below(16);
      const auto v = rng();
      (**m)[at] = v;
      model[k][at] = v;
    }
    Report r{heap.stats().sequence + 1, crc32(model.data(), sizeof(model)), 0};
    if (write(fd, &r, sizeof(r)) != sizeof(r)) _exit(14);
    if (heap.persist() != PersistOutcome::done) _exit(15);
    r.done = 1;
    if (write(fd, &r, sizeof(r)) != sizeof(r)) _exit(16);
  }
}

TEST(VnvProcess, SigkillAtRandomMomentsRestoresLastPersist) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("ferro-vnv-kill-" + std::to_string(getpid()))).string();
  std::filesystem::remove(path);
  Report expected{};
  {
    auto file = FileStorage::open(path, kFileSize);
    ASSERT_TRUE(file);
    std::vector<std::byte> ram(kRam);
    FileHeap heap(ram, *file, kConfig);
    VNV_ASSERT_OK(heap.create());
    for (std::uint32_t k = 0; k < kObjects; ++k) {
      auto o = heap.allocate<Rec>();
      ASSERT_TRUE(o);
      VNV_ASSERT_OK(heap.set_root(k, *o));
      o->release();
    }
    ASSERT_EQ(heap.persist(), PersistOutcome::done);
    expected = {heap.stats().sequence, *checksum(heap), 1};
  }
  Rng rng(2024);
  int killed_mid_persist = 0;
  constexpr int kRounds = 80;
  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      child(path, fds[1], rng());
    }
    close(fds[1]);
    usleep(static_cast<useconds_t>(200 + rng.below(15000)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself with " << WEXITSTATUS(status);
    std::optional<Report> intent;
    Report r{};
    while (read(fds[0], &r, sizeof(r)) == sizeof(r)) {
      if (r.done) {
        expected = r;
        intent.reset();
      } else {
        intent = r;
      }
    }
    close(fds[0]);

    auto file = FileStorage::open(path, kFileSize);
    ASSERT_TRUE(file);
    std::vector<std::byte> ram(kRam);
    FileHeap heap(ram, *file, kConfig);
    const auto s = heap.open();
    ASSERT_TRUE(s) << "round " << round << ": " << s.error().message;
    testing::expect_ok(heap);
    const auto crc = checksum(heap);
    ASSERT_TRUE(crc);
    const auto seq = heap.stats().sequence;
    if (intent && seq == intent->sequence) {
      EXPECT_EQ(*crc, intent->crc) << "round " << round;
      expected = *intent;
      ++killed_mid_persist;  // killed between the commit and the child's report
    } else {
      EXPECT_EQ(seq, expected.sequence) << "round " << round;
      EXPECT_EQ(*crc, expected.crc) << "round " << round;
      killed_mid_persist += intent.has_value();
    }
  }
  std::printf("%d rounds, %d killed while a persist was under way\n", kRounds, killed_mid_persist);
  EXPECT_GT(killed_mid_persist, 0);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ferro::vnv
