// relay::monitor::ClusterView — everything the monitor knows about the
// cluster, built from the events it receives, and the alarms it raises.
//
// It is a plain state machine: events and the passing of time go in, findings
// come out, and the current state can be read at any point. No sockets and
// no clock of its own — the live loop, the replayer and the tests all drive
// the same object, so a recording replays into exactly the views that were
// shown live, and alarms are tested by feeding it faulty event streams.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "monitor/elections.hpp"
#include "monitor/event.hpp"
#include "monitor/finding.hpp"
#include "monitor/requests.hpp"

namespace relay::monitor {

// How recently a node was heard, against the cluster's own clocks: alive
// within two heartbeats, suspect until an election timeout, then silent.
enum class Liveness : std::uint8_t { unknown, alive, suspect, silent };
const char* to_string(Liveness liveness);

// Per-node message counters, from the node's taps.
struct NodeCounters {
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t heartbeats = 0;  // heard from the node on its election channel
  std::uint64_t requests = 0;    // client requests it received
  std::uint64_t relayed = 0;     // relays it sent to a leader
  std::uint64_t executed = 0;    // ok answers it gave as the executing leader
  std::uint64_t drops = 0;       // frames it dropped as bad
  std::uint64_t taps = 0;        // tap events we received from it
  std::uint64_t taps_missed = 0; // tap events lost on the way (gaps in seq)
};

struct NodeView {
  proto::NodeId id = proto::kNoNode;
  bool known = false;  // role, term and leader have been heard at least once
  proto::Role role = proto::Role::follower;
  proto::Term term = 0;
  proto::NodeId leader = proto::kNoNode;
  std::uint64_t last_heard_us = 0;  // monitor clock; 0 if never
  Liveness liveness = Liveness::unknown;
  std::uint64_t next_tap_seq = 0;   // 0 until the first tap
  NodeCounters counters;
};

struct ViewOptions {
  std::vector<proto::NodeId> nodes;  // the configured members
  std::uint32_t heartbeat_interval_ms = 50;
  std::uint32_t election_timeout_ms = 300;
  bool messages = false;  // also report every message sent (heartbeat traffic excepted: HeartbeatFilter)
};

// How often the live loop judges liveness when nothing arrives.
inline constexpr std::uint64_t kLivenessStepUs = 50'000;
// Events closer together than this were read in one batch.
inline constexpr std::uint64_t kSameBatchUs = 1'000;

// The times at which the live loop would have judged liveness between two
// received events: right after the batch the first one ended, then every
// kLivenessStepUs of quiet. Replays and the report use them to raise the
// alarms the live session raised.
std::vector<std::uint64_t> liveness_checks(std::uint64_t last_us, std::uint64_t next_us);

class ClusterView {
 public:
  ClusterView(ViewOptions options, std::uint64_t started_us);

  std::vector<Finding> on_event(const Event& event);
  // Lets time pass to `now_us` (monitor clock): liveness and silence alarms.
  // Only this judges silence, never an event: after the monitor itself was
  // held up (stopped, busy), the first events of its backlog must not make
  // every node whose events are still queued look silent. The driver calls it
  // once a batch of received events has been fed.
  std::vector<Finding> on_time(std::uint64_t now_us);

  const ViewOptions& options() const { return options_; }
  const std::map<proto::NodeId, NodeView>& nodes() const { return nodes_; }
  const Elections& elections() const { return elections_; }
  const Requests& requests() const { return requests_; }
  const std::deque<Alarm>& alarms() const { return alarms_; }  // the most recent kKeptAlarms
  std::uint64_t alarm_count() const { return alarm_count_; }
  const std::deque<Finding>& log() const { return log_; }      // the most recent kKeptLog findings
  std::uint64_t now_us() const { return now_us_; }

  static constexpr std::size_t kKeptAlarms = 200;
  static constexpr std::size_t kKeptLog = 500;

 private:
  NodeView& node(proto::NodeId id);
  void heard(NodeView& node, std::uint64_t now_us, std::vector<Finding>& out);
  void check_tap_seq(NodeView& node, const Event& event, std::vector<Finding>& out);
  void count(NodeView& node, const Event& event, const Line& line);
  void on_election_message(const Event& event, const Line& line, std::vector<Finding>& out);
  void on_state(proto::NodeId id, proto::Role role, proto::Term term, proto::NodeId leader, const std::string& reason,
                std::uint64_t now_us, std::vector<Finding>& out);
  void check_leader(proto::NodeId id, proto::Term term, std::uint64_t now_us, std::vector<Finding>& out);
  void report_traffic(const Event& event, const Line& line, std::vector<Finding>& out);
  void raise(Alarm alarm, std::vector<Finding>& out);
  void keep(const std::vector<Finding>& findings);

  ViewOptions options_;
  std::uint64_t started_us_;
  std::uint64_t now_us_;
  std::map<proto::NodeId, NodeView> nodes_;
  Elections elections_;
  Requests requests_;
  std::map<proto::Term, proto::NodeId> leader_of_term_;       // the first leader seen per term
  std::set<std::pair<proto::Term, proto::NodeId>> doubled_;   // two_leaders already raised
  std::deque<Alarm> alarms_;
  std::uint64_t alarm_count_ = 0;
  std::deque<Finding> log_;
  HeartbeatFilter heartbeats_;  // for --messages
};

}  // namespace relay::monitor
