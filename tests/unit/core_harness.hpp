// A small harness for driving core::Node by hand in unit tests: make events,
// step a node, find the actions of a kind in what it returned, and carry peer
// messages between a few nodes.
//
// Every test builds its Drivers with a fixed seed, so a failing test fails the
// same way every time. A Driver keeps the actions of the last step; the free
// functions below pick actions and messages out of any action list.
//
// A Driver ends every step with Node::flush(), as a shell that reads one event
// per loop iteration would (set `auto_flush` to false to batch by hand): the
// leader writes and sends what it took in only at a flush.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
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
using proto::Op;
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

// The routing id under which node `peer`'s DEALER connection shows up at
// another node's peer ROUTER (what the shell would put in PeerMessage::route).
inline std::string route_of(NodeId peer) { return "r" + std::to_string(peer); }

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

// The appends a leader sent to `peer` (through its peer ROUTER), in order.
inline std::vector<proto::Append> appends_to(const Actions& actions, NodeId peer) {
  std::vector<proto::Append> found;
  for (const auto& reply : all_of<core::ReplyToPeer>(actions)) {
    if (reply.to != peer) continue;
    if (const auto* append = std::get_if<proto::Append>(&reply.message)) found.push_back(*append);
  }
  return found;
}

inline std::vector<proto::Snapshot> snapshots_to(const Actions& actions, NodeId peer) {
  std::vector<proto::Snapshot> found;
  for (const auto& reply : all_of<core::ReplyToPeer>(actions)) {
    if (reply.to != peer) continue;
    if (const auto* chunk = std::get_if<proto::Snapshot>(&reply.message)) found.push_back(*chunk);
  }
  return found;
}

// Every entry the actions hand to the shell to write, in order.
inline std::vector<proto::Entry> written_entries(const Actions& actions) {
  std::vector<proto::Entry> found;
  for (const auto& append : all_of<core::AppendLog>(actions)) {
    found.insert(found.end(), append.entries.begin(), append.entries.end());
  }
  return found;
}

// ---- making messages ----

// An append to the stream: the plain "send a message" request.
inline proto::ClientRequest request(std::string client_id, std::uint64_t request_id,
                                    std::uint32_t timeout_ms = 0, std::string value = "hello") {
  proto::ClientRequest r;
  r.client_id = std::move(client_id);
  r.request_id = request_id;
  r.timeout_ms = timeout_ms;
  r.op = Op::append;
  r.value = std::move(value);
  return r;
}

inline proto::ClientRequest put(std::string client_id, std::uint64_t request_id, std::string key,
                                std::string value, std::uint32_t timeout_ms = 0) {
  auto r = request(std::move(client_id), request_id, timeout_ms, std::move(value));
  r.op = Op::put;
  r.key = std::move(key);
  return r;
}

inline proto::ClientRequest get(std::string client_id, std::uint64_t request_id, std::string key,
                                std::uint32_t timeout_ms = 0) {
  auto r = request(std::move(client_id), request_id, timeout_ms, "");
  r.op = Op::get;
  r.key = std::move(key);
  return r;
}

inline proto::ClientRequest del(std::string client_id, std::uint64_t request_id, std::string key) {
  auto r = request(std::move(client_id), request_id, 0, "");
  r.op = Op::del;
  r.key = std::move(key);
  return r;
}

inline proto::ClientRequest cas(std::string client_id, std::uint64_t request_id, std::string key,
                                std::string expected, std::string value) {
  auto r = put(std::move(client_id), request_id, std::move(key), std::move(value));
  r.op = Op::cas;
  r.expected = std::move(expected);
  return r;
}

inline proto::ClientRequest read_stream(std::string client_id, std::uint64_t request_id,
                                        std::uint64_t from, std::uint32_t count = 0) {
  auto r = request(std::move(client_id), request_id, 0, "");
  r.op = Op::read;
  r.from = from;
  r.count = count;
  return r;
}

inline proto::Heartbeat leader_heartbeat(Term term, NodeId leader) {
  return proto::Heartbeat{term, leader, Role::leader, leader};
}

inline proto::Heartbeat follower_heartbeat(Term term, NodeId from, NodeId leader) {
  return proto::Heartbeat{term, from, Role::follower, leader};
}

// A log entry of `term` at `index`: a put of "k<index>" unless it is a noop.
inline proto::Entry entry(std::uint64_t index, Term term, Op op = Op::put) {
  proto::Entry e;
  e.index = index;
  e.term = term;
  e.op = op;
  if (op != Op::noop) {
    e.client_id = "old";
    e.request_id = index;
    e.key = "k" + std::to_string(index);
    e.value = "v" + std::to_string(index) + "@" + std::to_string(term);
  }
  return e;
}

// A log whose entry i (from 1) has term terms[i-1].
inline std::vector<proto::Entry> log_of_terms(const std::vector<Term>& terms) {
  std::vector<proto::Entry> entries;
  for (std::size_t i = 0; i < terms.size(); ++i) entries.push_back(entry(i + 1, terms[i]));
  return entries;
}

// ---- driving one node ----

class Driver {
 public:
  Driver(NodeId self, std::size_t cluster_size, DurableState durable = {}, std::uint64_t seed = kSeed)
      : Driver(options(self, cluster_size), durable, seed) {}
  Driver(core::Options o, DurableState durable = {}, std::uint64_t seed = kSeed)
      : cluster_size_(static_cast<NodeId>(o.members.size())), disk(durable), node(std::move(o), durable, seed) {}
  // A node restarted from what its disk holds: term, vote, snapshot and log.
  Driver(core::Options o, core::Restored restored, std::uint64_t seed = kSeed)
      : cluster_size_(static_cast<NodeId>(o.members.size())), disk(restored.durable),
        node(std::move(o), std::move(restored), seed) {}

  // One step, then a flush (unless auto_flush is off); returns (and keeps)
  // the actions of both.
  const Actions& step(const core::Event& event) {
    last = node.step(event);
    if (auto_flush) {
      auto flushed = node.flush();
      last.insert(last.end(), std::make_move_iterator(flushed.begin()), std::make_move_iterator(flushed.end()));
      // As the shell does: the batch's writes were carried out, so the leader
      // may count them (a cluster of one commits here).
      if (node.awaiting_own_write()) {
        auto confirmed = node.confirm_writes();
        last.insert(last.end(), std::make_move_iterator(confirmed.begin()), std::make_move_iterator(confirmed.end()));
        flushed = node.flush();
        last.insert(last.end(), std::make_move_iterator(flushed.begin()), std::make_move_iterator(flushed.end()));
      }
    }
    record(last);
    return last;
  }
  // The end of a batch, for tests that turned auto_flush off.
  const Actions& flush() {
    last = node.flush();
    record(last);
    return last;
  }
  // The shell reports the batch's writes carried out.
  const Actions& confirm() {
    last = node.confirm_writes();
    record(last);
    return last;
  }
  const Actions& tick(std::uint64_t ticks = 1) { return step(core::Tick{ticks}); }
  const Actions& hear(proto::Message message) { return step(core::ElectionMessage{std::move(message)}); }
  // A peer message as the shell hands it over: a message that came to this
  // node's peer ROUTER carries the sender's connection as its route; one that
  // came through this node's DEALER carries none, and the core ignores it.
  const Actions& from_peer(NodeId peer, proto::Message message) {
    return step(core::PeerMessage{peer, std::move(message), route_of(peer)});
  }
  const Actions& from_client(std::string route, proto::Message message) {
    return step(core::ClientMessage{core::ClientAddress{std::move(route), false}, std::move(message)});
  }

  // A follower's hello (an append_reply it sends unasked): how a leader learns
  // the route to `peer`. Its log ends at `last_index`.
  const Actions& hello(NodeId peer, std::uint64_t last_index = 0, std::optional<Term> term = std::nullopt) {
    return from_peer(peer, proto::AppendReply{term.value_or(node.term()), peer, false, last_index, 0});
  }

  // `peer` accepts `append`: it now holds everything up to its last entry.
  const Actions& ack(NodeId peer, const proto::Append& append) {
    const auto last_index = append.prev_index + append.entries.size();
    return from_peer(peer, proto::AppendReply{append.term, peer, true, last_index, append.round});
  }

  // `peer` accepts every append to it in `actions`, in order; returns the
  // actions of all the acks together.
  Actions ack_all(NodeId peer, Actions actions) {
    Actions all;
    for (const auto& append : appends_to(actions, peer)) {
      const auto& out = ack(peer, append);
      all.insert(all.end(), out.begin(), out.end());
    }
    return all;
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

  // The leader of term()+1 whose followers `followers` (default: every other
  // member) said hello with an empty log and acked the noop that opens the
  // term: their routes are known, the noop is committed, nothing is in flight.
  void lead(std::vector<NodeId> followers = {}) {
    become_leader(cluster_size_);
    if (followers.empty()) {
      for (NodeId id = 1; id <= cluster_size_; ++id) {
        if (id != node.id()) followers.push_back(id);
      }
    }
    for (NodeId peer : followers) {
      const auto hello_actions = hello(peer, 0);
      ack_all(peer, hello_actions);
    }
  }

  // Makes this node a follower of `leader` in `term`.
  const Actions& follow(NodeId leader, Term term) { return hear(leader_heartbeat(term, leader)); }

  NodeId cluster_size_;  // members are 1..cluster_size_
  DurableState disk;     // what the node's Persist actions wrote, as a shell would
  core::Node node;
  Actions last;          // the actions of the last step
  std::uint64_t ticked = 0;
  bool auto_flush = true;
  std::vector<core::SaveSnapshot> snapshots_saved;  // every SaveSnapshot, in order

 private:
  void record(const Actions& actions) {
    for (const auto& action : actions) {
      if (const auto* persist = std::get_if<core::Persist>(&action)) disk = persist->state;
      if (const auto* save = std::get_if<core::SaveSnapshot>(&action)) snapshots_saved.push_back(*save);
    }
  }
};

// ---- several nodes ----

// Carries peer messages between Drivers, in order, one at a time: a
// SendToPeer arrives at the receiver's peer ROUTER with the sender's route, a
// ReplyToPeer at the receiver's DEALER. Election messages are not carried
// (tests feed those by hand). `drop` may discard a message on its way.
class Net {
 public:
  void add(Driver& d) { nodes_[d.node.id()] = &d; }

  // Queues the peer messages in `actions` of node `from`, then delivers
  // until nothing is left (or `max_steps`). Returns the messages delivered.
  std::size_t send(NodeId from, const Actions& actions, std::size_t max_steps = 10'000) {
    collect(from, actions);
    return run(max_steps);
  }

  std::size_t run(std::size_t max_steps = 10'000) {
    std::size_t delivered = 0;
    while (!queue_.empty() && delivered < max_steps) {
      auto [from, to, event] = std::move(queue_.front());
      queue_.pop_front();
      auto it = nodes_.find(to);
      if (it == nodes_.end()) continue;
      const auto& message = std::get<core::PeerMessage>(event).message;
      if (drop && drop(from, to, message)) continue;
      ++delivered;
      log.push_back({from, to, message});
      const auto& actions = it->second->step(event);
      trace.push_back({to, actions});
      collect(to, actions);
    }
    return delivered;
  }

  // The messages of type M delivered from `from` to `to`, in order.
  template <typename M>
  std::vector<M> delivered(NodeId from, NodeId to) const {
    std::vector<M> found;
    for (const auto& d : log) {
      if (d.from != from || d.to != to) continue;
      if (const auto* m = std::get_if<M>(&d.message)) found.push_back(*m);
    }
    return found;
  }

  // What node `id` did while the network delivered to it, in order.
  Actions actions_of(NodeId id) const {
    Actions all;
    for (const auto& [node, actions] : trace) {
      if (node == id) all.insert(all.end(), actions.begin(), actions.end());
    }
    return all;
  }

  struct Delivered {
    NodeId from;
    NodeId to;
    proto::Message message;
  };
  std::function<bool(NodeId from, NodeId to, const proto::Message&)> drop;
  std::vector<Delivered> log;                       // every message delivered, in order
  std::vector<std::pair<NodeId, Actions>> trace;    // each delivery's actions at its receiver

 private:
  void collect(NodeId from, const Actions& actions) {
    for (const auto& action : actions) {
      if (const auto* send = std::get_if<core::SendToPeer>(&action)) {
        queue_.push_back({from, send->to, core::PeerMessage{from, send->message, route_of(from)}});
      } else if (const auto* reply = std::get_if<core::ReplyToPeer>(&action)) {
        queue_.push_back({from, reply->to, core::PeerMessage{from, reply->message, {}}});
      }
    }
  }

  struct InFlight {
    NodeId from;
    NodeId to;
    core::Event event;
  };
  std::map<NodeId, Driver*> nodes_;
  std::deque<InFlight> queue_;
};

}  // namespace relay::test
