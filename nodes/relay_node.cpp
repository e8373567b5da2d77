// relay-node: runs one node of the cluster described by a configuration file
// until SIGINT or SIGTERM.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "config/config.hpp"
#include "util/cli.hpp"
#include "transport/node_loop.hpp"
#include "util/logging.hpp"
#include "util/random.hpp"
#include "util/signals.hpp"

int main(int argc, char** argv) {
  CLI::App app{"relay-node: one member of a Relay-Raft cluster. It takes part in leader elections on\n"
               "the election channel, answers client requests when it leads and relays them to the\n"
               "leader when it follows. Stops cleanly on SIGINT or SIGTERM."};
  std::string config_path = "config/cluster.ini";
  std::uint32_t id = 0;
  std::string log_level = "info";
  std::uint64_t seed = 0;
  app.add_option("--config", config_path, "cluster configuration file (INI)")->capture_default_str();
  app.add_option("--id", id, "which node of the file to run")->required();
  app.add_option("--log-level", log_level, std::string("one of ") + relay::util::kLogLevels)
      ->check(CLI::IsMember(relay::util::kLogLevelNames))->capture_default_str();
  app.add_option("--seed", seed, "seed for ballots and timeouts (0: from the OS); for reproducing runs");
  if (auto exit_status = relay::util::parse_command_line(app, "relay-node", argc, argv)) return *exit_status;

  if (!relay::util::setup_logging("node-" + std::to_string(id), log_level)) {
    std::fprintf(stderr, "relay-node: unknown --log-level '%s' (use %s)\n", log_level.c_str(),
                 relay::util::kLogLevels);
    return 2;
  }
  const auto& stop = relay::util::install_stop_signals();
  // A write past a file size limit must fail with EFBIG, which the node
  // handles (docs/protocol.md, "Storage"), not kill the process.
  std::signal(SIGXFSZ, SIG_IGN);
  auto cluster = relay::config::load(config_path);
  if (auto* error = std::get_if<relay::config::ConfigError>(&cluster)) {
    std::fprintf(stderr, "relay-node: %s\n", error->message.c_str());
    return 2;
  }
  const auto& cluster_config = std::get<relay::config::Cluster>(cluster);
  if (cluster_config.find(id) == nullptr) {
    std::fprintf(stderr, "relay-node: node %u is not in %s\n", id, config_path.c_str());
    return 2;
  }
  auto created = relay::transport::NodeLoop::create(cluster_config, id,
                                                    seed != 0 ? seed : relay::util::os_seed());
  if (auto* error = std::get_if<std::string>(&created)) {
    std::fprintf(stderr, "relay-node: %s\n", error->c_str());
    return 1;
  }
  const auto fatal = std::get<0>(created)->run(stop);
  if (!fatal.empty()) {
    std::fprintf(stderr, "relay-node: %s\n", fatal.c_str());
    return 1;
  }
  return 0;
}
