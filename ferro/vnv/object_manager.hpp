// Object managers decide which resident objects to write back when the dirty budget is short
// and which to evict when RAM is full. They see the heap through a view (first(), next(),
// dirty(), evictable(), accessed/modified bits) and keep at most a little state of their own.
#pragma once

#include <cstddef>

#include "ferro/vnv/format.hpp"

namespace ferro::vnv {

// Oldest-loaded first: write back dirty objects that are not mutably borrowed, evict unpinned
// ones, clean before dirty.
struct DefaultObjectManager {
  template <class View>
  ObjectId pick_write_back(View& v, ObjectId exclude) noexcept {
    for (ObjectId id = v.first(); id != kNoObject; id = v.next(id))
      if (id != exclude && v.dirty(id) && !v.mut_borrowed(id)) return id;
    return kNoObject;
  }

  template <class View>
  ObjectId pick_evict(View& v, ObjectId exclude) noexcept {
    ObjectId dirty_choice = kNoObject;
    for (ObjectId id = v.first(); id != kNoObject; id = v.next(id)) {
      if (id == exclude || !v.evictable(id)) continue;
      if (!v.dirty(id)) return id;
      if (dirty_choice == kNoObject) dirty_choice = id;
    }
    return dirty_choice;
  }
};

// Second chance: a hand sweeps the resident objects; an accessed (for eviction) or recently
// modified (for write-back) object has its bit cleared and is passed over once.
class ClockObjectManager {
 public:
  template <class View>
  ObjectId pick_write_back(View& v, ObjectId exclude) noexcept {
    return sweep(
        v, exclude, write_hand_, [&](ObjectId id) { return v.dirty(id) && !v.mut_borrowed(id); },
        [&](ObjectId id) { return v.test_and_clear_modified(id); });
  }

  template <class View>
  ObjectId pick_evict(View& v, ObjectId exclude) noexcept {
    return sweep(
        v, exclude, evict_hand_, [&](ObjectId id) { return v.evictable(id); },
        [&](ObjectId id) { return v.test_and_clear_accessed(id); });
  }

 private:
  template <class View, class Eligible, class SecondChance>
  static ObjectId sweep(View& v, ObjectId exclude, ObjectId& hand, Eligible eligible, SecondChance second) noexcept {
    const std::size_t n = v.resident_count();
    ObjectId id = (hand != kNoObject && v.resident(hand)) ? hand : v.first();
    // Two laps: the first may clear every bit, the second then finds a victim if one exists.
    for (std::size_t step = 0; id != kNoObject && step < 2 * n + 1; ++step) {
      const ObjectId next = v.next(id) == kNoObject ? v.first() : v.next(id);
      if (id != exclude && eligible(id) && !second(id)) {
        hand = next;
        return id;
      }
      id = next;
    }
    return kNoObject;
  }

  ObjectId write_hand_ = kNoObject;
  ObjectId evict_hand_ = kNoObject;
};

}  // namespace ferro::vnv
