#include "ferro/pool/bufpool.hpp"

#include <algorithm>
#include <bit>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "ferro/core/assert.hpp"

namespace ferro {
namespace detail {

// A thread blocked in allocate. It lives on that thread's stack and is linked into the queue
// only while the thread holds or waits for the lock, so the granting thread may touch it.
struct BufWaiter {
  std::size_t need = 0;
  std::size_t overtaken = 0;  // buffers granted to later arrivals while this one waited
  std::byte** out = nullptr;  // where the granted buffer pointers go
  bool granted = false;
  bool failed = false;  // the system refused memory while growing the pool for this request
  std::condition_variable cv;
  BufWaiter* prev = nullptr;
  BufWaiter* next = nullptr;
};

struct BufPoolState {
  std::mutex mu;
  std::size_t buffer_size = 0;
  std::size_t max_buffers = 0;
  std::size_t align = 0;
  std::size_t slab_buffers = 0;  // buffers obtained from the system per growth step
  bool panic_on_live = false;

  std::size_t created = 0;
  std::size_t in_use = 0;
  std::size_t live_allocations = 0;
  std::size_t waiter_count = 0;
  bool pool_alive = true;
  // The free buffers, most recently freed on top. A side stack rather than links inside the
  // buffers: freeing or taking 1024 buffers then touches 8 KiB of pointers, not 1024 pages.
  // Its capacity grows with `created`, so pushing never allocates.
  std::vector<std::byte*> free_list;
  std::vector<void*> slabs;
  BufWaiter* head = nullptr;
  BufWaiter* tail = nullptr;

  ~BufPoolState() {
    for (void* slab : slabs) ::operator delete (slab, std::align_val_t{align});
  }

  std::size_t available() const { return free_list.size() + (max_buffers - created); }

  // Obtains at least `want` more buffers from the system, rounded up to a slab.
  bool grow(std::size_t want) {
    const std::size_t count = std::min(std::max(want, slab_buffers), max_buffers - created);
    void* slab = ::operator new (count* buffer_size, std::align_val_t{align}, std::nothrow);
    if (slab == nullptr) return false;
    try {
      free_list.reserve(created + count);
      slabs.push_back(slab);
    } catch (const std::bad_alloc&) {
      ::operator delete (slab, std::align_val_t{align});
      return false;
    }
    auto* base = static_cast<std::byte*>(slab);
    // Pushed in reverse so the stack hands them out in address order.
    for (std::size_t i = count; i-- > 0;) free_list.push_back(base + i * buffer_size);
    created += count;
    return true;
  }

  // Pops n buffers into out; the caller checked n <= available().
  bool take(std::size_t n, std::byte** out) {
    if (free_list.size() < n && !grow(n - free_list.size())) return false;
    const std::size_t rest = free_list.size() - n;
    std::reverse_copy(free_list.begin() + static_cast<std::ptrdiff_t>(rest), free_list.end(), out);
    free_list.resize(rest);
    in_use += n;
    ++live_allocations;
    return true;
  }

  void give_back(std::byte* const* bufs, std::size_t n) {
    free_list.insert(free_list.end(), bufs, bufs + n);
    in_use -= n;
    --live_allocations;
  }

  void link(BufWaiter* w) {
    w->prev = tail;
    w->next = nullptr;
    (tail ? tail->next : head) = w;
    tail = w;
    ++waiter_count;
  }
  void unlink(BufWaiter* w) {
    (w->prev ? w->prev->next : head) = w->next;
    (w->next ? w->next->prev : tail) = w->prev;
    w->prev = w->next = nullptr;
    --waiter_count;
  }

  // A request may pass the waiters queued before it only while none of them has already been
  // passed by a whole budget's worth of buffers: that bound is what keeps large requests from
  // starving while small ones flow past them.
  bool may_overtake(const BufWaiter* w) const {
    for (const BufWaiter* b = head; b != w; b = b->next)
      if (b->overtaken + w->need > max_buffers) return false;
    return true;
  }

  // Hands free buffers to every waiter that may have them, in queue order.
  void grant() {
    std::size_t avail = available();
    for (BufWaiter* w = head; w != nullptr && avail > 0;) {
      BufWaiter* next = w->next;
      if (w->need <= avail && may_overtake(w)) {
        for (BufWaiter* b = head; b != w; b = b->next) b->overtaken += w->need;
        if (take(w->need, w->out)) {
          avail -= w->need;
        } else {
          w->failed = true;
          avail = available();
        }
        unlink(w);
        w->granted = true;
        // Notified under the lock: once it is released the waiter may return and destroy cv.
        w->cv.notify_one();
      }
      w = next;
    }
  }
};

}  // namespace detail

BufPoolAllocation::BufPoolAllocation(BufPoolAllocation&& other) noexcept
    : state_(other.state_), count_(other.count_), buffer_size_(other.buffer_size_), heap_(std::move(other.heap_)) {
  std::copy(std::begin(other.inline_), std::end(other.inline_), inline_);
  other.state_ = nullptr;
  other.count_ = 0;
}

BufPoolAllocation& BufPoolAllocation::operator=(BufPoolAllocation&& other) noexcept {
  if (this != &other) {
    reset();
    state_ = other.state_;
    count_ = other.count_;
    buffer_size_ = other.buffer_size_;
    heap_ = std::move(other.heap_);
    std::copy(std::begin(other.inline_), std::end(other.inline_), inline_);
    other.state_ = nullptr;
    other.count_ = 0;
  }
  return *this;
}

void BufPoolAllocation::reset() noexcept { BufPool::release({this, 1}); }

void BufPoolAllocation::forget() noexcept {
  state_ = nullptr;
  count_ = 0;
  heap_.reset();
}

void BufPool::release(std::span<BufPoolAllocation> spent) noexcept {
  std::size_t i = 0;
  while (i < spent.size()) {
    detail::BufPoolState* s = spent[i].state_;
    if (s == nullptr) {  // empty or moved-from
      spent[i++].forget();
      continue;
    }
    bool last = false;
    {
      std::lock_guard lock(s->mu);
      for (; i < spent.size() && spent[i].state_ == s; ++i) {
        s->give_back(spent[i].data(), spent[i].count_);
        spent[i].forget();
      }
      s->grant();
      last = !s->pool_alive && s->live_allocations == 0;
    }
    // The pool is gone and these were its last allocations: nobody else can reach the state now.
    if (last) delete s;
  }
}

BufPool::BufPool(const BufPoolConfig& config) : state_(new detail::BufPoolState) {
  FERRO_CHECK(config.buffer_size >= 16, "BufPool: buffer_size must be at least 16 bytes");
  FERRO_CHECK(config.max_memory >= config.buffer_size, "BufPool: max_memory is below one buffer");
  auto& s = *state_;
  s.buffer_size = config.buffer_size;
  s.max_buffers = config.max_memory / config.buffer_size;
  // Power-of-two buffers are aligned to their size up to a page (O_DIRECT wants that);
  // others to a cache line.
  s.align = std::has_single_bit(config.buffer_size) ? std::min<std::size_t>(config.buffer_size, 4096) : 64;
  s.align = std::max<std::size_t>(s.align, alignof(std::max_align_t));
  s.slab_buffers = std::max<std::size_t>(1, (std::size_t{256} << 10) / config.buffer_size);
  s.panic_on_live = config.panic_on_live_allocations;
}

BufPool::~BufPool() {
  detail::BufPoolState* s = state_;
  if (s == nullptr) return;
  bool last = false;
  {
    std::lock_guard lock(s->mu);
    FERRO_CHECK(s->waiter_count == 0, "BufPool destroyed while a thread waits in allocate");
    FERRO_CHECK(!(s->panic_on_live && s->live_allocations > 0), "BufPool destroyed while allocations live");
    s->pool_alive = false;
    last = s->live_allocations == 0;
  }
  if (last) delete s;
}

std::size_t BufPool::buffer_size() const noexcept { return state_ ? state_->buffer_size : 0; }
std::size_t BufPool::max_buffers() const noexcept { return state_ ? state_->max_buffers : 0; }

BufPoolStats BufPool::stats() const {
  FERRO_CHECK(state_ != nullptr, "BufPool used after it was moved from");
  auto& s = *state_;
  std::lock_guard lock(s.mu);
  return {s.buffer_size, s.max_buffers, s.created, s.in_use, s.free_list.size(), s.waiter_count, s.live_allocations};
}

Result<BufPoolAllocation> BufPool::allocate(std::size_t n) { return acquire(n, Wait::forever, {}); }
Result<BufPoolAllocation> BufPool::try_allocate(std::size_t n) { return acquire(n, Wait::never, {}); }
Result<BufPoolAllocation> BufPool::allocate_until(std::size_t n, std::chrono::steady_clock::time_point deadline) {
  return acquire(n, Wait::until, deadline);
}

Result<BufPoolAllocation> BufPool::acquire(std::size_t n, Wait wait, std::chrono::steady_clock::time_point deadline) {
  FERRO_CHECK(state_ != nullptr, "BufPool used after it was moved from");
  auto& s = *state_;
  BufPoolAllocation a;
  if (n == 0) return a;
  if (n > s.max_buffers) return make_error(Errc::invalid_argument, "BufPool: request exceeds the whole budget");
  if (n > BufPoolAllocation::kInline) {
    a.heap_.reset(new (std::nothrow) std::byte*[n]);
    if (!a.heap_) return make_error(Errc::no_space, "BufPool: no memory for the buffer list");
  }

  detail::BufWaiter w;
  w.need = n;
  w.out = a.data();
  {
    std::unique_lock lock(s.mu);
    // Joining the queue and granting is the whole protocol; an empty queue with room is just
    // the case where the grant happens at once.
    s.link(&w);
    s.grant();
    if (!w.granted) {
      if (wait == Wait::never) {
        s.unlink(&w);  // it was last, so its leaving unblocks nobody
        return make_error(Errc::no_space, "BufPool: budget spent");
      }
      while (!w.granted) {
        if (wait == Wait::forever) {
          w.cv.wait(lock);
        } else if (w.cv.wait_until(lock, deadline) == std::cv_status::timeout && !w.granted) {
          s.unlink(&w);
          s.grant();  // its credit may have been what held later waiters back
          return make_error(Errc::timed_out, "BufPool: timed out waiting for buffers");
        }
      }
    }
  }
  if (w.failed) return make_error(Errc::no_space, "BufPool: the system refused memory");
  a.state_ = state_;
  a.count_ = n;
  a.buffer_size_ = s.buffer_size;
  return a;
}

}  // namespace ferro
