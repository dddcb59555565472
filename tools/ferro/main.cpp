// The `ferro` command-line tool: `ferro COMMAND ARGS...`. Each command lives in its own file
// under tools/ferro/ as `int <name>_command(int argc, char** argv)` (argv[0] is the command's
// name) and is listed once, on one line, in FERRO_COMMANDS.
#include <cstdio>
#include <cstring>

#define FERRO_COMMANDS(X) X(mrfs, "flash file store images: format, put, get, ls, rm, compact, stat")

#define FERRO_DECLARE_COMMAND(name, summary) int name##_command(int argc, char** argv);
FERRO_COMMANDS(FERRO_DECLARE_COMMAND)

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);
};

#define FERRO_COMMAND_ENTRY(name, summary) {#name, summary, name##_command},
constexpr Command kCommands[] = {FERRO_COMMANDS(FERRO_COMMAND_ENTRY)};

int usage(std::FILE* out) {
  std::fprintf(out, "usage: ferro COMMAND ARGS...\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\n`ferro COMMAND --help` describes one command.\n");
  return out == stdout ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(stderr);
  if (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "help") == 0) {
    return usage(stdout);
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(argv[1], c.name) == 0) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "ferro: unknown command '%s'\n\n", argv[1]);
  return usage(stderr);
}
