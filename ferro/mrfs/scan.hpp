// Reading an MRFS flash: the scan path, and the RAM index a scan builds from it, one slot per
// name. Part of ferro/mrfs/store.hpp, the header to include.
//
// The scan walks from offset 0. At a 32-byte boundary it tries a header: one that checks claims
// its whole declared extent, complete or torn, and the walk goes on after it, so bytes inside a
// file's data are never read as entries; anything else is stepped over 32 bytes at a time.
// Writers keep every new entry out of all claimed extents, so each one is on this path.
#pragma once

#include <algorithm>
#include <optional>
#include <string_view>

#include "ferro/core/bits.hpp"
#include "ferro/core/crc32.hpp"
#include "ferro/mrfs/format.hpp"
#include "ferro/storage/flash.hpp"

namespace ferro::mrfs {

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

namespace detail {

// The newest complete entry of one name, and what the rest of the name's entries imply.
struct Slot {
  std::uint32_t offset = 0;  // the flash is under 4 GiB (check_geometry)
  std::uint32_t seq = 0;
  std::uint32_t oldest = 0;  // of the name's oldest entry on the flash (erases leave it older until a rescan)
  std::uint32_t span = 0;
  std::uint32_t older = 0;  // complete entries of this name other than the newest
  bool tombstone = false;
  bool moved = false;

  std::uint64_t end() const noexcept { return std::uint64_t{offset} + span; }
  bool overlaps(std::uint64_t lo, std::uint64_t hi) const noexcept { return offset < hi && end() > lo; }
  // A tombstone lives while it still buries an older entry.
  bool live() const noexcept { return !tombstone || older > 0; }
};
static_assert(sizeof(Slot) <= 24, "docs/mrfs.md promises 24 bytes of RAM per name");

template <FlashDevice Flash>
std::string_view name_at(const Flash& flash, std::uint64_t offset) noexcept {
  const std::byte* p = flash.view().data() + offset;
  return {reinterpret_cast<const char*>(p + 20), static_cast<std::size_t>(p[18])};
}

template <FlashDevice Flash, std::size_t MaxNames>
struct Index {
  Slot slots[MaxNames];
  std::size_t count = 0;
  std::uint64_t log_end = 0;

  const Slot* find(const Flash& flash, std::string_view name) const noexcept {
    const std::size_t i = position(flash, name);
    return i < count ? &slots[i] : nullptr;
  }

  // Records a complete entry; false when a new name does not fit.
  bool add(const Flash& flash, std::uint64_t offset, const Header& h, std::uint32_t span) noexcept {
    const std::size_t i = position(flash, h.name_view());
    if (i == count) {
      if (count == MaxNames) return false;
      slots[count++] = Slot{static_cast<std::uint32_t>(offset), h.seq, h.seq, span, 0, h.tombstone(), h.moved()};
      return true;
    }
    Slot* s = &slots[i];
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

 private:
  std::size_t position(const Flash& flash, std::string_view name) const noexcept {
    std::size_t i = 0;
    while (i < count && name_at(flash, slots[i].offset) != name) ++i;
    return i;
  }
};

template <FlashDevice Flash>
Status check_geometry(const Flash& flash) noexcept {
  if (flash.program_size() > kAlign) return make_error(Errc::unsupported, "flash program unit larger than 32 bytes");
  if (flash.segment_size() < 128 || flash.segment_size() % kAlign != 0) {
    return make_error(Errc::unsupported, "flash segments must be at least 128 bytes, a multiple of 32");
  }
  if (flash.segment_count() < 3) return make_error(Errc::unsupported, "MRFS needs at least 3 flash segments");
  if (flash.size() >= (std::uint64_t{1} << 32)) return make_error(Errc::unsupported, "flash larger than 4 GiB");
  return ok();
}

template <FlashDevice Flash>
bool is_erased(const Flash& flash, std::uint64_t offset, std::uint64_t length) noexcept {
  const std::byte* p = flash.view().data() + offset;
  return std::all_of(p, p + length, [](std::byte b) { return b == std::byte{0xFF}; });
}

template <FlashDevice Flash>
bool segment_erased(const Flash& flash, std::uint64_t segment) noexcept {
  return is_erased(flash, segment * flash.segment_size(), flash.segment_size());
}

// One step of the scan path at a 32-byte boundary `o`: to the end of the extent a header that
// checks claims (clamped to the flash), else to the next boundary.
struct Step {
  std::uint64_t end = 0;
  std::optional<Header> header;
};

template <FlashDevice Flash>
Step step(const Flash& flash, std::uint64_t o) noexcept {
  const std::uint64_t size = flash.size();
  if (o + kHeaderSize <= size) {
    if (auto h = decode_header(flash.view().subspan(o, kHeaderSize))) {
      return {std::min<std::uint64_t>(o + *entry_span(h->size), size), h};
    }
  }
  return {std::min<std::uint64_t>(o + kAlign, size), std::nullopt};
}

template <FlashDevice Flash>
bool complete(const Flash& flash, std::uint64_t o, const Step& s) noexcept {
  const std::uint64_t body = kHeaderSize + std::uint64_t{s.header->size};
  const auto view = flash.view();
  return range_fits(o, body + kCrcSize, flash.size()) &&
         crc32(view.subspan(o, body)) == load_u32(view.data() + o + body);
}

// Builds the index from what the flash holds, walking the scan path from offset 0.
template <FlashDevice Flash, std::size_t MaxNames>
Status scan(const Flash& flash, Index<Flash, MaxNames>& idx, MountReport* r) noexcept {
  idx = Index<Flash, MaxNames>{};
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

}  // namespace detail
}  // namespace ferro::mrfs
