// The flash as a log of entries, with its index: where an entry may go and how it is programmed,
// for puts and compaction's copies alike. Part of ferro/mrfs/store.hpp, the header to include.
//
// Free space is erased and claimed by no header. Erased alone is not enough: file data may
// itself be all 0xFF, and a torn or stale entry's erased-looking bytes are skipped by the scan,
// so an entry written there would never be found.
#pragma once

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>

#include "ferro/mrfs/scan.hpp"

namespace ferro::mrfs {

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

namespace detail {

template <FlashDevice Flash, std::size_t MaxNames>
class Log {
 protected:
  explicit Log(Flash& flash) noexcept : flash_(&flash) {}

  Status usable() const noexcept {
    if (failed_.code != Errc::ok) return failed_;
    return ok();
  }

  // A flash error fails the store: every later call returns it until the flash is mounted again.
  Status record_failure(Status s) noexcept {
    if (!s) failed_ = s.error();
    return s;
  }

  // Programs one entry at `dst` (which must be free) from a header and its data, in chunks.
  Status write_entry(std::uint64_t dst, const Header& h, std::span<const std::byte> data) noexcept {
    std::byte head[kHeaderSize];
    encode_header(h, head);
    std::byte tail[kCrcSize];
    store_u32(tail, crc32(data, crc32(std::span<const std::byte>(head))));
    const std::uint64_t span = *entry_span(data.size());
    const std::uint64_t length = align_up<std::uint64_t>(kHeaderSize + data.size() + kCrcSize, flash_->program_size());
    if (!range_fits(dst, span, flash_->size())) return make_error(Errc::no_space, "entry does not fit on the flash");
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
      FERRO_TRY(record_failure(flash_->program(dst + at, std::span<const std::byte>(buf, n))));
      counters_.bytes_programmed += n;
      at += n;
    }
    index_.add(*flash_, dst, h, static_cast<std::uint32_t>(span));
    index_.log_end = std::max(index_.log_end, dst + span);
    return ok();
  }

  Status zero(std::uint64_t offset, std::uint64_t length) noexcept {
    static constexpr std::byte zeros[kHeaderSize] = {};
    FERRO_TRY(record_failure(flash_->program(offset, std::span<const std::byte>(zeros, length))));
    counters_.bytes_programmed += length;
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
    for (const Slot& s : slots()) largest = std::max<std::uint64_t>(largest, s.live() ? s.span : 0);
    return flash_->segment_size() + 2 * largest;
  }

  std::uint64_t live_bytes() const noexcept {
    std::uint64_t sum = 0;
    for (const Slot& s : slots()) sum += s.live() ? s.span : 0;
    return sum;
  }

  std::span<const Slot> slots() const noexcept { return {index_.slots, index_.count}; }

  // The live entry at the lowest offset among those `pick` accepts.
  template <class Pick>
  const Slot* lowest_live(Pick&& pick) const noexcept {
    const Slot* best = nullptr;
    for (const Slot& s : slots()) {
      if (s.live() && pick(s) && (best == nullptr || s.offset < best->offset)) best = &s;
    }
    return best;
  }

  const Slot* live_overlapping(std::uint64_t lo, std::uint64_t hi) const noexcept {
    return lowest_live([&](const Slot& s) { return s.overlaps(lo, hi); });
  }

  // Walks the scan path up to `until`, from a point at or below `lo`, calling fn(offset, step)
  // for every header whose extent reaches past `lo`; fn returns false to stop there.
  //
  // `path`, when given, is a point of the scan path from an earlier walk with no write since:
  // the walk starts there if it is not above `lo`, and leaves where it stopped.
  template <class Fn>
  void walk(std::uint64_t lo, std::uint64_t until, std::uint64_t* path, Fn&& fn) const noexcept {
    std::uint64_t o = path_point_below(lo);
    if (path && *path <= lo) o = std::max(o, *path);
    for (o = skip_to_magic(o, until); o < until; o = skip_to_magic(o, until)) {
      const Step s = step(*flash_, o);
      const std::uint64_t at = o;
      o = s.end;
      if (s.header && s.end > lo && !fn(at, s)) break;
    }
    if (path) *path = o;
  }

  // The end of the first extent claimed by a header (complete entry, stale or torn) that
  // overlaps [lo, hi), if any.
  std::optional<std::uint64_t> claimed_overlapping(std::uint64_t lo, std::uint64_t hi,
                                                   std::uint64_t* path = nullptr) const noexcept {
    std::optional<std::uint64_t> end;
    // No extent reaches past the log end.
    walk(lo, std::min(hi, index_.log_end), path, [&](std::uint64_t, const Step& s) {
      end = s.end;
      return false;
    });
    return end;
  }

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

  Flash* flash_;
  Index<Flash, MaxNames> index_{};
  Stats counters_{};
  Error failed_{};  // the first flash error: the store must be mounted again

 private:
  // A point of the scan path at or below `lo`: the start, or an indexed entry (found by a scan
  // or written where nothing claimed the bytes).
  std::uint64_t path_point_below(std::uint64_t lo) const noexcept {
    std::uint64_t best = 0;
    for (const Slot& s : slots()) best = s.offset <= lo ? std::max<std::uint64_t>(best, s.offset) : best;
    return best;
  }

  // The first block at or after `o` (a point of the scan path) that starts with the magic: the
  // scan steps over the others 32 bytes at a time, so this is where it tries a header next.
  std::uint64_t skip_to_magic(std::uint64_t o, std::uint64_t until) const noexcept {
    const std::byte* v = flash_->view().data();
    while (o < until && load_u32(v + o) != kMagic) o += kAlign;
    return o;
  }
};

}  // namespace detail
}  // namespace ferro::mrfs
