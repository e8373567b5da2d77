// Where the monitor's findings go: a redrawn screen on a terminal, plain
// lines off a terminal, or one JSON object per line with --json.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "monitor/cluster_view.hpp"
#include "monitor/finding.hpp"

namespace relay::monitor {

enum class OutputMode { screen, lines, json };

// --json wins; otherwise a screen when standard output is a terminal.
OutputMode choose_output_mode(bool json);

std::string plain_line(const Finding& finding);  // "12:34:56.789 text"

class Output {
 public:
  Output(OutputMode mode, std::string title);
  ~Output();
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  void show(const std::vector<Finding>& findings);
  // Redraws the screen, at most every kRedrawInterval unless `force`.
  void refresh(const ClusterView& view, bool force = false);
  // Leaves the screen; a terminal user then sees the alarms that fired.
  void close(const ClusterView& view);

  static constexpr std::chrono::milliseconds kRedrawInterval{100};

 private:
  OutputMode mode_;
  std::string title_;
  bool screen_open_ = false;
  std::chrono::steady_clock::time_point last_redraw_{};
};

}  // namespace relay::monitor
