// An insertion-ordered hash map of Values, kept in two vectors: the entries in insertion order
// (a removed one becomes a tombstone) and an open-addressing index of entry numbers. Iteration
// follows the entries, so it sees keys in the order they were first inserted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "ferro/gc/value.hpp"

namespace ferro::gc {

class Dict : public Object {
 public:
  explicit Dict(Heap& heap) noexcept : entries_(heap), index_(heap) {}
  Kind kind() const noexcept override { return Kind::dict; }
  void mark(Heap& heap) const override;

  std::size_t size() const noexcept { return len_; }
  std::optional<Value> get(Value key) const noexcept;
  // Inserts or replaces; fails with no_space leaving the dict as it was, or invalid_argument for
  // the one word kept for tombstones (only Value::from_raw makes it).
  Status set(Value key, Value value) noexcept;
  bool remove(Value key) noexcept;
  void clear() noexcept;

  // Walks the live entries in insertion order: `for (auto p = d.next(0); p; p = d.next(p->pos+1))`.
  struct Item {
    std::size_t pos;
    Value key, value;
  };
  std::optional<Item> next(std::size_t pos) const noexcept;

 private:
  struct Entry {
    Value key, value;
  };
  static constexpr std::uint32_t kEmpty = 0;  // an index slot holds entry number + 1
  Entry* entries() noexcept { return reinterpret_cast<Entry*>(entries_.data()); }
  const Entry* entries() const noexcept { return reinterpret_cast<const Entry*>(entries_.data()); }
  std::uint32_t* index() noexcept { return reinterpret_cast<std::uint32_t*>(index_.data()); }
  const std::uint32_t* index() const noexcept { return reinterpret_cast<const std::uint32_t*>(index_.data()); }
  std::size_t slots() const noexcept { return index_.capacity() / sizeof(std::uint32_t); }
  std::size_t entry_capacity() const noexcept { return entries_.capacity() / sizeof(Entry); }
  // The slot holding `key`, or the empty slot where it would go; slots() must be > 0.
  std::size_t find_slot(Value key, std::size_t hash, bool& found) const noexcept;
  Status rebuild(std::size_t min_entries) noexcept;

  Vec entries_;
  Vec index_;
  std::size_t used_ = 0;  // entries written, tombstones included
  std::size_t len_ = 0;   // live entries
};

}  // namespace ferro::gc
