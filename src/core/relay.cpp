// The request path: a client request is executed by the leader, or relayed
// by a follower to the leader it knows (one hop, never more), or held until a
// leader is known. Every request gets exactly one reply from the node that
// received it, before its deadline or at it.
#include <algorithm>

#include "core/node.hpp"

namespace relay::core {

using proto::Role;
using proto::Status;


void Node::on_client_request(const ClientAddress& from, const proto::ClientRequest& request) {
  ++requests_;
  const auto timeout = request.timeout_ms != 0 ? request.timeout_ms : options_.request_timeout_ticks;
  if (role_ == Role::leader) {
    serve(Origin{from, proto::kNoNode, {}, 0}, request, now_ + timeout);
    return;
  }
  if (pending_.size() >= options_.max_pending ||
      pending_bytes_ + request_bytes(request) > options_.max_pending_bytes) {
    reply_to_client(from, refusal(request, Status::overloaded, "too many requests waiting"));
    return;
  }
  const auto relay_id = next_relay_id_++;
  auto& pending = pending_[relay_id];
  pending = Pending{from, request, now_ + timeout, proto::kNoNode};
  pending_bytes_ += request_bytes(request);
  dispatch(relay_id, pending);
}

// Sends a held request on to the leader this node knows, or executes it if
// this node has become the leader meanwhile. Without a leader it stays held.
void Node::dispatch(std::uint64_t relay_id, Pending& pending) {
  if (leader_ == proto::kNoNode || pending.sent_to == leader_) return;
  if (leader_ == options_.self) {
    auto request = std::move(pending.request);
    auto client = std::move(pending.client);
    const auto deadline = pending.deadline;
    pending_bytes_ -= request_bytes(request);
    pending_.erase(relay_id);
    serve(Origin{std::move(client), proto::kNoNode, {}, 0}, request, deadline);
    return;
  }
  pending.sent_to = leader_;
  ++relayed_;
  const auto remaining = static_cast<std::uint32_t>(pending.deadline - now_);
  out_.push_back(SendToPeer{leader_, proto::Relay{options_.self, relay_id, remaining, pending.request}});
}

// Rule "relay across leader changes": when a new leader becomes known, every
// held request goes to it, including those relayed to the former leader and
// not answered: the exactly-once table is part of the replicated state, so a
// request that did commit under the former leader is not applied again.
void Node::dispatch_pending() {
  abandon_relays_to_former_leader();
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto current = it++;  // dispatch may erase `current`
    dispatch(current->first, current->second);
  }
}

void Node::abandon_relays_to_former_leader() {
  if (leader_ == proto::kNoNode) return;  // no new leader yet: the old one may still answer
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto current = it++;
    const auto sent_to = current->second.sent_to;
    if (sent_to != proto::kNoNode && sent_to != leader_) abandon(current->first);
  }
}

void Node::abandon_relays_to(NodeId peer) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto current = it++;
    if (current->second.sent_to == peer) abandon(current->first);
  }
}

void Node::abandon(std::uint64_t relay_id) { pending_.at(relay_id).sent_to = proto::kNoNode; }

// A relay that never left this node is held again; the next heartbeat round
// (or a new leader) sends it once more.
void Node::on_undeliverable(const Undeliverable& event) {
  const auto* relay = std::get_if<proto::Relay>(&event.message);
  if (relay == nullptr) return;
  auto it = pending_.find(relay->relay_id);
  if (it != pending_.end() && it->second.sent_to == event.to) it->second.sent_to = proto::kNoNode;
}

// The leader's side of a relay. A relay that reaches a node that is not the
// leader is refused with a hint, never forwarded a second time.
void Node::on_relay(NodeId from, const proto::Relay& relay, const std::string& route) {
  Origin origin{{}, from, route, relay.relay_id};
  if (auto it = progress_.find(from); it != progress_.end()) it->second.route = route;
  if (role_ != Role::leader) {
    answer(origin, refusal(relay.request, Status::not_leader, "not the leader"));
  } else if (relay.remaining_ms == 0) {
    answer(origin, refusal(relay.request, Status::timeout, "deadline passed before the leader got it"));
  } else {
    serve(std::move(origin), relay.request, now_ + relay.remaining_ms);
  }
}

void Node::on_relay_reply(NodeId from, const proto::RelayReply& message) {
  auto it = pending_.find(message.relay_id);
  if (it == pending_.end() || it->second.sent_to != from) return;  // answered already
  const auto& request = it->second.request;
  if (message.reply.client_id != request.client_id || message.reply.request_id != request.request_id) {
    return;  // not the answer to this request: never hand a client someone else's reply
  }
  auto& pending = it->second;
  if (message.reply.status == Status::not_leader) {
    // The node we took for leader is not (any more). Hold the request until
    // heartbeats name the next leader; never trust a hint enough to forward.
    pending.sent_to = proto::kNoNode;
    if (leader_ == from) set_leader(proto::kNoNode);
    return;
  }
  answer_pending(it->first, message.reply);
}

// Answers every held request whose deadline has come: "unavailable" if no
// leader ever took it, "timeout" if one did but did not answer in time.
void Node::expire_pending() {
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto current = it++;
    if (current->second.deadline > now_) continue;
    const bool sent = current->second.sent_to != proto::kNoNode;
    const char* reason = sent ? "the leader did not answer in time"
                         : leader_ != proto::kNoNode ? "the leader could not be reached in time"
                                                     : "no leader known in time";
    auto reply = refusal(current->second.request, sent ? Status::timeout : Status::unavailable, reason);
    answer_pending(current->first, std::move(reply));
  }
}

Actions Node::shut_down() {
  out_.clear();
  if (role_ == Role::leader) stop_leading("shutting down");
  while (!pending_.empty()) {
    const auto& [relay_id, pending] = *pending_.begin();
    answer_pending(relay_id, refusal(pending.request, Status::unavailable, "the node is shutting down"));
  }
  return std::move(out_);
}

void Node::answer_pending(std::uint64_t relay_id, proto::ClientReply reply) {
  auto it = pending_.find(relay_id);
  if (it == pending_.end()) return;
  auto client = std::move(it->second.client);
  if (it->second.sent_to != proto::kNoNode) reply.relayed_by = options_.self;
  pending_bytes_ -= request_bytes(it->second.request);
  pending_.erase(it);
  reply_to_client(client, std::move(reply));
}

proto::ClientReply Node::refusal(const proto::ClientRequest& request, Status status,
                                 std::string reason) const {
  proto::ClientReply reply;
  reply.client_id = request.client_id;
  reply.request_id = request.request_id;
  reply.status = status;
  reply.received_by = options_.self;
  reply.term = durable_.term;
  reply.leader_hint = leader_;
  reply.message = std::move(reason);
  return reply;
}

// Every reply to a client says which node received the request.
void Node::reply_to_client(const ClientAddress& to, proto::ClientReply reply) {
  reply.received_by = options_.self;
  out_.push_back(ReplyToClient{to, std::move(reply)});
}

proto::StatusReply Node::status(std::uint64_t request_id) const {
  proto::StatusReply s;
  s.request_id = request_id;
  s.id = options_.self;
  s.role = role_;
  s.term = durable_.term;
  s.leader = leader_;
  s.voted_for = durable_.voted_for;
  s.elections = elections_;
  s.leader_changes = leader_changes_;
  s.leaderless_ms = leaderless_ticks_;
  s.heartbeat_age_ms = role_ == Role::leader || leader_ == proto::kNoNode ? 0 : now_ - leader_heard_at_;
  s.requests = requests_;
  s.relayed = relayed_;
  s.executed = executed_;
  s.pending = pending_.size();
  s.last_index = log_.last_index();
  s.commit_index = commit_index_;
  s.applied_index = machine_.applied_index();
  return s;
}

}  // namespace relay::core
