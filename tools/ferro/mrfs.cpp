// `ferro mrfs ...`: an MRFS store inside a flash image file (FileFlash), from the shell.
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "ferro/mrfs/store.hpp"
#include "ferro/storage/file_flash.hpp"

using namespace ferro;

namespace {

using CliStore = mrfs::Store<EmulatedFlash, 256>;

constexpr const char* kUsage =
    "usage: ferro mrfs COMMAND IMAGE ...\n"
    "\n"
    "  format  IMAGE [--segment-size BYTES] [--segments N] [--program-size BYTES]\n"
    "                  create an empty store (default 4096-byte segments x 16, program unit 1)\n"
    "  put     IMAGE NAME [FILE|-] [--time UNIX_SECONDS]\n"
    "                  store FILE (or standard input) as NAME, replacing an older NAME\n"
    "  get     IMAGE NAME [FILE|-]   write NAME's data to FILE (or standard output)\n"
    "  ls      IMAGE                 list files: name, size, time (UTC, to the minute), offset\n"
    "  rm      IMAGE NAME            remove NAME\n"
    "  compact IMAGE                 pack every file at the low end now\n"
    "  stat    IMAGE                 space, files, erase counts per segment\n"
    "\n"
    "Names are 1..40 printable ASCII characters without spaces.\n";

int fail(const std::string& what, const Error& e) {
  std::fprintf(stderr, "ferro mrfs: %s: %s (%s)\n", what.c_str(), e.message, errc_name(e.code));
  return 1;
}

int usage_error(const char* message) {
  std::fprintf(stderr, "ferro mrfs: %s\n\n%s", message, kUsage);
  return 2;
}

bool parse_u32(const char* s, std::uint32_t& out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v > 0xFFFFFFFFull) return false;
  out = static_cast<std::uint32_t>(v);
  return true;
}

std::string when(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

// The image, opened, with its store mounted; reports what mount found and repaired.
struct Opened {
  std::unique_ptr<FileFlash> file;
  std::optional<CliStore> store;
};

int open_store(const std::string& image, Opened& out) {
  auto file = FileFlash::open(image);
  if (!file) {
    if (file.code() == Errc::corrupt) {
      std::fprintf(stderr, "ferro mrfs: %s: not a flash image (bad or missing trailer)\n", image.c_str());
      return 1;
    }
    return fail(image, file.error());
  }
  out.file = std::move(file).value();
  mrfs::MountReport r;
  auto store = CliStore::mount(out.file->device(), &r);
  if (!store) return fail(image + ": cannot mount", store.error());
  out.store.emplace(std::move(store).value());
  if (r.torn_entries > 0 || r.garbage_bytes > 0) {
    std::fprintf(stderr,
                 "ferro mrfs: %s: note: %u torn entr%s, %" PRIu64 " unreadable bytes in %u segment(s); stepped over\n",
                 image.c_str(), r.torn_entries, r.torn_entries == 1 ? "y" : "ies", r.garbage_bytes, r.garbage_segments);
  }
  if (r.compaction_interrupted) {
    std::fprintf(stderr, "ferro mrfs: %s: repaired: %s an interrupted compaction\n", image.c_str(),
                 r.compaction_finished ? "finished" : "could not finish");
  }
  return 0;
}

int finish(Opened& o, const std::string& image) {
  if (auto s = o.file->sync(); !s) return fail(image + ": sync", s.error());
  return 0;
}

int cmd_format(const std::string& image, int argc, char** argv) {
  FlashGeometry g{4096, 16, 1};
  for (int i = 0; i < argc; i += 2) {  // options come in pairs: --name VALUE
    std::uint32_t* target = nullptr;
    if (std::strcmp(argv[i], "--segment-size") == 0) target = &g.segment_size;
    if (std::strcmp(argv[i], "--segments") == 0) target = &g.segment_count;
    if (std::strcmp(argv[i], "--program-size") == 0) target = &g.program_size;
    if (target == nullptr || i + 1 == argc || !parse_u32(argv[i + 1], *target)) {
      return usage_error("format takes --segment-size BYTES, --segments N and --program-size BYTES");
    }
  }
  if (auto v = g.validate(); !v) return fail("format", v.error());
  if (g.segment_count < 3 || g.segment_size < 128 || g.program_size > 32) {
    return usage_error("MRFS needs at least 3 segments of at least 128 bytes, and a program unit of at most 32");
  }
  auto file = FileFlash::create(image, g);
  if (!file) return fail(image, file.error());
  if (auto s = CliStore::format((*file)->device()); !s) return fail(image, s.error());
  if (auto s = (*file)->sync(); !s) return fail(image, s.error());
  std::printf("formatted %s: %u segments of %u bytes (%" PRIu64 " bytes), program unit %u\n", image.c_str(),
              g.segment_count, g.segment_size, g.bytes(), g.program_size);
  return 0;
}

bool read_all(const std::string& path, std::vector<std::byte>& out) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    const auto* b = reinterpret_cast<const std::byte*>(buf);
    out.insert(out.end(), b, b + n);
  }
  const bool ok = !std::ferror(f);
  if (f != stdin) std::fclose(f);
  return ok;
}

int cmd_put(const std::string& image, int argc, char** argv) {
  std::string name, source = "-";
  std::int64_t t = static_cast<std::int64_t>(std::time(nullptr));
  int positional = 0;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
      char* end = nullptr;
      t = std::strtoll(argv[++i], &end, 10);
      if (*end != '\0' || t < 0) return usage_error("--time takes Unix seconds, 0 or more");
    } else if (positional == 0) {
      name = argv[i];
      ++positional;
    } else if (positional == 1) {
      source = argv[i];
      ++positional;
    } else {
      return usage_error("put takes IMAGE NAME [FILE|-]");
    }
  }
  if (positional == 0) return usage_error("put needs a NAME");
  if (auto v = mrfs::validate_name(name); !v) return fail("bad name '" + name + "'", v.error());
  std::vector<std::byte> data;
  if (!read_all(source, data)) {
    std::fprintf(stderr, "ferro mrfs: cannot read %s: %s\n", source.c_str(), std::strerror(errno));
    return 1;
  }
  Opened o;
  if (int rc = open_store(image, o)) return rc;
  if (auto s = o.store->put(name, data, t); !s) return fail("put " + name, s.error());
  std::printf("put %s: %zu bytes at offset %" PRIu64 "\n", name.c_str(), data.size(), o.store->find(name)->offset());
  return finish(o, image);
}

int cmd_get(const std::string& image, int argc, char** argv) {
  if (argc < 1 || argc > 2) return usage_error("get takes IMAGE NAME [FILE|-]");
  const std::string name = argv[0];
  if (auto v = mrfs::validate_name(name); !v) return fail("bad name '" + name + "'", v.error());
  Opened o;
  if (int rc = open_store(image, o)) return rc;
  auto f = o.store->find(name);
  if (!f) return fail(name, make_error(Errc::not_found, "no such file in the store"));
  const std::string out = argc == 2 ? argv[1] : "-";
  std::FILE* dst = out == "-" ? stdout : std::fopen(out.c_str(), "wb");
  if (dst == nullptr) {
    std::fprintf(stderr, "ferro mrfs: cannot write %s: %s\n", out.c_str(), std::strerror(errno));
    return 1;
  }
  const bool ok = std::fwrite(f->data().data(), 1, f->size(), dst) == f->size();
  if (dst != stdout) std::fclose(dst);
  if (!ok) return fail(out, make_error(Errc::io_error, "short write"));
  return 0;
}

int cmd_ls(const std::string& image) {
  Opened o;
  if (int rc = open_store(image, o)) return rc;
  std::vector<mrfs::File> files(o.store->file_count());
  o.store->list(files);
  std::printf("%-40s %10s  %-16s  %8s\n", "NAME", "SIZE", "TIME (UTC)", "OFFSET");
  std::uint64_t total = 0;
  for (const auto& f : files) {
    std::printf("%-40.*s %10" PRIu64 "  %-16s  %8" PRIu64 "\n", static_cast<int>(f.name().size()), f.name().data(),
                f.size(), when(f.unix_time()).c_str(), f.offset());
    total += f.size();
  }
  std::printf("%zu file%s, %" PRIu64 " bytes\n", files.size(), files.size() == 1 ? "" : "s", total);
  return 0;
}

int cmd_rm(const std::string& image, int argc, char** argv) {
  if (argc != 1) return usage_error("rm takes IMAGE NAME");
  const std::string name = argv[0];
  if (auto v = mrfs::validate_name(name); !v) return fail("bad name '" + name + "'", v.error());
  Opened o;
  if (int rc = open_store(image, o)) return rc;
  if (auto s = o.store->remove(name); !s) return fail("rm " + name, s.error());
  std::printf("removed %s\n", name.c_str());
  return finish(o, image);
}

int cmd_compact(const std::string& image) {
  Opened o;
  if (int rc = open_store(image, o)) return rc;
  const auto before = o.store->stat();
  if (auto s = o.store->compact(); !s) return fail("compact", s.error());
  const auto after = o.store->stat();
  std::printf("compacted: log end %" PRIu64 " -> %" PRIu64 " bytes; moved %" PRIu64 " entries, %" PRIu64
              " erases, %" PRIu64 " bytes programmed\n",
              before.log_end, after.log_end, after.moved_entries, after.erases, after.bytes_programmed);
  return finish(o, image);
}

int cmd_stat(const std::string& image) {
  Opened o;
  if (int rc = open_store(image, o)) return rc;
  const auto st = o.store->stat();
  std::printf("image        %s\n", image.c_str());
  std::printf("geometry     %u segments x %u bytes = %" PRIu64 " bytes\n", st.segment_count, st.segment_size,
              st.capacity);
  std::printf("files        %u (%" PRIu64 " data bytes)\n", st.files, st.data_bytes);
  std::printf("live         %" PRIu64 " bytes of entries (%.1f %%)\n", st.live_bytes,
              100.0 * static_cast<double>(st.live_bytes) / static_cast<double>(st.capacity));
  std::printf("log end      %" PRIu64 " (free above: %" PRIu64 " bytes)\n", st.log_end, st.capacity - st.log_end);
  std::printf("erases       min %u, max %u, mean %.1f (max/mean %.2f)\n", st.min_erases, st.max_erases, st.mean_erases,
              st.erase_spread());
  std::printf("per segment ");
  for (std::uint32_t s = 0; s < st.segment_count; ++s) std::printf(" %u", o.store->segment_erases(s));
  std::printf("\n");
  return 0;
}

}  // namespace

int mrfs_command(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  if (argc < 3) return usage_error("missing IMAGE");
  const std::string image = argv[2];
  const int rest = argc - 3;
  char** args = argv + 3;
  if (cmd == "format") return cmd_format(image, rest, args);
  if (cmd == "put") return cmd_put(image, rest, args);
  if (cmd == "get") return cmd_get(image, rest, args);
  if (cmd == "ls" && rest == 0) return cmd_ls(image);
  if (cmd == "rm") return cmd_rm(image, rest, args);
  if (cmd == "compact" && rest == 0) return cmd_compact(image);
  if (cmd == "stat" && rest == 0) return cmd_stat(image);
  return usage_error(("unknown mrfs command or extra arguments: " + cmd).c_str());
}
