#include "monitor/output.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include "monitor/screen.hpp"
#include "util/words.hpp"

namespace relay::monitor {
namespace {

void put(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);  // readers of a pipe see each event when it happens
}

}  // namespace

OutputMode choose_output_mode(bool json) {
  if (json) return OutputMode::json;
  return isatty(STDOUT_FILENO) != 0 ? OutputMode::screen : OutputMode::lines;
}

std::string plain_line(const Finding& finding) { return clock_text(finding.time_us) + " " + finding.text; }

Output::Output(OutputMode mode, std::string title) : mode_(mode), title_(std::move(title)) {
  if (mode_ == OutputMode::screen) {
    put("\x1b[?1049h\x1b[?25l");  // the alternate screen, cursor hidden: the shell's screen comes back after
    screen_open_ = true;
  }
}

Output::~Output() {
  if (screen_open_) put("\x1b[?25h\x1b[?1049l");
}

void Output::show(const std::vector<Finding>& findings) {
  if (mode_ == OutputMode::screen || findings.empty()) return;
  std::string text;
  for (const auto& finding : findings) text += (mode_ == OutputMode::json ? finding.json.str() : plain_line(finding)) + "\n";
  put(text);
}

void Output::refresh(const ClusterView& view, bool force) {
  if (mode_ != OutputMode::screen) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_redraw_ < kRedrawInterval) return;
  last_redraw_ = now;
  ScreenOptions options;
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row > 0) {
    options.rows = size.ws_row;
    options.columns = size.ws_col;
  }
  options.title = title_;
  std::string frame = "\x1b[H";
  const auto screen = render_screen(view, options);
  std::size_t at = 0;
  while (at <= screen.size()) {
    const auto end = std::min(screen.find('\n', at), screen.size());
    frame.append(screen, at, end - at);
    frame += "\x1b[K";  // clear the rest of the old line instead of the whole screen: no flicker
    if (end < screen.size()) frame += "\r\n";
    at = end + 1;
  }
  put(frame + "\x1b[J");
}

void Output::close(const ClusterView& view) {
  if (!screen_open_) return;
  put("\x1b[?25h\x1b[?1049l");
  screen_open_ = false;
  std::string text = "relay-monitor: " + util::counted(view.alarm_count(), "alarm") + "\n";
  for (const auto& alarm : view.alarms()) text += clock_text(alarm.time_us) + " ALARM " + alarm.text + "\n";
  put(text);
}

}  // namespace relay::monitor
