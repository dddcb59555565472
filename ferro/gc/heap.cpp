// The object space, the mark-sweep collector, the malloc shim's primitives, check() and
// report(). Vector space lives in vec.cpp.
#include <cstring>

#include "ferro/core/bits.hpp"
#include "ferro/gc/internal/layout.hpp"

namespace ferro::gc {

using internal::poison;
using internal::unpoison;

namespace {

constexpr std::uintptr_t kMarkBit = 1;
constexpr std::uintptr_t kKindShift = 1;
constexpr std::uintptr_t kKindMask = 3u << kKindShift;
// A block being constructed is live but not yet traceable (its vtable may not be set).
enum Kind : std::uintptr_t { kFree = 0, kObject = 1, kMalloc = 2, kRaw = 3 };
constexpr std::size_t kMinBlockGranules = 2;  // a header plus a link or a vtable

std::size_t size_of(const void* b) noexcept { return *static_cast<const std::uintptr_t*>(b) & ~std::uintptr_t{7}; }

}  // namespace

struct Heap::Block {
  std::uintptr_t word;  // size in bytes | kind << 1 | mark
  void* link;           // free: next block of its class; malloc: referent; object: unused

  std::size_t size() const noexcept { return word & ~std::uintptr_t{7}; }
  Kind kind() const noexcept { return static_cast<Kind>((word & kKindMask) >> kKindShift); }
  bool marked() const noexcept { return (word & kMarkBit) != 0; }
  void set(std::size_t size, Kind k) noexcept { word = size | (static_cast<std::uintptr_t>(k) << kKindShift); }
  std::byte* bytes() noexcept { return reinterpret_cast<std::byte*>(this); }
  Obj* obj() noexcept { return reinterpret_cast<Obj*>(this + 1); }
};

// ---- construction and teardown ------------------------------------------------------------

std::size_t Heap::usable_bytes(std::span<std::byte> region) noexcept {
  const auto lo = align_up(reinterpret_cast<std::uintptr_t>(region.data()), std::uintptr_t{kGranule});
  const auto hi = align_down(reinterpret_cast<std::uintptr_t>(region.data()) + region.size(), std::uintptr_t{kGranule});
  return hi > lo ? hi - lo : 0;
}

Result<Heap> Heap::create(std::span<std::byte> region, Options options) noexcept {
  if (options.mark_stack_entries == 0)
    return make_error(Errc::invalid_argument, "gc::Heap: mark_stack_entries must be at least 1");
  if (usable_bytes(region) < min_region_bytes(options))
    return make_error(Errc::invalid_argument, "gc::Heap: region smaller than Heap::min_region_bytes(options)");
  return Heap(region, options);
}

Heap::Heap(std::span<std::byte> region, Options options) noexcept : opts_(options) {
  static_assert(sizeof(Block) == kGranule && sizeof(VecBlock) == kGranule);
  FERRO_CHECK(usable_bytes(region) >= min_region_bytes(options),
              "gc::Heap: region too small for the options (see Heap::min_region_bytes; Heap::create reports it)");
  const auto lo = align_up(reinterpret_cast<std::uintptr_t>(region.data()), std::uintptr_t{kGranule});
  const auto hi = align_down(reinterpret_cast<std::uintptr_t>(region.data()) + region.size(), std::uintptr_t{kGranule});
  // min_region_bytes() refused a stack whose size overflows, so this cannot.
  const std::size_t stack_bytes = align_up(options.mark_stack_entries * sizeof(void*), kGranule);
  base_ = vec_top_ = reinterpret_cast<std::byte*>(lo);
  obj_low_ = obj_top_ = reinterpret_cast<std::byte*>(hi - stack_bytes);
  mark_stack_ = reinterpret_cast<const Obj**>(obj_top_);
  mark_cap_ = options.mark_stack_entries;
  double fraction = options.trigger_fraction;
  if (!(fraction >= 0)) fraction = 0;  // also NaN
  if (fraction > 1) fraction = 1;
  trigger_bytes_ = static_cast<std::size_t>(static_cast<double>(capacity()) * fraction);
  poison(base_, capacity());
}

// Holding nothing, the region is all gap: making a new heap over it is the whole move, and the
// counters (totals, maxima, sweeps) come along.
Heap::Heap(Heap&& other) noexcept : Heap(other.give_up_region(), other.opts_) {
  stats_ = other.stats_;
  allocated_since_collect_ = other.allocated_since_collect_;
}

std::span<std::byte> Heap::give_up_region() noexcept {
  FERRO_CHECK(roots_ == nullptr && stats_.curr_objs.count == 0 && stats_.curr_vecs.count == 0,
              "gc::Heap moved while objects, vectors or roots refer to it");
  FERRO_CHECK(base_ != nullptr, "gc::Heap: moving a heap that was moved from");
  const std::span<std::byte> region(base_, obj_top_ + align_up(mark_cap_ * sizeof(void*), kGranule));
  base_ = vec_top_ = obj_low_ = obj_top_ = nullptr;
  mark_stack_ = nullptr;
  mark_cap_ = 0;
  trigger_bytes_ = 0;
  clear_free_lists();
  holes_ = nullptr;
  vec_free_bytes_ = 0;
  return region;
}

Heap::~Heap() {
  FERRO_CHECK(roots_ == nullptr, "gc::Heap destroyed while roots are still registered");
  sweep();  // nothing is marked: every object's destructor runs, which also frees their vectors
  unpoison(base_, static_cast<std::size_t>(obj_top_ - base_));
}

// ---- roots -----------------------------------------------------------------------------------

RootNode::RootNode(Heap& heap) noexcept : heap_(&heap), next_(heap.roots_) {
  if (next_ != nullptr) next_->prev_ = this;
  heap.roots_ = this;
}

RootNode::~RootNode() {
  if (prev_ != nullptr)
    prev_->next_ = next_;
  else
    heap_->roots_ = next_;
  if (next_ != nullptr) next_->prev_ = prev_;
}

// ---- free lists ------------------------------------------------------------------------------

int Heap::class_of(std::size_t granules) noexcept {
  if (granules < static_cast<std::size_t>(kExactClasses)) return static_cast<int>(granules);
  const int c = kExactClasses + log2_floor(granules) - 6;  // 64 granules = 2^6 opens the first bin
  return c < kClasses ? c : kClasses - 1;
}

int Heap::next_class(int from) const noexcept {
  for (int w = from / 64; w < kClasses / 64; ++w) {
    std::uint64_t bits = nonempty_[w];
    if (w == from / 64) bits &= ~std::uint64_t{0} << (from % 64);
    if (bits != 0) return w * 64 + ctz(bits);
  }
  return -1;
}

void Heap::push_free(Block* b, std::size_t granules) noexcept {
  const int c = class_of(granules);
  b->set(granules * kGranule, kFree);
  b->link = free_[c];
  free_[c] = b;
  nonempty_[c / 64] |= std::uint64_t{1} << (c % 64);
  obj_free_bytes_ += granules * kGranule;
}

void Heap::clear_free_lists() noexcept {
  for (auto& head : free_) head = nullptr;
  for (auto& w : nonempty_) w = 0;
  obj_free_bytes_ = 0;
}

// Keeps the first `granules` of a listed block; the rest, if it can hold a block, is listed.
Heap::Block* Heap::split(Block* b, std::size_t granules) noexcept {
  const std::size_t have = b->size() / kGranule;
  obj_free_bytes_ -= have * kGranule;
  if (have - granules >= kMinBlockGranules) {
    auto* rest = reinterpret_cast<Block*>(b->bytes() + granules * kGranule);
    unpoison(rest, sizeof(Block));
    push_free(rest, have - granules);
  } else {
    granules = have;
  }
  unpoison(b, granules * kGranule);
  b->set(granules * kGranule, kFree);
  return b;
}

// Exact classes pop in O(1); a bin of larger sizes is searched first-fit, and only that bin.
// The bitmap finds the next non-empty class without looking at empty ones.
Heap::Block* Heap::take_from_lists(std::size_t granules) noexcept {
  int c = class_of(granules);
  if (c >= kExactClasses) {
    if ((nonempty_[c / 64] >> (c % 64)) & 1) {
      for (Block** pp = &free_[c]; *pp != nullptr; pp = reinterpret_cast<Block**>(&(*pp)->link)) {
        Block* b = *pp;
        if (b->size() >= granules * kGranule) {
          *pp = static_cast<Block*>(b->link);
          if (free_[c] == nullptr) nonempty_[c / 64] &= ~(std::uint64_t{1} << (c % 64));
          return split(b, granules);
        }
      }
    }
    ++c;
  }
  const int d = next_class(c);
  if (d < 0) return nullptr;
  Block* b = free_[d];
  free_[d] = static_cast<Block*>(b->link);
  if (free_[d] == nullptr) nonempty_[d / 64] &= ~(std::uint64_t{1} << (d % 64));
  return split(b, granules);
}

Heap::Block* Heap::take_block(std::size_t granules) noexcept {
  if (Block* b = take_from_lists(granules)) return b;
  const std::size_t bytes = granules * kGranule;
  if (gap() < bytes) return nullptr;
  obj_low_ -= bytes;
  unpoison(obj_low_, bytes);
  auto* b = reinterpret_cast<Block*>(obj_low_);
  b->set(bytes, kFree);
  return b;
}

void Heap::count_obj(std::size_t bytes) noexcept {
  allocated_since_collect_ += bytes;
  auto& s = stats_;
  ++s.total_objs.count;
  s.total_objs.bytes += bytes;
  ++s.curr_objs.count;
  s.curr_objs.bytes += bytes;
  if (s.curr_objs.count > s.max_objs.count) s.max_objs.count = s.curr_objs.count;
  if (s.curr_objs.bytes > s.max_objs.bytes) s.max_objs.bytes = s.curr_objs.bytes;
}

void Heap::uncount_obj(std::size_t bytes) noexcept {
  --stats_.curr_objs.count;
  stats_.curr_objs.bytes -= bytes;
}

void* Heap::allocate_object(std::size_t bytes) noexcept {
  // The sweep is rebuilding the free lists and walking object space; a destructor must not
  // allocate (it may free).
  FERRO_CHECK(!sweeping_, "gc: object allocated during a sweep (from a destructor?)");
  if (bytes > capacity()) return nullptr;
  std::size_t granules = align_up(bytes, kGranule) / kGranule + 1;
  if (granules < kMinBlockGranules) granules = kMinBlockGranules;
  const bool may_collect = opts_.auto_collect;
  if (may_collect && allocated_since_collect_ >= capacity() / 32 && should_collect()) collect();
  Block* b = take_block(granules);
  if (b == nullptr && may_collect) {
    collect();
    b = take_block(granules);
  }
  if (b == nullptr) return nullptr;
  b->set(b->size(), kRaw);
  b->link = nullptr;
  count_obj(b->size());
  return b + 1;
}

void Heap::object_constructed(void* p) noexcept {
  Block* b = static_cast<Block*>(p) - 1;
  b->set(b->size(), kObject);
}

// ---- marking ---------------------------------------------------------------------------------

void Heap::mark(const Obj* obj) noexcept {
  const auto* p = reinterpret_cast<const std::byte*>(obj);
  if (p < obj_low_ + sizeof(Block) || p >= obj_top_) return;  // nullptr, static or foreign
  auto* b = reinterpret_cast<Block*>(const_cast<std::byte*>(p)) - 1;
  if (b->kind() != kObject || b->marked()) return;  // malloc and raw blocks are live anyway
  b->word |= kMarkBit;
  if (mark_len_ < mark_cap_)
    mark_stack_[mark_len_++] = obj;
  else
    overflow_ = true;  // marked but not traced: the rescan below finds it
}

void Heap::drain() noexcept {
  while (mark_len_ > 0) {
    const Obj* o = mark_stack_[--mark_len_];
    o->mark(*this);
  }
}

void Heap::mark_roots() noexcept {
  mark_len_ = 0;
  overflow_ = false;
  for (RootNode* r = roots_; r != nullptr; r = r->next_) {
    r->mark(*this);
    drain();
  }
  if (referents_ > 0) {
    for (std::byte* p = obj_low_; p < obj_top_; p += size_of(p)) {
      auto* b = reinterpret_cast<Block*>(p);
      if (b->kind() == kMalloc && b->link != nullptr) {
        mark(static_cast<const Obj*>(b->link));
        drain();
      }
    }
  }
  // Each pass traces every marked object again; children already marked cost one test each.
  // Every pass that overflows has marked at least a stack's worth of new objects, so this ends.
  while (overflow_) {
    overflow_ = false;
    ++stats_.mark_overflows;
    for (std::byte* p = obj_low_; p < obj_top_; p += size_of(p)) {
      auto* b = reinterpret_cast<Block*>(p);
      if (b->kind() == kObject && b->marked()) {
        b->obj()->mark(*this);
        drain();
      }
    }
  }
}

// ---- sweeping --------------------------------------------------------------------------------

void Heap::flush_run(std::byte* run, std::byte* end) noexcept {
  if (run == nullptr) return;
  const auto bytes = static_cast<std::size_t>(end - run);
  if (run == obj_low_) {
    obj_low_ = end;  // the lowest run goes back to the gap
    poison(run, bytes);
  } else {
    push_free(reinterpret_cast<Block*>(run), bytes / kGranule);
    poison(run + sizeof(Block), bytes - sizeof(Block));
  }
}

// One pass over object space: optionally destroys unmarked objects, clears marks, merges
// adjacent free blocks and relists them (so the lists hold no stale entries after a sweep).
void Heap::walk_sweep(bool destroy) noexcept {
  clear_free_lists();
  std::byte* run = nullptr;
  std::byte* p = obj_low_;
  while (p < obj_top_) {
    auto* b = reinterpret_cast<Block*>(p);
    const std::size_t size = b->size();
    Kind k = b->kind();
    if (k == kObject) {
      if (b->marked()) {
        b->word &= ~kMarkBit;
      } else if (destroy) {
        b->obj()->~Obj();
        b->set(size, kFree);
        uncount_obj(size);
        k = kFree;
      }
    }
    if (k == kFree) {
      if (run == nullptr) run = p;
    } else {
      flush_run(run, p);
      run = nullptr;
    }
    p += size;
  }
  flush_run(run, obj_top_);
}

void Heap::sweep() noexcept {
  sweeping_ = true;
  walk_sweep(true);
  sweeping_ = false;
  // A destructor that freed a malloc block behind the walk left it off the lists.
  while (deferred_free_) {
    deferred_free_ = false;
    walk_sweep(false);
  }
  ++stats_.sweeps;
}

void Heap::collect() noexcept {
  allocated_since_collect_ = 0;
  mark_roots();
  sweep();
  compact();
}

bool Heap::should_collect() noexcept {
  ++stats_.checks;
  return avail() < trigger_bytes_;
}

std::size_t Heap::avail() const noexcept { return gap() + obj_free_bytes_ + vec_free_bytes_; }

// ---- the malloc shim's primitives ----------------------------------------------------------

bool Heap::owns_block(const void* ptr) const noexcept {
  const auto* p = static_cast<const std::byte*>(ptr);
  return p >= obj_low_ + sizeof(Block) && p < obj_top_ && is_aligned(ptr, kGranule);
}

void* Heap::malloc(std::size_t size) noexcept {
  void* p = allocate_object(size == 0 ? 1 : size);
  if (p == nullptr) return nullptr;
  Block* b = static_cast<Block*>(p) - 1;
  b->set(b->size(), kMalloc);
  return p;
}

void* Heap::calloc(std::size_t count, std::size_t size) noexcept {
  const auto total = checked_mul(count, size);
  if (!total) return nullptr;
  void* p = malloc(*total);
  if (p != nullptr) std::memset(p, 0, *total);
  return p;
}

void Heap::free(void* ptr) noexcept {
  if (ptr == nullptr) return;
  const auto* p = static_cast<const std::byte*>(ptr);
  FERRO_CHECK(p >= base_ && p < obj_top_, "gc::free: pointer not from this heap");
  // A freed block at the bottom of object space went back to the gap: still a double free.
  FERRO_CHECK(owns_block(ptr), "gc::free: not a live malloc block (double free?)");
  Block* b = static_cast<Block*>(ptr) - 1;
  FERRO_CHECK(b->kind() == kMalloc, "gc::free: not a live malloc block (double free?)");
  if (b->link != nullptr) --referents_;
  const std::size_t size = b->size();
  uncount_obj(size);
  if (sweeping_) {
    b->set(size, kFree);  // the sweep in progress relists it
    poison(b + 1, size - sizeof(Block));
    deferred_free_ = true;
  } else if (b->bytes() == obj_low_) {
    obj_low_ += size;
    poison(b, size);
  } else {
    push_free(b, size / kGranule);
    poison(b + 1, size - sizeof(Block));
  }
}

void* Heap::realloc(void* ptr, std::size_t size) noexcept {
  if (ptr == nullptr) return malloc(size);
  if (size == 0) {
    free(ptr);
    return nullptr;
  }
  FERRO_CHECK(owns_block(ptr), "gc::realloc: pointer not from this heap's malloc");
  Block* b = static_cast<Block*>(ptr) - 1;
  FERRO_CHECK(b->kind() == kMalloc, "gc::realloc: not a live malloc block");
  const std::size_t have = b->size() - sizeof(Block);
  if (size <= have) return ptr;
  void* q = malloc(size);
  if (q == nullptr) return nullptr;  // the old block is untouched
  std::memcpy(q, ptr, have);
  Block* nb = static_cast<Block*>(q) - 1;
  nb->link = b->link;  // the referent moves with the data
  b->link = nullptr;
  free(ptr);
  return q;
}

void Heap::keep_alive(void* block, const Obj* referent) noexcept {
  FERRO_CHECK(owns_block(block), "gc::keep_alive: pointer not from this heap's malloc");
  Block* b = static_cast<Block*>(block) - 1;
  FERRO_CHECK(b->kind() == kMalloc, "gc::keep_alive: not a live malloc block");
  if (b->link != nullptr) --referents_;
  b->link = const_cast<Obj*>(referent);
  if (referent != nullptr) ++referents_;
}

// ---- stats, report, check --------------------------------------------------------------------

Stats Heap::stats() const noexcept {
  Stats s = stats_;
  s.avail = avail();
  s.gap = gap();
  s.obj_holes = obj_free_bytes_;
  s.vec_holes = vec_free_bytes_;
  return s;
}

namespace {

class Line {
 public:
  Line& text(const char* s) {
    while (*s != '\0' && n_ + 1 < sizeof(buf_)) buf_[n_++] = *s++;
    buf_[n_] = '\0';
    return *this;
  }
  Line& num(std::size_t v, int width = 0) {
    char digits[24];
    int d = 0;
    do {
      digits[d++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    for (int pad = width - d; pad > 0; --pad) text(" ");
    while (d > 0 && n_ + 1 < sizeof(buf_)) buf_[n_++] = digits[--d];
    buf_[n_] = '\0';
    return *this;
  }
  const char* str() const { return buf_; }

 private:
  char buf_[128] = {};
  std::size_t n_ = 0;
};

void counts_line(Heap::LineWriter write, void* ctx, const char* label, const Stats::Count& o, const Stats::Count& v) {
  Line l;
  l.text("gc: ").text(label).text(" ").num(o.count, 6).text(" objs ").num(o.bytes, 8).text(" b, ");
  l.num(v.count, 6).text(" vecs ").num(v.bytes, 8).text(" b");
  write(ctx, l.str());
}

}  // namespace

void Heap::report(LineWriter write, void* ctx) const noexcept {
  const Stats s = stats();
  Line l;
  l.text("gc: avail ").num(s.avail).text(" b, ").num(s.checks).text(" checks, ").num(s.sweeps);
  l.text(" sweeps, ").num(s.compacts).text(" compacts");
  write(ctx, l.str());
  counts_line(write, ctx, "total", s.total_objs, s.total_vecs);
  counts_line(write, ctx, " curr", s.curr_objs, s.curr_vecs);
  counts_line(write, ctx, "  max", s.max_objs, s.max_vecs);
}

Status Heap::check() const noexcept {
  if (!(base_ <= vec_top_ && vec_top_ <= obj_low_ && obj_low_ <= obj_top_))
    return make_error(Errc::corrupt, "gc: space boundaries out of order");
  if (!is_aligned(vec_top_, kGranule) || !is_aligned(obj_low_, kGranule))
    return make_error(Errc::corrupt, "gc: space boundary not granule-aligned");
  if (mark_len_ != 0) return make_error(Errc::corrupt, "gc: mark stack not empty outside a collection");

  // Object space: blocks tile it exactly; no marks; free bytes and counts agree.
  std::size_t free_bytes = 0, free_blocks = 0, live = 0, live_bytes = 0, referents = 0;
  for (const std::byte* p = obj_low_; p < obj_top_;) {
    const auto* b = reinterpret_cast<const Block*>(p);
    const std::size_t size = b->size();
    if (size < kMinBlockGranules * kGranule || size % kGranule != 0 || size > static_cast<std::size_t>(obj_top_ - p))
      return make_error(Errc::corrupt, "gc: object block with a bad size");
    if (b->marked()) return make_error(Errc::corrupt, "gc: object marked outside a collection");
    if (b->kind() == kFree) {
      free_bytes += size;
      ++free_blocks;
    } else {
      ++live;
      live_bytes += size;
      if (b->kind() == kMalloc && b->link != nullptr) ++referents;
    }
    p += size;
  }
  if (free_bytes != obj_free_bytes_) return make_error(Errc::corrupt, "gc: object hole bytes disagree with the walk");
  if (live != stats_.curr_objs.count || live_bytes != stats_.curr_objs.bytes)
    return make_error(Errc::corrupt, "gc: live object count or bytes disagree with stats");
  if (referents != referents_) return make_error(Errc::corrupt, "gc: referent count disagrees with the walk");

  // Free lists: every entry a free block of its class, inside object space, each listed once
  // (the total count matches the walk, and the walk is bounded by it).
  std::size_t listed = 0;
  for (int c = 0; c < kClasses; ++c) {
    const bool bit = (nonempty_[c / 64] >> (c % 64)) & 1;
    if (bit != (free_[c] != nullptr)) return make_error(Errc::corrupt, "gc: free-class bitmap disagrees with a list");
    for (const Block* b = free_[c]; b != nullptr; b = static_cast<const Block*>(b->link)) {
      const auto* p = reinterpret_cast<const std::byte*>(b);
      if (p < obj_low_ || p >= obj_top_ || !is_aligned(p, kGranule))
        return make_error(Errc::corrupt, "gc: free list entry outside object space");
      if (b->kind() != kFree) return make_error(Errc::corrupt, "gc: free list entry is not free");
      if (class_of(b->size() / kGranule) != c) return make_error(Errc::corrupt, "gc: free block in the wrong class");
      if (++listed > free_blocks) return make_error(Errc::corrupt, "gc: free lists hold more entries than free blocks");
    }
  }
  if (listed != free_blocks) return make_error(Errc::corrupt, "gc: a free block is missing from the lists");

  return check_vectors();
}

}  // namespace ferro::gc
