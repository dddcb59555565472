#include "ferro/gc/dict.hpp"

#include <cstring>

#include "ferro/core/bits.hpp"

namespace ferro::gc {
namespace {
// A removed entry's key: neither none, a bool, an integer nor an object, so it equals no key.
constexpr Value kRemoved = Value::from_raw(10);
}  // namespace

void Dict::mark(Heap& heap) const {
  const Entry* e = entries();
  for (std::size_t i = 0; i < used_; ++i) {
    e[i].key.mark(heap);
    e[i].value.mark(heap);
  }
}

std::size_t Dict::find_slot(Value key, std::size_t hash, bool& found) const noexcept {
  const std::size_t mask = slots() - 1;
  const Entry* e = entries();
  const std::uint32_t* ix = index();
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    if (ix[i] == kEmpty) {
      found = false;
      return i;
    }
    if (Value::equal(e[ix[i] - 1].key, key)) {
      found = true;
      return i;
    }
  }
}

std::optional<Value> Dict::get(Value key) const noexcept {
  if (len_ == 0 || key == kRemoved) return std::nullopt;  // it would find a tombstone
  bool found;
  const std::size_t slot = find_slot(key, key.hash(), found);
  if (!found) return std::nullopt;
  return entries()[index()[slot] - 1].value;
}

// Grows the vectors first (a failure there leaves the dict untouched), then drops tombstones
// and reindexes.
Status Dict::rebuild(std::size_t min_entries) noexcept {
  std::size_t cap = entry_capacity() < 4 ? 4 : entry_capacity();
  while (cap < min_entries + min_entries / 2) cap *= 2;
  std::size_t n_slots = 8;
  while (n_slots * 2 < cap * 3) n_slots *= 2;
  if (cap > entry_capacity()) FERRO_TRY(entries_.resize(cap * sizeof(Entry)));
  if (n_slots > slots()) FERRO_TRY(index_.resize(n_slots * sizeof(std::uint32_t)));
  Entry* e = entries();
  std::size_t w = 0;
  for (std::size_t r = 0; r < used_; ++r)
    if (!(e[r].key == kRemoved)) e[w++] = e[r];
  for (std::size_t r = w; r < used_; ++r) e[r] = Entry{};
  used_ = w;
  std::memset(index(), 0, slots() * sizeof(std::uint32_t));
  for (std::size_t i = 0; i < used_; ++i) {
    bool found;
    index()[find_slot(e[i].key, e[i].key.hash(), found)] = static_cast<std::uint32_t>(i + 1);
  }
  return ok();
}

Status Dict::set(Value key, Value value) noexcept {
  // Only Value::from_raw() makes this word, from bits the caller got from elsewhere.
  if (key == kRemoved) return make_error(Errc::invalid_argument, "Dict::set: the key is the word kept for tombstones");
  const std::size_t h = key.hash();
  bool found = false;
  std::size_t slot = 0;
  if (slots() > 0) {
    slot = find_slot(key, h, found);
    if (found) {
      entries()[index()[slot] - 1].value = value;
      return ok();
    }
  }
  if (used_ + 1 > entry_capacity() || (used_ + 1) * 3 > slots() * 2) {
    FERRO_TRY(rebuild(len_ + 1));
    slot = find_slot(key, h, found);
  }
  entries()[used_] = Entry{key, value};
  index()[slot] = static_cast<std::uint32_t>(used_ + 1);
  ++used_;
  ++len_;
  return ok();
}

bool Dict::remove(Value key) noexcept {
  if (len_ == 0 || key == kRemoved) return false;  // it would find a tombstone and count it again
  bool found;
  const std::size_t slot = find_slot(key, key.hash(), found);
  if (!found) return false;
  // The index slot keeps pointing at the tombstone, so probe chains through it stay intact.
  entries()[index()[slot] - 1] = Entry{kRemoved, Value()};
  --len_;
  return true;
}

void Dict::clear() noexcept {
  entries_.release();
  index_.release();
  used_ = len_ = 0;
}

std::optional<Dict::Item> Dict::next(std::size_t pos) const noexcept {
  const Entry* e = entries();
  for (; pos < used_; ++pos)
    if (!(e[pos].key == kRemoved)) return Item{pos, e[pos].key, e[pos].value};
  return std::nullopt;
}

}  // namespace ferro::gc
