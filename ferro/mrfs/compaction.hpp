// Compaction and wear levelling: live entries slide to the low end of the flash and everything
// above them is erased. Part of ferro/mrfs/store.hpp, the header to include.
//
// Power-loss rules: an entry is copied (with its name's next sequence number and the "moved"
// flag) before any segment holding it is erased; a tombstone is kept while any older entry of
// its name is still on flash, even in the segment being erased, because an interrupted erase
// may leave old bytes intact. A window left erased by an interrupted pass is taken up as it is,
// so compaction restarts from any state.
#pragma once

#include <algorithm>

#include "ferro/core/assert.hpp"
#include "ferro/mrfs/log.hpp"

namespace ferro::mrfs::detail {

template <FlashDevice Flash, std::size_t MaxNames>
class Compactor : public Log<Flash, MaxNames> {
  using Base = Log<Flash, MaxNames>;

 public:
  // A segment whose erase count is this far below the most-worn one is emptied and refilled by
  // compaction even when its files already sit packed, so static files do not pin fresh cells.
  static constexpr std::uint32_t kWearSlack = 4;

  // Slides every live entry to the low end and erases everything above it. For each segment,
  // bottom up: entries already in place stay; others are copied down into the erased window
  // just below; when the window is too small, the next segment is emptied (its live entries are
  // copied down if they fit, else up above the log end), erased, and joins the window.
  Status compact() noexcept {
    FERRO_TRY(usable());
    ++counters_.compactions;
    const Status done = slide_down();
    // Stopped early for want of room: the flash is consistent; make the index exact again.
    if (!done && failed_.code == Errc::ok) FERRO_TRY(scan(*flash_, index_, nullptr));
    return done;
  }

 protected:
  using Base::Base;
  using Base::counters_;
  using Base::failed_;
  using Base::find_room;
  using Base::flash_;
  using Base::index_;
  using Base::is_free;
  using Base::live_overlapping;
  using Base::lowest_live;
  using Base::next_seq;
  using Base::record_failure;
  using Base::reserve;
  using Base::usable;
  using Base::walk;
  using Base::write_entry;
  using Base::zero;

 private:
  Status slide_down() noexcept {
    FERRO_TRY(erase_dead_segments());
    const std::uint64_t seg = flash_->segment_size();
    // Moving packed files only to even out wear needs spare room; without it, compact plainly.
    const bool can_level = flash_->size() - index_.log_end >= 2 * seg + reserve(0);
    std::uint32_t most_worn = 0;
    for (std::uint32_t s = 0; s < flash_->segment_count(); ++s) most_worn = std::max(most_worn, flash_->erase_count(s));
    std::uint64_t p = 0;     // below p: packed live entries (and at most a few dead holes)
    std::uint64_t wend = 0;  // [p, wend) is erased when wend > p: the window copies land in
    for (;;) {
      // Erased space at p, and erased segments after it (a window left by an earlier pass, or
      // dead segments erased above), serve as the window as they are.
      if (wend <= p) wend = is_free(p, align_up(p, seg) - p) ? align_up(p, seg) : p;
      if (wend % seg == 0) {
        std::uint64_t path = 0;
        while (wend < flash_->size() && is_free(wend, seg, &path)) wend += seg;
      }
      const Slot* e = lowest_live([&](const Slot& s) { return s.offset >= p; });
      if (e == nullptr) {
        if (wend <= p && p % seg != 0 && !is_free(p, align_up(p, seg) - p)) {
          FERRO_TRY(empty_segment(static_cast<std::uint32_t>(p / seg), p, wend));
          continue;
        }
        break;
      }
      const auto here = static_cast<std::uint32_t>(p / seg);
      if (wend <= p && e->offset == p && (!can_level || flash_->erase_count(here) + kWearSlack >= most_worn)) {
        p += e->span;
        continue;
      }
      if (wend > p && e->span <= wend - p) {
        FERRO_TRY(move_down(*e, p));
        continue;
      }
      const std::uint64_t next = wend > p ? wend / seg : p / seg;
      if (next >= flash_->segment_count()) return make_error(Errc::no_space, "compaction ran out of room");
      FERRO_TRY(empty_segment(static_cast<std::uint32_t>(next), p, wend));
    }
    const std::uint64_t first = (wend > p ? wend : align_up(p, seg)) / seg;
    std::uint64_t path = 0;
    for (std::uint64_t s = first; s < flash_->segment_count(); ++s) {
      if (!segment_erased(*flash_, s)) FERRO_TRY(erase(static_cast<std::uint32_t>(s), &path));
    }
    return scan(*flash_, index_, nullptr);
  }

  // Copies the newest entry of a slot's name to `dst` with the name's next sequence number.
  Status move(const Slot& s, std::uint64_t dst) noexcept {
    const auto view = flash_->view();
    Header h = *decode_header(view.subspan(s.offset, kHeaderSize));
    FERRO_TRY_ASSIGN(h.seq, next_seq(&s, kSeqWindow));
    h.flags |= kFlagMoved;
    FERRO_TRY(write_entry(dst, h, view.subspan(s.offset + kHeaderSize, h.size)));
    ++counters_.moved_entries;
    return ok();
  }

  // Copies an entry down to the packed pointer `p` and moves `p` past it.
  Status move_down(const Slot& s, std::uint64_t& p) noexcept {
    const std::uint64_t span = s.span;
    FERRO_TRY(move(s, p));
    p += span;
    return ok();
  }

  // Erases a segment that holds no live entry. Only dead tombstones can be indexed there: their
  // slots go. Older-version counts of names with dead entries in it are left high until the
  // rescan that ends every compaction; high counts only keep tombstones a little longer.
  //
  // Entries inside a file's data must never surface, yet an erase removes headers that make the
  // scan skip that data: of an entry reaching out of the segment, or, if the erase is cut, of
  // one inside it. So first every entry touching the segment is defused (while its header still
  // claims its bytes), and the header of one reaching in from below is zeroed: it would claim
  // the erased bytes. `path` carries the scan-path walk from one erase to the next (see walk()).
  Status erase(std::uint32_t segment, std::uint64_t* path = nullptr) noexcept {
    const std::uint64_t lo = std::uint64_t{segment} * flash_->segment_size(), hi = lo + flash_->segment_size();
    Status defused = ok();
    walk(lo, hi, path, [&](std::uint64_t o, const Step& s) {
      defused = defuse(o + kHeaderSize, s.end);
      if (defused && o < lo) defused = zero(o, kHeaderSize);
      return defused.has_value();
    });
    FERRO_TRY(defused);
    FERRO_TRY(record_failure(flash_->erase(segment)));
    ++counters_.erases;
    for (std::size_t i = 0; i < index_.count;) {
      if (index_.slots[i].overlaps(lo, hi)) {
        FERRO_DEBUG_CHECK(!index_.slots[i].live(), "mrfs erased a live entry");
        index_.slots[i] = index_.slots[--index_.count];
      } else {
        ++i;
      }
    }
    return ok();
  }

  // Zeroes every 32-byte block of [lo, hi) that begins with the magic: no header can then be
  // read anywhere in that range, whatever else its bytes hold. Programs only clear bits, so this
  // works on written bytes; outside files holding MRFS images it programs nothing.
  Status defuse(std::uint64_t lo, std::uint64_t hi) noexcept {
    for (std::uint64_t b = lo; b < hi; b += kAlign) {
      if (load_u32(flash_->view().data() + b) == kMagic) FERRO_TRY(zero(b, kAlign));
    }
    return ok();
  }

  // Erases, up front, every segment that holds no live entry but is not erased: dead versions,
  // torn writes, a half-erased segment. Cheap room, and the top of the flash becomes usable.
  Status erase_dead_segments() noexcept {
    const std::uint64_t seg = flash_->segment_size();
    std::uint64_t path = 0;  // erases in rising order with no write between: the walk goes on
    for (std::uint32_t s = 0; s < flash_->segment_count(); ++s) {
      if (live_overlapping(s * seg, (s + 1) * seg) == nullptr && !segment_erased(*flash_, s)) {
        FERRO_TRY(erase(s, &path));
      }
    }
    return ok();
  }

  // Copies every live entry touching `segment` elsewhere (down into the window when it fits,
  // else up above the log end), erases the segment and adds it to the window.
  Status empty_segment(std::uint32_t segment, std::uint64_t& p, std::uint64_t& wend) noexcept {
    const std::uint64_t lo = std::uint64_t{segment} * flash_->segment_size(), hi = lo + flash_->segment_size();
    while (const Slot* e = live_overlapping(lo, hi)) {
      if (wend > p && p + e->span <= wend && wend <= lo) {
        FERRO_TRY(move_down(*e, p));
        continue;
      }
      const auto dst = find_room(hi, e->span);
      if (!dst) return make_error(Errc::no_space, "compaction ran out of room");
      FERRO_TRY(move(*e, *dst));
    }
    FERRO_TRY(erase(segment));
    if (wend <= p) p = lo;  // an empty window: the emptied segment becomes it
    wend = hi;
    return ok();
  }
};

}  // namespace ferro::mrfs::detail
