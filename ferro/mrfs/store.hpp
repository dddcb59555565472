// ferro::mrfs::Store: named, replaceable binary files on NOR flash, each one contiguous and
// readable in place, surviving a power cut at any program or erase. The one header to include.
//
// Entries (format.hpp) are appended at the log end, the first 32-byte boundary after the last
// byte that is not erased and after every extent a header claims, so nothing is ever programmed
// over a torn write. A header that checks claims its whole declared extent, complete or torn:
// the scan never reads headers inside it (scan.hpp), so a file whose data holds MRFS entries
// never shows them, and before an erase takes such a header away its data is defused
// (compaction.hpp).
//
// The newest complete entry of a name wins: each name counts its own versions in a 32-bit
// sequence number that wraps (Log::next_seq); remove() appends a tombstone. When the top of the
// flash runs low, compact() slides every live entry down to the low end and erases what is left
// above it. The RAM index holds one slot per name and is rebuilt from flash by a scan at mount
// and at the end of every compaction: the flash is the only truth. An entry counts only when
// its CRC checks.
#pragma once

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "ferro/mrfs/compaction.hpp"
#include "ferro/mrfs/format.hpp"
#include "ferro/mrfs/log.hpp"
#include "ferro/mrfs/scan.hpp"
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

template <FlashDevice Flash, std::size_t MaxNames = 64>
class Store : private detail::Compactor<Flash, MaxNames> {
  using Base = detail::Compactor<Flash, MaxNames>;
  using Slot = detail::Slot;

 public:
  using Base::compact;
  using Base::kWearSlack;

  // One store per flash: a copy would keep a second index that goes stale at the first write.
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  Store(Store&&) noexcept = default;
  Store& operator=(Store&&) noexcept = default;

  // Erases every segment that is not erased already: an empty store. Top down, so that a cut
  // leaves no file data whose header is gone (it could hold MRFS entries of its own).
  static Status format(Flash& flash) noexcept {
    FERRO_TRY(detail::check_geometry(flash));
    for (std::uint32_t s = flash.segment_count(); s-- > 0;) {
      if (!detail::segment_erased(flash, s)) FERRO_TRY(flash.erase(s));
    }
    return ok();
  }

  // Scans the flash. With `recover`, an interrupted compaction is carried to its end (this
  // programs and erases). A corrupt image mounts its valid part; it fails only when the flash
  // does not fit the format at all.
  static Result<Store> mount(Flash& flash, MountReport* report = nullptr, bool recover = true) noexcept {
    FERRO_TRY(detail::check_geometry(flash));
    MountReport local;
    MountReport& r = report ? *report : local;
    r = MountReport{};
    Store store(flash);
    FERRO_TRY(detail::scan(flash, store.index_, &r));
    if (recover && r.compaction_interrupted) {
      // A compaction short of room leaves the store consistent and its index exact: mount it.
      if (auto s = store.compact(); s) {
        r.compaction_finished = true;
      } else if (!store.usable()) {
        return s.error();
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
    for (const Slot& s : slots()) {
      if (!s.tombstone) fn(file_at(s.offset));
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
    for (const Slot& s : slots()) n += s.tombstone ? 0 : 1;
    return n;
  }

  Stats stat() const noexcept {
    Stats st = counters_;
    st.capacity = flash_->size();
    st.log_end = index_.log_end;
    st.segment_count = flash_->segment_count();
    st.segment_size = flash_->segment_size();
    st.live_bytes = live_bytes();
    for (const Slot& s : slots()) {
      if (s.tombstone) continue;
      ++st.files;
      st.data_bytes += load_u32(flash_->view().data() + s.offset + 8);  // the size field
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
    detail::Index<Flash, MaxNames> fresh;
    FERRO_TRY(detail::scan(*flash_, fresh, nullptr));
    if (fresh.count != index_.count || fresh.log_end != index_.log_end) {
      return make_error(Errc::corrupt, "index differs from the flash");
    }
    for (std::size_t i = 0; i < fresh.count; ++i) {
      const Slot& a = fresh.slots[i];
      const Slot* b = index_.find(*flash_, detail::name_at(*flash_, a.offset));
      if (b == nullptr || b->offset != a.offset || b->seq != a.seq || b->oldest != a.oldest || b->older != a.older) {
        return make_error(Errc::corrupt, "index differs from the flash");
      }
    }
    return ok();
  }

 private:
  using Base::counters_;
  using Base::failed_;
  using Base::flash_;
  using Base::index_;
  using Base::live_bytes;
  using Base::live_overlapping;
  using Base::next_seq;
  using Base::reserve;
  using Base::slots;
  using Base::usable;
  using Base::write_entry;

  explicit Store(Flash& flash) noexcept : Base(flash) {}

  File file_at(std::uint64_t offset) const noexcept {
    const auto view = flash_->view();
    const Header h = *decode_header(view.subspan(offset, kHeaderSize));
    return File(detail::name_at(*flash_, offset), view.subspan(offset + kHeaderSize, h.size), h, offset);
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
    // A compaction rebuilds the index (and may drop the name's dead tombstone): the name is
    // looked up again after one. Lookups cost O(names), so not more often.
    const Slot* slot = index_.find(*flash_, name);
    if (!next_seq(slot, kSeqWindow / 2)) {
      FERRO_TRY(compact_twice());  // erases old versions: room in the name's sequence window
      slot = index_.find(*flash_, name);
    }
    if (slot == nullptr && index_.count == MaxNames) {
      // A removed name holds its slot until compaction drops its tombstone: the first pass
      // erases what it buries, the second drops it.
      for (int pass = 0; pass < 2 && index_.count == MaxNames; ++pass) FERRO_TRY(compact());
      if (index_.count == MaxNames) return make_error(Errc::no_space, "too many file names");
    }
    // The new entry is written before the old one dies, so it needs room beside everything live;
    // a put also leaves room for one tombstone, so that a full store can always remove a file.
    const std::uint64_t need = *span + reserve(*span);
    const std::uint64_t keep = (flags & kFlagTombstone) ? 0 : *entry_span(0);
    if (live_bytes() + need + keep > flash_->size()) return make_error(Errc::no_space, "store is full");
    if (index_.log_end + need > flash_->size() && !reserve_elsewhere(*span)) {
      const Status compacted = compact_twice();
      // A tombstone may dip into the reserve: it shrinks what the next compaction has to move.
      const bool tomb_fits = (flags & kFlagTombstone) && index_.log_end + *span <= flash_->size();
      if (!compacted && (!tomb_fits || failed_.code != Errc::ok)) return compacted;
      if (index_.log_end + need > flash_->size() && !tomb_fits) return make_error(Errc::no_space, "store is full");
      slot = index_.find(*flash_, name);
    }
    FERRO_TRY_ASSIGN(const std::uint32_t seq, next_seq(slot, kSeqWindow / 2));
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
};

}  // namespace ferro::mrfs
