#include "monitor/screen.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace relay::monitor {
namespace {

constexpr const char* kReset = "\x1b[0m";
constexpr const char* kBold = "\x1b[1m";
constexpr const char* kRed = "\x1b[31m";
constexpr const char* kGreen = "\x1b[32m";
constexpr const char* kYellow = "\x1b[33m";
constexpr const char* kCyan = "\x1b[36m";
constexpr const char* kDim = "\x1b[2m";

// A line being built: the text as shown, and its width in characters
// (UTF-8 continuation bytes and colour codes take no room).
class ScreenLine {
 public:
  ScreenLine(int columns, bool colour) : columns_(columns), colour_(colour) {}
  ScreenLine& add(const std::string& text, const char* style = nullptr) {
    if (style != nullptr && colour_) out_ += style;
    for (char c : text) {
      const bool continuation = (static_cast<unsigned char>(c) & 0xc0) == 0x80;
      if (!continuation && width_ >= columns_) break;
      if (!continuation) ++width_;
      out_ += c;
    }
    if (style != nullptr && colour_) out_ += kReset;
    return *this;
  }
  ScreenLine& cell(const std::string& text, std::size_t width, const char* style = nullptr) {
    std::string padded = text;
    if (padded.size() < width) padded.append(width - padded.size(), ' ');
    return add(padded + " ", style);
  }
  std::string take() { return std::move(out_); }

 private:
  int columns_;
  bool colour_;
  int width_ = 0;
  std::string out_;
};

const char* role_style(const NodeView& node) {
  if (!node.known) return kDim;
  switch (node.role) {
    case proto::Role::leader: return kGreen;
    case proto::Role::candidate: return kYellow;
    case proto::Role::pre_candidate: return kYellow;
    case proto::Role::follower: return nullptr;
  }
  return nullptr;
}

const char* liveness_style(Liveness liveness) {
  switch (liveness) {
    case Liveness::alive: return kGreen;
    case Liveness::suspect: return kYellow;
    case Liveness::silent: return kRed;
    case Liveness::unknown: return kDim;
  }
  return nullptr;
}

void render_nodes(const ClusterView& view, const ScreenOptions& o, std::vector<std::string>& lines) {
  ScreenLine head(o.columns, o.colour);
  for (auto [name, width] : std::initializer_list<std::pair<const char*, std::size_t>>{
           {"NODE", 4}, {"ROLE", 13}, {"TERM", 5}, {"LEADER", 6}, {"HEARD", 9}, {"STATE", 7}, {"IN", 7},
           {"OUT", 7}, {"REQ", 6}, {"RELAYED", 7}, {"EXEC", 6}, {"DROPS", 5}, {"MISSED", 6}}) {
    head.cell(name, width, kBold);
  }
  lines.push_back(head.take());
  for (const auto& [id, node] : view.nodes()) {
    const auto& c = node.counters;
    ScreenLine line(o.columns, o.colour);
    line.cell(std::to_string(id), 4).cell(node.known ? proto::to_string(node.role) : "?", 13, role_style(node));
    line.cell(node.known ? std::to_string(node.term) : "-", 5);
    line.cell(node.known && node.leader != 0 ? std::to_string(node.leader) : "-", 6);
    line.cell(age_text(view.now_us(), node.last_heard_us), 9);
    line.cell(to_string(node.liveness), 7, liveness_style(node.liveness));
    line.cell(std::to_string(c.messages_in), 7).cell(std::to_string(c.messages_out), 7);
    line.cell(std::to_string(c.requests), 6).cell(std::to_string(c.relayed), 7);
    line.cell(std::to_string(c.executed), 6).cell(std::to_string(c.drops), 5);
    line.cell(std::to_string(c.taps_missed), 6, c.taps_missed != 0 ? kRed : nullptr);
    lines.push_back(line.take());
  }
}

std::string election_text(const ElectionView& e) {
  std::string text = "term " + std::to_string(e.term) + ":";
  if (!e.pre_voters.empty()) text += " pre-votes " + std::to_string(e.pre_voters.size()) + ";";
  if (!e.ballots.empty()) {
    text += " ballots";
    for (const auto& [node, ballot] : e.ballots) {
      char hex[24];
      std::snprintf(hex, sizeof hex, "%04llx", static_cast<unsigned long long>(ballot >> 48));
      text += " " + std::to_string(node) + "=" + hex + "…";
    }
    text += ";";
  }
  if (!e.votes.empty()) {
    text += " votes";
    for (const auto& [voter, candidate] : e.votes) text += " " + std::to_string(voter) + "→" + std::to_string(candidate);
    text += ";";
  }
  if (e.winner != proto::kNoNode) {
    char leaderless[48];
    std::snprintf(leaderless, sizeof leaderless, "%.1f ms", static_cast<double>(e.leaderless_us()) / 1000.0);
    text += " winner node " + std::to_string(e.winner) +
            (e.observed ? std::string(", ") + leaderless + " without a leader" : " (joined late)");
  } else {
    text += " undecided";
  }
  return text;
}

void render_log(const std::vector<const Finding*>& entries, std::size_t room, const ScreenOptions& o,
                std::vector<std::string>& lines) {
  const auto first = entries.size() > room ? entries.size() - room : 0;
  for (auto i = first; i < entries.size(); ++i) {
    const auto& f = *entries[i];
    const char* style = f.kind == "alarm" ? kRed : f.kind == "election" ? kCyan : nullptr;
    lines.push_back(ScreenLine(o.columns, o.colour).add(clock_text(f.time_us) + " ", kDim).add(f.text, style).take());
  }
}

}  // namespace

std::string age_text(std::uint64_t now_us, std::uint64_t then_us) {
  if (then_us == 0) return "never";
  const auto age_ms = now_us > then_us ? (now_us - then_us) / 1000 : 0;
  if (age_ms < 10'000) return std::to_string(age_ms) + " ms";
  return std::to_string(age_ms / 1000) + " s";
}

std::string render_screen(const ClusterView& view, const ScreenOptions& o) {
  std::vector<std::string> lines;
  const auto title = "relay-monitor  " + o.title + "  " + clock_text(view.now_us()) + "  leader " +
                     (view.elections().leader() != 0 ? std::to_string(view.elections().leader()) : "none") +
                     "  alarms " + std::to_string(view.alarm_count());
  lines.push_back(ScreenLine(o.columns, o.colour).add(title, kBold).take());
  render_nodes(view, o, lines);

  lines.push_back(ScreenLine(o.columns, o.colour).add("ELECTIONS (latest last)", kBold).take());
  const auto& elections = view.elections().all();
  const auto shown_elections = std::min<std::size_t>(elections.size(), 4);
  if (shown_elections == 0) lines.push_back(ScreenLine(o.columns, o.colour).add("  none seen yet", kDim).take());
  for (auto i = elections.size() - shown_elections; i < elections.size(); ++i) {
    lines.push_back(ScreenLine(o.columns, o.colour).add("  " + election_text(elections[i])).take());
  }

  std::vector<const Finding*> traffic;
  std::vector<const Finding*> alarms;
  for (const auto& f : view.log()) (f.kind == "alarm" ? alarms : traffic).push_back(&f);
  const auto shown_alarms = std::min<std::size_t>(alarms.size(), 4);
  const int used = static_cast<int>(lines.size()) + 2 + (shown_alarms != 0 ? 1 + static_cast<int>(shown_alarms) : 0);
  const auto room = static_cast<std::size_t>(std::max(3, o.rows - used));
  lines.push_back(ScreenLine(o.columns, o.colour).add("TRAFFIC (requests, elections, nodes; latest last)", kBold).take());
  render_log(traffic, room, o, lines);
  if (shown_alarms != 0) {
    lines.push_back(ScreenLine(o.columns, o.colour)
                        .add("ALARMS (" + std::to_string(view.alarm_count()) + " in all, latest last)", kRed)
                        .take());
    render_log(alarms, shown_alarms, o, lines);
  }
  if (static_cast<int>(lines.size()) > o.rows) lines.resize(static_cast<std::size_t>(std::max(o.rows, 1)));
  std::string screen;
  for (const auto& line : lines) screen += line + "\n";
  if (!screen.empty()) screen.pop_back();
  return screen;
}

}  // namespace relay::monitor
