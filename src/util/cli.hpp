// Command-line conventions shared by the programs: a usage error is one line,
// "PROGRAM: what is wrong (see --help)", and exits with status 2, like a bad
// configuration file; --help and --version exit 0.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace relay::util {

inline constexpr int kUsageError = 2;

// Parses the command line. Returns the exit status when the program should
// stop now (help, version, or a usage error), nothing when it should run.
inline std::optional<int> parse_command_line(CLI::App& app, const std::string& program, int argc,
                                             char** argv) {
  app.failure_message([program](const CLI::App*, const CLI::Error& error) {
    return program + ": " + error.what() + " (see --help)\n";
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : kUsageError;
  }
  return std::nullopt;
}

}  // namespace relay::util
