// The two ways a monitor session runs: live against a cluster, or replayed
// from a recording. Both feed the same ClusterView and the same Output, so a
// replay looks exactly like the session did.
#pragma once

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "monitor/output.hpp"

namespace relay::monitor {

struct LiveOptions {
  OutputMode mode = OutputMode::lines;
  std::optional<std::filesystem::path> record;  // --record FILE
  bool messages = false;                        // --messages
  double duration_s = 0;                        // --duration: stop by itself after this long (0: never)
};

// Runs until `stop`; returns the process exit code (an error is printed).
int run_live(const config::Cluster& cluster, const LiveOptions& options, const std::atomic<bool>& stop);

struct ReplayOptions {
  OutputMode mode = OutputMode::lines;
  double speed = 1.0;  // 2: twice as fast; 0: as fast as possible
  bool messages = false;
};

int run_replay(const std::filesystem::path& recording, const ReplayOptions& options, const std::atomic<bool>& stop);

}  // namespace relay::monitor
