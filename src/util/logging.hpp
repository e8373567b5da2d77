// Logging set-up shared by the programs, and a rate limiter for log lines
// that hostile or broken peers could otherwise trigger thousands of times a
// second.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace relay::util {

// Names accepted by --log-level, in increasing severity.
inline constexpr const char* kLogLevels = "trace, debug, info, warn, error, off";
inline const std::vector<std::string> kLogLevelNames{"trace", "debug", "info", "warn", "error", "off"};

// Sets the default logger: stderr, a compact time stamp, `name` as prefix.
// Returns false if `level` is not one of kLogLevels.
bool setup_logging(std::string_view name, std::string_view level);

// Lets one line through per interval and counts the ones it held back, so a
// flood of bad frames costs one log line a second, not one per frame.
class RateLimit {
 public:
  explicit RateLimit(std::chrono::milliseconds interval = std::chrono::seconds(1))
      : interval_(interval) {}

  // True if a line may be written now; `suppressed` is how many were held
  // back since the last one.
  bool allow(std::uint64_t& suppressed);

 private:
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_{};
  std::uint64_t held_ = 0;
};

}  // namespace relay::util
