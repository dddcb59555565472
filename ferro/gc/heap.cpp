// The heap's life and bookkeeping: carving the region into its spaces, moving and tearing a
// heap down, the root registry, when to collect, stats and the report. The other concerns
// each have a file: alloc.cpp (size classes and free lists), mark.cpp, sweep.cpp, vec.cpp
// (vector space and compaction), malloc.cpp (the malloc shim's blocks) and check.cpp.
//
// Invariants kept here: base_ <= vec_top_ <= obj_low_ <= obj_top_, all granule-aligned, with the
// mark stack above obj_top_; the gap [vec_top_, obj_low_) stays poisoned; a moved-from heap
// owns nothing.
#include "ferro/core/bits.hpp"
#include "ferro/gc/internal/object_space.hpp"

namespace ferro::gc {

using internal::poison;
using internal::unpoison;

// ---- construction and teardown ------------------------------------------------------------

namespace {

struct Trimmed {
  std::uintptr_t lo, hi;  // hi < lo when no granule fits
};

Trimmed trim(std::span<std::byte> region) noexcept {
  const auto start = reinterpret_cast<std::uintptr_t>(region.data());
  return {align_up(start, std::uintptr_t{kGranule}), align_down(start + region.size(), std::uintptr_t{kGranule})};
}

}  // namespace

std::size_t Heap::usable_bytes(std::span<std::byte> region) noexcept {
  const auto [lo, hi] = trim(region);
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
  const auto [lo, hi] = trim(region);
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

}  // namespace ferro::gc
