// Command-line conventions shared by the programs: a usage error is one line,
// "PROGRAM: what is wrong (see --help)", like every other error they print.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace relay::util {

inline void one_line_errors(CLI::App& app, std::string program) {
  app.failure_message([program = std::move(program)](const CLI::App*, const CLI::Error& error) {
    return program + ": " + error.what() + " (see --help)\n";
  });
}

}  // namespace relay::util
