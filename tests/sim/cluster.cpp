#include "sim/cluster.hpp"

#include <algorithm>
#include <cstdio>
#include <type_traits>
#include <variant>

#include "proto/describe.hpp"

namespace relay::sim {
namespace {

std::string n(NodeId id) { return "n" + std::to_string(id); }

std::string describe_event(const core::Event& event) {
  return std::visit(
      [](const auto& e) -> std::string {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, core::Tick>) {
          return "tick";
        } else if constexpr (std::is_same_v<E, core::ElectionMessage>) {
          return "<- election " + proto::describe(e.message);
        } else if constexpr (std::is_same_v<E, core::PeerMessage>) {
          return "<- peer n" + std::to_string(e.from) + " " + proto::describe(e.message);
        } else if constexpr (std::is_same_v<E, core::ClientMessage>) {
          return "<- client " + e.from.route + " " + proto::describe(e.message);
        } else if constexpr (std::is_same_v<E, core::PeerConnection>) {
          return "<- connection to n" + std::to_string(e.peer) + (e.connected ? " up" : " closed");
        } else if constexpr (std::is_same_v<E, core::Undeliverable>) {
          return "<- undeliverable to n" + std::to_string(e.to) + " " + proto::describe(e.message);
        } else {
          return "<- storage failed: " + e.reason;
        }
      },
      event);
}

}  // namespace

// ---- Trace ----

void Trace::line(std::uint64_t now_ms, std::string text) {
  char stamp[24];
  std::snprintf(stamp, sizeof stamp, "%8llu ms ", static_cast<unsigned long long>(now_ms));
  text.insert(0, stamp);
  if (print_all_) std::printf("%s\n", text.c_str());
  if (keep_lines_ == 0) return;
  if (lines_.size() == keep_lines_) lines_.pop_front();
  lines_.push_back(std::move(text));
}

void Trace::dump_tail() const {
  for (const auto& text : lines_) std::printf("%s\n", text.c_str());
}

// ---- Cluster: nodes ----

Cluster::Cluster(const ClusterConfig& config, core::Random& random, Trace& trace, Checker& checker)
    : config_(config),
      random_(random),
      trace_(trace),
      checker_(checker),
      members_([&] {
        std::vector<NodeId> ids;
        for (std::size_t i = 1; i <= config.nodes; ++i) ids.push_back(static_cast<NodeId>(i));
        return ids;
      }()),
      network_(members_, random) {
  for (NodeId id : members_) {
    slots_.push_back(Slot{id, nullptr, {}, {}, {}, false});
    boot(slots_.back());
  }
  for (std::size_t i = 0; i < config.clients; ++i) {
    Client client;
    client.id = "c" + std::to_string(i + 1);
    client.address = kFirstClientAddress + static_cast<NodeId>(i);
    clients_.push_back(std::move(client));
  }
}

Cluster::Slot& Cluster::slot(NodeId node) { return slots_.at(node - 1); }

void Cluster::boot(Slot& s) {
  core::Options options;
  options.self = s.id;
  options.members = members_;
  options.heartbeat_ticks = config_.timing.heartbeat_ms;
  options.election_timeout_ticks = config_.timing.election_timeout_ms;
  options.request_timeout_ticks = config_.timing.request_timeout_ms;
  options.max_pending = 64;  // small enough that the bound is exercised
  options.max_in_flight = 1 + random_.between(0, 4);
  options.max_append_bytes = 64 + random_.between(0, 512);  // a few entries per append
  options.snapshot_bytes = 2048 + random_.between(0, 4096);  // snapshots happen in every run
  options.snapshot_chunk_bytes = 256;
  options.check_invariants = true;
  const auto seed = random_.next();
  core::Restored restored;
  restored.durable = s.disk.state;
  restored.snapshot_index = s.disk.snapshot_index;
  restored.snapshot_term = s.disk.snapshot_term;
  restored.snapshot = s.disk.snapshot;
  restored.entries = s.disk.log;
  s.node = std::make_unique<core::Node>(options, std::move(restored), seed);
  s.crash_mid_step = false;
  s.unsynced.clear();
  s.outbox.clear();
  checker_.on_boot(s.id, s.disk.state);
  trace(n(s.id) + " boots: term=" + std::to_string(s.disk.state.term) +
        " voted_for=" + std::to_string(s.disk.state.voted_for) + " log=" +
        std::to_string(s.disk.snapshot_index) + "+" + std::to_string(s.disk.log.size()));
  announce_connections(s.id, true);
}

// A process that starts connects to every live peer and they to it; one that
// dies closes those connections. Each side's monitor reports it a little later.
void Cluster::announce_connections(NodeId node, bool connected) {
  const auto delay_ms = [&] { return now_ms_ + random_.between(0, config_.timing.heartbeat_ms / 5 + 1); };
  for (const auto& peer : slots_) {
    if (peer.id == node || !peer.node) continue;
    schedule_connection_event(delay_ms(), peer.id, node, connected);
    if (connected) schedule_connection_event(delay_ms(), node, peer.id, true);
  }
}

void Cluster::hint_connection(NodeId node, NodeId peer, bool connected) {
  schedule_connection_event(now_ms_, node, peer, connected);
}

void Cluster::schedule_connection_event(std::uint64_t at_ms, NodeId node, NodeId peer, bool connected) {
  auto& last_ms = last_connection_event_ms_[{node, peer}];
  last_ms = std::max(last_ms, at_ms);
  connection_events_.push_back({last_ms, node, peer, connected});
}

void Cluster::deliver_connection_events() {
  std::vector<ConnectionEvent> due;
  std::erase_if(connection_events_, [&](const ConnectionEvent& e) {
    if (e.at_ms > now_ms_) return false;
    due.push_back(e);
    return true;
  });
  for (const auto& e : due) {
    auto& s = slot(e.node);
    if (s.node) step(s, core::PeerConnection{e.peer, e.connected});
  }
}

void Cluster::crash(NodeId node, bool mid_step) {
  auto& s = slot(node);
  if (!s.node) return;
  if (mid_step) {
    s.crash_mid_step = true;
    return;
  }
  // What was written but not synced survives in part: a prefix of the
  // writes, the last of them possibly torn (a prefix of its entries).
  const auto kept = random_.between(0, s.unsynced.size() + 1);
  for (std::size_t i = 0; i < kept; ++i) {
    const bool last = i + 1 == kept;
    write(s, s.unsynced[i], last ? random_.between(0, 1 << 20) : SIZE_MAX);
  }
  s.unsynced.clear();
  s.outbox.clear();
  s.node.reset();
  checker_.on_crash(node);
  trace(n(node) + " crashes, keeping " + std::to_string(kept) + " unsynced writes");
  announce_connections(node, false);
}

void Cluster::restart(NodeId node) {
  auto& s = slot(node);
  if (s.node) return;
  boot(s);
}

void Cluster::cancel_mid_step_crashes() {
  for (auto& s : slots_) s.crash_mid_step = false;
}

bool Cluster::is_up(NodeId node) const { return slots_.at(node - 1).node != nullptr; }

const core::Node* Cluster::node(NodeId node) const { return slots_.at(node - 1).node.get(); }

void Cluster::advance_ms() {
  ++now_ms_;
  for (auto& s : slots_) {
    if (s.node) step(s, core::Tick{1});
  }
  deliver_connection_events();
  for (auto& packet : network_.take_due(now_ms_)) deliver(packet);
  for (auto& client : clients_) client_act(client);
  for (auto& s : slots_) {
    if (s.node) end_batch(s);
  }
  checker_.end_of_ms(now_ms_);
}

void Cluster::deliver(Packet& packet) {
  if (packet.to >= kFirstClientAddress) {
    auto& client = clients_.at(packet.to - kFirstClientAddress);
    if (const auto* reply = std::get_if<proto::ClientReply>(&packet.message)) {
      client_receive(client, packet.client.route, *reply);
    }
    return;
  }
  auto& s = slot(packet.to);
  if (!s.node) {
    if (trace_.enabled()) {
      trace(n(packet.to) + " is down, lost from " + n(packet.from) + ": " +
            proto::describe(packet.message));
    }
    return;
  }
  switch (packet.channel) {
    case Channel::election: step(s, core::ElectionMessage{std::move(packet.message)}); break;
    case Channel::peer:  // the route a ROUTER would give the sender's connection
      step(s, core::PeerMessage{packet.from, std::move(packet.message), "route-n" + std::to_string(packet.from)});
      break;
    case Channel::client:
      step(s, core::ClientMessage{std::move(packet.client), std::move(packet.message)});
      break;
  }
}

// One event into one node; the actions are carried out in order. A node due
// to crash mid-step carries out a random prefix of them and then crashes.
void Cluster::step(Slot& s, const core::Event& event) {
  const bool is_tick = std::holds_alternative<core::Tick>(event);
  if (!is_tick && trace_.enabled()) trace(n(s.id) + " " + describe_event(event));
  auto actions = s.node->step(event);
  const bool crashing = s.crash_mid_step;
  if (crashing) {
    const auto keep = random_.between(0, actions.size() + 1);
    actions.erase(actions.begin() + static_cast<std::ptrdiff_t>(keep), actions.end());
  }
  checker_.on_step(now_ms_, *s.node, event, actions, crashing);
  for (const auto& action : actions) carry_out(s, action);
  if (crashing) {
    s.crash_mid_step = false;
    trace(n(s.id) + " crashed in the middle of that step, after " +
          std::to_string(actions.size()) + " actions");
    crash(s.id, false);
  }
}

// The end of a node's batch, as the shell does it once per loop iteration:
// the core's flush, one sync of every write, then the messages that waited.
void Cluster::end_batch(Slot& s) {
  auto actions = s.node->flush();
  checker_.on_step(now_ms_, *s.node, core::Tick{0}, actions, false);
  for (const auto& action : actions) carry_out(s, action);
  sync(s);
  // The writes were carried out: the leader may count its own copy now.
  if (s.node && s.node->awaiting_own_write()) {
    auto confirmed = s.node->confirm_writes();
    checker_.on_step(now_ms_, *s.node, core::Tick{0}, confirmed, false);
    for (const auto& action : confirmed) carry_out(s, action);
    end_batch(s);
  }
}

void Cluster::sync(Slot& s) {
  for (const auto& action : s.unsynced) write(s, action, SIZE_MAX);
  s.unsynced.clear();
  auto outbox = std::move(s.outbox);
  s.outbox.clear();
  for (const auto& action : outbox) send(s, action);
}

// Applies one log write to the disk; `keep_entries` cuts an append short (a torn write).
void Cluster::write(Slot& s, const core::Action& action, std::size_t keep_entries) {
  auto& disk = s.disk;
  if (const auto* append = std::get_if<core::AppendLog>(&action)) {
    for (std::size_t i = 0; i < append->entries.size() && i < keep_entries; ++i) {
      const auto& entry = append->entries[i];
      const auto expected = disk.log.empty() ? disk.snapshot_index + 1 : disk.log.back().index + 1;
      if (entry.index != expected) {
        checker_.report(n(s.id) + " wrote entry " + std::to_string(entry.index) + " where its disk expects " +
                        std::to_string(expected));
        return;
      }
      disk.log.push_back(entry);
    }
  } else if (const auto* truncate = std::get_if<core::TruncateLog>(&action)) {
    std::vector<proto::Entry> removed;
    while (!disk.log.empty() && disk.log.back().index >= truncate->from) {
      removed.push_back(disk.log.back());
      disk.log.pop_back();
    }
    checker_.on_disk_truncate(s.id, removed);
  } else if (const auto* snapshot = std::get_if<core::SaveSnapshot>(&action)) {
    if (snapshot->replace_log) {
      std::vector<proto::Entry> removed;
      for (const auto& entry : disk.log) {
        if (entry.index > snapshot->last_index) removed.push_back(entry);
      }
      checker_.on_disk_truncate(s.id, removed);
      disk.log.clear();
    }
    std::erase_if(disk.log, [&](const proto::Entry& e) { return e.index <= snapshot->last_index; });
    disk.snapshot_index = snapshot->last_index;
    disk.snapshot_term = snapshot->last_term;
    disk.snapshot = snapshot->data;
  }
}

// Term and vote are written at once; log writes wait for the batch's sync,
// and so does every message that follows one.
void Cluster::carry_out(Slot& s, const core::Action& action) {
  if (const auto* persist = std::get_if<core::Persist>(&action)) {
    s.disk.state = persist->state;
    if (trace_.enabled()) {
      trace(n(s.id) + " persists term=" + std::to_string(persist->state.term) +
            " voted_for=" + std::to_string(persist->state.voted_for));
    }
    return;
  }
  if (std::holds_alternative<core::AppendLog>(action) || std::holds_alternative<core::TruncateLog>(action) ||
      std::holds_alternative<core::SaveSnapshot>(action)) {
    if (trace_.enabled()) {
      if (const auto* append = std::get_if<core::AppendLog>(&action)) {
        trace(n(s.id) + " writes entries " + std::to_string(append->entries.front().index) + ".." +
              std::to_string(append->entries.back().index));
      } else if (const auto* truncate = std::get_if<core::TruncateLog>(&action)) {
        trace(n(s.id) + " truncates its log from " + std::to_string(truncate->from));
      } else {
        trace(n(s.id) + " saves a snapshot at " + std::to_string(std::get<core::SaveSnapshot>(action).last_index));
      }
    }
    s.unsynced.push_back(action);
    return;
  }
  // A leader's appends say nothing about its own disk: they leave at once,
  // before the leader's sync, as in the shell.
  const auto* to_peer = std::get_if<core::ReplyToPeer>(&action);
  const bool replication = to_peer != nullptr && (std::holds_alternative<proto::Append>(to_peer->message) ||
                                                   std::holds_alternative<proto::Snapshot>(to_peer->message));
  if (!s.unsynced.empty() && !std::holds_alternative<core::RoleChanged>(action) && !replication) {
    s.outbox.push_back(action);
    return;
  }
  send(s, action);
}

void Cluster::send(Slot& s, const core::Action& action) {
  const bool tracing = trace_.enabled();
  std::visit(
      [&](const auto& a) {
        using A = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<A, core::Persist> || std::is_same_v<A, core::AppendLog> ||
                      std::is_same_v<A, core::TruncateLog> || std::is_same_v<A, core::SaveSnapshot>) {
          // storage: carry_out handles it
        } else if constexpr (std::is_same_v<A, core::Publish>) {
          if (tracing) trace(n(s.id) + " -> all " + proto::describe(a.message));
          network_.broadcast(now_ms_, s.id, a.message);
        } else if constexpr (std::is_same_v<A, core::SendToPeer> ||
                             std::is_same_v<A, core::ReplyToPeer>) {
          if (tracing) trace(n(s.id) + " -> " + n(a.to) + " " + proto::describe(a.message));
          network_.send(now_ms_, s.id, a.to, Channel::peer, a.message);
        } else if constexpr (std::is_same_v<A, core::ReplyToClient>) {
          if (tracing) trace(n(s.id) + " -> client " + a.to.route + " " + proto::describe(a.message));
          // Routes are "c<k>/r<request>/a<attempt>"; client k has address kFirstClientAddress + k - 1.
          const auto k = std::stoul(a.to.route.substr(1));
          network_.send(now_ms_, s.id, kFirstClientAddress + static_cast<NodeId>(k - 1),
                        Channel::client, a.message, a.to);
        } else if constexpr (std::is_same_v<A, core::RoleChanged>) {
          if (tracing) {
            trace(n(s.id) + " is " + proto::to_string(a.role) + " term=" + std::to_string(a.term) +
                  " leader=" + std::to_string(a.leader) + " (" + a.reason + ")");
          }
        }
      },
      action);
}

std::optional<NodeId> Cluster::agreed_leader() const {
  std::optional<NodeId> leader;
  std::optional<Term> term;
  for (const auto& s : slots_) {
    if (!s.node || s.node->leader() == proto::kNoNode) return std::nullopt;
    if (leader && (*leader != s.node->leader() || *term != s.node->term())) return std::nullopt;
    leader = s.node->leader();
    term = s.node->term();
  }
  if (!leader || slots_.at(*leader - 1).node->role() != proto::Role::leader) return std::nullopt;
  return leader;
}

std::string Cluster::describe_nodes() const {
  std::string text;
  for (const auto& s : slots_) {
    if (!text.empty()) text += ", ";
    if (!s.node) {
      text += n(s.id) + " down";
      continue;
    }
    text += n(s.id) + " " + proto::to_string(s.node->role()) + " term=" +
            std::to_string(s.node->term()) + " leader=" + std::to_string(s.node->leader()) +
            " pending=" + std::to_string(s.node->pending()) + " log=" +
            std::to_string(s.node->log().last_index()) + " commit=" + std::to_string(s.node->commit_index());
  }
  return text;
}

void Cluster::trace(const std::string& text) { trace_.line(now_ms_, text); }

// ---- Cluster: clients ----

NodeId Cluster::random_node(NodeId other_than) {
  if (members_.size() == 1) return members_.front();
  NodeId node;
  do {
    node = members_.at(random_.between(0, members_.size()));
  } while (node == other_than);
  return node;
}

// A random operation on three keys and the stream; values are unique, so
// the linearizability check can tell every write apart.
proto::ClientRequest Cluster::next_request(const Client& client) {
  static const char* const kKeys[] = {"x", "y", "z"};
  proto::ClientRequest request;
  request.client_id = client.id;
  request.request_id = client.request_id;
  request.key = kKeys[random_.between(0, 3)];
  const auto unique = client.id + "#" + std::to_string(client.request_id);
  switch (random_.between(0, 7)) {
    case 0: request.op = proto::Op::put; request.value = unique; break;
    case 1: request.op = proto::Op::get; break;
    case 2: request.op = proto::Op::del; break;
    case 3:
      request.op = proto::Op::cas;
      request.expected = last_values_.count(request.key) ? last_values_[request.key] : "none";
      request.value = unique;
      break;
    case 4: request.op = proto::Op::append; request.key.clear(); request.value = unique; break;
    case 5:
      request.op = proto::Op::read;
      request.key.clear();
      request.from = 1 + random_.between(0, 4);
      request.count = static_cast<std::uint32_t>(random_.between(0, 4));
      break;
    default: request.op = proto::Op::put; request.value = unique; break;
  }
  return request;
}

void Cluster::record(const Client& client, check::Operation::Outcome outcome, const proto::ClientReply* reply) {
  check::Operation op;
  op.id = history_.size() + 1;
  op.client = client.id + "/" + std::to_string(client.request_id);
  op.op = client.request.op;
  op.key = client.request.key;
  op.value = client.request.value;
  op.expected = client.request.expected;
  op.from = client.request.from;
  op.count = client.request.count;
  op.invoked_at = client.invoked_ms;
  op.completed_at = now_ms_;
  op.outcome = outcome;
  if (reply != nullptr) {
    op.found = reply->found;
    op.result_value = reply->value;
    op.position = reply->position;
    op.values = reply->values;
  }
  history_.push_back(std::move(op));
}

void Cluster::finish_history() {
  for (auto& client : clients_) {
    if (client.busy) record(client, check::Operation::Outcome::unknown, nullptr);
    client.busy = false;
  }
}

// How long a client waits for an answer before it tries another node: the
// request's own deadline, plus the trip there and back.
std::uint64_t Cluster::client_wait_ms(const Client& client) const {
  const auto timeout_ms =
      client.timeout_ms != 0 ? std::uint64_t{client.timeout_ms} : config_.timing.request_timeout_ms;
  return timeout_ms + 2 * network_.faults().max_delay_ms + 2;
}

void Cluster::client_act(Client& client) {
  if (!client.busy) {
    if (!clients_active_ || now_ms_ < client.idle_until_ms) return;
    client.busy = true;
    ++client.request_id;
    ++client_stats_.requests;
    client.attempt = 0;
    client.sent_to.clear();
    // Half the requests use the node's default deadline, the others their own.
    const auto election_ms = config_.timing.election_timeout_ms;
    const std::uint64_t choices[] = {0, 0, 2 * election_ms, 4 * election_ms};
    client.timeout_ms = static_cast<std::uint32_t>(choices[random_.between(0, 4)]);
    client.request = next_request(client);
    client.request.timeout_ms = client.timeout_ms;
    client.invoked_ms = now_ms_;
    client_send(client, random_node(proto::kNoNode));
  } else if (now_ms_ >= client.retry_at_ms) {
    trace("client " + client.id + " retries request " + std::to_string(client.request_id));
    client_send(client, random_node(client.last_node));
  }
}

void Cluster::client_send(Client& client, NodeId node) {
  ++client.attempt;
  ++client_stats_.attempts;
  client.last_route = client.id + "/r" + std::to_string(client.request_id) + "/a" +
                      std::to_string(client.attempt);
  client.last_node = node;
  client.sent_to[client.last_route] = node;
  client.retry_at_ms = now_ms_ + client_wait_ms(client);
  network_.send(now_ms_, client.address, node, Channel::client, client.request,
                core::ClientAddress{client.last_route, false});
}

void Cluster::client_receive(Client& client, const std::string& route,
                             const proto::ClientReply& reply) {
  if (trace_.enabled()) trace("client " + route + " <- " + proto::describe(reply));
  const bool current = client.busy && reply.client_id == client.id &&
                       reply.request_id == client.request_id;
  if (!current) return;  // an answer to a request already accepted
  if (reply.status == proto::Status::ok) {
    checker_.on_client_accept(client.request, client.sent_to.at(route), reply);
    record(client, check::Operation::Outcome::ok, &reply);
    if (client.request.op == proto::Op::put || (client.request.op == proto::Op::cas && reply.found)) {
      last_values_[client.request.key] = client.request.value;
    }
    ++client_stats_.accepted;
    client.busy = false;
    client.idle_until_ms = now_ms_ + random_.between(0, 2 * config_.timing.heartbeat_ms);
    return;
  }
  // Every other status is retryable: try another node soon, but only once
  // per attempt (a late refusal of an older attempt changes nothing).
  if (route == client.last_route) {
    client.retry_at_ms = now_ms_ + random_.between(1, config_.timing.heartbeat_ms + 1);
  }
}

bool Cluster::clients_idle() const {
  return std::none_of(clients_.begin(), clients_.end(), [](const Client& c) { return c.busy; });
}

std::string Cluster::describe_busy_clients() const {
  std::string text;
  for (const auto& client : clients_) {
    if (!client.busy) continue;
    if (!text.empty()) text += ", ";
    text += client.last_route + " (to " + n(client.last_node) + ", retry at " +
            std::to_string(client.retry_at_ms) + " ms)";
  }
  return text.empty() ? "none" : text;
}

}  // namespace relay::sim
