// How relay-client shows what happened: short readable lines, or one JSON
// object per request with --json (fields named as in docs/protocol.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/messages.hpp"
#include "transport/client_session.hpp"

namespace relay::client {

// The totals of a `send` run (its last line).
struct Summary {
  std::uint64_t sent = 0;
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::uint64_t relayed = 0;
  std::vector<std::uint64_t> latencies_us;  // of ok replies
  bool interrupted = false;                 // Ctrl-C ended the run early
};

// True when the request was answered `ok` (a get of a missing key included).
bool succeeded(const transport::RequestOutcome& outcome);

// One line for one request of put, get, del, cas or send (an append): on
// stdout when it was answered ok, otherwise on stderr (and, with --json, its
// object on stdout as well).
void print_outcome(const transport::RequestOutcome& outcome, bool json);
void print_summary(Summary summary, bool json);

// A read: with --json one object per request (page); otherwise one line per
// message, "POSITION VALUE", and nothing else (see print_read_end).
void print_read_page(const transport::RequestOutcome& outcome, bool json);
// The last line of a read, when not --json: how many messages came, or why
// not (on stderr, as for print_outcome).
void print_read_end(const transport::RequestOutcome& last, std::uint64_t from, std::uint64_t messages);

void print_status(proto::NodeId id, const std::optional<proto::StatusReply>& status, bool json);

}  // namespace relay::client
