// A simulated cluster: N core::Node instances, their disks, the network
// between them and a few clients, all in one thread and driven by one seeded
// generator. Time advances in whole milliseconds; a node takes one Tick per
// millisecond, as the production shell gives it (1 tick = 1 ms).
//
// The disk of a node holds its DurableState: a Persist action writes it at
// once, so a crash loses nothing that was persisted, and a restart rebuilds
// the Node from it with a fresh seed. A crash may also strike in the middle of
// a step, after only some of the step's actions were carried out; the core's
// "Persist first" ordering is what keeps that safe.
//
// Clients send each request to a random node and, when no answer comes in
// time or the answer is a retryable refusal, retry it with the same
// (client_id, request_id) on another node.
//
// Ownership: sim_main owns the Cluster, the Trace, the Checker and the
// generator; the Cluster borrows them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "check/linearizability.hpp"
#include "core/node.hpp"
#include "sim/checker.hpp"
#include "sim/network.hpp"

namespace relay::sim {

// The last lines of what happened, for a failure report; everything when
// replaying one seed.
class Trace {
 public:
  Trace(std::size_t keep_lines, bool print_all) : keep_lines_(keep_lines), print_all_(print_all) {}

  bool enabled() const { return keep_lines_ != 0 || print_all_; }
  void line(std::uint64_t now_ms, std::string text);
  void dump_tail() const;  // the kept lines, to stdout

 private:
  std::size_t keep_lines_;
  bool print_all_;
  std::deque<std::string> lines_;
};

struct Timing {
  std::uint64_t heartbeat_ms = 50;
  std::uint64_t election_timeout_ms = 300;
  std::uint64_t request_timeout_ms = 2000;
};

struct ClusterConfig {
  std::size_t nodes = 3;
  std::size_t clients = 2;
  Timing timing;
};

struct ClientStats {
  std::uint64_t requests = 0;  // distinct requests started
  std::uint64_t attempts = 0;  // sends, retries included
  std::uint64_t accepted = 0;
};

class Cluster {
 public:
  Cluster(const ClusterConfig& config, core::Random& random, Trace& trace, Checker& checker);

  // One millisecond: every live node ticks, due packets are delivered, clients act.
  void advance_ms();

  void crash(NodeId node, bool mid_step);  // mid_step: during the node's next step
  void restart(NodeId node);              // a no-op for a node that is up
  void cancel_mid_step_crashes();
  // A connection hint for `node` about `peer` (core::PeerConnection), true or
  // not: the shell's socket monitor is only a hint, and so it is here.
  void hint_connection(NodeId node, NodeId peer, bool connected);
  bool is_up(NodeId node) const;
  const core::Node* node(NodeId node) const;  // nullptr while down
  const std::vector<NodeId>& members() const { return members_; }

  Network& network() { return network_; }
  std::uint64_t now_ms() const { return now_ms_; }

  // Whether clients start new requests; requests already started go on until answered.
  void set_clients_active(bool active) { clients_active_ = active; }
  bool clients_idle() const;
  std::string describe_busy_clients() const;
  const ClientStats& client_stats() const { return client_stats_; }
  // Every client operation: what was asked, when, and what came back; the
  // operations still open are recorded as unknown by finish_history().
  const std::vector<check::Operation>& history() const { return history_; }
  void finish_history();

  // The leader every node agrees on (all up, same term, one leader), if any.
  std::optional<NodeId> agreed_leader() const;
  std::string describe_nodes() const;
  void note(const std::string& text) { trace(text); }

 private:
  // What a node's disk holds once synced: term and vote (written at once,
  // like the state file), the newest snapshot and the log after it.
  struct Disk {
    core::DurableState state;
    std::uint64_t snapshot_index = 0;
    Term snapshot_term = 0;
    std::string snapshot;
    std::vector<proto::Entry> log;
  };

  struct Slot {
    NodeId id = proto::kNoNode;
    std::unique_ptr<core::Node> node;  // null while crashed
    Disk disk;
    std::vector<core::Action> unsynced;  // log writes since the last sync, in order
    std::vector<core::Action> outbox;    // messages waiting for that sync
    bool crash_mid_step = false;
  };

  // A PeerConnection event on its way to `node`: what the shell's socket
  // monitor reports when `peer`'s election connection opens or closes.
  struct ConnectionEvent {
    std::uint64_t at_ms = 0;
    NodeId node = proto::kNoNode;
    NodeId peer = proto::kNoNode;
    bool connected = false;
  };

  struct Client {
    std::string id;
    proto::ClientRequest request;  // the current or last request
    std::uint64_t invoked_ms = 0;
    NodeId address = proto::kNoNode;
    bool busy = false;
    std::uint64_t request_id = 0;  // the current or last request
    std::uint32_t timeout_ms = 0;  // of the current request; 0 = the node's default
    std::uint64_t attempt = 0;
    std::string last_route;  // the latest attempt: only its refusal triggers a retry
    NodeId last_node = proto::kNoNode;
    std::map<std::string, NodeId> sent_to;  // route -> node, for the current request
    std::uint64_t retry_at_ms = 0;
    std::uint64_t idle_until_ms = 0;
  };

  Slot& slot(NodeId node);
  void boot(Slot& slot);
  void step(Slot& slot, const core::Event& event);
  void end_batch(Slot& slot);
  void carry_out(Slot& slot, const core::Action& action);
  void send(Slot& slot, const core::Action& action);
  void write(Slot& slot, const core::Action& action, std::size_t keep_entries);
  void sync(Slot& slot);
  void deliver(Packet& packet);
  void deliver_connection_events();
  void announce_connections(NodeId node, bool connected);
  void schedule_connection_event(std::uint64_t at_ms, NodeId node, NodeId peer, bool connected);
  void client_act(Client& client);
  void client_send(Client& client, NodeId node);
  void client_receive(Client& client, const std::string& route, const proto::ClientReply& reply);
  NodeId random_node(NodeId other_than);
  proto::ClientRequest next_request(const Client& client);
  void record(const Client& client, check::Operation::Outcome outcome, const proto::ClientReply* reply);
  std::uint64_t client_wait_ms(const Client& client) const;
  void trace(const std::string& text);

  ClusterConfig config_;
  core::Random& random_;
  Trace& trace_;
  Checker& checker_;
  std::vector<NodeId> members_;
  Network network_;
  std::vector<Slot> slots_;
  std::vector<ConnectionEvent> connection_events_;  // in the order they were scheduled
  // When the last event for (node, peer) is due: a monitor reports one
  // connection's closing before its successor's opening, never the reverse.
  std::map<std::pair<NodeId, NodeId>, std::uint64_t> last_connection_event_ms_;
  std::vector<Client> clients_;
  bool clients_active_ = true;
  ClientStats client_stats_;
  std::vector<check::Operation> history_;
  std::map<std::string, std::string> last_values_;  // what cas expects: a value some client wrote
  std::uint64_t now_ms_ = 0;
};

}  // namespace relay::sim
