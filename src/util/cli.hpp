// Command-line conventions shared by the programs: a usage error is one line,
// "PROGRAM: what is wrong (see --help)", and exits with status 2, like a bad
// configuration file; --help and --version ("PROGRAM VERSION") exit 0.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>
#include <string>

namespace relay::util {

inline constexpr int kUsageError = 2;

namespace detail {

// "put, get, del" — the subcommands of `app`, in the order they were added.
inline std::string command_names(const CLI::App& app) {
  std::string names;
  for (const auto* command : app.get_subcommands([](const CLI::App*) { return true; })) {
    names += (names.empty() ? "" : ", ") + command->get_name();
  }
  return names;
}

// When a program with subcommands got none it knows: what to say instead of
// CLI11's "A subcommand is required" or "argument was not expected".
inline std::optional<std::string> command_error(const CLI::App& app, const CLI::ParseError& error) {
  const bool has_commands = !app.get_subcommands([](const CLI::App*) { return true; }).empty();
  if (!has_commands || !app.get_subcommands().empty()) return std::nullopt;
  if (dynamic_cast<const CLI::ExtrasError*>(&error) == nullptr &&
      dynamic_cast<const CLI::RequiredError*>(&error) == nullptr) {
    return std::nullopt;
  }
  // The top level takes no positional arguments, so a word left over is a
  // misspelt or unknown command, unless an unknown option came with it: then
  // that is the error, and the word may be its value.
  const auto left = app.remaining();
  for (const auto& word : left) {
    if (!word.empty() && word[0] == '-') return CLI::ExtrasError(left).what();
  }
  if (!left.empty()) return "unknown command '" + left.front() + "'; the commands are " + command_names(app);
  if (app.get_require_subcommand_min() > 0) return "which command? one of " + command_names(app);
  return std::nullopt;
}

}  // namespace detail

// Adds --version, then parses the command line. Returns the exit status when
// the program should stop now (help, version, or a usage error), nothing when
// it should run.
inline std::optional<int> parse_command_line(CLI::App& app, const std::string& program, int argc,
                                             char** argv) {
  app.set_version_flag("--version", program + " " + RELAY_VERSION);
  app.failure_message([program](const CLI::App*, const CLI::Error& error) {
    return program + ": " + error.what() + " (see --help)\n";
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (auto message = detail::command_error(app, error)) {
      std::fprintf(stderr, "%s: %s (see --help)\n", program.c_str(), message->c_str());
      return kUsageError;
    }
    return app.exit(error) == 0 ? 0 : kUsageError;
  }
  return std::nullopt;
}

}  // namespace relay::util
