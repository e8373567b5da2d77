// Counts in words for the lines people read: "1 node", "3 nodes", "after
// node 2" or "after nodes 1, 2" — never "nodes 2" or "1 messages".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace relay::util {

// `singular` when `count` is 1, otherwise `plural` (by default `singular`
// with an "s").
inline std::string noun(std::uint64_t count, std::string_view singular, std::string_view plural = {}) {
  if (count == 1) return std::string(singular);
  return plural.empty() ? std::string(singular) + "s" : std::string(plural);
}

// "1 node", "0 nodes", "2 entries" (with plural "entries").
inline std::string counted(std::uint64_t count, std::string_view singular, std::string_view plural = {}) {
  return std::to_string(count) + " " + noun(count, singular, plural);
}

}  // namespace relay::util
