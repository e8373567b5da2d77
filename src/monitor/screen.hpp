// The live view on a terminal: a screenful of plain text with ANSI colours,
// redrawn in place. Rendering is a pure function of the ClusterView, so tests
// can read a screen without a terminal.
#pragma once

#include <cstdint>
#include <string>

#include "monitor/cluster_view.hpp"

namespace relay::monitor {

struct ScreenOptions {
  int rows = 24;
  int columns = 80;
  bool colour = true;
  std::string title;  // e.g. the configuration file, or "replay of FILE at 2x"
};

// The whole screen, `rows` lines at most, each cut to `columns` characters
// (colour codes not counted), separated by "\n".
std::string render_screen(const ClusterView& view, const ScreenOptions& options);

// "12 ms", "3.4 s", "never".
std::string age_text(std::uint64_t now_us, std::uint64_t then_us);

}  // namespace relay::monitor
