// A tour of the vnv heap: a counter that lives on a (file-backed) FRAM image survives
// processes that are killed, with and without a persist before the kill.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "ferro/alloc/buddy.hpp"
#include "ferro/storage/file_storage.hpp"
#include "ferro/vnv/heap.hpp"

using namespace ferro;
using namespace ferro::vnv;

namespace {

struct Counter {
  std::uint64_t value;
};
using FileHeap = Heap<BuddyAllocator, NonResidentBuddyAllocator<>, DefaultObjectManager, FileStorage>;
constexpr std::uint64_t kImage = 16 * 1024;
const Config kConfig{.max_dirty_bytes = 256, .max_objects = 16};

void on_persisted(const std::byte*, std::size_t) {
  static const char msg[] = "     (persist handler: state is durable)\n";
  (void)!write(1, msg, sizeof(msg) - 1);
}

// One "process lifetime": open, increment, maybe persist, then die by SIGKILL.
[[noreturn]] void child(const std::string& path, bool persist) {
  auto file = FileStorage::open(path, kImage);
  if (!file) _exit(2);
  std::byte ram[2048];
  FileHeap heap(ram, *file, kConfig, on_persisted);
  if (!heap.open_or_create()) _exit(3);
  auto counter = heap.root<Counter>("counter");
  if (!counter) {
    auto fresh = heap.allocate<Counter>(Counter{0});
    if (!fresh || !heap.set_root("counter", *fresh)) _exit(4);
    counter = std::move(fresh);
  }
  std::uint64_t now = 0;
  {
    auto m = counter->get_mut();
    if (!m) _exit(5);
    now = ++(*m)->value;
  }
  std::printf("     child %d: counter is now %llu in RAM%s\n", getpid(), static_cast<unsigned long long>(now),
              persist ? ", persisting" : ", NOT persisting");
  std::fflush(stdout);
  if (persist && heap.persist() != PersistOutcome::done) _exit(6);
  counter->release();
  raise(SIGKILL);  // no destructors, no clean shutdown: as a power cut after the persist
  _exit(7);
}

bool run_child(const std::string& path, bool persist) {
  std::fflush(stdout);  // or the child would print our buffered lines again
  const pid_t pid = fork();
  if (pid == 0) child(path, persist);
  int status = 0;
  waitpid(pid, &status, 0);
  std::printf("     child %d ended by %s\n", pid, WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exit");
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

std::uint64_t read_counter(const std::string& path) {
  auto file = FileStorage::open(path, kImage);
  if (!file) return ~0ull;
  std::byte ram[2048];
  FileHeap heap(ram, *file, kConfig);
  if (!heap.open()) return ~0ull;
  auto c = heap.root<Counter>("counter");
  if (!c) return ~0ull;
  const std::uint64_t v = (*c->get())->value;
  c->release();
  std::printf("     reopened checkpoint #%llu: counter = %llu\n",
              static_cast<unsigned long long>(heap.stats().sequence), static_cast<unsigned long long>(v));
  return v;
}

}  // namespace

int main() {
  std::printf("== vnv: a virtual non-volatile heap; objects that survive killed processes ==\n");
  const auto path = (std::filesystem::temp_directory_path() / ("ferro-demo-vnv-" + std::to_string(getpid()))).string();
  std::filesystem::remove(path);
  int failures = 0;
  std::printf("  1. Three processes each increment the counter, persist, and are SIGKILLed.\n");
  for (int i = 0; i < 3; ++i) failures += !run_child(path, true);
  failures += read_counter(path) != 3;
  std::printf(
      "  2. A fourth increments but is killed before persisting: its change is lost,\n"
      "     the last persist stands.\n");
  failures += !run_child(path, false);
  failures += read_counter(path) != 3;
  std::printf("  3. One more with a persist: the count goes on from there.\n");
  failures += !run_child(path, true);
  failures += read_counter(path) != 4;
  std::filesystem::remove(path);
  std::printf("  %s\n", failures == 0 ? "The counter survived every kill." : "UNEXPECTED RESULT");
  return failures == 0 ? 0 : 1;
}
