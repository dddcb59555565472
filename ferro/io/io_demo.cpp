// A tour of the io layer: a chunked file, group-committed durable writes with tickets, and a
// sync failure that is latched for good.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "ferro/io/frozen_file.hpp"
#include "ferro/io/storage_device.hpp"
#include "ferro/io/write_pipe.hpp"
#include "ferro/storage/fault_storage.hpp"
#include "ferro/storage/memory_storage.hpp"

using namespace ferro;

namespace {

constexpr std::size_t kChunk = 128;

int fail(const char* what, Error e) {
  std::printf("  %s failed: %s (%s)\n", what, e.message, errc_name(e.code));
  return 1;
}

BufPoolAllocation text_chunk(BufPool& pool, const char* text) {
  auto a = pool.allocate(1);
  FERRO_CHECK(a.has_value(), "demo pool exhausted");
  std::memset(a->first(), 0, kChunk);
  std::memcpy(a->first(), text, std::strlen(text));
  return std::move(*a);
}

}  // namespace

int main() {
  std::printf("== io: durable writes, group-committed ==\n");
  const auto path = (std::filesystem::temp_directory_path() / ("ferro-demo-io-" + std::to_string(getpid()))).string();
  BufPoolConfig pc;
  pc.buffer_size = kChunk;
  pc.max_memory = kChunk * 1024;
  BufPool pool(pc);

  std::printf("  1. A file of 64 chunks of %zu bytes; a second opener is refused.\n", kChunk);
  auto file = FrozenFile::open({path, kChunk, 64});
  if (!file) return fail("open", file.error());
  auto again = FrozenFile::open({path, kChunk, 64});
  std::printf("     second opener: %s\n", again ? "success?!" : again.error().message);

  std::printf("  2. Four threads write 50 chunks each through one WritePipe; write() returns at once.\n");
  {
    auto pipe = WritePipe::open(*file);
    if (!pipe) return fail("pipe", pipe.error());
    std::vector<std::thread> threads;
    std::vector<WriteTicket> last(4, *(*pipe)->write({text_chunk(pool, "warm-up"), 63}));
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i) {
          char text[32];
          std::snprintf(text, sizeof text, "thread %d write %d", t, i);
          auto ticket = (*pipe)->write({text_chunk(pool, text), static_cast<std::uint64_t>(t)});
          if (ticket) last[t] = std::move(*ticket);
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < 4; ++t) {
      auto r = last[t].wait();
      std::printf("     thread %d's last ticket: epoch %llu, durable up to %llu\n", t,
                  static_cast<unsigned long long>(last[t].epoch()), static_cast<unsigned long long>(r ? *r : 0));
    }
    if (auto s = (*pipe)->close(); !s) return fail("close", s.error());
    const auto st = (*pipe)->stats();
    std::printf("     %llu requests made durable with %llu syncs and %llu device writes (group commit)\n",
                static_cast<unsigned long long>(st.requests), static_cast<unsigned long long>(st.syncs),
                static_cast<unsigned long long>(st.device_writes));
  }

  std::printf("  3. Reopen the file: each slot holds its thread's last write.\n");
  file = Result<FrozenFile>(make_error(Errc::closed, "closed"));  // drop the lock
  auto reopened = FrozenFile::open({path, kChunk, 64});
  if (!reopened) return fail("reopen", reopened.error());
  for (std::uint64_t slot = 0; slot < 4; ++slot) {
    char buf[kChunk];
    if (auto s = reopened->pread(slot, {reinterpret_cast<std::byte*>(buf), kChunk}); !s) return fail("read", s.error());
    std::printf("     slot %llu: \"%s\"\n", static_cast<unsigned long long>(slot), buf);
  }
  std::filesystem::remove(path);

  std::printf("  4. The second fdatasync fails (FaultStorage behind the same seam): latched for good.\n");
  std::vector<std::byte> ram(kChunk * 16);
  MemoryStorage memory(ram);
  FaultStorage<MemoryStorage> faulty(memory, FaultPlan{.fail_sync_at = 2});
  StorageDevice device(faulty, kChunk);
  auto pipe = WritePipe::open(device);
  if (!pipe) return fail("pipe", pipe.error());
  auto first = (*pipe)->write({text_chunk(pool, "kept"), 0});
  std::printf("     epoch 1: %s\n", first && first->wait() ? "durable" : "failed?!");
  auto second = (*pipe)->write({text_chunk(pool, "lost"), 1});
  auto r = second ? second->wait() : Result<std::uint64_t>(second.error());
  std::printf("     epoch 2: %s (%s)\n", r ? "durable?!" : "failed", r ? "" : r.error().message);
  auto third = (*pipe)->write({text_chunk(pool, "later"), 2});
  std::printf("     a later write: %s; durable epoch stays %llu\n", third ? "accepted?!" : third.error().message,
              static_cast<unsigned long long>((*pipe)->durable_epoch()));
  return 0;
}
