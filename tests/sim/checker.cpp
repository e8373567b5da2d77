#include "sim/checker.hpp"

#include <algorithm>
#include <type_traits>
#include <variant>

#include "proto/describe.hpp"

namespace relay::sim {
namespace {

using proto::Role;
using proto::Status;

std::string n(NodeId id) { return "n" + std::to_string(id); }
std::string t(Term term) { return "term " + std::to_string(term); }

// The sender a message names, for the messages that name one.
std::optional<NodeId> claimed_sender(const proto::Message& message) {
  return std::visit(
      [](const auto& m) -> std::optional<NodeId> {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, proto::PreVote> || std::is_same_v<M, proto::PreVoteGrant> ||
                      std::is_same_v<M, proto::Ballot> || std::is_same_v<M, proto::Vote> ||
                      std::is_same_v<M, proto::Heartbeat> || std::is_same_v<M, proto::Relay>) {
          return m.from;
        } else {
          return std::nullopt;
        }
      },
      message);
}

}  // namespace

Checker::Checker(std::vector<NodeId> members, std::uint64_t default_request_timeout_ms)
    : members_(std::move(members)),
      majority_(members_.size() / 2 + 1),
      default_request_timeout_ms_(default_request_timeout_ms) {}

void Checker::fail(std::string what) {
  if (failure_.empty()) failure_ = std::move(what);
}

std::optional<NodeId> Checker::leader_of(Term term) const {
  auto it = leaders_.find(term);
  if (it == leaders_.end()) return std::nullopt;
  return it->second;
}

void Checker::on_boot(NodeId node, const core::DurableState& disk) {
  // The simulated disk must hold exactly what was persisted: a crash loses
  // nothing a Persist action wrote.
  if (disk != disk_[node]) fail(n(node) + " booted from a disk that lost a Persist");
}

void Checker::on_crash(NodeId node) {
  for (auto it = deliveries_.begin(); it != deliveries_.end();) {
    it = it->first.first == node ? deliveries_.erase(it) : std::next(it);
  }
  for (auto it = open_relays_.begin(); it != open_relays_.end();) {
    it = std::get<0>(it->first) == node ? open_relays_.erase(it) : std::next(it);
  }
  from_clients_[node].clear();
  verified_to_[node] = 0;
  digested_at_[node] = 0;
}

void Checker::on_step(std::uint64_t now_ms, const core::Node& node, const core::Event& event,
                      const core::Actions& carried_out, bool crashed) {
  ++stats_.steps;
  StepContext step{now_ms, node.id(), &event, disk_[node.id()]};

  if (const auto* client = std::get_if<core::ClientMessage>(&event)) {
    if (const auto* request = std::get_if<proto::ClientRequest>(&client->message)) {
      const auto timeout_ms =
          request->timeout_ms != 0 ? request->timeout_ms : default_request_timeout_ms_;
      RequestKey key{request->client_id, request->request_id};
      const bool fresh =
          deliveries_.emplace(std::pair{node.id(), client->from.route}, Delivery{key, now_ms + timeout_ms})
              .second;
      if (!fresh) fail("simulator: client route " + client->from.route + " delivered twice");
      from_clients_[node.id()].insert(std::move(key));
    }
  }
  if (const auto* peer = std::get_if<core::PeerMessage>(&event)) {
    if (const auto* relay = std::get_if<proto::Relay>(&peer->message)) {
      auto& open = open_relays_[{node.id(), peer->from, relay->relay_id}];
      open.request = {relay->request.client_id, relay->request.request_id};
      ++open.copies;
    }
  }
  bool became_leader = false;

  for (const auto& action : carried_out) {
    std::visit(
        [&](const auto& a) {
          using A = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<A, core::Persist>) {
            check_persist(step, a.state);
          } else if constexpr (std::is_same_v<A, core::Publish>) {
            check_publish(step, a.message);
          } else if constexpr (std::is_same_v<A, core::SendToPeer> || std::is_same_v<A, core::ReplyToPeer>) {
            check_peer_send(step, a.to, a.message);
          } else if constexpr (std::is_same_v<A, core::ReplyToClient>) {
            check_client_reply(step, a);
          } else if constexpr (std::is_same_v<A, core::RoleChanged>) {
            check_role(step, a);
            became_leader = became_leader || a.role == Role::leader;
          }
        },
        action);
  }
  disk_[node.id()] = step.disk;
  if (crashed) return;
  check_node(step, node);
  if (became_leader) check_leader_log(node.id(), node);
  check_log(node);
}

// Peer messages: relays and their answers, and the log's messages, each sent
// by the right kind of node.
void Checker::check_peer_send(const StepContext& step, NodeId to, const proto::Message& message) {
  if (std::holds_alternative<proto::Relay>(message)) {
    check_relay(step, to, message);
  } else if (std::holds_alternative<proto::RelayReply>(message)) {
    check_relay_reply(step, to, message);
  } else if (const auto* append = std::get_if<proto::Append>(&message)) {
    if (append->leader != step.node || leader_of(append->term) != step.node || append->term != step.disk.term) {
      fail(n(step.node) + " sent an append for a term it does not lead: " + proto::describe(message));
    }
  } else if (const auto* snapshot = std::get_if<proto::Snapshot>(&message)) {
    if (snapshot->leader != step.node || leader_of(snapshot->term) != step.node) {
      fail(n(step.node) + " sent a snapshot for a term it does not lead: " + proto::describe(message));
    }
  } else if (const auto* reply = std::get_if<proto::AppendReply>(&message)) {
    if (reply->from != step.node || reply->term != step.disk.term) {
      fail(n(step.node) + " sent an append reply with the wrong sender or term: " + proto::describe(message));
    }
  } else if (const auto* snapshot_reply = std::get_if<proto::SnapshotReply>(&message)) {
    if (snapshot_reply->from != step.node) fail(n(step.node) + " sent a snapshot reply naming another node");
  } else {
    fail(n(step.node) + " sent a peer an unexpected message: " + proto::describe(message));
  }
}

// Rule "leader completeness": a new leader's log holds every committed entry.
void Checker::check_leader_log(NodeId node, const core::Node& state) {
  const auto& log = state.log();
  for (const auto& [index, id] : committed_) {
    if (index <= log.snapshot_index()) continue;
    if (log.term_at(index) != id.term) {
      fail(n(node) + " became leader of " + t(state.term()) + " without committed entry " +
           std::to_string(index) + " (" + t(id.term) + ")");
      return;
    }
  }
}

// Rule "committed entries never change": what a node counts as committed is
// what every node counted there, for ever; and equal prefixes applied give
// equal state machines.
void Checker::check_log(const core::Node& node) {
  const auto& log = node.log();
  auto& verified = verified_to_[node.id()];
  // After a restart a node's commit index starts at its snapshot.
  const auto last = std::min(node.commit_index(), log.last_index());
  for (auto index = std::max(verified + 1, log.first_index()); index <= last; ++index) {
    const auto& entry = log.at(index);
    record_committed(index, EntryId{entry.term, entry.client_id, entry.request_id}, node.id());
  }
  verified = std::max(verified, last);
  if (node.commit_index() > log.last_index() && node.applied_index() < node.commit_index()) {
    fail(n(node.id()) + " commits past its log (" + std::to_string(node.commit_index()) + " > " +
         std::to_string(log.last_index()) + ")");
  }
  // Digesting the whole state is costly: only when the applied index
  // crosses a multiple of 8, which nodes reach at the same index often enough.
  auto& digested = digested_at_[node.id()];
  const auto applied = node.applied_index();
  if (applied / 8 == digested / 8) return;
  digested = applied;
  std::uint64_t digest = 1469598103934665603ull;
  for (const unsigned char c : node.machine().snapshot()) digest = (digest ^ c) * 1099511628211ull;
  auto [it, inserted] = state_digest_.emplace(applied, digest);
  if (!inserted && it->second != digest) {
    fail(n(node.id()) + " applied entries up to " + std::to_string(applied) +
         " and holds a different state from another node at the same index");
  }
}

void Checker::record_committed(std::uint64_t index, const EntryId& id, NodeId by) {
  auto [it, inserted] = committed_.emplace(index, id);
  if (!inserted && !(it->second == id)) {
    fail(n(by) + " counts entry " + std::to_string(index) + " (" + t(id.term) + ", " + id.client_id + "/" +
         std::to_string(id.request_id) + ") as committed, but " + t(it->second.term) + " " +
         it->second.client_id + "/" + std::to_string(it->second.request_id) + " was committed there");
    return;
  }
  if (auto ack = acknowledged_.find(index); ack != acknowledged_.end()) {
    if (ack->second != RequestKey{id.client_id, id.request_id}) {
      fail("a client was told its write " + ack->second.first + "/" + std::to_string(ack->second.second) +
           " is entry " + std::to_string(index) + ", but the committed entry there is " + id.client_id + "/" +
           std::to_string(id.request_id));
    }
  }
}

void Checker::on_disk_truncate(NodeId node, const std::vector<proto::Entry>& removed) {
  for (const auto& entry : removed) {
    auto it = committed_.find(entry.index);
    if (it != committed_.end() && it->second.term == entry.term) {
      fail(n(node) + " removed committed entry " + std::to_string(entry.index) + " (" + t(entry.term) +
           ") from its disk");
      return;
    }
  }
}

// Rule "terms only grow; one vote per term, on disk before it is used".
void Checker::check_persist(StepContext& step, const core::DurableState& state) {
  const auto& disk = step.disk;
  if (state.term < disk.term) {
    fail(n(step.node) + " persisted " + t(state.term) + " after " + t(disk.term) +
         ": term went backwards");
  }
  if (state.term == disk.term && disk.voted_for != proto::kNoNode &&
      state.voted_for != disk.voted_for) {
    fail(n(step.node) + " changed its persisted vote in " + t(state.term) + " from " +
         n(disk.voted_for) + " to " + n(state.voted_for));
  }
  if (state.voted_for != proto::kNoNode) {
    auto [it, inserted] = votes_.emplace(std::pair{state.term, step.node}, state.voted_for);
    if (!inserted && it->second != state.voted_for) {
      fail(n(step.node) + " voted twice in " + t(state.term) + ": for " + n(it->second) +
           ", then (after a restart) for " + n(state.voted_for));
    }
  }
  step.disk = state;
}

// Election messages speak for the sender's durable term and vote.
void Checker::check_publish(const StepContext& step, const proto::Message& message) {
  const auto sender = claimed_sender(message);
  if (!sender || *sender != step.node) {
    fail(n(step.node) + " published a message that names another sender: " +
         proto::describe(message));
    return;
  }
  const Term term = step.disk.term;
  auto wrong_term = [&](Term said) {
    if (said != term) {
      fail(n(step.node) + " published for " + t(said) + " while its disk holds " + t(term) + ": " +
           proto::describe(message));
    }
  };
  if (const auto* pre_vote = std::get_if<proto::PreVote>(&message)) {
    wrong_term(pre_vote->term - 1);
  } else if (const auto* ballot = std::get_if<proto::Ballot>(&message)) {
    wrong_term(ballot->term);
  } else if (const auto* heartbeat = std::get_if<proto::Heartbeat>(&message)) {
    wrong_term(heartbeat->term);
    if (heartbeat->role == Role::leader && leader_of(heartbeat->term) != step.node) {
      fail(n(step.node) + " claims leadership of " + t(heartbeat->term) + " it never won");
    }
  } else if (const auto* vote = std::get_if<proto::Vote>(&message)) {
    wrong_term(vote->term);
    auto it = votes_.find({vote->term, step.node});
    if (it == votes_.end() || it->second != vote->candidate) {
      fail(n(step.node) + " published a vote that is not on its disk: " + proto::describe(message));
    }
  } else if (const auto* grant = std::get_if<proto::PreVoteGrant>(&message)) {
    if (grant->term <= term) {
      fail(n(step.node) + " granted a pre-vote for a term not above its own: " +
           proto::describe(message));
    }
  } else {
    fail(n(step.node) + " published a non-election message: " + proto::describe(message));
  }
}

// Rule "relay: one hop". Only a request received from a client is relayed,
// and never in answer to a Relay.
void Checker::check_relay(const StepContext& step, NodeId to, const proto::Message& message) {
  const auto* relay = std::get_if<proto::Relay>(&message);
  if (relay == nullptr) {
    fail(n(step.node) + " sent a peer a message that is not a Relay: " + proto::describe(message));
    return;
  }
  if (relay->from != step.node || to == step.node) {
    fail(n(step.node) + " sent a relay with the wrong ends: " + proto::describe(message));
  }
  if (const auto* peer = std::get_if<core::PeerMessage>(step.event)) {
    if (std::holds_alternative<proto::Relay>(peer->message)) {
      fail(n(step.node) + " forwarded a relay it received from " + n(peer->from) + " to " + n(to) +
           ": a relay makes one hop");
    }
  }
  const RequestKey key{relay->request.client_id, relay->request.request_id};
  if (from_clients_[step.node].count(key) == 0) {
    fail(n(step.node) + " relayed a request no client sent it: " + proto::describe(message));
  }
  if (relay->remaining_ms == 0) fail(n(step.node) + " relayed a request past its deadline");
}

void Checker::check_relay_reply(const StepContext& step, NodeId to, const proto::Message& message) {
  const auto* reply = std::get_if<proto::RelayReply>(&message);
  auto it = open_relays_.find({step.node, to, reply->relay_id});
  if (it == open_relays_.end()) {
    fail(n(step.node) + " answered a relay " + n(to) + " never sent it (or answered it more often than it arrived): " +
         proto::describe(message));
    return;
  }
  if (reply->reply.client_id != it->second.request.first || reply->reply.request_id != it->second.request.second) {
    fail(n(step.node) + " answered relay of another request: " + proto::describe(message));
  }
  if (--it->second.copies == 0) open_relays_.erase(it);
  if (reply->reply.relayed_by != to) {
    fail(n(step.node) + " answered a relay without naming the relaying node: " +
         proto::describe(message));
  }
  check_reply_content(step, reply->reply, to);
}

// Rule "every request gets exactly one reply from the node that received it,
// by its deadline".
void Checker::check_client_reply(const StepContext& step, const core::ReplyToClient& action) {
  if (std::holds_alternative<proto::StatusReply>(action.message)) return;
  const auto* reply = std::get_if<proto::ClientReply>(&action.message);
  if (reply == nullptr) {
    fail(n(step.node) + " sent a client something that is not a reply: " +
         proto::describe(action.message));
    return;
  }
  auto it = deliveries_.find({step.node, action.to.route});
  if (it == deliveries_.end()) {
    fail(n(step.node) + " answered client route " + action.to.route +
         " that it never received or answered already: " + proto::describe(action.message));
    return;
  }
  const auto& delivery = it->second;
  if (reply->client_id != delivery.key.first || reply->request_id != delivery.key.second) {
    fail(n(step.node) + " answered route " + action.to.route + " with another request's reply");
  }
  if (step.now_ms > delivery.deadline_ms) {
    fail(n(step.node) + " answered route " + action.to.route + " at " +
         std::to_string(step.now_ms) + " ms, after its deadline " +
         std::to_string(delivery.deadline_ms) + " ms");
  }
  deliveries_.erase(it);
  check_reply_content(step, *reply, step.node);
}

void Checker::check_reply_content(const StepContext& step, const proto::ClientReply& reply,
                                  NodeId received_by) {
  if (reply.received_by != received_by) {
    fail(n(step.node) + " sent a reply naming " + n(reply.received_by) + " as receiver, not " +
         n(received_by) + ": " + proto::describe(reply));
  }
  if (reply.status == Status::bad_request) {
    fail(n(step.node) + " refused a well-formed request: " + proto::describe(reply));
  }
  if (reply.status != Status::ok) return;
  if (reply.answered_by == proto::kNoNode || leader_of(reply.term) != reply.answered_by) {
    fail(n(step.node) + " sent an ok reply whose answering node was not the leader of " +
         t(reply.term) + ": " + proto::describe(reply));
    return;
  }
  const bool relayed = reply.relayed_by != proto::kNoNode;
  if (relayed ? (reply.relayed_by != received_by || reply.answered_by == received_by)
              : reply.answered_by != received_by) {
    fail(n(step.node) + " sent an ok reply with an impossible path: " + proto::describe(reply));
  }
}

void Checker::check_role(const StepContext& step, const core::RoleChanged& change) {
  if (change.term != step.disk.term) {
    fail(n(step.node) + " changed role in " + t(change.term) + " with " + t(step.disk.term) +
         " on disk");
  }
  if (change.role != Role::leader) return;
  check_leader(step.node, change.term);
  if (!tenures_.emplace(step.node, change.term).second) {
    fail(n(step.node) + " became leader of " + t(change.term) +
         " a second time: one tenure per term, or two different logs could hold the same (index, term)");
  }
}

// Rule "quorum": one leader per term, elected by a majority of persisted votes.
void Checker::check_leader(NodeId node, Term term) {
  auto [it, inserted] = leaders_.emplace(term, node);
  if (!inserted) {
    if (it->second != node) {
      fail("two leaders in " + t(term) + ": " + n(it->second) + " and " + n(node));
    }
    return;
  }
  ++stats_.terms_with_leader;
  std::size_t votes = 0;
  for (NodeId voter : members_) {
    auto vote = votes_.find({term, voter});
    votes += vote != votes_.end() && vote->second == node ? 1 : 0;
  }
  if (votes < majority_) {
    fail(n(node) + " became leader of " + t(term) + " with " + std::to_string(votes) +
         " persisted votes; a majority of " + std::to_string(members_.size()) + " is " +
         std::to_string(majority_));
  }
}

void Checker::check_node(const StepContext& step, const core::Node& node) {
  if (node.durable() != step.disk) {
    fail(n(step.node) + " acts on term " + std::to_string(node.durable().term) + " vote " +
         n(node.durable().voted_for) + " that is not on its disk");
  }
  if (node.role() == Role::leader) check_leader(step.node, node.term());
  if (auto broken = node.broken_invariant()) fail(n(step.node) + ": " + *broken);
}

void Checker::on_client_accept(const proto::ClientRequest& request, NodeId sent_to,
                               const proto::ClientReply& reply) {
  ++stats_.accepted;
  const auto what = "client accepted " + proto::describe(reply);
  if (reply.status != Status::ok) fail(what + ": not ok");
  if (reply.received_by != sent_to) fail(what + ": sent to " + n(sent_to));
  if (leader_of(reply.term) != reply.answered_by) {
    fail(what + ": the answering node was not the leader of " + t(reply.term));
    return;
  }
  if (proto::is_read(request.op)) return;
  ++stats_.executions;
  // Rule "nothing acknowledged is lost": the write is the committed entry at
  // the index its reply names, now or when that index commits.
  const RequestKey key{request.client_id, request.request_id};
  auto [ack, inserted] = acknowledged_.emplace(reply.index, key);
  if (!inserted && ack->second != key) {
    fail(what + ": entry " + std::to_string(reply.index) + " was acknowledged to " + ack->second.first + "/" +
         std::to_string(ack->second.second) + " already");
  }
  if (auto it = committed_.find(reply.index); it != committed_.end()) {
    if (it->second.client_id != key.first || it->second.request_id != key.second) {
      fail(what + ": the committed entry " + std::to_string(reply.index) + " is " + it->second.client_id + "/" +
           std::to_string(it->second.request_id));
    }
  }
}

void Checker::end_of_ms(std::uint64_t now_ms) {
  for (const auto& [where, delivery] : deliveries_) {
    if (delivery.deadline_ms < now_ms) {
      fail(n(where.first) + " never answered client route " + where.second + " (" +
           delivery.key.first + "/" + std::to_string(delivery.key.second) + ") by its deadline " +
           std::to_string(delivery.deadline_ms) + " ms");
      return;
    }
  }
}

}  // namespace relay::sim
