// relay-monitor: watches a Relay-Raft cluster live (elections, relays,
// alarms), records sessions, replays them, and draws them as an HTML page.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "config/config.hpp"
#include "monitor/report.hpp"
#include "monitor/session.hpp"
#include "util/cli.hpp"
#include "util/logging.hpp"
#include "util/signals.hpp"

namespace {

int live(const std::string& config_path, relay::monitor::LiveOptions options, const std::atomic<bool>& stop) {
  auto loaded = relay::config::load(config_path);
  if (auto* error = std::get_if<relay::config::ConfigError>(&loaded)) {
    std::fprintf(stderr, "relay-monitor: %s\n", error->message.c_str());
    return 2;
  }
  return relay::monitor::run_live(std::get<relay::config::Cluster>(loaded), options, stop);
}

int report(const std::string& recording, const std::string& output) {
  const auto error = relay::monitor::write_report(recording, output);
  if (!error.empty()) {
    std::fprintf(stderr, "relay-monitor: %s\n", error.c_str());
    return 1;
  }
  std::printf("wrote %s\n", output.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"relay-monitor: watch a Relay-Raft cluster live — each node's role, term and leader,\n"
               "elections as they happen, every client request's path through the cluster, and\n"
               "alarms. A screen on a terminal, plain lines otherwise, JSON lines with --json."};
  std::string config_path = "config/cluster.ini";
  std::string log_level = "warn";
  bool json = false;
  bool messages = false;
  std::string record_path;
  double duration_s = 0;
  app.add_option("--config", config_path, "cluster configuration file (INI)")->capture_default_str();
  app.add_option("--log-level", log_level, std::string("one of ") + relay::util::kLogLevels)
      ->check(CLI::IsMember(relay::util::kLogLevelNames))->capture_default_str();
  app.add_flag("--json", json, "one JSON object per event");
  app.add_flag("--messages", messages,
               "also show every message a node sends (not heartbeat traffic: heartbeats, appends without entries "
               "and the answers that tell nothing new; docs/monitor.md)");
  app.add_option("--record", record_path, "save the session to FILE (JSON lines, see docs/monitor.md)");
  app.add_option("--duration", duration_s, "stop after this many seconds (default: at Ctrl-C)")
      ->check(CLI::NonNegativeNumber);

  std::string recording;
  double speed = 1.0;
  auto* replay = app.add_subcommand("replay", "show a recorded session again, in the same views");
  replay->add_option("file", recording, "the recording")->required()->check(CLI::ExistingFile);
  replay->add_option("--speed", speed, "2 replays twice as fast; 0 as fast as possible")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  replay->fallthrough();
  std::string output = "report.html";
  auto* report_command = app.add_subcommand("report", "draw a recorded session as one self-contained HTML page");
  report_command->add_option("file", recording, "the recording")->required()->check(CLI::ExistingFile);
  report_command->add_option("-o,--output", output, "the page to write")->capture_default_str();
  report_command->fallthrough();
  if (auto exit_status = relay::util::parse_command_line(app, "relay-monitor", argc, argv)) return *exit_status;

  if (!relay::util::setup_logging("monitor", log_level)) {
    std::fprintf(stderr, "relay-monitor: unknown --log-level '%s' (use %s)\n", log_level.c_str(),
                 relay::util::kLogLevels);
    return 2;
  }
  const auto& stop = relay::util::install_stop_signals();
  const auto mode = relay::monitor::choose_output_mode(json);
  if (*report_command) return report(recording, output);
  if (*replay) return relay::monitor::run_replay(recording, {mode, speed, messages}, stop);
  relay::monitor::LiveOptions options{mode, std::nullopt, messages, duration_s};
  if (!record_path.empty()) options.record = record_path;
  return live(config_path, options, stop);
}
