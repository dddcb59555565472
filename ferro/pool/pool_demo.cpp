// A short tour of ferro's pool module: the seed's three examples (basic use, exhaustion falling
// back to the heap, variable-sized messages), the back -> front -> back diagram drawn live from
// the pool's slot map, a decoder filling frames, and BufPool's budget.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>

#include "ferro/pool/buffer_pool.hpp"
#include "ferro/pool/bufpool.hpp"
#include "ferro/pool/frame_decoder.hpp"

namespace {

using Pool = ferro::BufferPool<8>;

ferro::Slice message(Pool& pool, std::size_t len, char fill) {
  for (std::size_t done = 0; done < len; done += 10) {  // a decoder fills in small pieces
    auto w = pool.get_writable(std::min<std::size_t>(10, len - done));
    std::memset(w.data(), fill, w.size());
  }
  return pool.get_data_owned();
}

std::string picture(const Pool& pool, const std::map<char, ferro::Slice>& slices) {
  std::string out;
  for (std::size_t i = 0; i < Pool::slot_count; ++i) {
    const ferro::SlotInfo info = pool.slot(i);
    char c = '-';
    if (info.live)
      for (const auto& [label, s] : slices)
        if (s.data() == info.data) c = label;
    out += c;
  }
  return out;
}

void basic_use() {
  std::puts("1. Basic use: write a message, take it as an owned slice");
  Pool pool(1024);
  auto w = pool.get_writable(5);
  std::memcpy(w.data(), "hello", 5);
  ferro::Slice s = pool.get_data_owned();
  std::printf("   slice of %zu bytes: \"%.*s\", mode %s, live slots 0x%llx\n", s.size(), static_cast<int>(s.size()),
              reinterpret_cast<const char*>(s.data()), ferro::to_string(pool.mode()),
              static_cast<unsigned long long>(pool.live_mask()));
  s.reset();
  std::printf("   dropped: live slots 0x%llx\n\n", static_cast<unsigned long long>(pool.live_mask()));
}

void exhaustion() {
  std::puts("2. Exhaustion: eight slots full, the ninth message goes to the heap");
  Pool pool(1000);
  std::map<char, ferro::Slice> slices;
  for (char c : std::string("12345678")) slices[c] = message(pool, 100, c);
  std::printf("   %s  %s\n", picture(pool, slices).c_str(), ferro::to_string(pool.mode()));
  slices['9'] = message(pool, 100, '9');
  std::printf("   %s  %s   (slice 9 lives on the heap: %zu bytes)\n", picture(pool, slices).c_str(),
              ferro::to_string(pool.mode()), slices['9'].size());
  slices.clear();
  slices['a'] = message(pool, 100, 'a');
  std::printf("   all dropped, next message: %s  %s\n\n", picture(pool, slices).c_str(), ferro::to_string(pool.mode()));
}

void variable_sizes() {
  std::puts("3. Variable-sized messages");
  Pool pool(4096);
  const std::size_t sizes[] = {10, 700, 3, 1500, 64, 2000};
  std::map<char, ferro::Slice> slices;
  char label = '1';
  for (std::size_t len : sizes) {
    slices[label] = message(pool, len, label);
    std::printf("   %5zu bytes -> %s  %-5s", len, picture(pool, slices).c_str(), ferro::to_string(pool.mode()));
    std::printf(" (%s)\n",
                pool.slot(0).data <= slices[label].data() && slices[label].data() < pool.slot(0).data + pool.capacity()
                    ? "in the pool"
                    : "on the heap");
    ++label;
  }
  std::puts("");
}

void diagram() {
  std::puts("4. The back -> front -> back diagram, drawn from the slot map");
  Pool pool(1000);
  std::map<char, ferro::Slice> slices;
  auto show = [&](const char* what) {
    std::printf("   %s  %-5s %s\n", picture(pool, slices).c_str(), ferro::to_string(pool.mode()), what);
  };
  for (char c : std::string("12345678")) slices[c] = message(pool, 100, c);
  show("buffer full");
  slices.erase('1');
  slices.erase('2');
  show("first two dropped");
  slices['9'] = message(pool, 100, '9');
  show("switch to front");
  slices['a'] = message(pool, 100, 'a');
  show("front full");
  // The last two are dropped on another thread, as a consumer would.
  std::thread([a = std::move(slices['7']), b = std::move(slices['8'])]() mutable {
    a.reset();
    b.reset();
  }).join();
  slices.erase('7');
  slices.erase('8');
  show("last two dropped on another thread");
  slices['b'] = message(pool, 100, 'b');
  show("switch to back");
  slices['c'] = message(pool, 100, 'c');
  show("back full");
  std::puts("");
}

void decoder() {
  std::puts("5. A frame decoder over the pool: header, length, body, owned frame");
  Pool pool(4096);
  ferro::FrameDecoder dec(pool);
  const char* payloads[] = {"ping", "a longer payload for the second frame", ""};
  for (const char* p : payloads) {
    const auto len = static_cast<std::uint32_t>(std::strlen(p));
    ferro::encode_frame_header(dec.writable().first<ferro::Frame::header_size>(), 0, 0x42, len);
    auto f = dec.filled();
    if (f && !*f) {
      std::memcpy(dec.writable().data(), p, len);
      f = dec.filled();
    }
    if (!f || !*f) {
      std::puts("   decode failed");
      return;
    }
    ferro::Frame frame = std::move(**f);
    std::printf("   frame type 0x%02x, %zu-byte payload \"%.*s\"\n", frame.msg_type, frame.payload().size(),
                static_cast<int>(frame.payload().size()), reinterpret_cast<const char*>(frame.payload().data()));
  }
  std::puts("");
}

void bufpool() {
  std::puts("6. BufPool: n fixed-size buffers at a time within a budget");
  ferro::BufPool pool({.buffer_size = 4096, .max_memory = 8 * 4096});
  auto a = pool.allocate(6);
  std::printf("   allocate(6): %zu buffers of %zu bytes; in use %zu of %zu\n", a->size(), a->buffer_size(),
              pool.stats().in_use, pool.max_buffers());
  auto b = pool.try_allocate(4);
  std::printf("   try_allocate(4): %s\n", b ? "ok" : ferro::errc_name(b.code()));
  auto c = pool.allocate_for(4, std::chrono::milliseconds(5));
  std::printf("   allocate_for(4, 5 ms): %s\n", c ? "ok" : ferro::errc_name(c.code()));
  std::thread waiter([&] {
    auto d = pool.allocate(4);
    std::printf("   a waiting allocate(4) got %zu buffers once 6 were freed\n", d->size());
  });
  while (pool.stats().waiters == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
  a->reset();
  waiter.join();
  const auto st = pool.stats();
  std::printf("   %zu buffers ever obtained from the system for 10 handed out: freed ones are reused\n", st.created);
}

}  // namespace

int main() {
  std::puts("== pool: framing buffers and fixed-size buffer budgets ==");
  basic_use();
  exhaustion();
  variable_sizes();
  diagram();
  decoder();
  bufpool();
  return 0;
}
