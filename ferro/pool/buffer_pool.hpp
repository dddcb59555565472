// BufferPool: framing buffers carved from one preallocated region, for messages that are
// decoded, handed on and dropped roughly in order.
//
//   ferro::BufferPool<> pool(64 * 1024);             // host: the pool allocates its region
//   auto w = pool.get_writable(6);  /* read a header into w */
//   auto b = pool.get_writable(body_len);  /* read the body */
//   ferro::Slice frame = pool.get_data_owned();       // owns header + body, droppable anywhere
//
// Up to `Slots` slices live in the region at once, each in a numbered slot. The slot map is a
// picture of which slots are live, and the pool moves through three modes (docs/pool.md draws
// them):
//   Back   slots fill upward from the back run's start, each message right after the last;
//   Front  when the back run is exhausted but the slots below the oldest live slice are free,
//          the freed slots are reused downward from the oldest live one, with their memory at
//          the start of the region;
//   Alloc  when neither has room, messages go to the Fallback (a SystemBuffer on the host).
// When every slice has been dropped the pool starts again as an empty Back pool. Dropped slots
// at the top of the back run are taken back whenever room is needed.
//
// Threads: the pool itself belongs to one thread (the decoder's). A Slice may be moved to and
// dropped on any thread; the only shared state is one atomic word in a control block at the
// start of the region, so the pool never waits on a slice and never spins.
//
// Freestanding: with `NoFallback` (Alloc mode refuses: get_writable returns an empty span) and
// a caller-given region, the pool uses no heap and no threads, only atomics.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <utility>

#include "ferro/core/assert.hpp"
#include "ferro/pool/buffer.hpp"
#include "ferro/pool/slice.hpp"
#include "ferro/pool/system_buffer.hpp"

namespace ferro {

enum class PoolMode : std::uint8_t { back, front, alloc };

constexpr const char* to_string(PoolMode m) noexcept {
  return m == PoolMode::back ? "BACK" : m == PoolMode::front ? "FRONT" : "ALLOC";
}

// The fallback of a pool that must not touch the heap: when the region is full, it is full.
struct NoFallback {
  static constexpr bool uses_heap = false;
  std::span<std::byte> get_writable(std::size_t) noexcept { return {}; }
  Slice get_data_owned() noexcept { return {}; }
  std::size_t pending() const noexcept { return 0; }
};

// One slot of the slot map, as the pool last assigned it.
struct SlotInfo {
  const std::byte* data = nullptr;
  std::size_t size = 0;
  bool live = false;
};

namespace detail {
// Lives at the start of the pool's region and outlives the pool while slices do. `state` holds
// one bit per live slot and, for Slots < 64, bit 63 for the pool itself; whoever clears the last
// bit frees the region. Slots == 64 leaves no spare bit, so there a separate count decides it.
struct PoolShared : SliceOwner {
  std::atomic<std::uint64_t> state{0};
  std::atomic<std::uint32_t> refs{1};
  void (*free_region)(void*) noexcept = nullptr;
  void* region = nullptr;
};
}  // namespace detail

template <std::size_t Slots = 8, class Fallback = SystemBuffer>
class BufferPool {
  static_assert(Slots >= 1 && Slots <= 64, "BufferPool: 1 to 64 slots");
  static constexpr bool kCounted = Slots == 64;
  static constexpr std::uint64_t kSlotBits = kCounted ? ~std::uint64_t{0} : (std::uint64_t{1} << Slots) - 1;
  static constexpr std::uint64_t kPoolBit = kCounted ? 0 : std::uint64_t{1} << 63;

 public:
  static constexpr std::size_t slot_count = Slots;
  // Bytes of a caller-given region that the control block takes before the data.
  static constexpr std::size_t overhead = (sizeof(detail::PoolShared) + 63) & ~std::size_t{63};

  // Over a caller-given region (static storage on a microcontroller). The region must outlive
  // every slice; the pool may be destroyed before them.
  explicit BufferPool(std::span<std::byte> region, Fallback fallback = Fallback{}) noexcept
      : fallback_(std::move(fallback)) {
    init(region, nullptr);
  }

  // Host: the pool allocates `capacity` bytes (plus its control block); the memory is freed when
  // the pool and every slice are gone, in whichever order.
  explicit BufferPool(std::size_t capacity, Fallback fallback = Fallback{}) requires(Fallback::uses_heap)
      : fallback_(std::move(fallback)) {
    FERRO_CHECK(capacity <= SIZE_MAX - 2 * overhead, "BufferPool: capacity too large");
    void* p = ::operator new (overhead + capacity, std::align_val_t{64}, std::nothrow);
    FERRO_CHECK(p != nullptr, "BufferPool: no memory for the region");
    init({static_cast<std::byte*>(p), overhead + capacity},
         [](void* region) noexcept { ::operator delete (region, std::align_val_t{64}); });
  }

  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  ~BufferPool() {
    // acq_rel: if this turns out to be the last owner it must see every slice's use of the
    // memory before freeing it (acquire), and a later last slice must see ours (release).
    if constexpr (kCounted) {
      if (sh_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy(sh_);
    } else {
      if (sh_->state.fetch_and(~kPoolBit, std::memory_order_acq_rel) == kPoolBit) destroy(sh_);
    }
  }

  // The next n bytes at the end of the message being built (see Buffer for the span's life).
  std::span<std::byte> get_writable(std::size_t n) noexcept {
    // The hot path, kept small enough to inline: a message under way with room left. (limit_
    // is 0 in Alloc mode, so that takes the slow path too.)
    const std::size_t end = raw_off_ + raw_len_;
    if (raw_len_ != 0 && end <= limit_ && n <= limit_ - end) [[likely]]
      return bump(n);
    if (in_fallback_) return fallback_.get_writable(n);  // a message under way in Alloc mode
    return get_writable_slow(n);
  }

  // Closes the message: its bytes become a Slice in the next slot (or a heap slice in Alloc
  // mode). An empty message gives an empty Slice and takes no slot.
  Slice get_data_owned() noexcept {
    if (alloc_) {
      in_fallback_ = false;
      return fallback_.get_data_owned();
    }
    if (raw_len_ == 0) return {};
    const std::size_t pos = region_ == PoolMode::back ? back_next_++ : static_cast<std::size_t>(front_next_--);
    slot_data_[pos] = mem_ + raw_off_;
    slot_size_[pos] = raw_len_;
    // relaxed: the only thread that clears this bit is the one the slice is handed to, and that
    // hand-off (a queue, a join) already orders it after this; the bit itself carries no data.
    sh_->state.fetch_or(std::uint64_t{1} << pos, std::memory_order_relaxed);
    if constexpr (kCounted) sh_->refs.fetch_add(1, std::memory_order_relaxed);
    Slice s(mem_ + raw_off_, raw_len_, sh_, static_cast<std::uint32_t>(pos));
    raw_off_ += raw_len_;
    raw_len_ = 0;
    (region_ == PoolMode::back ? back_end_ : front_end_) = raw_off_;
    update_limit();
    return s;
  }

  std::size_t pending() const noexcept { return alloc_ ? fallback_.pending() : raw_len_; }
  std::size_t capacity() const noexcept { return cap_; }
  PoolMode mode() const noexcept { return alloc_ ? PoolMode::alloc : region_; }

  // The read-only slot map.
  std::uint64_t live_mask() const noexcept { return sh_->state.load(std::memory_order_acquire) & kSlotBits; }
  SlotInfo slot(std::size_t i) const noexcept {
    FERRO_CHECK(i < Slots, "BufferPool::slot index out of range");
    return {slot_data_[i], slot_size_[i], ((live_mask() >> i) & 1) != 0};
  }

 private:
  __attribute__((noinline)) std::span<std::byte> get_writable_slow(std::size_t n) noexcept {
    if (raw_len_ == 0) start_message();
    if (alloc_) return fallback_.get_writable(n);
    const std::size_t end = raw_off_ + raw_len_;
    if (end <= limit_ && n <= limit_ - end) return bump(n);
    if (n <= cap_ && find_room(raw_len_ + n)) return bump(n);
    // Alloc: the message so far moves to the fallback and continues there.
    std::span<std::byte> w = raw_len_ <= SIZE_MAX - n ? fallback_.get_writable(raw_len_ + n) : std::span<std::byte>{};
    if (w.size() != raw_len_ + n || w.data() == nullptr) return {};  // no fallback memory: nothing changed
    if (raw_len_ != 0) std::memcpy(w.data(), mem_ + raw_off_, raw_len_);
    alloc_ = in_fallback_ = true;
    limit_ = 0;
    const std::size_t moved = raw_len_;
    raw_len_ = 0;
    raw_off_ = region_ == PoolMode::back ? back_end_ : front_end_;  // find_room may have moved the run's end
    return w.subspan(moved);
  }

  static void release(detail::SliceOwner* owner, std::uint32_t pos) noexcept {
    auto* sh = static_cast<detail::PoolShared*>(owner);
    const std::uint64_t bit = std::uint64_t{1} << pos;
    // release: everything the dropping thread did with the slice's bytes happens-before the
    // pool's reuse of them, because the pool reads `state` with acquire before it reuses a slot.
    const std::uint64_t before = sh->state.fetch_and(~bit, std::memory_order_release);
    if constexpr (kCounted) {
      if (sh->refs.fetch_sub(1, std::memory_order_release) == 1) {
        // The last owner must see every other user's accesses before freeing: an acquire load
        // of the final value joins the release sequence of each earlier drop (and, unlike a
        // fence, TSan understands it).
        (void)sh->refs.load(std::memory_order_acquire);
        destroy(sh);
      }
    } else if (before == bit) {                         // neither the pool nor another slice is left
      (void)sh->state.load(std::memory_order_acquire);  // as above
      destroy(sh);
    }
  }

  static void destroy(detail::PoolShared* sh) noexcept {
    void (*free_region)(void*) noexcept = sh->free_region;
    void* region = sh->region;
    sh->~PoolShared();
    if (free_region != nullptr) free_region(region);
  }

  void init(std::span<std::byte> region, void (*free_region)(void*) noexcept) noexcept {
    auto base = reinterpret_cast<std::uintptr_t>(region.data());
    const std::size_t pad =
        (alignof(detail::PoolShared) - base % alignof(detail::PoolShared)) % alignof(detail::PoolShared);
    FERRO_CHECK(region.size() >= pad + overhead, "BufferPool: region smaller than the control block");
    sh_ = ::new (region.data() + pad) detail::PoolShared;
    sh_->release = &release;
    sh_->free_region = free_region;
    sh_->region = region.data();
    sh_->state.store(kPoolBit, std::memory_order_relaxed);  // not shared with anyone yet
    mem_ = region.data() + pad + overhead;
    cap_ = region.size() - pad - overhead;
    update_limit();
  }

  // A new message: leave Alloc mode if its last message is closed, and start again from an
  // empty Back pool if every slice has been dropped (one acquire load per message).
  void start_message() noexcept {
    if (alloc_) {
      if (fallback_.pending() != 0) return;
      alloc_ = false;
      update_limit();
    }
    if (back_next_ == 0 && region_ == PoolMode::back) return;  // already empty
    // acquire: pairs with the release in `release`; the memory is about to be reused.
    if ((sh_->state.load(std::memory_order_acquire) & kSlotBits) == 0) reset_region();
  }

  void reset_region() noexcept {
    region_ = PoolMode::back;
    back_first_ = back_next_ = 0;
    back_base_ = back_end_ = 0;
    front_next_ = -1;
    front_end_ = front_limit_ = 0;
    move_raw(0);
    update_limit();
  }

  std::span<std::byte> bump(std::size_t n) noexcept {
    std::byte* p = mem_ + raw_off_ + raw_len_;
    raw_len_ += n;
    return {p, n};
  }

  void update_limit() noexcept {
    if (region_ == PoolMode::back)
      limit_ = back_next_ < Slots ? cap_ : 0;
    else
      limit_ = front_next_ >= 0 ? front_limit_ : 0;
  }

  void move_raw(std::size_t to) noexcept {
    if (raw_len_ != 0 && to != raw_off_) std::memmove(mem_ + to, mem_ + raw_off_, raw_len_);
    raw_off_ = to;
  }

  // The current run has no slot or no bytes left for `need` bytes: take back what has been
  // dropped and pick where the message continues. False means Alloc.
  bool find_room(std::size_t need) noexcept {
    // acquire: pairs with the release in `release`, so the slots seen free here are safe to
    // overwrite.
    const std::uint64_t live = sh_->state.load(std::memory_order_acquire) & kSlotBits;
    if (live == 0) {  // every slice dropped: start again as an empty Back pool
      reset_region();
      return need <= cap_;
    }
    // Dropped slots at the top of the back run come back.
    while (back_next_ > back_first_ && ((live >> (back_next_ - 1)) & 1) == 0) --back_next_;
    back_end_ = back_next_ > back_first_ ? offset(back_next_ - 1) + slot_size_[back_next_ - 1] : back_base_;
    if (back_next_ < Slots && need <= cap_ - back_end_) {
      region_ = PoolMode::back;
      move_raw(back_end_);
      update_limit();
      return true;
    }
    // Front: every slot below the oldest live one is free, and so is the memory before it,
    // provided no slice of an earlier front run is still live (those sit below back_first_).
    const auto oldest = static_cast<std::size_t>(std::countr_zero(live));
    if (oldest > 0 && oldest >= back_first_ && need <= offset(oldest)) {
      region_ = PoolMode::front;
      back_first_ = oldest;
      back_base_ = offset(oldest);
      front_next_ = static_cast<int>(oldest) - 1;
      front_end_ = 0;
      front_limit_ = back_base_;
      move_raw(0);
      update_limit();
      return true;
    }
    return false;
  }

  std::size_t offset(std::size_t pos) const noexcept { return static_cast<std::size_t>(slot_data_[pos] - mem_); }

  detail::PoolShared* sh_ = nullptr;
  std::byte* mem_ = nullptr;
  std::size_t cap_ = 0;
  [[no_unique_address]] Fallback fallback_;

  std::byte* slot_data_[Slots] = {};
  std::size_t slot_size_[Slots] = {};

  PoolMode region_ = PoolMode::back;
  bool alloc_ = false;
  bool in_fallback_ = false;  // alloc_ and the message being built lives in the fallback
  // Back run: slots [back_first_, back_next_), memory [back_base_, back_end_).
  std::size_t back_first_ = 0, back_next_ = 0, back_base_ = 0, back_end_ = 0;
  // Front run: slots (front_next_, back_first_) handed out downward, memory [0, front_end_)
  // below front_limit_.
  int front_next_ = -1;
  std::size_t front_end_ = 0, front_limit_ = 0;
  // The message being built: [raw_off_, raw_off_ + raw_len_); it may grow up to limit_.
  std::size_t raw_off_ = 0, raw_len_ = 0, limit_ = 0;
};

static_assert(Buffer<BufferPool<>>);
static_assert(Buffer<BufferPool<8, NoFallback>>);

}  // namespace ferro
