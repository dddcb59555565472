// Process-level crash test: a child writes through a WritePipe and reports every epoch that
// becomes durable to the parent over a pipe; the parent SIGKILLs it at a random moment, reopens
// the file and checks that every write up to the highest acknowledged epoch is intact (or was
// overwritten by a later write to the same slot). Repeated with many seeds.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

#include "ferro/core/random.hpp"
#include "ferro/io/frozen_file.hpp"
#include "ferro/io/write_pipe.hpp"

namespace ferro {
namespace {

constexpr std::size_t kChunk = 128;
constexpr std::uint64_t kSlots = 64;

// A chunk names its own epoch and slot and carries a pattern derived from both, so a torn,
// stale or misplaced chunk cannot pass for the right one.
void fill_chunk(std::byte* p, std::uint64_t epoch, std::uint64_t slot) {
  std::memcpy(p, &epoch, 8);
  std::memcpy(p + 8, &slot, 8);
  for (std::size_t i = 16; i < kChunk; ++i) p[i] = static_cast<std::byte>((epoch * 131 + slot * 7 + i) & 0xFF);
}

bool chunk_is(const std::byte* p, std::uint64_t* epoch, std::uint64_t slot) {
  std::uint64_t s = 0;
  std::memcpy(epoch, p, 8);
  std::memcpy(&s, p + 8, 8);
  if (*epoch == 0 && s == 0) {  // never written
    for (std::size_t i = 16; i < kChunk; ++i) {
      if (p[i] != std::byte{0}) return false;
    }
    return true;
  }
  if (s != slot) return false;
  for (std::size_t i = 16; i < kChunk; ++i) {
    if (p[i] != static_cast<std::byte>((*epoch * 131 + slot * 7 + i) & 0xFF)) return false;
  }
  return true;
}

std::uint64_t slot_of(Rng& rng) { return rng.below(kSlots); }

[[noreturn]] void child(const std::string& path, std::uint64_t seed, int report_fd) {
  auto file = FrozenFile::open({path, kChunk, kSlots});
  if (!file) ::_exit(2);
  BufPoolConfig pc;
  pc.buffer_size = kChunk;
  pc.max_memory = kChunk * 256;  // backpressure: at most 256 writes in flight
  pc.panic_on_live_allocations = false;
  BufPool pool(pc);
  auto pipe = WritePipe::open(*file);
  if (!pipe) ::_exit(3);
  Rng rng(seed);
  for (std::uint64_t i = 1;; ++i) {
    const std::uint64_t slot = slot_of(rng);
    auto a = pool.allocate(1);
    if (!a) ::_exit(4);
    fill_chunk(a->first(), i, slot);
    auto t = (*pipe)->write({std::move(*a), slot});
    if (!t || t->epoch() != i) ::_exit(5);
    t->on_durable([report_fd, i](Result<std::uint64_t> r) {
      if (!r) ::_exit(6);
      // 8 bytes < PIPE_BUF: atomic. Retry only on EINTR; the parent reads until we die.
      while (::write(report_fd, &i, sizeof i) < 0 && errno == EINTR) {
      }
    });
  }
}

// Reads whole 8-byte epochs from fd into acked, until `deadline` (or EOF when no deadline).
void read_acks(int fd, std::vector<std::uint64_t>& acked, std::vector<std::byte>& partial,
               std::chrono::steady_clock::time_point deadline, bool until_eof) {
  for (;;) {
    int timeout_ms = 100;
    if (!until_eof) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return;
      timeout_ms = static_cast<int>(left.count());
    }
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) {
      if (until_eof) continue;
      return;
    }
    std::byte buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EOF: the child is gone
    partial.insert(partial.end(), buf, buf + n);
    std::size_t whole = partial.size() / 8;
    for (std::size_t k = 0; k < whole; ++k) {
      std::uint64_t e;
      std::memcpy(&e, partial.data() + 8 * k, 8);
      acked.push_back(e);
    }
    partial.erase(partial.begin(), partial.begin() + static_cast<std::ptrdiff_t>(whole * 8));
  }
}

TEST(WritePipeCrash, EveryAcknowledgedWriteSurvivesSigkill) {
  constexpr int kSeeds = 40;
  int seeds_with_acks = 0;
  std::uint64_t total_acks = 0;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const auto path = (std::filesystem::temp_directory_path() /
                       ("ferro_pipe_crash_" + std::to_string(::getpid()) + "_" + std::to_string(seed)))
                          .string();
    std::filesystem::remove(path);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      child(path, static_cast<std::uint64_t>(seed), fds[1]);
    }
    ::close(fds[1]);
    // Let the child get going (its first acknowledgement, or 3 s on a very slow disk), then
    // kill it at a random moment up to 30 ms later.
    std::vector<std::uint64_t> acked;
    std::vector<std::byte> partial;
    const auto started = std::chrono::steady_clock::now();
    while (acked.empty() && std::chrono::steady_clock::now() - started < std::chrono::seconds(3)) {
      read_acks(fds[0], acked, partial, std::chrono::steady_clock::now() + std::chrono::milliseconds(5), false);
    }
    Rng when(static_cast<std::uint64_t>(seed) * 7919);
    read_acks(fds[0], acked, partial, std::chrono::steady_clock::now() + std::chrono::microseconds(when.below(30000)),
              false);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    // Killed, not exited: an early exit would be the child reporting a failure.
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    read_acks(fds[0], acked, partial, {}, true);
    ::close(fds[0]);

    // Each durable callback runs once. They need not run in epoch order: a callback registered
    // after its epoch became durable runs at once on the writer's thread, possibly before the
    // syncer thread has run the callbacks of earlier epochs.
    std::sort(acked.begin(), acked.end());
    ASSERT_EQ(std::adjacent_find(acked.begin(), acked.end()), acked.end()) << "an epoch was acknowledged twice";
    total_acks += acked.size();
    if (!acked.empty()) ++seeds_with_acks;

    // A durable epoch promises every smaller one too, so the highest acknowledged epoch is a
    // durable prefix. The latest write per slot within it, from the child's seeded slot sequence:
    std::map<std::uint64_t, std::uint64_t> latest;
    Rng rng(static_cast<std::uint64_t>(seed));
    const std::uint64_t durable = acked.empty() ? 0 : acked.back();
    for (std::uint64_t e = 1; e <= durable; ++e) latest[slot_of(rng)] = e;

    auto file = FrozenFile::open({path, kChunk, kSlots});
    ASSERT_TRUE(file);  // the dead child's lock is gone
    ASSERT_EQ(file->chunk_count(), kSlots);
    std::vector<std::byte> chunk(kChunk);
    for (std::uint64_t slot = 0; slot < kSlots; ++slot) {
      ASSERT_TRUE(file->pread(slot, chunk));
      std::uint64_t epoch = 0;
      ASSERT_TRUE(chunk_is(chunk.data(), &epoch, slot)) << "slot " << slot << " is torn or misplaced";
      if (auto it = latest.find(slot); it != latest.end()) {
        EXPECT_GE(epoch, it->second) << "slot " << slot << " lost its acknowledged write";
      }
    }
    std::filesystem::remove(path);
  }
  // The test only means something if the children got far enough to acknowledge writes.
  EXPECT_GE(seeds_with_acks, kSeeds * 3 / 4);
  RecordProperty("acknowledged_writes", static_cast<int>(total_acks));
}

}  // namespace
}  // namespace ferro
