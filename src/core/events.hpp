// What goes into the core (events) and what comes out (actions).
//
// The core never touches a socket, a clock or a file. The shell turns frames
// and elapsed time into events, calls Node::step, and carries out the actions
// in order. Order matters: a Persist always precedes the messages that depend
// on it, so the shell must finish each action before starting the next.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "proto/messages.hpp"

namespace relay::core {

using proto::NodeId;
using proto::Term;

// Where a client reply must go. Opaque to the core: the shell fills it when a
// request arrives and reads it back when the reply leaves.
struct ClientAddress {
  std::string route;           // the ROUTER routing id of the client connection
  bool has_delimiter = false;  // REQ-style envelope: the reply needs an empty frame too
};

// ---- events ----

// Time passed. One tick is one millisecond in production; the simulator
// chooses its own pace.
struct Tick {
  std::uint64_t ticks = 1;
};

// A message heard on the election channel (any peer's PUB).
struct ElectionMessage {
  proto::Message message;
};

// A message from a peer over the peer sockets. `from` is the sending node:
// for a DEALER the peer it is connected to, for the peer ROUTER the node the
// message names (peers are not authenticated yet). `route` is the ROUTER's
// routing id of the connection it came on, empty for a DEALER; the core
// hands it back in the ReplyToPeer that answers it.
struct PeerMessage {
  NodeId from = proto::kNoNode;
  proto::Message message;
  std::string route;
};

struct ClientMessage {
  ClientAddress from;
  proto::Message message;
};

// The shell saw this node's connection to a peer's election channel open or
// close. A close means the peer's process is gone (or its host unreachable);
// a frozen peer keeps its connections, so this is a hint, never the only
// way to notice a failure.
struct PeerConnection {
  NodeId peer = proto::kNoNode;
  bool connected = false;
};

// A SendToPeer could not be handed to the network (no connection to that
// peer yet, or its queue is full). The core may try again later.
struct Undeliverable {
  NodeId to = proto::kNoNode;
  proto::Message message;
};

// Writing the log failed (a full disk, an I/O error). The shell has put its
// files back to the state before the failed write; `durable_index` is the
// last entry they hold. Nothing after it was acknowledged.
struct StorageFailed {
  std::uint64_t durable_index = 0;
  std::string reason;
};

using Event =
    std::variant<Tick, ElectionMessage, PeerMessage, ClientMessage, PeerConnection, Undeliverable, StorageFailed>;

// ---- actions ----

// The node's durable promise: its term and its vote in that term. The shell
// writes it to disk (atomically, synced) before the next action.
struct DurableState {
  Term term = 0;
  NodeId voted_for = proto::kNoNode;

  bool operator==(const DurableState&) const = default;
};

struct Persist {
  DurableState state;
};

// What a node finds on disk at start: its term and vote, the newest snapshot
// of the state machine, and the log entries after it.
struct Restored {
  DurableState durable;
  std::uint64_t snapshot_index = 0;
  Term snapshot_term = 0;
  std::string snapshot;  // empty when there is none
  std::vector<proto::Entry> entries;
};

// Publish on this node's election channel.
struct Publish {
  proto::Message message;
};

// Send to a peer's peer ROUTER through this node's DEALER to it.
struct SendToPeer {
  NodeId to = proto::kNoNode;
  proto::Message message;
};

// Answer a peer through this node's peer ROUTER, on the connection (`route`)
// its message came on.
struct ReplyToPeer {
  NodeId to = proto::kNoNode;
  proto::Message message;
  std::string route;
};

struct ReplyToClient {
  ClientAddress to;
  proto::Message message;
};

// The node's role, term or leader changed; for logs and the monitor.
struct RoleChanged {
  proto::Role role = proto::Role::follower;
  Term term = 0;
  NodeId leader = proto::kNoNode;
  std::string reason;
};

// Log storage. Like Persist, each must be written before any message that
// follows it leaves the node (the shell may sync several writes at once, but
// never sends a message ahead of the writes before it).
struct AppendLog {
  std::vector<proto::Entry> entries;  // continue the log without a gap
};

struct TruncateLog {
  std::uint64_t from = 0;  // remove this entry and every later one (never committed ones)
};

// A snapshot of the state machine covering the log up to `last_index`. The
// shell saves it and may drop the log entries it covers; `replace_log` (a
// snapshot received from the leader) drops the whole log.
struct SaveSnapshot {
  std::uint64_t last_index = 0;
  Term last_term = 0;
  std::string data;
  bool replace_log = false;
};

using Action = std::variant<Persist, Publish, SendToPeer, ReplyToPeer, ReplyToClient, RoleChanged,
                            AppendLog, TruncateLog, SaveSnapshot>;
using Actions = std::vector<Action>;

}  // namespace relay::core
