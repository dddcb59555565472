// A singly linked list whose head and nodes are objects of a vnv heap, so it survives a
// persist and reopen like any other object: push_front, push_back, pop_front and iteration
// (the original's list could not be iterated). The nodes refer to each other by ObjectId and
// are owned by the list; destroying the List frees them (release() keeps them instead).
#pragma once

#include <cstdint>
#include <iterator>
#include <utility>

#include "ferro/vnv/object.hpp"

namespace ferro::vnv {

struct ListHead {
  ObjectId head;
  ObjectId tail;
  std::uint64_t size;
};

template <class T>
struct ListNode {
  T value;
  ObjectId next;
};

template <class T, class H>
class List {
  using Node = ListNode<T>;

 public:
  static Result<List> create(H& heap) noexcept {
    FERRO_TRY_ASSIGN(Object<ListHead> head, heap.template allocate<ListHead>(ListHead{kNoObject, kNoObject, 0}));
    return List(heap, std::move(head));
  }
  // A list found again, e.g. through a root after open().
  static Result<List> attach(H& heap, Object<ListHead> head) noexcept {
    if (!head) return make_error(Errc::invalid_argument, "empty list head");
    return List(heap, std::move(head));
  }

  List(List&& o) noexcept : heap_(o.heap_), head_(std::move(o.head_)) {}
  List& operator=(List&&) = delete;
  ~List() {
    if (head_) (void)clear();
  }

  ObjectId id() const noexcept { return head_.id(); }
  // Gives up the list without freeing it; attach() it again from its id.
  ObjectId release() noexcept { return head_.release(); }

  Result<std::uint64_t> size() noexcept {
    FERRO_TRY_ASSIGN(auto h, head_.get());
    return h->size;
  }

  Status push_front(const T& value) noexcept {
    ObjectId old = kNoObject;
    {
      FERRO_TRY_ASSIGN(auto h, head_.get());
      old = h->head;
    }
    FERRO_TRY_ASSIGN(Object<Node> node, heap_->template allocate<Node>(Node{value, old}));
    FERRO_TRY_ASSIGN(auto h, head_.get_mut());
    h->head = node.id();
    if (h->tail == kNoObject) h->tail = node.id();
    ++h->size;
    node.release();
    return ok();
  }

  Status push_back(const T& value) noexcept {
    FERRO_TRY_ASSIGN(Object<Node> node, heap_->template allocate<Node>(Node{value, kNoObject}));
    ObjectId tail = kNoObject;
    {
      FERRO_TRY_ASSIGN(auto h, head_.get());
      tail = h->tail;
    }
    if (tail != kNoObject) {
      FERRO_TRY_ASSIGN(Object<Node> last, heap_->template adopt<Node>(tail));
      const Status s = set_next(last, node.id());
      last.release();
      FERRO_TRY(s);
    }
    FERRO_TRY_ASSIGN(auto h, head_.get_mut());
    if (h->head == kNoObject) h->head = node.id();
    h->tail = node.id();
    ++h->size;
    node.release();
    return ok();
  }

  Result<T> pop_front() noexcept {
    ObjectId first = kNoObject;
    {
      FERRO_TRY_ASSIGN(auto h, head_.get());
      first = h->head;
    }
    if (first == kNoObject) return make_error(Errc::not_found, "list is empty");
    FERRO_TRY_ASSIGN(Object<Node> node, heap_->template adopt<Node>(first));
    T value{};
    ObjectId next = kNoObject;
    if (auto s = copy_out(node, value, next); !s) {
      node.release();
      return s.error();
    }
    {
      auto h = head_.get_mut();
      if (!h) {
        node.release();
        return h.error();
      }
      (*h)->head = next;
      if (next == kNoObject) (*h)->tail = kNoObject;
      --(*h)->size;
    }
    return value;  // `node` frees the popped node here
  }

  Status clear() noexcept {
    for (;;) {
      auto r = pop_front();
      if (!r) return r.code() == Errc::not_found ? ok() : Status(r.error());
    }
  }

  // Input iteration by value: `for (T v : list)`; a storage error ends the walk early and is
  // kept in status().
  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::input_iterator_tag;
    const T& operator*() const noexcept { return value_; }
    iterator& operator++() noexcept {
      load(next_);
      return *this;
    }
    bool operator==(const iterator& o) const noexcept { return at_ == o.at_; }

   private:
    friend class List;
    iterator(List* list, ObjectId at) noexcept : list_(list) { load(at); }
    void load(ObjectId id) noexcept {
      at_ = id;
      if (id == kNoObject) return;
      auto r = list_->read(id, value_, next_);
      if (!r) {
        list_->status_ = r;
        at_ = kNoObject;
      }
    }
    List* list_ = nullptr;
    ObjectId at_ = kNoObject, next_ = kNoObject;
    T value_{};
  };

  iterator begin() noexcept {
    status_ = ok();
    auto h = head_.get();
    if (!h) {
      status_ = h.error();
      return end();
    }
    const ObjectId first = (*h)->head;
    return iterator(this, first);
  }
  iterator end() noexcept { return iterator(this, kNoObject); }
  Status status() const noexcept { return status_; }

 private:
  List(H& heap, Object<ListHead> head) noexcept : heap_(&heap), head_(std::move(head)) {}

  static Status set_next(Object<Node>& node, ObjectId next) noexcept {
    FERRO_TRY_ASSIGN(auto m, node.get_mut());
    m->next = next;
    return ok();
  }
  static Status copy_out(Object<Node>& node, T& value, ObjectId& next) noexcept {
    FERRO_TRY_ASSIGN(auto r, node.get());
    value = r->value;
    next = r->next;
    return ok();
  }
  Status read(ObjectId id, T& value, ObjectId& next) noexcept {
    FERRO_TRY_ASSIGN(Object<Node> node, heap_->template adopt<Node>(id));
    const Status s = copy_out(node, value, next);
    node.release();
    return s;
  }

  H* heap_;
  Object<ListHead> head_;
  Status status_{};
};

}  // namespace ferro::vnv
