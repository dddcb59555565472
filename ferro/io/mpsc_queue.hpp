// A multi-producer, single-consumer FIFO queue (host only: one heap node per item).
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
  MpscQueue() : head_(new Node), tail_(head_) {}
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;
  ~MpscQueue() {
    while (pop()) {
    }
    delete head_;
  }

  // Any thread, any time.
  void push(T value) {
    Node* node = new Node;
    ::new (&node->value) T(std::move(value));
    // acq_rel: release publishes this node (its value and its null `next`) to the producer
    // that will link after it; acquire makes the previous producer's node construction
    // visible before this thread writes into that node's `next`.
    Node* prev = tail_.exchange(node, std::memory_order_acq_rel);
    // release: the consumer's acquire load of `next` then sees the value constructed above.
    prev->next.store(node, std::memory_order_release);
  }

  // Consumer thread only. The oldest linked item, or nothing.
  std::optional<T> pop() {
    // acquire: pairs with push's release store, so the item's value is fully visible.
    Node* next = head_->next.load(std::memory_order_acquire);
    if (next == nullptr) return std::nullopt;
    std::optional<T> out(std::move(next->value));
    next->value.~T();
    delete head_;  // the old sentinel; `next`, now emptied, becomes the new one
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

  // Consumer thread only: true when nothing linked is waiting (see the note above).
  bool empty() const noexcept {
    // acquire: a consumer that sees a node will go on to read it.
    return head_->next.load(std::memory_order_acquire) == nullptr;
  }

 private:
  struct Node {
    Node() noexcept {}
    ~Node() {}
    std::atomic<Node*> next{nullptr};
    union {
      T value;  // constructed while the node is in the queue, destroyed when it is popped
    };
  };

  Node* head_;                           // consumer only: the sentinel before the oldest item
  alignas(64) std::atomic<Node*> tail_;  // the producers' meeting point, on its own cache line
};

}  // namespace ferro
