// ferro::mrfs::Store: named, replaceable binary files on NOR flash, each one contiguous and
// readable in place, surviving a power cut at any program or erase.
//
// Entries (format.hpp) are appended at the log end, the first 32-byte boundary after the last
// byte that is not erased and after every extent a header claims, so nothing is ever programmed
// over a torn write. A header that checks claims its whole declared extent, complete or torn:
// the scan never reads headers inside it, so a file whose data holds MRFS entries never shows
// them, and before an erase takes such a header away its data is defused (see erase()).
//
// The newest complete entry of a name wins: each name counts its own versions in a 32-bit
// sequence number that wraps (see next_seq()); remove() appends a tombstone. When the top of the
// flash runs low, compact() slides every live entry down to the low end, segment by segment
// (see compact()), and erases what is left above it. The RAM index holds one slot per name and
// is rebuilt from flash by a scan at mount and at the end of every compaction: the flash is the
// only truth.
//
// Power-loss rules: an entry counts only when its CRC checks; an entry is copied (with its
// name's next sequence number and the "moved" flag) before any segment holding it is erased; a
// tombstone is kept while any older entry of its name is still on flash, even in the segment
// being erased, because an interrupted erase may leave old bytes intact.
#pragma once

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "ferro/core/bits.hpp"
#include "ferro/core/crc32.hpp"
#include "ferro/mrfs/format.hpp"
#include "ferro/storage/flash.hpp"

namespace ferro::mrfs {

// One live file, read in place: name() and data() point into the flash and stay valid until the
// next put, remove or compact on the store.
class File {
 public:
  File() = default;
  File(std::string_view name, std::span<const std::byte> data, const Header& h, std::uint64_t offset) noexcept
      : name_(name), data_(data), minutes_(h.minutes), seq_(h.seq), offset_(offset) {}
  std::string_view name() const noexcept { return name_; }
  std::span<const std::byte> data() const noexcept { return data_; }
  std::uint64_t size() const noexcept { return data_.size(); }
  std::int64_t unix_time() const noexcept { return unix_from_minutes(minutes_); }
  std::uint32_t minutes() const noexcept { return minutes_; }
  std::uint32_t seq() const noexcept { return seq_; }
  std::uint64_t offset() const noexcept { return offset_; }  // of the header on the flash

 private:
  std::string_view name_;
  std::span<const std::byte> data_;
  std::uint32_t minutes_ = 0;
  std::uint32_t seq_ = 0;
  std::uint64_t offset_ = 0;
};

// What mount found, and what it did about it.
struct MountReport {
  std::uint32_t entries = 0;           // complete entries (CRC checks)
  std::uint32_t files = 0;             // live files
  std::uint32_t stale = 0;             // entries superseded by a newer one of their name
  std::uint32_t torn_entries = 0;      // a header that checks but a body that does not
  std::uint64_t garbage_bytes = 0;     // bytes neither erased nor in a complete entry
  std::uint32_t garbage_segments = 0;  // segments holding such bytes
  std::uint32_t erased_holes = 0;      // erased segments below the log end (a compaction's window)
  bool compaction_interrupted = false;
  bool compaction_finished = false;  // mount ran compact() to finish it
};

struct Stats {
  std::uint64_t capacity = 0;
  std::uint64_t live_bytes = 0;  // bytes of flash the live entries occupy
  std::uint64_t data_bytes = 0;  // file data in live files
  std::uint64_t log_end = 0;     // new entries go here or above
  std::uint32_t files = 0;
  std::uint32_t segment_count = 0;
  std::uint32_t segment_size = 0;
  std::uint32_t min_erases = 0, max_erases = 0;
  double mean_erases = 0;
  // Since mount:
  std::uint64_t user_bytes = 0;        // entry bytes that put and remove asked for
  std::uint64_t bytes_programmed = 0;  // everything this store programmed, compaction included
  std::uint64_t erases = 0;
  std::uint64_t compactions = 0;
  std::uint64_t moved_entries = 0;
  double write_amplification() const noexcept {
    return user_bytes == 0 ? 0.0 : static_cast<double>(bytes_programmed) / static_cast<double>(user_bytes);
  }
  double erase_spread() const noexcept { return mean_erases == 0 ? 1.0 : max_erases / mean_erases; }
};

template <FlashDevice Flash, std::size_t MaxNames = 64>
class Store {
 public:
  // A segment whose erase count is this far below the most-worn one is emptied and refilled by
  // compaction even when its files already sit packed, so static files do not pin fresh cells.
  static constexpr std::uint32_t kWearSlack = 4;

  // One store per flash: a copy would keep a second index that goes stale at the first write.
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  Store(Store&&) noexcept = default;
  Store& operator=(Store&&) noexcept = default;

  // Erases every segment that is not erased already: an empty store. Top down, so that a cut
  // leaves no file data whose header is gone (it could hold MRFS entries of its own).
  static Status format(Flash& flash) noexcept {
    FERRO_TRY(check_geometry(flash));
    for (std::uint32_t s = flash.segment_count(); s-- > 0;) {
      if (!is_erased(flash, std::uint64_t{s} * flash.segment_size(), flash.segment_size())) FERRO_TRY(flash.erase(s));
    }
    return ok();
  }

  // Scans the flash. With `recover`, an interrupted compaction is carried to its end (this
  // programs and erases). A corrupt image mounts its valid part; it fails only when the flash
  // does not fit the format at all.
  static Result<Store> mount(Flash& flash, MountReport* report = nullptr, bool recover = true) noexcept {
    FERRO_TRY(check_geometry(flash));
    MountReport local;
    MountReport& r = report ? *report : local;
    r = MountReport{};
    Store store(flash);
    FERRO_TRY(scan(flash, store.index_, &r));
    if (recover && r.compaction_interrupted) {
      // A compaction that cannot finish (no room) leaves a consistent store: mount it anyway.
      if (auto s = store.compact(); s) {
        r.compaction_finished = true;
      } else if (s.code() == Errc::power_loss || s.code() == Errc::io_error) {
        return s.error();
      } else {
        FERRO_TRY(scan(flash, store.index_, nullptr));
      }
    }
    return store;
  }

  Status put(std::string_view name, std::span<const std::byte> data, std::int64_t unix_time) noexcept {
    FERRO_TRY(validate_name(name));
    if (unix_time < 0) return make_error(Errc::invalid_argument, "timestamp before 1970");
    return append(name, data, minutes_from_unix(unix_time), 0);
  }

  // Appends a tombstone. not_found when the name holds no file.
  Status remove(std::string_view name) noexcept {
    FERRO_TRY(validate_name(name));
    const Slot* s = index_.find(*flash_, name);
    if (s == nullptr || s->tombstone) return make_error(Errc::not_found, "no such file");
    return append(name, {}, 0, kFlagTombstone);
  }

  std::optional<File> find(std::string_view name) const noexcept {
    if (!validate_name(name)) return std::nullopt;
    const Slot* s = index_.find(*flash_, name);
    if (s == nullptr || s->tombstone) return std::nullopt;
    return file_at(s->offset);
  }

  // Calls fn(File) for every live file, in index order.
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (std::size_t i = 0; i < index_.count; ++i) {
      if (!index_.slots[i].tombstone) fn(file_at(index_.slots[i].offset));
    }
  }

  // Fills `out` with up to out.size() live files sorted by name; returns how many files there are.
  std::size_t list(std::span<File> out) const noexcept {
    std::size_t n = 0, total = 0;
    for_each([&](const File& f) {
      ++total;
      std::size_t at = n;  // insertion sort, keeping the out.size() smallest names
      while (at > 0 && f.name() < out[at - 1].name()) --at;
      if (at == out.size()) return;
      for (std::size_t i = std::min(n, out.size() - 1); i > at; --i) out[i] = out[i - 1];
      out[at] = f;
      n = std::min(n + 1, out.size());
    });
    return total;
  }

  std::size_t file_count() const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < index_.count; ++i) n += index_.slots[i].tombstone ? 0 : 1;
    return n;
  }

  Stats stat() const noexcept {
    Stats st = counters_;
    st.capacity = flash_->size();
    st.log_end = index_.log_end;
    st.segment_count = flash_->segment_count();
    st.segment_size = flash_->segment_size();
    for (std::size_t i = 0; i < index_.count; ++i) {
      const Slot& s = index_.slots[i];
      if (live(s)) st.live_bytes += s.span;
      if (!s.tombstone) {
        ++st.files;
        st.data_bytes += load_u32(flash_->view().data() + s.offset + 8);
      }
    }
    std::uint64_t sum = 0;
    st.min_erases = ~std::uint32_t{0};
    for (std::uint32_t seg = 0; seg < st.segment_count; ++seg) {
      const std::uint32_t e = flash_->erase_count(seg);
      sum += e;
      st.min_erases = std::min(st.min_erases, e);
      st.max_erases = std::max(st.max_erases, e);
    }
    st.mean_erases = static_cast<double>(sum) / st.segment_count;
    return st;
  }

  std::uint32_t segment_erases(std::uint32_t segment) const noexcept { return flash_->erase_count(segment); }

  // Rescans the flash and compares with the index: a broken invariant is Errc::corrupt.
  Status check() const noexcept {
    FERRO_TRY(usable());
    Index fresh;
    FERRO_TRY(scan(*flash_, fresh, nullptr));
    if (fresh.count != index_.count || fresh.log_end != index_.log_end) {
      return make_error(Errc::corrupt, "index differs from the flash");
    }
    for (std::size_t i = 0; i < fresh.count; ++i) {
      const Slot& a = fresh.slots[i];
      const Slot* b = index_.find(*flash_, name_at(*flash_, a.offset));
      if (b == nullptr || b->offset != a.offset || b->seq != a.seq || b->oldest != a.oldest || b->older != a.older) {
        return make_error(Errc::corrupt, "index differs from the flash");
      }
    }
    return ok();
  }

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
      const Slot* e = lowest_live_from(p);
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
        const std::uint64_t span = e->span;
        FERRO_TRY(move(*e, p));
        p += span;
        continue;
      }
      const std::uint64_t next = wend > p ? wend / seg : p / seg;
      if (next >= flash_->segment_count()) return make_error(Errc::no_space, "compaction ran out of room");
      FERRO_TRY(empty_segment(static_cast<std::uint32_t>(next), p, wend));
    }
    const std::uint64_t first = (wend > p ? wend : align_up(p, seg)) / seg;
    std::uint64_t path = 0;
    for (std::uint64_t s = first; s < flash_->segment_count(); ++s) {
      if (!is_erased(*flash_, s * seg, seg)) FERRO_TRY(erase(static_cast<std::uint32_t>(s), &path));
    }
    return scan(*flash_, index_, nullptr);
  }

  struct Slot {
    std::uint32_t offset = 0;  // the flash is under 4 GiB (check_geometry)
    std::uint32_t seq = 0;     // of the newest entry, the one this slot describes
    std::uint32_t oldest = 0;  // of the name's oldest entry on the flash (erases leave it older until a rescan)
    std::uint32_t span = 0;
    std::uint32_t older = 0;  // complete entries of this name other than the newest
    bool tombstone = false;
    bool moved = false;
  };
  static_assert(sizeof(Slot) <= 24, "docs/mrfs.md promises 24 bytes of RAM per name");

  struct Index {
    Slot slots[MaxNames];
    std::size_t count = 0;
    std::uint64_t log_end = 0;

    const Slot* find(const Flash& flash, std::string_view name) const noexcept {
      for (std::size_t i = 0; i < count; ++i) {
        if (name_at(flash, slots[i].offset) == name) return &slots[i];
      }
      return nullptr;
    }
    Slot* find(const Flash& flash, std::string_view name) noexcept {
      return const_cast<Slot*>(static_cast<const Index*>(this)->find(flash, name));
    }
    // Records a complete entry; false when a new name does not fit.
    bool add(const Flash& flash, std::uint64_t offset, const Header& h, std::uint32_t span) noexcept {
      Slot* s = find(flash, h.name_view());
      if (s == nullptr) {
        if (count == MaxNames) return false;
        s = &slots[count++];
        *s = Slot{static_cast<std::uint32_t>(offset), h.seq, h.seq, span, 0, h.tombstone(), h.moved()};
        return true;
      }
      ++s->older;
      if (seq_newer(s->oldest, h.seq)) s->oldest = h.seq;
      if (seq_newer(h.seq, s->seq) || (h.seq == s->seq && offset > s->offset)) {
        s->offset = static_cast<std::uint32_t>(offset);
        s->seq = h.seq;
        s->span = span;
        s->tombstone = h.tombstone();
        s->moved = h.moved();
      }
      return true;
    }
  };

  explicit Store(Flash& flash) noexcept : flash_(&flash) {}

  static Status check_geometry(const Flash& flash) noexcept {
    if (flash.program_size() > kAlign) return make_error(Errc::unsupported, "flash program unit larger than 32 bytes");
    if (flash.segment_size() < 128 || flash.segment_size() % kAlign != 0) {
      return make_error(Errc::unsupported, "flash segments must be at least 128 bytes, a multiple of 32");
    }
    if (flash.segment_count() < 3) return make_error(Errc::unsupported, "MRFS needs at least 3 flash segments");
    if (flash.size() >= (std::uint64_t{1} << 32)) return make_error(Errc::unsupported, "flash larger than 4 GiB");
    return ok();
  }

  static std::string_view name_at(const Flash& flash, std::uint64_t offset) noexcept {
    const std::byte* p = flash.view().data() + offset;
    return {reinterpret_cast<const char*>(p + 20), static_cast<std::size_t>(p[18])};
  }

  File file_at(std::uint64_t offset) const noexcept {
    const auto view = flash_->view();
    const Header h = *decode_header(view.subspan(offset, kHeaderSize));
    return File(name_at(*flash_, offset), view.subspan(offset + kHeaderSize, h.size), h, offset);
  }

  static bool is_erased(const Flash& flash, std::uint64_t offset, std::uint64_t length) noexcept {
    const std::byte* p = flash.view().data() + offset;
    for (std::uint64_t i = 0; i < length; ++i) {
      if (p[i] != std::byte{0xFF}) return false;
    }
    return true;
  }

  static bool live(const Slot& s) noexcept { return !s.tombstone || s.older > 0; }

  // One step of the scan path at a 32-byte boundary `o`: a header that checks claims its whole
  // declared extent (to `end`, clamped to the flash) whether or not its body is complete, so
  // bytes inside a file's data are never read as entries; anything else is stepped over in
  // 32-byte blocks. Writers keep every new entry out of all claimed extents, so each one is on
  // this path.
  struct Step {
    std::uint64_t end = 0;
    std::optional<Header> header;
  };
  static Step step(const Flash& flash, std::uint64_t o) noexcept {
    const std::uint64_t size = flash.size();
    if (o + kHeaderSize <= size) {
      if (auto h = decode_header(flash.view().subspan(o, kHeaderSize))) {
        return {std::min<std::uint64_t>(o + *entry_span(h->size), size), h};
      }
    }
    return {std::min<std::uint64_t>(o + kAlign, size), std::nullopt};
  }

  static bool complete(const Flash& flash, std::uint64_t o, const Step& s) noexcept {
    const std::uint64_t body = kHeaderSize + std::uint64_t{s.header->size};
    const auto view = flash.view();
    return range_fits(o, body + kCrcSize, flash.size()) &&
           crc32(view.subspan(o, body)) == load_u32(view.data() + o + body);
  }

  // Builds the index from what the flash holds, walking the scan path from offset 0.
  static Status scan(const Flash& flash, Index& idx, MountReport* r) noexcept {
    idx = Index{};
    const auto view = flash.view();
    const std::uint64_t size = flash.size(), seg = flash.segment_size();
    std::uint64_t used = 0;         // one past the last claimed extent or byte that is not erased
    std::uint64_t erased_from = 0;  // start of the run of erased blocks outside extents
    std::uint32_t erased_segs = 0;  // wholly erased segments in that run since the last entry
    std::uint64_t garbage_seg = ~std::uint64_t{0};
    auto garbage = [&](std::uint64_t lo, std::uint64_t hi) {
      bool any = false;
      for (std::uint64_t i = lo; i < hi; ++i) {
        if (view[i] == std::byte{0xFF}) continue;
        any = true;
        used = std::max(used, i + 1);
        if (!r) continue;
        ++r->garbage_bytes;
        if (i / seg != garbage_seg) {
          garbage_seg = i / seg;
          ++r->garbage_segments;
        }
      }
      return any;
    };
    for (std::uint64_t o = 0; o < size;) {
      const Step s = step(flash, o);
      if (s.header && complete(flash, o, s)) {
        if (!idx.add(flash, o, *s.header, static_cast<std::uint32_t>(s.end - o))) {
          return make_error(Errc::corrupt, "more file names on the flash than the store's index holds");
        }
        if (r) {
          ++r->entries;
          r->erased_holes += erased_segs;  // erased segments below an entry: a compaction's window
        }
        erased_segs = 0;
        used = std::max(used, s.end);
        erased_from = s.end;
      } else if (s.header) {
        // Torn: its extent stays claimed (nothing is written into it) until compaction erases it.
        if (r) ++r->torn_entries;
        garbage(o, s.end);
        used = std::max(used, s.end);
        erased_from = s.end;
      } else if (garbage(o, s.end)) {
        erased_from = s.end;
      } else if (s.end % seg == 0 && s.end - erased_from >= seg) {
        ++erased_segs;
      }
      o = s.end;
    }
    idx.log_end = align_up<std::uint64_t>(used, kAlign);
    if (r) {
      for (std::size_t i = 0; i < idx.count; ++i) {
        const Slot& s = idx.slots[i];
        r->stale += s.older;
        if (!s.tombstone) ++r->files;
        if (s.moved && s.older > 0) r->compaction_interrupted = true;
      }
      if (r->erased_holes > 0) r->compaction_interrupted = true;
    }
    return ok();
  }

  Status usable() const noexcept {
    if (failed_.code != Errc::ok) return failed_;
    return ok();
  }

  // Programs one entry at `dst` (which must be erased) from a header and its data, in chunks.
  Status write_entry(std::uint64_t dst, const Header& h, std::span<const std::byte> data) noexcept {
    std::byte head[kHeaderSize];
    encode_header(h, head);
    const std::uint32_t crc = crc32(data, crc32(std::span<const std::byte>(head)));
    std::byte tail[kCrcSize];
    store_u32(tail, crc);
    const std::uint64_t raw = kHeaderSize + data.size() + kCrcSize;
    const std::uint64_t length = align_up<std::uint64_t>(raw, flash_->program_size());
    if (!range_fits(dst, *entry_span(data.size()), flash_->size())) {
      return make_error(Errc::no_space, "entry does not fit on the flash");
    }
    if (!is_free(dst, length)) return make_error(Errc::corrupt, "refusing to program over bytes that are not free");
    std::byte buf[256];
    for (std::uint64_t at = 0; at < length;) {
      const std::uint64_t n = std::min<std::uint64_t>(sizeof buf, length - at);
      std::memset(buf, 0xFF, n);
      auto piece = [&](std::uint64_t from, std::span<const std::byte> src) {
        const std::uint64_t lo = std::max(at, from), hi = std::min(at + n, from + src.size());
        if (lo < hi) std::memcpy(buf + (lo - at), src.data() + (lo - from), hi - lo);
      };
      piece(0, head);
      piece(kHeaderSize, data);
      piece(kHeaderSize + data.size(), tail);
      if (auto s = flash_->program(dst + at, std::span<const std::byte>(buf, n)); !s) {
        failed_ = s.error();
        return s;
      }
      counters_.bytes_programmed += n;
      at += n;
    }
    index_.add(*flash_, dst, h, static_cast<std::uint32_t>(*entry_span(data.size())));
    index_.log_end = std::max(index_.log_end, dst + *entry_span(data.size()));
    return ok();
  }

  // The number of a name's next entry: one past its newest, wrapping at 2^32. Only entries of
  // one name are ever compared, in serial order (seq_newer), which is an order while they lie
  // less than kSeqWindow apart; so no entry is written `window` or more past the name's oldest
  // one on the flash. Puts ask for half the window and compact first when refused (compaction
  // erases old versions); its copies get the other half, so compaction can always run. A name
  // with no slot has no complete entry on the flash (a slot goes only when the erase of its
  // last entry, a dead tombstone, completed): any number serves.
  Result<std::uint32_t> next_seq(const Slot* s, std::uint32_t window) const noexcept {
    if (s == nullptr) return 1u;
    const std::uint32_t next = s->seq + 1, ahead = next - s->oldest;
    if (ahead == 0 || ahead >= window) return make_error(Errc::no_space, "too many versions of the file on the flash");
    return next;
  }

  // Room kept free above the log end so a compaction can empty a segment: one segment, the
  // largest entry that may stick out of it, and one more that may not fit the window below.
  std::uint64_t reserve(std::uint64_t extra_span) const noexcept {
    std::uint64_t largest = extra_span;
    for (std::size_t i = 0; i < index_.count; ++i) {
      if (live(index_.slots[i])) largest = std::max<std::uint64_t>(largest, index_.slots[i].span);
    }
    return flash_->segment_size() + 2 * largest;
  }

  // A pass that ran out of room leaves the flash consistent and the index exact, having packed
  // what it could: a second pass starts from there.
  Status compact_twice() noexcept {
    const Status first = compact();
    return first || failed_.code != Errc::ok ? first : compact();
  }

  Status append(std::string_view name, std::span<const std::byte> data, std::uint32_t minutes,
                std::uint16_t flags) noexcept {
    FERRO_TRY(usable());
    const auto span = entry_span(data.size());
    if (!span || *span > flash_->size()) return make_error(Errc::no_space, "file is larger than the store");
    // Compaction erases old versions, which makes room in the name's sequence window.
    if (!next_seq(index_.find(*flash_, name), kSeqWindow / 2)) FERRO_TRY(compact_twice());
    if (index_.find(*flash_, name) == nullptr && index_.count == MaxNames) {
      // A removed name holds its slot until compaction drops its tombstone: the first pass
      // erases what it buries, the second drops it.
      for (int pass = 0; pass < 2 && index_.count == MaxNames; ++pass) FERRO_TRY(compact());
      if (index_.count == MaxNames) return make_error(Errc::no_space, "too many file names");
    }
    // The new entry is written before the old one dies, so it needs room beside everything live;
    // a put also leaves room for one tombstone, so that a full store can always remove a file.
    std::uint64_t live_now = 0;
    for (std::size_t i = 0; i < index_.count; ++i) live_now += live(index_.slots[i]) ? index_.slots[i].span : 0;
    const std::uint64_t need = *span + reserve(*span);
    const std::uint64_t keep = (flags & kFlagTombstone) ? 0 : *entry_span(0);
    if (live_now + need + keep > flash_->size()) return make_error(Errc::no_space, "store is full");
    if (index_.log_end + need > flash_->size() && !reserve_elsewhere(*span)) {
      const Status compacted = compact_twice();
      // A tombstone may dip into the reserve: it shrinks what the next compaction has to move.
      const bool tomb_fits = (flags & kFlagTombstone) && index_.log_end + *span <= flash_->size();
      if (!compacted && (!tomb_fits || failed_.code != Errc::ok)) return compacted;
      if (index_.log_end + need > flash_->size() && !tomb_fits) return make_error(Errc::no_space, "store is full");
    }
    FERRO_TRY_ASSIGN(const std::uint32_t seq, next_seq(index_.find(*flash_, name), kSeqWindow / 2));
    Header h;
    h.seq = seq;
    h.size = static_cast<std::uint32_t>(data.size());
    h.minutes = minutes;
    h.flags = flags;
    h.name_len = static_cast<std::uint8_t>(name.size());
    std::memcpy(h.name, name.data(), name.size());
    FERRO_TRY(write_entry(index_.log_end, h, data));
    counters_.user_bytes += align_up<std::uint64_t>(kHeaderSize + data.size() + kCrcSize, flash_->program_size());
    return ok();
  }

  // True when the entry may go into the reserve at the top because segments holding nothing
  // live (erased, or dead and erased first thing by the next compaction) add up to a reserve
  // and a segment to spare. Then the top segments are written and worn like the others.
  bool reserve_elsewhere(std::uint64_t span) const noexcept {
    const std::uint64_t at = index_.log_end, seg = flash_->segment_size();
    if (at + span > flash_->size()) return false;
    std::uint64_t spare = 0;
    for (std::uint64_t lo = 0; lo < flash_->size(); lo += seg) {
      const bool touched = lo < at + span && lo + seg > at;
      if (!touched && live_overlapping(lo, lo + seg) == nullptr) spare += seg;
    }
    return spare >= reserve(span) + seg;
  }

  // Copies the newest entry of a slot's name to `dst` with a new sequence number.
  Status move(const Slot& s, std::uint64_t dst) noexcept {
    const auto view = flash_->view();
    Header h = *decode_header(view.subspan(s.offset, kHeaderSize));
    FERRO_TRY_ASSIGN(h.seq, next_seq(&s, kSeqWindow));
    h.flags |= kFlagMoved;
    FERRO_TRY(write_entry(dst, h, view.subspan(s.offset + kHeaderSize, h.size)));
    ++counters_.moved_entries;
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
  // the erased bytes.
  //
  // `path`, when given, is a point of the scan path from an earlier erase with no write since;
  // the walk starts there if it is not above the segment, and leaves where it stopped.
  Status erase(std::uint32_t segment, std::uint64_t* path = nullptr) noexcept {
    const std::uint64_t lo = std::uint64_t{segment} * flash_->segment_size(), hi = lo + flash_->segment_size();
    std::uint64_t o = path_point_below(lo);
    if (path && *path <= lo) o = std::max(o, *path);
    for (o = skip_to_magic(o, hi); o < hi; o = skip_to_magic(o, hi)) {
      const Step s = step(*flash_, o);
      if (s.header && s.end > lo) {
        FERRO_TRY(defuse(o + kHeaderSize, s.end));
        if (o < lo) FERRO_TRY(zero(o, kHeaderSize));
      }
      o = s.end;
    }
    if (path) *path = o;
    if (auto s = flash_->erase(segment); !s) {
      failed_ = s.error();
      return s;
    }
    ++counters_.erases;
    for (std::size_t i = 0; i < index_.count;) {
      const Slot& s = index_.slots[i];
      if (s.offset < hi && s.offset + s.span > lo) {
        FERRO_DEBUG_CHECK(!live(s), "mrfs erased a live entry");
        index_.slots[i] = index_.slots[--index_.count];
      } else {
        ++i;
      }
    }
    return ok();
  }

  const Slot* lowest_live_from(std::uint64_t from) const noexcept {
    const Slot* best = nullptr;
    for (std::size_t i = 0; i < index_.count; ++i) {
      const Slot& s = index_.slots[i];
      if (live(s) && s.offset >= from && (best == nullptr || s.offset < best->offset)) best = &s;
    }
    return best;
  }

  const Slot* live_overlapping(std::uint64_t lo, std::uint64_t hi) const noexcept {
    const Slot* best = nullptr;
    for (std::size_t i = 0; i < index_.count; ++i) {
      const Slot& s = index_.slots[i];
      if (live(s) && s.offset < hi && s.offset + s.span > lo && (best == nullptr || s.offset < best->offset)) {
        best = &s;
      }
    }
    return best;
  }

  // A point of the scan path at or below `lo`: the start, or an indexed entry (found by a scan
  // or written where nothing claimed the bytes).
  std::uint64_t path_point_below(std::uint64_t lo) const noexcept {
    std::uint64_t best = 0;
    for (std::size_t i = 0; i < index_.count; ++i) {
      if (index_.slots[i].offset <= lo) best = std::max<std::uint64_t>(best, index_.slots[i].offset);
    }
    return best;
  }

  // The end of the first extent claimed by a header (complete entry, stale or torn) that
  // overlaps [lo, hi), if any.
  //
  // `path`, when given, is a point of the scan path from an earlier call with no write since:
  // the walk starts there if it is not above `lo`, and leaves where it stopped.
  std::optional<std::uint64_t> claimed_overlapping(std::uint64_t lo, std::uint64_t hi,
                                                   std::uint64_t* path = nullptr) const noexcept {
    const std::uint64_t until = std::min(hi, index_.log_end);  // no extent reaches past the log end
    std::uint64_t o = path_point_below(lo);
    if (path && *path <= lo) o = std::max(o, *path);
    for (o = skip_to_magic(o, until); o < until; o = skip_to_magic(o, until)) {
      const Step s = step(*flash_, o);
      o = s.end;
      if (s.header && s.end > lo) {
        if (path) *path = o;
        return s.end;
      }
    }
    if (path) *path = o;
    return std::nullopt;
  }

  // The first block at or after `o` (a point of the scan path) that starts with the magic: the
  // scan steps over the others 32 bytes at a time, so this is where it tries a header next.
  std::uint64_t skip_to_magic(std::uint64_t o, std::uint64_t until) const noexcept {
    const std::byte* v = flash_->view().data();
    while (o < until && load_u32(v + o) != kMagic) o += kAlign;
    return o;
  }

  // Free space is erased and claimed by no header: file data may itself be all 0xFF, and a torn
  // or stale entry's erased-looking bytes are skipped by the scan, so nothing may go there.
  bool is_free(std::uint64_t offset, std::uint64_t length, std::uint64_t* path = nullptr) const noexcept {
    if (length == 0) return true;
    return is_erased(*flash_, offset, length) && !claimed_overlapping(offset, offset + length, path);
  }

  // The lowest 32-byte boundary at or above `from` followed by `span` free bytes.
  std::optional<std::uint64_t> find_room(std::uint64_t from, std::uint64_t span) const noexcept {
    const std::byte* v = flash_->view().data();
    std::uint64_t o = align_up<std::uint64_t>(from, kAlign);
    while (range_fits(o, span, flash_->size())) {
      if (const auto end = claimed_overlapping(o, o + span)) {
        o = *end;
        continue;
      }
      std::uint64_t i = 0;
      while (i < span && v[o + i] == std::byte{0xFF}) ++i;
      if (i == span) return o;
      o = align_up<std::uint64_t>(o + i + 1, kAlign);
    }
    return std::nullopt;
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

  Status zero(std::uint64_t offset, std::uint64_t length) noexcept {
    static constexpr std::byte zeros[kHeaderSize] = {};
    if (auto s = flash_->program(offset, std::span<const std::byte>(zeros, length)); !s) {
      failed_ = s.error();
      return s;
    }
    counters_.bytes_programmed += length;
    return ok();
  }

  // Erases, up front, every segment that holds no live entry but is not erased: dead versions,
  // torn writes, a half-erased segment. Cheap room, and the top of the flash becomes usable.
  Status erase_dead_segments() noexcept {
    const std::uint64_t seg = flash_->segment_size();
    std::uint64_t path = 0;  // erases in rising order with no write between: the walk goes on
    for (std::uint32_t s = 0; s < flash_->segment_count(); ++s) {
      if (live_overlapping(s * seg, (s + 1) * seg) == nullptr && !is_erased(*flash_, s * seg, seg)) {
        FERRO_TRY(erase(s, &path));
      }
    }
    return ok();
  }

  // Copies every live entry touching `segment` elsewhere (down into the window when it fits,
  // else up above the log end), erases the segment and adds it to the window.
  Status empty_segment(std::uint32_t segment, std::uint64_t& p, std::uint64_t& wend) noexcept {
    const std::uint64_t seg = flash_->segment_size();
    const std::uint64_t lo = segment * seg, hi = lo + seg;
    while (const Slot* e = live_overlapping(lo, hi)) {
      if (wend > p && p + e->span <= wend && wend <= lo) {
        const std::uint64_t span = e->span;
        FERRO_TRY(move(*e, p));
        p += span;
        continue;
      }
      const auto dst = find_room(hi, e->span);
      if (!dst) return make_error(Errc::no_space, "compaction ran out of room");
      FERRO_TRY(move(*e, *dst));
    }
    FERRO_TRY(erase(segment));
    if (wend > p) {
      wend = hi;
    } else {
      p = lo;
      wend = hi;
    }
    return ok();
  }

  Flash* flash_;
  Index index_{};
  Stats counters_{};
  Error failed_{};  // the first flash error: the store must be mounted again
};

}  // namespace ferro::mrfs
