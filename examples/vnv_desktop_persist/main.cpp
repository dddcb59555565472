// The seed's desktop_persist example: a random workload on a vnv heap while SIGUSR1 arrives
// every 20 ms (standing in for a power-failure interrupt) and its handler persists the heap.
// The worker is SIGKILLed at a random moment; the parent reopens the heap and a checker reads
// the log and verifies the order of events: triggered -> (queued) -> done ... -> restored.
//
//   vnv_desktop_persist [--millis N]     run worker, kill, restore, check (exit code 0 = ok)
//   vnv_desktop_persist --check LOG      only check a log
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "ferro/alloc/buddy.hpp"
#include "ferro/core/random.hpp"
#include "ferro/storage/file_storage.hpp"
#include "ferro/vnv/heap.hpp"
#include "ferro/vnv/list.hpp"

using namespace ferro;
using namespace ferro::vnv;

namespace {

using Rec = std::array<std::uint64_t, 8>;
using FileHeap = Heap<BuddyAllocator, NonResidentBuddyAllocator<16, 4096>, ClockObjectManager, FileStorage>;
constexpr std::uint64_t kImage = 128 * 1024;
// sync = false: SIGKILL keeps the page cache, so the test needs no fdatasync; on a real power
// cut keep the default (true).
const Config kConfig{.max_dirty_bytes = 512, .max_objects = 128, .block_size = 32, .sync = false};
constexpr std::uint32_t kRecs = 24;

FileHeap* g_heap = nullptr;
int g_log = -1;

// Async-signal-safe logging: write(2) of a line built on the stack.
void log_line(const char* text, std::uint64_t number = ~0ull) {
  char buf[64];
  std::size_t n = 0;
  while (*text != 0 && n < 40) buf[n++] = *text++;
  if (number != ~0ull) {
    char digits[24];
    int d = 0;
    do {
      digits[d++] = static_cast<char>('0' + number % 10);
      number /= 10;
    } while (number != 0);
    while (d > 0) buf[n++] = digits[--d];
  }
  buf[n++] = '\n';
  (void)!write(g_log, buf, n);
}

void on_persisted(const std::byte*, std::size_t) { log_line("done seq=", g_heap->stats().sequence); }

extern "C" void on_sigusr1(int) {
  const int saved = errno;
  log_line("triggered");
  switch (g_heap->persist()) {
    case PersistOutcome::queued:
      log_line("queued");
      break;
    case PersistOutcome::failed:
      log_line("failed");
      break;
    case PersistOutcome::done:
      break;
  }
  errno = saved;
}

[[noreturn]] void worker(const std::string& image, std::uint64_t seed) {
  auto file = FileStorage::open(image, kImage);
  if (!file) _exit(2);
  static std::byte ram[128 * sizeof(detail::Entry) + 3000];
  static FileHeap heap(ram, *file, kConfig, on_persisted);
  g_heap = &heap;
  if (!heap.create()) _exit(3);
  std::array<Object<Rec>, kRecs> recs;
  for (std::uint32_t k = 0; k < kRecs; ++k) {
    auto o = heap.allocate<Rec>();
    if (!o) _exit(4);
    recs[k] = std::move(*o);
    if (k < format::kRoots - 1 && !heap.set_root(k, recs[k])) _exit(5);
  }
  auto list = List<std::uint64_t, FileHeap>::create(heap);
  if (!list || !heap.set_root("log", list->id())) _exit(6);

  struct sigaction sa {};
  sa.sa_handler = on_sigusr1;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, nullptr);
  timer_t timer;
  sigevent ev{};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0) _exit(7);
  const itimerspec every_20ms{{0, 20'000'000}, {0, 20'000'000}};
  timer_settime(timer, 0, &every_20ms, nullptr);

  Rng rng(seed);
  for (std::uint64_t step = 0;; ++step) {
    auto& o = recs[rng.below(kRecs)];
    const auto what = rng.below(10);
    if (what < 5) {
      if (auto m = o.get_mut(); m) (**m)[rng.below(8)] = rng();
    } else if (what < 8) {
      if (auto r = o.get(); r) std::atomic_signal_fence(std::memory_order_seq_cst);
    } else if (what < 9) {
      (void)list->push_back(step);
      if (auto n = list->size(); n && *n > 40) (void)list->pop_front();
    } else {
      (void)o.unload();
    }
  }
}

// The grammar of the log; returns an empty string when it holds, else what broke.
std::string check_log(const std::string& path, int* persists, int* queued) {
  std::ifstream in(path);
  std::string line;
  int pending = 0;  // triggers not yet followed by a done
  std::uint64_t last_done = 0;
  bool last_was_trigger = false, restored = false;
  *persists = *queued = 0;
  while (std::getline(in, line)) {
    if (restored) return "lines after 'restored'";
    if (line == "triggered") {
      ++pending;
      last_was_trigger = true;
      continue;
    }
    if (line == "queued") {
      if (!last_was_trigger) return "'queued' not right after 'triggered'";
      ++*queued;
    } else if (line.rfind("done seq=", 0) == 0) {
      const auto seq = std::stoull(line.substr(9));
      if (pending == 0 && !(seq == 1 && last_done == 0)) return "'done' without a trigger";  // 1: create()
      if (seq != last_done + 1) return "'done' sequence numbers not consecutive: " + line;
      last_done = seq;
      pending = 0;
      *persists += seq > 1;
    } else if (line.rfind("restored seq=", 0) == 0) {
      const auto seq = std::stoull(line.substr(13));
      // The last done persist, or the one a kill interrupted after its commit record landed.
      if (seq != last_done && !(pending > 0 && seq == last_done + 1))
        return "restored " + std::to_string(seq) + " but the last done persist was " + std::to_string(last_done);
      restored = true;
    } else if (line == "failed") {
      return "a persist failed";
    } else if (!line.empty() && in.peek() != 'r') {
      // Only the kill may cut a line short: the last one before 'restored'.
      return "unknown line: " + line;
    }
    last_was_trigger = false;
  }
  if (!restored) return "no 'restored' line";
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  int millis = 600;
  if (argc == 3 && std::strcmp(argv[1], "--check") == 0) {
    int persists = 0, queued = 0;
    const auto err = check_log(argv[2], &persists, &queued);
    std::printf("%s: %d persists, %d queued\n", err.empty() ? "ok" : err.c_str(), persists, queued);
    return err.empty() ? 0 : 1;
  }
  if (argc == 3 && std::strcmp(argv[1], "--millis") == 0) millis = std::atoi(argv[2]);
  const auto dir = std::filesystem::temp_directory_path();
  const auto tag = std::to_string(getpid());
  const std::string image = (dir / ("ferro-vnv-desktop-" + tag + ".img")).string();
  const std::string log = (dir / ("ferro-vnv-desktop-" + tag + ".log")).string();
  std::filesystem::remove(image);
  g_log = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  if (g_log < 0) return 1;

  const pid_t pid = fork();
  if (pid == 0) worker(image, static_cast<std::uint64_t>(getpid()));
  Rng rng(static_cast<std::uint64_t>(pid));
  usleep(static_cast<useconds_t>((millis / 2 + rng.below(static_cast<std::uint64_t>(millis) / 2 + 1)) * 1000));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFSIGNALED(status)) {
    std::printf("worker exited early (status %d)\n", WEXITSTATUS(status));
    return 1;
  }
  (void)!write(g_log, "\n", 1);  // ends a line the kill may have cut short

  // Restore in this process, as after a reboot.
  {
    auto file = FileStorage::open(image, kImage);
    if (!file) return 1;
    static std::byte ram[128 * sizeof(detail::Entry) + 3000];
    FileHeap heap(ram, *file, kConfig);
    if (auto s = heap.open(); !s) {
      std::printf("open after the kill failed: %s\n", s.error().message);
      return 1;
    }
    if (auto s = heap.check(); !s) {
      std::printf("restored heap is inconsistent: %s\n", s.error().message);
      return 1;
    }
    g_heap = &heap;
    log_line("restored seq=", heap.stats().sequence);
    auto head = heap.root<ListHead>("log");
    if (!head) return 1;
    auto list = List<std::uint64_t, FileHeap>::attach(heap, std::move(*head));
    std::uint64_t n = 0;
    for (std::uint64_t v : *list) n += v >= 0;
    std::printf("restored checkpoint #%llu: %llu list entries, %u objects\n",
                static_cast<unsigned long long>(heap.stats().sequence), static_cast<unsigned long long>(n),
                heap.stats().live_objects);
    list->release();
  }
  close(g_log);
  int persists = 0, queued = 0;
  const auto err = check_log(log, &persists, &queued);
  std::printf("log check: %s (%d persists by SIGUSR1, %d of them queued behind a heap operation)\n",
              err.empty() ? "ok: triggered -> (queued) -> done ... -> restored" : err.c_str(), persists, queued);
  std::filesystem::remove(image);
  if (err.empty()) std::filesystem::remove(log);
  return err.empty() && persists > 0 ? 0 : 1;
}
