// relay::monitor::Requests — follows each client request through the
// cluster from the nodes' taps, and notices a request executed twice.
//
// An attempt starts when a node reports a client_request coming in and ends
// when that node reports the client_reply going out; in between, its relay
// and relay_reply taps add the hops (client → 2 → 1 → 2 → client). Only the
// receiving node's taps shape the path, because only they arrive in order. The
// latency is the receiving node's own clock from arrival to answer, so it
// does not depend on clocks agreeing across machines.
//
// Exactly once: a leader answers a retry with the original (answered_by,
// term, seq). An ok answer to the same (client_id, request_id) with a
// different triple means it was executed twice.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "monitor/event.hpp"
#include "monitor/finding.hpp"

namespace relay::monitor {

struct RequestPath {
  std::string client_id;
  std::uint64_t request_id = 0;
  proto::NodeId received_by = proto::kNoNode;
  std::vector<std::string> stops;  // "client", then node ids in the order the request visited them
  std::uint64_t started_us = 0;    // receiving node's clock at arrival
  std::uint64_t latency_us = 0;    // to the answer, same clock
  std::string status;              // of the answer
  proto::NodeId relayed_by = proto::kNoNode;
  proto::NodeId answered_by = proto::kNoNode;
  proto::Term term = 0;
  std::uint64_t seq = 0;

  // "client → 2 → 1 → 2 → client"; JSON output uses " -> " (it escapes non-ASCII).
  std::string path_text(std::string_view arrow = " → ") const;
};

class Requests {
 public:
  // One tap event with its text parsed. Appends a finding when a request is
  // answered, and an alarm (also to `alarms`) when one was executed twice.
  void on_tap(const Event& event, const Line& line, std::vector<Finding>& out, std::vector<Alarm>& alarms);

  const std::deque<RequestPath>& completed() const { return completed_; }
  std::size_t in_flight() const { return active_.size(); }

  static constexpr std::size_t kMaxInFlight = 10'000;  // as many as a node may hold
  static constexpr std::size_t kKeptCompleted = 1'000;
  static constexpr std::size_t kRememberedExecutions = 100'000;  // the leaders' table size

 private:
  using Key = std::tuple<std::string, std::uint64_t, proto::NodeId>;  // client, request, receiver
  using Execution = std::tuple<proto::NodeId, proto::Term, std::uint64_t>;  // answered_by, term, seq

  void on_arrival(const Event& event, const Line& line);
  void on_relay(const Event& event, const Line& line);
  void on_relay_reply(const Event& event, const Line& line);
  void on_answer(const Event& event, const Line& line, std::vector<Finding>& out);
  void check_execution(const Event& event, const Line& line, std::vector<Finding>& out, std::vector<Alarm>& alarms);

  std::map<Key, RequestPath> active_;
  std::deque<RequestPath> completed_;
  std::map<std::pair<std::string, std::uint64_t>, std::vector<Execution>> executed_;  // distinct answers
  std::deque<std::pair<std::string, std::uint64_t>> executed_order_;  // oldest first, for eviction
};

}  // namespace relay::monitor
