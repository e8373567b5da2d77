// Checking the endpoints of a cluster file: what a valid one looks like, and
// when two spellings name the same socket. Used by the parser in config.cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace relay::config {

// Why `endpoint` is not a valid tcp://HOST:PORT or ipc://PATH, or nothing.
std::optional<std::string> endpoint_problem(std::string_view endpoint);

// A form of `endpoint` under which two spellings of one socket compare equal.
std::string endpoint_identity(std::string_view endpoint);

}  // namespace relay::config
