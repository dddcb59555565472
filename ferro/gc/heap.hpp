// A garbage-collected heap over one caller-given region, after Monty's memory model:
//
//   base                                                                      end
//   | vector space (grows up) -> |   free gap   | <- object space (grows down) | mark stack |
//                              vec_top       obj_low                        obj_top
//
// Objects (`Obj`) never move; they are reclaimed by a precise mark-sweep in which each type's
// virtual `mark()` names what it references. Vectors (`Vec`) hold plain bytes in vector space;
// their blocks carry a back-pointer to their one owning `Vec`, so a sliding compaction can move
// them down and fix the owner. No heap, no exceptions, no recursion: usable on a microcontroller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

#include "ferro/core/assert.hpp"
#include "ferro/core/bits.hpp"
#include "ferro/core/result.hpp"

namespace ferro::gc {

class Heap;

// Every block in either space is a whole number of granules, and payloads are granule-aligned,
// which is what malloc must guarantee (16 bytes on a 64-bit host, 8 on a Cortex-M).
inline constexpr std::size_t kGranule = 2 * sizeof(void*);

// The base of every collected object. It must be the first (or only) base class of the
// allocated type, so that the object's address is its block's payload.
class Obj {
 public:
  Obj() = default;
  Obj(const Obj&) = delete;
  Obj& operator=(const Obj&) = delete;
  virtual ~Obj() = default;
  // Only the heap creates and destroys objects. Declaring these keeps the virtual destructor's
  // deleting variant from reaching for the global operator delete (there is no heap to give
  // back to on a microcontroller); `delete obj` compiles but panics.
  static void* operator new(std::size_t) = delete;
  static void* operator new(std::size_t, void* where) noexcept { return where; }
  static void operator delete(void*) noexcept { ferro::panic("gc::Obj: objects are not deleted", __FILE__, __LINE__); }

  // Calls heap.mark(x) for every object x this one references. It must not mark recursively
  // itself: the heap keeps its own bounded stack.
  virtual void mark(Heap& heap) const { (void)heap; }
};

// Bytes in vector space, owned by exactly one Vec. Compaction moves the bytes and updates the
// owner, so a raw pointer from data() is only valid until the next call that may allocate,
// resize or collect (see docs/gc.md). A Vec may also wrap constant (ROM) bytes; it then cannot
// be resized. A Vec must not outlive its heap, and it is moved only by its move operations.
class Vec {
 public:
  constexpr Vec() noexcept = default;  // empty, bound to no heap: not resizable
  explicit Vec(Heap& heap) noexcept : heap_(&heap) {}
  Vec(Vec&& other) noexcept;
  Vec& operator=(Vec&& other) noexcept;
  Vec(const Vec&) = delete;
  Vec& operator=(const Vec&) = delete;
  ~Vec() { release(); }

  // Wraps constant bytes that live elsewhere (flash); never copied, never resized.
  static Vec rom(std::span<const std::byte> bytes) noexcept {
    Vec v;
    v.data_ = const_cast<std::byte*>(bytes.data());
    v.cap_ = bytes.size();
    return v;
  }

  // ROM bytes are the ones a Vec holds without a heap.
  bool is_rom() const noexcept { return heap_ == nullptr && data_ != nullptr; }
  bool resizable() const noexcept { return heap_ != nullptr; }
  std::size_t capacity() const noexcept { return cap_; }
  const std::byte* data() const noexcept { return data_; }
  std::byte* data() noexcept {
    FERRO_DEBUG_CHECK(!is_rom(), "Vec: writing through a ROM vector");
    return data_;
  }
  std::span<const std::byte> bytes() const noexcept { return {data_, cap_}; }
  Heap* heap() const noexcept { return heap_; }

  // Sets the capacity to at least `bytes` (rounded up to a granule). Bytes that become part of
  // the vector read as zero. On failure (no_space, or unsupported for ROM) the old contents are
  // intact, though compaction may have moved them.
  Status resize(std::size_t bytes) noexcept;
  // Gives the bytes back to the heap; the Vec is then empty (and a ROM Vec forgets its bytes).
  void release() noexcept;

 private:
  friend class Heap;
  Heap* heap_ = nullptr;
  std::byte* data_ = nullptr;
  std::size_t cap_ = 0;
};

// A member of the heap's root registry: while it lives, whatever its mark() marks survives
// collection. Links itself on construction and unlinks on destruction; no allocation.
class RootNode {
 public:
  explicit RootNode(Heap& heap) noexcept;
  RootNode(const RootNode&) = delete;
  RootNode& operator=(const RootNode&) = delete;
  virtual ~RootNode();
  virtual void mark(Heap& heap) const = 0;
  Heap& heap() const noexcept { return *heap_; }
  // Roots live on the stack, in static storage or in containers that build in place; as with
  // Obj, these keep the global operator delete out of a freestanding build.
  static void* operator new(std::size_t) = delete;
  static void* operator new(std::size_t, void* where) noexcept { return where; }
  static void operator delete(void*) noexcept {
    ferro::panic("gc::RootNode: roots are not deleted", __FILE__, __LINE__);
  }

 private:
  friend class Heap;
  Heap* heap_;
  RootNode* prev_ = nullptr;
  RootNode* next_ = nullptr;
};

// A rooted pointer to an object (or nullptr).
template <class T>
class Root final : public RootNode {
 public:
  explicit Root(Heap& heap, T* ptr = nullptr) noexcept : RootNode(heap), ptr_(ptr) {}
  T* get() const noexcept { return ptr_; }
  T* operator->() const noexcept { return ptr_; }
  T& operator*() const noexcept { return *ptr_; }
  Root& operator=(T* ptr) noexcept {
    ptr_ = ptr;
    return *this;
  }
  void mark(Heap& heap) const override;

 private:
  T* ptr_;
};

struct Options {
  // collect() is due when free space (gap plus holes in both spaces) falls below this fraction
  // of the heap; should_collect() answers, and auto_collect acts on it.
  double trigger_fraction = 0.25;
  // When true, object allocations (make, malloc) collect first when a collection is due (and
  // at least 1/32 of the heap was allocated since the last one, so that a heap whose live data
  // stays above the trigger does not collect on every allocation), and once more when they
  // fail. Then every object held across an allocation must be rooted.
  bool auto_collect = false;
  // Entries of the explicit mark stack, taken from the top of the region. On overflow the
  // marker rescans the heap instead of growing the stack.
  std::size_t mark_stack_entries = 32;
};

struct Stats {
  struct Count {
    std::size_t count = 0;
    std::size_t bytes = 0;
  };
  std::size_t avail = 0;                     // gap plus holes, bytes
  std::size_t gap = 0;                       // the contiguous free gap alone
  std::size_t obj_holes = 0, vec_holes = 0;  // free bytes inside each space (compaction empties vec_holes)
  std::uint32_t checks = 0, sweeps = 0, compacts = 0;
  std::uint32_t mark_overflows = 0;  // rescans the bounded mark stack forced
  Count total_objs, curr_objs, max_objs;
  Count total_vecs, curr_vecs, max_vecs;
};

class Heap {
 public:
  // The fewest bytes a granule-aligned region needs for a heap with `options`: the mark stack
  // plus 8 granules. A region whose start is not granule-aligned loses up to kGranule - 1 bytes
  // more to trimming. SIZE_MAX when no region will do (no mark stack, or its size overflows).
  static constexpr std::size_t min_region_bytes(const Options& options = {}) noexcept;

  // Makes a heap over `region`, trimmed to granule alignment. When the region or the options
  // come from outside the program (a configuration, a linker symbol, input), this is the way:
  // invalid_argument when they cannot make a heap, and then nothing has been written.
  static Result<Heap> create(std::span<std::byte> region, Options options = {}) noexcept;
  // The same for a region already known to fit ("I have checked"), typically a static array
  // with static_assert(sizeof(region) >= Heap::min_region_bytes(options)): one that does not
  // fit is a programming error and panics.
  explicit Heap(std::span<std::byte> region, Options options = {}) noexcept;
  ~Heap();  // destroys every object left (sweeps with nothing marked)
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;
  // Roots, vectors and the malloc binding point at their heap, so a heap may move only while
  // nothing refers to it (as when create() hands it back); moving one that holds objects,
  // vectors or roots panics. The moved-from heap is empty, with no capacity.
  Heap(Heap&& other) noexcept;
  Heap& operator=(Heap&&) = delete;

  // Allocates and constructs a T (derived from Obj, Obj first); nullptr when the heap is full.
  // A constructor may allocate vectors but not objects.
  template <class T, class... Args>
  T* make(Args&&... args) noexcept {
    static_assert(std::is_base_of_v<Obj, T>, "make<T>: T must derive from gc::Obj");
    static_assert(alignof(T) <= kGranule, "make<T>: over-aligned type");
    void* p = allocate_object(sizeof(T));
    if (p == nullptr) return nullptr;
    T* t = ::new (p) T(std::forward<Args>(args)...);
    FERRO_CHECK(static_cast<void*>(static_cast<Obj*>(t)) == p, "make<T>: Obj must be T's first base");
    object_constructed(p);
    return t;
  }

  // Marks an object reachable (called from roots and from Obj::mark). Objects outside this
  // heap's object space (static ones) are ignored.
  void mark(const Obj* obj) noexcept;

  // mark + sweep + compact.
  void collect() noexcept;
  // The parts, for tests and for callers with their own schedule. sweep() destroys every
  // unmarked object and clears the marks; compact() slides all vectors down.
  void mark_roots() noexcept;
  void sweep() noexcept;
  void compact() noexcept;
  bool should_collect() noexcept;  // the trigger (counted as a "check")

  // The malloc shim's primitives (see malloc.hpp). Blocks live in object space, never move,
  // and count as marked until freed.
  void* malloc(std::size_t size) noexcept;
  void* calloc(std::size_t count, std::size_t size) noexcept;
  void* realloc(void* ptr, std::size_t size) noexcept;
  void free(void* ptr) noexcept;
  // While `block` (from malloc) lives, `referent` (or nullptr) is kept alive.
  void keep_alive(void* block, const Obj* referent) noexcept;
  bool owns_block(const void* ptr) const noexcept;

  std::size_t avail() const noexcept;  // gap plus holes
  std::size_t gap() const noexcept { return static_cast<std::size_t>(obj_low_ - vec_top_); }
  std::size_t capacity() const noexcept { return static_cast<std::size_t>(obj_top_ - base_); }
  Stats stats() const noexcept;
  // Walks both spaces and every free list; returns the first broken invariant.
  Status check() const noexcept;

  // The seed's four-line report, one line per call of `write` (without a newline).
  using LineWriter = void (*)(void* ctx, const char* line);
  void report(LineWriter write, void* ctx) const noexcept;
  template <class F>
  void report(F&& f) const noexcept {
    report([](void* c, const char* line) { (*static_cast<std::remove_reference_t<F>*>(c))(line); },
           static_cast<void*>(&f));
  }

 private:
  friend class Vec;
  friend class RootNode;
  struct Block;
  struct VecBlock;
  static constexpr int kExactClasses = 64;  // block sizes below 64 granules get their own list
  static constexpr int kClasses = 128;
  static constexpr std::size_t kMinSpaceBytes = 8 * kGranule;  // for objects and vectors together

  static std::size_t usable_bytes(std::span<std::byte> region) noexcept;  // after trimming
  std::span<std::byte> give_up_region() noexcept;

  void* allocate_object(std::size_t bytes) noexcept;
  void object_constructed(void* p) noexcept;
  Block* take_block(std::size_t granules) noexcept;
  Block* take_from_lists(std::size_t granules) noexcept;
  inline void push_free(Block* b, std::size_t granules) noexcept;
  inline void clear_free_lists() noexcept;
  static inline int class_of(std::size_t granules) noexcept;
  int next_class(int from) const noexcept;
  Block* split(Block* b, std::size_t granules) noexcept;
  void walk_sweep(bool destroy) noexcept;
  inline void flush_run(std::byte* run, std::byte* end) noexcept;
  void drain() noexcept;
  void count_obj(std::size_t bytes) noexcept;
  inline void uncount_obj(std::size_t bytes) noexcept;

  VecBlock* vec_allocate(std::size_t bytes, Vec* owner) noexcept;
  void vec_free(VecBlock* b) noexcept;
  bool vec_grow_in_place(Vec& v, std::size_t bytes) noexcept;
  Status vec_resize(Vec& v, std::size_t bytes) noexcept;
  void vec_hole(VecBlock* b, std::size_t bytes) noexcept;
  void count_vec(int blocks, std::ptrdiff_t bytes) noexcept;
  Status check_vectors() const noexcept;

  std::byte* base_;
  std::byte* vec_top_;
  std::byte* obj_low_;
  std::byte* obj_top_;
  const Obj** mark_stack_;
  std::size_t mark_cap_;
  std::size_t mark_len_ = 0;
  std::size_t trigger_bytes_;
  std::size_t allocated_since_collect_ = 0;  // bytes: auto-collection waits for some
  bool overflow_ = false;
  bool sweeping_ = false;
  bool deferred_free_ = false;
  Options opts_;
  RootNode* roots_ = nullptr;
  std::size_t referents_ = 0;  // malloc blocks with a referent: marking walks them when > 0
  Block* free_[kClasses] = {};
  std::uint64_t nonempty_[kClasses / 64] = {};
  std::size_t obj_free_bytes_ = 0;
  VecBlock* holes_ = nullptr;
  std::size_t vec_free_bytes_ = 0;
  Stats stats_;
};

constexpr std::size_t Heap::min_region_bytes(const Options& options) noexcept {
  if (options.mark_stack_entries == 0) return SIZE_MAX;
  const auto stack = checked_mul(options.mark_stack_entries, sizeof(void*));
  const auto aligned = stack ? checked_align_up(*stack, kGranule) : std::nullopt;
  const auto total = aligned ? checked_add(*aligned, kMinSpaceBytes) : std::nullopt;
  return total.value_or(SIZE_MAX);
}

template <class T>
void Root<T>::mark(Heap& heap) const {
  heap.mark(ptr_);
}

}  // namespace ferro::gc
