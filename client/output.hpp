// How relay-client shows what happened: readable lines, or one JSON object
// per line with --json.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/messages.hpp"
#include "transport/client_session.hpp"

namespace relay::client {

struct Summary {
  std::uint64_t sent = 0;
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::uint64_t relayed = 0;
  std::vector<std::uint64_t> latencies_us;  // of ok replies
  bool interrupted = false;                 // Ctrl-C ended the run early
};

void print_outcome(const transport::RequestOutcome& outcome, bool json);
void print_summary(Summary summary, bool json);
void print_status(proto::NodeId id, const std::optional<proto::StatusReply>& status, bool json);

}  // namespace relay::client
