// The simulator's safety checker: the properties of docs/protocol.md that span
// nodes, time and restarts, checked after every step of every node.
//
// The checker sees what the cluster sees: each event a node took, the actions
// the cluster carried out (a node that crashes in the middle of a step carries
// out only a prefix), every boot from the simulated disk and every reply a
// client accepted. It keeps its own history, which nothing in the simulation
// can erase: every vote ever persisted, the leader of every term, every
// execution of every leader term. It never trusts a node's own view of
// itself, except to compare it against that history.
//
// What it checks (each failure message names the rule):
//   terms      a node's term never goes backwards, on disk or in memory, across
//              restarts too; a node publishes only for the term on its disk
//   votes      at most one vote per node per term, ever; a Vote is on disk
//              before it is published; what a node believes durable is on disk
//   leaders    at most one leader per term across all nodes and all time; a
//              leader holds persisted votes from a majority of the configured
//              nodes for its term; a node leads a term at most once (a second
//              tenure would restart its seq and forget what it executed)
//   relay      a Relay is sent only by a node that received the request from a
//              client, never by one that received it as a Relay (one hop); a
//              RelayReply answers a Relay from that very peer
//   replies    every request a node receives from a client gets exactly one
//              reply from that node, by its deadline, unless the node crashes;
//              the reply names the request and the node that received it
//   replies    an `ok` reply (seen anywhere, and every reply a client accepts)
//              comes from the leader of its term; an accepted write names the
//              log index its committed entry holds
//   log        entries up to a node's commit index are the committed entries,
//              the same on every node, and never change or vanish (not even
//              from a disk, across crashes); a new leader holds every committed
//              entry; nodes that applied the same prefix have the same state
//   node       Node::broken_invariant() of every node after every step
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/node.hpp"

namespace relay::sim {

using proto::NodeId;
using proto::Term;

struct CheckerStats {
  std::uint64_t steps = 0;
  std::uint64_t terms_with_leader = 0;
  std::uint64_t executions = 0;
  std::uint64_t accepted = 0;  // ok replies clients accepted
};

class Checker {
 public:
  Checker(std::vector<NodeId> members, std::uint64_t default_request_timeout_ms);

  // A node starts (or restarts) from what its disk holds.
  void on_boot(NodeId node, const core::DurableState& disk);
  // A node crashed: its volatile state, and the requests it held, are gone.
  void on_crash(NodeId node);
  // A node took `event` and the cluster carried out `carried_out`; `crashed`
  // when the node crashed before carrying out the rest of its actions.
  void on_step(std::uint64_t now_ms, const core::Node& node, const core::Event& event,
               const core::Actions& carried_out, bool crashed);
  // A client accepted `reply` (status ok) as the answer to its request.
  void on_client_accept(const proto::ClientRequest& request, NodeId sent_to,
                        const proto::ClientReply& reply);
  // After every step and flush: the node's log and state machine against
  // the committed history.
  void check_log(const core::Node& node);
  // A node's disk dropped entries from `from` on (a truncation reached it).
  void on_disk_truncate(NodeId node, const std::vector<proto::Entry>& removed);
  // Time passed: a request whose deadline is over must have been answered.
  void end_of_ms(std::uint64_t now_ms);

  std::optional<NodeId> leader_of(Term term) const;
  bool failed() const { return !failure_.empty(); }
  void report(std::string what) { fail(std::move(what)); }
  const std::string& failure() const { return failure_; }
  const CheckerStats& stats() const { return stats_; }

 private:
  using RequestKey = std::pair<std::string, std::uint64_t>;

  // A client request a node received and has not answered yet.
  struct Delivery {
    RequestKey key;
    std::uint64_t deadline_ms = 0;
  };

  // What identifies a committed entry.
  struct EntryId {
    Term term = 0;
    std::string client_id;
    std::uint64_t request_id = 0;
    bool operator==(const EntryId&) const = default;
  };

  struct StepContext {
    std::uint64_t now_ms = 0;
    NodeId node = proto::kNoNode;
    const core::Event* event = nullptr;
    core::DurableState disk;  // the disk as the actions so far left it
  };

  void fail(std::string what);
  void check_persist(StepContext& step, const core::DurableState& state);
  void check_publish(const StepContext& step, const proto::Message& message);
  void check_relay(const StepContext& step, NodeId to, const proto::Message& message);
  void check_relay_reply(const StepContext& step, NodeId to, const proto::Message& message);
  void check_client_reply(const StepContext& step, const core::ReplyToClient& reply);
  void check_role(const StepContext& step, const core::RoleChanged& change);
  void check_leader(NodeId node, Term term);
  void check_reply_content(const StepContext& step, const proto::ClientReply& reply,
                           NodeId received_by);
  void check_peer_send(const StepContext& step, NodeId to, const proto::Message& message);
  void check_leader_log(NodeId node, const core::Node& state);
  void record_committed(std::uint64_t index, const EntryId& id, NodeId by);
  void check_node(const StepContext& step, const core::Node& node);

  std::vector<NodeId> members_;
  std::size_t majority_;
  std::uint64_t default_request_timeout_ms_;
  std::string failure_;
  CheckerStats stats_;

  std::map<NodeId, core::DurableState> disk_;         // what each node's disk holds
  std::map<std::pair<Term, NodeId>, NodeId> votes_;   // (term, voter) -> candidate, forever
  std::map<Term, NodeId> leaders_;                    // the leader of each term, forever
  std::set<std::pair<NodeId, Term>> tenures_;         // (node, term) it became leader of
  std::map<std::uint64_t, EntryId> committed_;             // every entry ever committed
  std::map<std::uint64_t, RequestKey> acknowledged_;       // index -> request a client accepted there
  std::map<NodeId, std::uint64_t> verified_to_;           // per node: commit prefix checked
  std::map<std::uint64_t, std::uint64_t> state_digest_;   // applied index -> state machine digest
  std::map<NodeId, std::uint64_t> digested_at_;           // per node: applied index last digested
  struct OpenRelay {
    RequestKey request;
    std::uint32_t copies = 0;  // the network may deliver a relay twice; each copy earns one answer
  };
  std::map<std::tuple<NodeId, NodeId, std::uint64_t>, OpenRelay> open_relays_;  // (leader, from, relay_id)
  std::map<std::pair<NodeId, std::string>, Delivery> deliveries_;  // (node, client route)
  std::map<NodeId, std::set<RequestKey>> from_clients_;  // received from clients since boot
};

}  // namespace relay::sim
