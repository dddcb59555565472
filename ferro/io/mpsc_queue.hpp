// A multi-producer, single-consumer FIFO queue (host only: one heap node per item, recycled).
//
// Producers never take a lock: push() is one atomic exchange on the tail and one store that
// links the previous node to the new one (Vyukov's intrusive MPSC design, here owning its
// nodes). The consumer pops from the head in the order the exchanges happened, so each
// producer's items come out in the order it pushed them, and the drain is oldest-first.
//
// A producer that has exchanged the tail but not yet linked its node hides everything pushed
// after it until it links (a few instructions later); pop() then reports "empty" rather than
// wait. Callers that must see every finished push (a pipe being closed) track their producers
// themselves.
//
// Nodes are recycled rather than freed: the consumer returns spent nodes to a lock-free stack
// shared by every queue of the same T, and a producer that runs out takes the whole stack into
// a cache of its own thread; when that is empty too, it makes a slab of nodes at once. Without
// recycling every push is a malloc on the producer's thread and every pop a free on the
// consumer's, and glibc's slow path for memory freed by another thread put a 5 us tail on 1 % of
// pushes (io bench, submit p99). Without slabs a deep queue still mallocs a node per push until
// it reaches its peak depth, and the heap growth and first-touch page faults behind those
// mallocs (one per ~40 nodes) were the rest of the 4-thread p99. A slab is constructed whole
// when it is made, so its page faults land on one push in hundreds.
//
// The cost: nodes are never given back. Each T keeps as many nodes as were ever in use at
// once (in queues, in thread caches, on the shared stack) for the life of the process.
#pragma once

#include <atomic>
#include <cstddef>
#include <new>
#include <optional>
#include <utility>

namespace ferro {

template <class T>
class MpscQueue {
 public:
  MpscQueue() : head_(take_node()), tail_(head_) {}
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;
  ~MpscQueue() {
    while (pop()) {
    }
    recycle(head_);
  }

  // Any thread, any time.
  void push(T value) {
    Node* node = take_node();
    ::new (&node->value) T(std::move(value));
    // acq_rel: release publishes this node (its value and its null `next`) to the producer
    // that will link after it; acquire makes the previous producer's node construction
    // visible before this thread writes into that node's `next`.
    Node* prev = tail_.exchange(node, std::memory_order_acq_rel);
    // release would do for the data (the consumer's acquire load of `next` then sees the value
    // constructed above); seq_cst lets a consumer that sleeps pair this store with a flag of its
    // own (empty() is seq_cst too): the store-buffering pattern then cannot lose a wake-up.
    prev->next.store(node, std::memory_order_seq_cst);
  }

  // Consumer thread only. The oldest linked item, or nothing.
  std::optional<T> pop() {
    // acquire: pairs with push's release store, so the item's value is fully visible.
    Node* next = head_->next.load(std::memory_order_acquire);
    if (next == nullptr) return std::nullopt;
    std::optional<T> out(std::move(next->value));
    next->value.~T();
    recycle(head_);  // the old sentinel; `next`, now emptied, becomes the new one
    head_ = next;
    return out;
  }

  // Consumer thread only. Hands every item linked now to f, oldest first; returns how many.
  template <class F>
  std::size_t drain(F&& f) {
    std::size_t n = 0;
    while (auto item = pop()) {
      f(std::move(*item));
      ++n;
    }
    return n;
  }

  // Consumer thread only: true when nothing linked is waiting (see the note above). seq_cst:
  // the mirror of push()'s link store, for a consumer that raises a "sleeping" flag first.
  bool empty() const noexcept { return head_->next.load(std::memory_order_seq_cst) == nullptr; }

 private:
  struct Node {
    Node() noexcept {}
    ~Node() {}
    std::atomic<Node*> next{nullptr};
    Node* next_chain = nullptr;  // on a chain's first node: the next chain (see orphans_)
    union {
      T value;  // constructed while the node is in the queue, destroyed when it is popped
    };
  };

  // The spent nodes of every queue of this T: pushed one at a time (a CAS push is ABA-safe),
  // taken all at once (an exchange is too), so no node is ever popped from the middle.
  static inline std::atomic<Node*> recycled_{nullptr};
  // Whole chains left by threads that ended, linked through their first nodes' `next_chain`:
  // handing a cache over costs a CAS per chain, not a walk over its (cold) nodes.
  static inline std::atomic<Node*> orphans_{nullptr};

  // About 64 KiB of nodes per slab: 16 page faults on one push, then hundreds of free pushes.
  static constexpr std::size_t kSlabNodes = sizeof(Node) >= 4096 ? 16 : 65536 / sizeof(Node);

  struct ThreadCache {
    Node* top = nullptr;    // the chain nodes are taken from, linked through `next`
    Node* spare = nullptr;  // more chains, linked through `next_chain`
    ~ThreadCache() {        // a thread that ends hands its chains to the others
      if (top != nullptr) orphan(top);
      while (spare != nullptr) orphan(std::exchange(spare, spare->next_chain));
    }
  };
  static inline thread_local ThreadCache cache_;

  static Node* take_node() {
    ThreadCache& c = cache_;
    if (c.top == nullptr) c.top = refill(c);
    Node* n = c.top;
    c.top = n->next.load(std::memory_order_relaxed);    // this thread's own list now
    n->next.store(nullptr, std::memory_order_relaxed);  // published by push()'s release exchange
    return n;
  }

  // A chain for an empty cache: a spare one, the spent nodes, orphans, or a new slab.
  static Node* refill(ThreadCache& c) {
    if (c.spare != nullptr) return std::exchange(c.spare, c.spare->next_chain);
    // acquire: pairs with recycle()'s release, so the links written there are visible here.
    if (Node* chain = recycled_.exchange(nullptr, std::memory_order_acquire)) return chain;
    // acquire: pairs with orphan()'s release, for the links and every chain's next_chain.
    if (Node* chains = orphans_.exchange(nullptr, std::memory_order_acquire)) {
      c.spare = chains->next_chain;
      return chains;
    }
    return make_slab();
  }

  // A new slab, linked into a list (its nodes are this thread's alone until pushed).
  static Node* make_slab() {
    Node* slab = new Node[kSlabNodes];  // constructing each node touches every page now
    for (std::size_t i = 0; i + 1 < kSlabNodes; ++i) slab[i].next.store(&slab[i + 1], std::memory_order_relaxed);
    return slab;
  }

  static void recycle(Node* n) {
    Node* top = recycled_.load(std::memory_order_relaxed);
    do {
      n->next.store(top, std::memory_order_relaxed);  // published by the release CAS below
      // release: the node's link (and its emptied state) reach the producer that takes it.
    } while (!recycled_.compare_exchange_weak(top, n, std::memory_order_release, std::memory_order_relaxed));
  }

  static void orphan(Node* chain) {
    Node* top = orphans_.load(std::memory_order_relaxed);
    do {
      chain->next_chain = top;  // published by the release CAS below
      // release: the chain's links reach the thread that takes the orphans.
    } while (!orphans_.compare_exchange_weak(top, chain, std::memory_order_release, std::memory_order_relaxed));
  }

  Node* head_;                           // consumer only: the sentinel before the oldest item
  alignas(64) std::atomic<Node*> tail_;  // the producers' meeting point, on its own cache line
};

}  // namespace ferro
