#include "util/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace relay::util {

bool setup_logging(std::string_view name, std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for anything it does not know.
  if (parsed == spdlog::level::off && level != "off") return false;
  auto logger = spdlog::stderr_color_mt(std::string(name));
  logger->set_pattern("%H:%M:%S.%e %^%-5l%$ %v");
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return true;
}

bool RateLimit::allow(std::uint64_t& suppressed) {
  const auto now = std::chrono::steady_clock::now();
  if (last_ != std::chrono::steady_clock::time_point{} && now - last_ < interval_) {
    ++held_;
    return false;
  }
  suppressed = held_;
  held_ = 0;
  last_ = now;
  return true;
}

}  // namespace relay::util
