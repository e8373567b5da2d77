// Dispatch, time, terms and roles. The election rules are in election.cpp,
// the request path in relay.cpp.
#include "core/node.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace relay::core {

using proto::Role;

Node::Node(Options options, DurableState durable, std::uint64_t seed)
    : Node(std::move(options), Restored{durable, 0, 0, {}, {}}, seed) {}

Node::Node(Options options, Restored restored, std::uint64_t seed)
    : options_(std::move(options)),
      random_(seed),
      durable_(restored.durable),
      log_(restored.snapshot_index, restored.snapshot_term, std::move(restored.entries)),
      machine_(store::Limits{options_.dedup_capacity}) {
  if (!restored.snapshot.empty()) {
    // The shell checked the snapshot's checksum before handing it over.
    auto machine = store::StateMachine::restore(restored.snapshot, store::Limits{options_.dedup_capacity});
    if (auto* loaded = std::get_if<store::StateMachine>(&machine)) machine_ = std::move(*loaded);
    snapshot_ = std::move(restored.snapshot);
    snapshot_index_ = restored.snapshot_index;
    snapshot_term_ = restored.snapshot_term;
  }
  commit_index_ = machine_.applied_index();
  written_index_ = log_.last_index();
  confirmed_written_ = written_index_;
  next_relay_id_ = random_.between(1, std::uint64_t{1} << 48);
  std::sort(options_.members.begin(), options_.members.end());
  checked_term_ = durable_.term;
  checked_vote_ = durable_.voted_for;
  no_candidacy_term_ = durable_.term;
  reset_election_timer();
}

Actions Node::step(const Event& event) {
  out_.clear();
  std::visit(
      [this](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, Tick>) {
          on_tick(e.ticks);
        } else if constexpr (std::is_same_v<E, ElectionMessage>) {
          on_election_message(e.message);
        } else if constexpr (std::is_same_v<E, PeerMessage>) {
          on_peer_message(e.from, e.message, e.route);
        } else if constexpr (std::is_same_v<E, PeerConnection>) {
          on_peer_connection(e);
        } else if constexpr (std::is_same_v<E, Undeliverable>) {
          on_undeliverable(e);
        } else if constexpr (std::is_same_v<E, StorageFailed>) {
          on_storage_failed(e);
        } else {
          on_client_message(e.from, e.message);
        }
      },
      event);
  if (options_.check_invariants) {
    if (auto broken = broken_invariant()) {
      std::fprintf(stderr, "node %u: invariant broken: %s\n", options_.self, broken->c_str());
      std::abort();
    }
    checked_term_ = durable_.term;
    checked_vote_ = durable_.voted_for;
  }
  return std::move(out_);
}

void Node::on_tick(std::uint64_t ticks) {
  if (leader_ == proto::kNoNode) leaderless_ticks_ += ticks;
  now_ += ticks;
  expire_pending();
  expire_waiters();
  on_election_tick();
}

void Node::on_election_message(const proto::Message& message) {
  const auto from = std::visit(
      [](const auto& m) -> NodeId {
        if constexpr (requires { { m.from } -> std::same_as<const NodeId&>; }) {
          return m.from;
        } else {
          return proto::kNoNode;
        }
      },
      message);
  // A term this close to the end of its range could never be followed by
  // another (the next pre-vote would wrap to 0); no honest node gets there.
  const auto term = std::visit(
      [](const auto& m) -> Term {
        if constexpr (requires { m.term; }) {
          return m.term;
        } else {
          return 0;
        }
      },
      message);
  if (term >= kMaxTerm) return;
  if (from != options_.self && is_member(from)) {
    peer_heard_at_[from] = now_;
    disconnected_.erase(from);  // hearing it proves a connection, whatever the event order
  }
  std::visit(
      [this](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, proto::PreVote>) on_pre_vote(m);
        if constexpr (std::is_same_v<M, proto::PreVoteGrant>) on_pre_vote_grant(m);
        if constexpr (std::is_same_v<M, proto::Ballot>) on_ballot(m);
        if constexpr (std::is_same_v<M, proto::Vote>) on_vote(m);
        if constexpr (std::is_same_v<M, proto::Heartbeat>) on_heartbeat(m);
        // Anything else on the election channel is ignored: the shell counts it.
      },
      message);
}

void Node::on_peer_message(NodeId from, const proto::Message& message, const std::string& route) {
  if (!is_member(from) || from == options_.self) return;
  const auto term = std::visit(
      [](const auto& m) -> Term {
        if constexpr (requires { m.term; }) {
          return m.term;
        } else {
          return 0;
        }
      },
      message);
  if (term >= kMaxTerm) return;
  if (const auto* relay = std::get_if<proto::Relay>(&message)) {
    on_relay(from, *relay, route);
  } else if (const auto* reply = std::get_if<proto::RelayReply>(&message)) {
    on_relay_reply(from, *reply);
  } else if (const auto* append = std::get_if<proto::Append>(&message)) {
    on_append(from, *append);
  } else if (const auto* append_reply = std::get_if<proto::AppendReply>(&message)) {
    if (append_reply->from == from) on_append_reply(from, *append_reply, route);
  } else if (const auto* snapshot = std::get_if<proto::Snapshot>(&message)) {
    on_snapshot(from, *snapshot);
  } else if (const auto* snapshot_reply = std::get_if<proto::SnapshotReply>(&message)) {
    if (snapshot_reply->from == from) on_snapshot_reply(from, *snapshot_reply, route);
  }
}

void Node::on_client_message(const ClientAddress& from, const proto::Message& message) {
  if (const auto* request = std::get_if<proto::ClientRequest>(&message)) {
    on_client_request(from, *request);
  } else if (const auto* status_request = std::get_if<proto::StatusRequest>(&message)) {
    out_.push_back(ReplyToClient{from, status(status_request->request_id)});
  } else {
    proto::ClientReply reply;
    reply.status = proto::Status::bad_request;
    reply.received_by = options_.self;
    reply.term = durable_.term;
    reply.leader_hint = leader_;
    reply.message = "expected client_request or status_request";
    out_.push_back(ReplyToClient{from, std::move(reply)});
  }
}

// Rule "fast failure detection": the leader's connection closed, so its
// process is most likely gone. Stop believing in it now and ask for a new
// term after a short random pause (so that the followers do not all ask at
// the same instant). The others grant only if they lost it too.
void Node::on_peer_connection(const PeerConnection& event) {
  if (!is_member(event.peer) || event.peer == options_.self) return;
  if (event.connected) {
    disconnected_.erase(event.peer);
    return;
  }
  disconnected_.insert(event.peer);
  maybe_vote();
  if (event.peer != leader_ || role_ == Role::leader) return;
  set_leader(proto::kNoNode);
  abandon_relays_to(event.peer);  // its process is gone, and its answers with it
  election_deadline_ = now_ + random_.between(0, options_.heartbeat_ticks);
}

// Moves to a higher term as a follower with no vote and no known leader. The
// new term is on disk before anything else this step produces.
void Node::adopt_term(Term term, const char* reason) {
  if (term <= durable_.term) return;
  enter_term(term);
  change_role(Role::follower, reason);
}

// The bookkeeping of a new term, without announcing a role.
void Node::enter_term(Term term) {
  if (role_ == Role::leader) stop_leading("a newer term began");
  persist({term, proto::kNoNode});
  pre_vote_grants_.clear();
  ballots_.clear();
  votes_for_me_.clear();
  set_leader(proto::kNoNode);
  role_ = Role::follower;
}

void Node::persist(DurableState state) {
  durable_ = state;
  out_.push_back(Persist{state});
}

void Node::become_follower(NodeId leader, const char* reason) {
  set_leader(leader);
  leader_heard_at_ = now_;
  reset_election_timer();
  change_role(Role::follower, reason);
  last_append_at_ = 0;
  say_hello();
  dispatch_pending();
}

void Node::become_leader() {
  set_leader(options_.self);
  leader_since_ = now_;
  no_candidacy_term_ = durable_.term;
  start_leading();
  change_role(Role::leader, "won the election");
  next_heartbeat_at_ = now_;  // announce at once: followers are waiting
  publish_own_state();
  write_proposals();
  heartbeat_followers();
  advance_commit();  // a cluster of one commits at once
  dispatch_pending();
}

Actions Node::confirm_writes() {
  out_.clear();
  if (confirmed_written_ < written_index_) {
    confirmed_written_ = written_index_;
    advance_commit();
  }
  return std::move(out_);
}

void Node::set_leader(NodeId leader) {
  if (leader == leader_) return;
  if (leader != proto::kNoNode) ++leader_changes_;
  leader_ = leader;
}

void Node::change_role(Role role, const char* reason) {
  role_ = role;
  out_.push_back(RoleChanged{role_, durable_.term, leader_, reason});
}

void Node::reset_election_timer() {
  const auto timeout = options_.election_timeout_ticks;
  election_deadline_ = now_ + random_.between(timeout, 2 * timeout);
}

// True while this node has reason to believe a leader is serving: it is that
// leader, or it heard the leader within the (minimum) election timeout. Such a
// node refuses to help start a new term.
bool Node::leader_is_alive() const {
  if (role_ == Role::leader) return true;
  return leader_ != proto::kNoNode && now_ - leader_heard_at_ < options_.election_timeout_ticks;
}

// A peer is live while its election connection is open and it has been
// heard within an election timeout. Every node publishes a heartbeat each
// interval, so silence that long means it is frozen, cut off or gone.
bool Node::is_live(NodeId peer) const { return !disconnected_.contains(peer) && heard_recently(peer); }

bool Node::heard_recently(NodeId peer) const {
  if (peer == options_.self) return true;
  const auto heard = peer_heard_at_.find(peer);
  return heard != peer_heard_at_.end() && now_ - heard->second < options_.election_timeout_ticks;
}

bool Node::is_member(NodeId id) const {
  return std::binary_search(options_.members.begin(), options_.members.end(), id);
}

}  // namespace relay::core
