// Small text helpers shared by the configuration parser and the endpoint
// checks. Byte-wise and locale-free on purpose: a configuration file means
// the same on every machine.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

namespace relay::config::text {

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }
inline bool all_digits(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_digit); }

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

inline std::vector<std::string_view> split(std::string_view s, char separator) {
  std::vector<std::string_view> parts;
  for (std::size_t at = s.find(separator); at != std::string_view::npos; at = s.find(separator)) {
    parts.push_back(s.substr(0, at));
    s.remove_prefix(at + 1);
  }
  parts.push_back(s);
  return parts;
}

// Decimal digits only: a sign, a fraction or a unit is a mistake worth
// reporting, not something to guess at. Saturates far above every limit here
// so that a huge number reads as "out of range" rather than wrapping around.
inline std::optional<std::uint64_t> parse_digits(std::string_view s) {
  if (!all_digits(s)) return std::nullopt;
  std::uint64_t value = 0;
  // Saturates at the largest value instead of wrapping, so that every range
  // check above any limit refuses a number too long to hold.
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  for (char c : s) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    value = value > (kMax - digit) / 10 ? kMax : value * 10 + digit;
  }
  return value;
}

// Identities (node ids, ports) also refuse leading zeros, so that
// [node.1] and [node.01] can never name the same node.
inline std::optional<std::uint64_t> parse_identity(std::string_view s, std::uint64_t max) {
  const auto value = parse_digits(s);
  if (!value || s.front() == '0' || *value > max) return std::nullopt;
  return value;
}

}  // namespace relay::config::text
