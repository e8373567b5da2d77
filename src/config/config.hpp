// The cluster description: one INI file, read with inih and validated into
// a Cluster before any socket is bound. The format is in docs/configuration.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace relay::config {

struct NodeConfig {
  std::uint32_t id = 0;
  std::string client;    // ROUTER: client requests
  std::string peer;      // ROUTER: relayed requests from peers
  std::string election;  // PUB: ballots, votes, heartbeats
  std::string monitor;   // PUB: traffic tap
};

// When a node syncs its log to disk (docs/configuration.md, "fsync").
enum class Fsync { always, batch, never };

struct Cluster {
  std::uint32_t heartbeat_interval_ms = 50;
  std::uint32_t election_timeout_ms = 300;
  std::uint32_t request_timeout_ms = 2000;
  std::filesystem::path data_dir;  // absolute, or relative to the working directory
  Fsync fsync = Fsync::batch;
  std::uint64_t snapshot_bytes = 64ull << 20;  // log held before a snapshot replaces it
  std::vector<NodeConfig> nodes;   // sorted by id, at least one
  std::filesystem::path source;    // the file it was read from

  const NodeConfig* find(std::uint32_t id) const;
};

// "FILE:LINE: key 'KEY': what is wrong" (or "FILE: ..." when no line applies).
struct ConfigError {
  std::string message;
};

using LoadResult = std::variant<Cluster, ConfigError>;

// Reads and validates a file. Relative data_dir is resolved against the
// file's directory.
LoadResult load(const std::filesystem::path& file);

// Validates INI text; `name` stands for the file in messages and `base_dir`
// anchors a relative data_dir. Used by load() and by tests.
LoadResult parse(std::string_view text, std::string_view name, const std::filesystem::path& base_dir);

}  // namespace relay::config
