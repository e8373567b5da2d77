// The second half of NodeLoop: carrying out the core's actions, and the
// traffic tap. The first half (node_loop.cpp) sets up the sockets and turns
// what arrives into events.
#include <spdlog/spdlog.h>

#include <chrono>

#include "proto/codec.hpp"
#include "proto/describe.hpp"
#include "transport/framing.hpp"
#include "transport/node_loop.hpp"

namespace relay::transport {

namespace {

std::uint64_t wall_clock_us() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
      duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace

void NodeLoop::step(const core::Event& event) {
  // The core learns how much time passed before every event, not only once
  // per poll: a process frozen in the middle of a batch of requests (SIGSTOP,
  // a stalled VM) must see the pause before it handles the rest of the batch.
  const bool failure = std::holds_alternative<core::StorageFailed>(event);
  if (!std::holds_alternative<core::Tick>(event) && !failure) advance_time();
  write_failed_ = false;
  auto actions = node_.step(event);
  if (failure) --unreported_failures_;  // the core has heard it
  for (const auto& action : actions) {
    if (fatal_.empty()) {
      carry_out(action);
    } else {
      refuse_after_failure(action);
    }
  }
  if (!fatal_.empty()) return;
  if (fsync_ == config::Fsync::always) sync_and_release();
  while (!storage_events_.empty()) {
    auto event_back = std::move(storage_events_.back());
    storage_events_.pop_back();
    step(event_back);
  }
  confirm_synced_writes();
  // Sends that could not leave are reported back once the batch is done,
  // never from inside it.
  while (!undeliverable_.empty()) {
    auto event_back = std::move(undeliverable_.back());
    undeliverable_.pop_back();
    step(event_back);
  }
}

// The end of one loop iteration: the leader's batch of new entries is written,
// one sync makes every write of the iteration durable, and only then do the
// messages that waited for it leave (docs/protocol.md, "Storage").
void NodeLoop::end_batch() {
  write_failed_ = false;
  for (const auto& action : node_.flush()) {
    if (fatal_.empty()) carry_out(action);
  }
  sync_and_release();
  while (fatal_.empty() && !storage_events_.empty()) {
    auto event = std::move(storage_events_.back());
    storage_events_.pop_back();
    step(event);
  }
  confirm_synced_writes();
  if (fatal_.empty() && !outbox_.empty()) end_batch();
}

// One sync for every log write so far, then the messages that waited for it.
void NodeLoop::sync_and_release() {
  if (fatal_.empty()) {
    if (auto error = log_store_.sync()) fatal_ = "cannot sync the log: " + *error;
  }
  auto waiting = std::move(outbox_);
  outbox_.clear();
  for (const auto& action : waiting) {
    if (fatal_.empty()) {
      send(action);
    } else {
      refuse_after_failure(action);
    }
  }
}

// Once everything written is on disk (mode `never`: written) and every failed
// write has been reported to the core, the leader may count its own copy; a
// cluster of one commits here.
void NodeLoop::confirm_synced_writes() {
  if (!fatal_.empty() || unreported_failures_ > 0 || log_store_.sync_pending()) return;
  if (!node_.awaiting_own_write()) return;
  for (const auto& action : node_.confirm_writes()) carry_out(action);
}

namespace {

// A leader's append or snapshot says nothing about its own disk, so it need
// not wait for the leader's sync: the followers write while the leader syncs.
// (The leader counts its own copy only once synced: replies are read after.)
bool is_replication(const core::Action& action) {
  const auto* reply = std::get_if<core::ReplyToPeer>(&action);
  return reply != nullptr && (std::holds_alternative<proto::Append>(reply->message) ||
                              std::holds_alternative<proto::Snapshot>(reply->message));
}

}  // namespace

void NodeLoop::carry_out(const core::Action& action) {
  const bool storage = std::holds_alternative<core::Persist>(action) ||
                       std::holds_alternative<core::AppendLog>(action) ||
                       std::holds_alternative<core::TruncateLog>(action) ||
                       std::holds_alternative<core::SaveSnapshot>(action);
  if (storage) {
    store(action);
  } else if (write_failed_ && !std::holds_alternative<core::RoleChanged>(action)) {
    // It may depend on the write that failed: as if the network lost it.
  } else if (log_store_.sync_pending() && !std::holds_alternative<core::RoleChanged>(action) &&
             !is_replication(action)) {
    outbox_.push_back(action);
  } else {
    send(action);
  }
}

void NodeLoop::store(const core::Action& action) {
  if (const auto* persist = std::get_if<core::Persist>(&action)) {
    store_state(persist->state);
  } else if (const auto* append = std::get_if<core::AppendLog>(&action)) {
    if (write_failed_) return;
    // No entry of a term the node has not stored: after a crash it would hold
    // entries of a term later than its own.
    std::optional<std::string> error;
    if (unsaved_state_ && !store_state(*unsaved_state_)) error = "term and vote could not be stored";
    if (!error) error = log_store_.append(append->entries);
    if (error) {
      write_failed_ = true;
      std::uint64_t held = 0;
      if (storage_failure_log_.allow(held)) {
        spdlog::error("node {}: cannot write entries {}..{} to the log: {} ({} similar failures not shown)", self_,
                      append->entries.front().index, append->entries.back().index, *error, held);
      }
      storage_events_.push_back(core::StorageFailed{log_store_.last_index(), *error});
      ++unreported_failures_;
    }
  } else if (const auto* truncate = std::get_if<core::TruncateLog>(&action)) {
    if (auto error = log_store_.truncate_from(truncate->from)) fatal_ = "cannot truncate the log: " + *error;
  } else if (const auto* snapshot = std::get_if<core::SaveSnapshot>(&action)) {
    // A snapshot from the leader replaces the whole log: what lies past it
    // goes first, so the next append starts right after the snapshot.
    std::optional<std::string> error;
    if (snapshot->replace_log && unsaved_state_ && !store_state(*unsaved_state_)) {
      // The leader's snapshot may end in a term this node has not stored, and
      // it replaces the log: a restart would find entries of a later term than
      // its own. Stopping is the safe way out of this double failure.
      fatal_ = "cannot store term and vote before installing the leader's snapshot";
      return;
    }
    if (snapshot->replace_log && log_store_.last_index() > snapshot->last_index &&
        snapshot->last_index >= log_store_.first_index()) {
      error = log_store_.truncate_from(snapshot->last_index + 1);
    }
    if (!error) error = log_store_.save_snapshot({snapshot->last_index, snapshot->last_term, snapshot->data});
    if (error && snapshot->replace_log) {
      fatal_ = "cannot install the leader's snapshot: " + *error;
    } else if (error) {
      spdlog::warn("node {}: cannot save a snapshot at {} (the log is kept): {}", self_, snapshot->last_index, *error);
    } else {
      spdlog::info("node {}: snapshot at entry {} saved ({} bytes)", self_, snapshot->last_index, snapshot->data.size());
    }
  }
}

// True once `state` is on disk. A failure is not fatal: the node goes quiet
// towards its peers (send() drops their messages) and retries every 100 ms.
bool NodeLoop::store_state(const core::DurableState& state) {
  if (auto error = state_file_.store(state)) {
    if (!unsaved_state_) {
      spdlog::error("node {}: cannot store term and vote ({}); silent towards its peers until it can", self_, *error);
    }
    unsaved_state_ = state;
    next_state_retry_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    return false;
  }
  if (unsaved_state_) spdlog::info("node {}: term {} and vote stored; speaking to its peers again", self_, state.term);
  unsaved_state_.reset();
  return true;
}

void NodeLoop::retry_unsaved_state() {
  if (unsaved_state_ && std::chrono::steady_clock::now() >= next_state_retry_) store_state(*unsaved_state_);
}

void NodeLoop::send(const core::Action& action) {
  const bool to_peers = std::holds_alternative<core::Publish>(action) ||
                        std::holds_alternative<core::SendToPeer>(action) ||
                        std::holds_alternative<core::ReplyToPeer>(action);
  if (to_peers && unsaved_state_) {
    // As if the network lost it; a relay is held again for a later round.
    ++counters_.send_failures;
    if (const auto* to_peer = std::get_if<core::SendToPeer>(&action)) {
      undeliverable_.push_back(core::Undeliverable{to_peer->to, to_peer->message});
    }
    return;
  }
  std::visit(
      [this](const auto& a) {
        using A = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<A, core::Publish>) {
          const auto frame = proto::encode(a.message);
          log_publication(a.message);
          if (!send_single(election_pub_, frame)) ++counters_.send_failures;
          tap("out", "election", proto::kNoNode, frame.size(), a.message);
        } else if constexpr (std::is_same_v<A, core::SendToPeer>) {
          const auto frame = proto::encode(a.message);
          if (spdlog::should_log(spdlog::level::debug)) {
            spdlog::debug("node {} → node {}: {}", self_, a.to, proto::describe(a.message));
          }
          auto dealer = dealers_.find(a.to);
          if (dealer == dealers_.end() || !send_single(dealer->second, frame)) {
            ++counters_.send_failures;
            undeliverable_.push_back(core::Undeliverable{a.to, a.message});
            std::uint64_t held = 0;
            if (send_failure_log_.allow(held)) {
              spdlog::warn("node {}: cannot reach node {} ({} similar failures not shown)", self_, a.to, held);
            }
          }
          tap("out", "peer", a.to, frame.size(), a.message);
        } else if constexpr (std::is_same_v<A, core::ReplyToPeer>) {
          const auto frame = proto::encode(a.message);
          if (!send_to_route(peer_router_, {a.route, false}, frame)) {
            ++counters_.unroutable;
            std::uint64_t held = 0;
            if (send_failure_log_.allow(held)) {
              spdlog::warn("node {}: reply to node {} unroutable, its connection is gone ({} similar failures not "
                           "shown)",
                           self_, a.to, held);
            }
          }
          tap("out", "peer", a.to, frame.size(), a.message);
        } else if constexpr (std::is_same_v<A, core::ReplyToClient>) {
          send_client_reply(a.to, a.message);
        } else if constexpr (std::is_same_v<A, core::RoleChanged>) {
          spdlog::info("node {}: {} in term {}, leader {} ({})", self_, proto::to_string(a.role), a.term,
                       a.leader, a.reason);
          tap_text("role", std::string(proto::to_string(a.role)) + " term=" + std::to_string(a.term) +
                               " leader=" + std::to_string(a.leader) + " reason=" + a.reason);
        } else {
          store(core::Action{a});  // storage: carry_out routes it there first
        }
      },
      action);
}

// Once the node's state could not be stored, nothing that depends on it may
// leave; but a client that the core has already answered must still hear
// something, so its answer becomes "unavailable".
void NodeLoop::refuse_after_failure(const core::Action& action) {
  const auto* to_client = std::get_if<core::ReplyToClient>(&action);
  if (to_client == nullptr) return;
  auto message = to_client->message;
  if (auto* reply = std::get_if<proto::ClientReply>(&message)) {
    reply->status = proto::Status::unavailable;
    reply->message = "the node stopped: " + fatal_;
    reply->answered_by = proto::kNoNode;
    reply->index = 0;
    reply->found = false;
    reply->value.clear();
    reply->values.clear();
  }
  send_client_reply(to_client->to, message);
}

// Election messages are repeated every heartbeat until they no longer apply;
// the first publication of each is worth a line at info, the repeats (and
// heartbeats) only at debug, so a node waiting for a quorum does not flood
// its log.
void NodeLoop::log_publication(const proto::Message& message) {
  auto text = proto::describe(message);
  auto& last = last_published_[proto::type_of(message)];
  const bool news = !std::holds_alternative<proto::Heartbeat>(message) && text != last;
  spdlog::log(news ? spdlog::level::info : spdlog::level::debug, "node {} → all: {}", self_, text);
  last = std::move(text);
}

void NodeLoop::send_client_reply(const core::ClientAddress& to, const proto::Message& reply) {
  const auto frame = proto::encode(reply);
  if (!send_to_route(client_router_, to, frame)) {
    ++counters_.unroutable;
    std::uint64_t held = 0;
    if (send_failure_log_.allow(held)) {
      spdlog::warn("node {}: client reply unroutable, client gone ({} similar not shown)", self_, held);
    }
  }
  tap("out", "client", proto::kNoNode, frame.size(), reply);
}

void NodeLoop::tap(const char* kind, const char* channel, proto::NodeId peer, std::size_t size,
                   const proto::Message& message) {
  if (!monitor_listening_) return;  // nobody listens: the tap costs nothing
  pending_taps_.push_back(proto::Tap{self_, ++tap_seq_, wall_clock_us(), kind, channel, peer,
                                     static_cast<std::uint32_t>(size), proto::describe(message)});
}

void NodeLoop::tap_text(const char* kind, std::string text) {
  if (!monitor_listening_) return;
  pending_taps_.push_back(proto::Tap{self_, ++tap_seq_, wall_clock_us(), kind, "", proto::kNoNode, 0,
                                     std::move(text)});
}

// Taps are sent once per loop iteration, after the iteration's replies and
// messages: building and queueing them never delays a client's answer, and
// ZeroMQ's I/O thread wakes once per burst instead of once per tap
// (measured in docs/monitor.md).
void NodeLoop::flush_taps() {
  for (const auto& event : pending_taps_) {
    if (send_single(monitor_pub_, proto::encode(event))) ++counters_.taps;
  }
  pending_taps_.clear();
}

void NodeLoop::note_bad_frame(const char* channel, const std::string& reason) {
  ++counters_.bad_frames;
  std::uint64_t held = 0;
  if (bad_frame_log_.allow(held)) {
    spdlog::warn("node {}: dropped bad {} frame: {} ({} more since the last report)", self_, channel,
                 reason, held);
  }
  tap_text("drop", std::string(channel) + ": " + reason);
}

}  // namespace relay::transport
