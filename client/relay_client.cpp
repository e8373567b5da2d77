// relay-client: sends requests to random nodes of a cluster and shows how each
// was answered (which node received it, whether it was relayed, which leader
// answered in which term), or asks every node for its status.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

#include "client/output.hpp"
#include "config/config.hpp"
#include "util/cli.hpp"
#include "transport/client_session.hpp"
#include "util/logging.hpp"
#include "util/random.hpp"
#include "util/signals.hpp"

namespace {

struct SendArgs {
  std::vector<std::string> words;
  std::uint64_t count = 1;
  std::uint32_t node = 0;
  std::uint32_t interval_ms = 0;
};

std::string random_client_id() {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(relay::util::os_seed()));
  return buffer;
}

int run_send(const relay::config::Cluster& cluster, const SendArgs& args, relay::transport::ClientOptions options,
             bool json, const std::atomic<bool>& stop) {
  if (args.node != 0 && cluster.find(args.node) == nullptr) {
    std::fprintf(stderr, "relay-client: --node %u is not in %s\n", args.node, cluster.source.c_str());
    return 2;
  }
  std::string text;
  for (const auto& word : args.words) text += (text.empty() ? "" : " ") + word;
  if (text.empty()) text = "hello";
  relay::transport::ClientSession session(cluster, std::move(options));
  relay::client::Summary summary;
  const std::optional<relay::proto::NodeId> pin = args.node != 0 ? std::optional(args.node) : std::nullopt;
  for (std::uint64_t i = 1; i <= args.count && !stop.load(); ++i) {
    const auto message = args.count > 1 ? text + " #" + std::to_string(i) : text;
    const auto outcome = session.send(message, pin, stop);
    if (stop.load() && !outcome.answered) break;
    relay::client::print_outcome(outcome, json);
    ++summary.sent;
    if (outcome.answered && outcome.reply.status == relay::proto::Status::ok) {
      ++summary.ok;
      summary.relayed += outcome.reply.relayed_by != 0 ? 1 : 0;
      summary.latencies_us.push_back(outcome.latency_us);
    } else {
      ++summary.failed;
    }
    if (args.interval_ms != 0 && i < args.count) {
      std::this_thread::sleep_for(std::chrono::milliseconds(args.interval_ms));
    }
  }
  summary.interrupted = stop.load();
  relay::client::print_summary(summary, json);
  return summary.failed == 0 && summary.sent == args.count ? 0 : 1;
}

int run_status(const relay::config::Cluster& cluster, relay::transport::ClientOptions options, bool json) {
  relay::transport::ClientSession session(cluster, std::move(options));
  int answered = 0;
  for (const auto& node : cluster.nodes) {
    const auto status = session.status(node.id, std::chrono::milliseconds(500));
    answered += status ? 1 : 0;
    relay::client::print_status(node.id, status, json);
  }
  return answered > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each reply's line leaves at once, also into a pipe
  CLI::App app{"relay-client: talk to a Relay-Raft cluster. Each request goes to a random node;\n"
               "followers relay it to the leader. Failed attempts are retried, with the same\n"
               "request id, on another random node."};
  app.require_subcommand(1);
  std::string config_path = "config/cluster.ini";
  std::string log_level = "warn";
  bool json = false;
  std::uint32_t timeout_ms = 0;
  std::uint32_t retries = 3;
  app.add_option("--config", config_path, "cluster configuration file (INI)")->capture_default_str();
  app.add_option("--log-level", log_level, std::string("one of ") + relay::util::kLogLevels)
      ->check(CLI::IsMember(relay::util::kLogLevelNames))
      ->capture_default_str();
  app.add_option("--timeout-ms", timeout_ms, "deadline of each request (default: request_timeout_ms of the file)");
  app.add_option("--retries", retries, "how many times a request is retried on another node")->capture_default_str();
  app.add_flag("--json", json, "one JSON object per line");
  app.set_version_flag("--version", std::string("relay-client ") + RELAY_VERSION);

  SendArgs send_args;
  auto* send = app.add_subcommand("send", "send MESSAGE (default \"hello\") to random nodes");
  send->fallthrough();
  send->add_option("message", send_args.words, "the text to send");
  send->add_option("--count", send_args.count, "how many requests")->check(CLI::Range(1ULL, 100'000'000ULL));
  send->add_option("--node", send_args.node, "send every request to this node instead of a random one");
  send->add_option("--interval-ms", send_args.interval_ms, "pause between requests");
  auto* status = app.add_subcommand("status", "ask every node for its role, term and leader");
  status->fallthrough();
  if (auto exit_status = relay::util::parse_command_line(app, "relay-client", argc, argv)) return *exit_status;

  if (!relay::util::setup_logging("client", log_level)) {
    std::fprintf(stderr, "relay-client: unknown --log-level '%s' (use %s)\n", log_level.c_str(),
                 relay::util::kLogLevels);
    return 2;
  }
  auto loaded = relay::config::load(config_path);
  if (auto* error = std::get_if<relay::config::ConfigError>(&loaded)) {
    std::fprintf(stderr, "relay-client: %s\n", error->message.c_str());
    return 2;
  }
  const auto& cluster = std::get<relay::config::Cluster>(loaded);
  const auto& stop = relay::util::install_stop_signals();
  relay::transport::ClientOptions options;
  options.client_id = random_client_id();
  options.attempts = retries + 1;
  options.timeout_ms = timeout_ms != 0 ? timeout_ms : cluster.request_timeout_ms;
  options.seed = relay::util::os_seed();
  if (*send) return run_send(cluster, send_args, std::move(options), json, stop);
  return run_status(cluster, std::move(options), json);
}
