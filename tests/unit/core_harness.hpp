// A small harness for driving one core::Node by hand in unit tests: make
// events, step the node, and find the actions of a kind in what it returned.
//
// Every test builds a Driver with a fixed seed, so a failing test fails the
// same way every time. The Driver keeps the actions of the last step; the
// free functions below pick actions and messages out of any action list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "core/node.hpp"

namespace relay::test {

using core::Actions;
using core::DurableState;
using proto::NodeId;
using proto::Role;
using proto::Status;
using proto::Term;

inline constexpr std::uint64_t kSeed = 42;
inline constexpr std::uint64_t kHeartbeatTicks = 50;
inline constexpr std::uint64_t kElectionTimeoutTicks = 300;
inline constexpr std::uint64_t kRequestTimeoutTicks = 2000;

// Options of node `self` in a cluster of nodes 1..cluster_size, production timing.
inline core::Options options(NodeId self, std::size_t cluster_size) {
  core::Options o;
  o.self = self;
  for (std::size_t id = 1; id <= cluster_size; ++id) o.members.push_back(static_cast<NodeId>(id));
  o.heartbeat_ticks = kHeartbeatTicks;
  o.election_timeout_ticks = kElectionTimeoutTicks;
  o.request_timeout_ticks = kRequestTimeoutTicks;
  o.check_invariants = true;  // a broken invariant aborts the test binary
  return o;
}

// ---- finding actions ----

// Every action of type A, in order.
template <typename A>
std::vector<A> all_of(const Actions& actions) {
  std::vector<A> found;
  for (const auto& action : actions) {
    if (const auto* a = std::get_if<A>(&action)) found.push_back(*a);
  }
  return found;
}

// The position of the first action of type A (whose message, if any, is an M), or nullopt.
template <typename A, typename M = void>
std::optional<std::size_t> index_of(const Actions& actions) {
  for (std::size_t i = 0; i < actions.size(); ++i) {
    const auto* a = std::get_if<A>(&actions[i]);
    if (a == nullptr) continue;
    if constexpr (std::is_void_v<M>) {
      return i;
    } else if (std::holds_alternative<M>(a->message)) {
      return i;
    }
  }
  return std::nullopt;
}

// The messages of type M carried by actions of type A (Publish, SendToPeer,
// ReplyToPeer, ReplyToClient), in order.
template <typename M, typename A = core::Publish>
std::vector<M> messages(const Actions& actions) {
  std::vector<M> found;
  for (const auto& a : all_of<A>(actions)) {
    if (const auto* m = std::get_if<M>(&a.message)) found.push_back(*m);
  }
  return found;
}

template <typename M>
std::vector<M> published(const Actions& actions) {
  return messages<M, core::Publish>(actions);
}

inline std::vector<proto::ClientReply> client_replies(const Actions& actions) {
  return messages<proto::ClientReply, core::ReplyToClient>(actions);
}

// ---- making messages ----

inline proto::ClientRequest request(std::string client_id, std::uint64_t request_id,
                                    std::uint32_t timeout_ms = 0, std::string payload = "hello") {
  return proto::ClientRequest{std::move(client_id), request_id, timeout_ms, std::move(payload)};
}

inline proto::Heartbeat leader_heartbeat(Term term, NodeId leader) {
  return proto::Heartbeat{term, leader, Role::leader, leader};
}

inline proto::Heartbeat follower_heartbeat(Term term, NodeId from, NodeId leader) {
  return proto::Heartbeat{term, from, Role::follower, leader};
}

// ---- driving one node ----

class Driver {
 public:
  Driver(NodeId self, std::size_t cluster_size, DurableState durable = {}, std::uint64_t seed = kSeed)
      : Driver(options(self, cluster_size), durable, seed) {}
  Driver(core::Options o, DurableState durable = {}, std::uint64_t seed = kSeed)
      : cluster_size_(static_cast<NodeId>(o.members.size())), node(std::move(o), durable, seed) {}

  // One step; returns (and keeps) its actions.
  const Actions& step(const core::Event& event) {
    last = node.step(event);
    for (const auto& action : last) {
      if (const auto* persist = std::get_if<core::Persist>(&action)) disk = persist->state;
    }
    return last;
  }
  const Actions& tick(std::uint64_t ticks = 1) { return step(core::Tick{ticks}); }
  const Actions& hear(proto::Message message) { return step(core::ElectionMessage{std::move(message)}); }
  const Actions& from_peer(NodeId peer, proto::Message message) {
    return step(core::PeerMessage{peer, std::move(message), {}});
  }
  const Actions& from_client(std::string route, proto::Message message) {
    return step(core::ClientMessage{core::ClientAddress{std::move(route), false}, std::move(message)});
  }

  // Ticks one at a time until `done(actions of the tick)` or `max_ticks`
  // passed. Returns the actions of the last tick; `ticked` says how many.
  template <typename Done>
  const Actions& tick_until(Done done, std::uint64_t max_ticks = 10 * kElectionTimeoutTicks) {
    for (ticked = 1; ticked <= max_ticks; ++ticked) {
      if (done(tick())) return last;
    }
    return last;
  }

  // Ticks until this node publishes a PreVote (its leader went silent).
  const Actions& tick_until_pre_vote() {
    return tick_until([](const Actions& a) { return !published<proto::PreVote>(a).empty(); });
  }

  // From a fresh follower to a candidate of term()+1: waits for the pre-vote
  // and feeds the grants of `granters`.
  // Every other member has been heard just now (the healthy case): a
  // candidate then waits for all their ballots.
  void become_candidate(const std::vector<NodeId>& granters) {
    tick_until_pre_vote();
    for (NodeId id = 1; id <= cluster_size_; ++id) {
      if (id != node.id()) hear(follower_heartbeat(node.term(), id, proto::kNoNode));
    }
    const Term proposed = node.term() + 1;
    for (NodeId from : granters) hear(proto::PreVoteGrant{proposed, from, node.id()});
  }

  // From a fresh follower to the leader of term()+1 in a cluster of
  // `cluster_size`: pre-vote, then its own vote after the vote window (it
  // knows only its own ballot), then the votes of the other nodes it needs.
  void become_leader(std::size_t cluster_size) {
    std::vector<NodeId> others;
    for (NodeId id = 1; id <= cluster_size; ++id) {
      if (id != node.id()) others.push_back(id);
    }
    const std::size_t majority = cluster_size / 2 + 1;
    become_candidate({others.begin(), others.begin() + static_cast<std::ptrdiff_t>(majority - 1)});
    tick_until([](const Actions& a) { return !published<proto::Vote>(a).empty(); });
    for (std::size_t i = 0; node.role() != Role::leader && i < others.size(); ++i) {
      hear(proto::Vote{node.term(), others[i], node.id()});
    }
  }

  // Makes this node a follower of `leader` in `term`.
  const Actions& follow(NodeId leader, Term term) { return hear(leader_heartbeat(term, leader)); }

  NodeId cluster_size_;  // members are 1..cluster_size_
  core::Node node;
  Actions last;        // the actions of the last step
  DurableState disk;   // what the node's Persist actions wrote, as a shell would
  std::uint64_t ticked = 0;
};

}  // namespace relay::test
