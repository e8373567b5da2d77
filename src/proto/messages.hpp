// Every message of the Relay-Raft wire protocol, as plain structs.
//
// This file is the single list of what nodes and clients say to each other;
// docs/protocol.md describes the same messages for people writing clients in
// other languages. The structs carry no behaviour: encoding lives in codec.hpp,
// the one-line text form in describe.hpp, and the rules in src/core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace relay::proto {

using NodeId = std::uint32_t;  // 1..kMaxNodeId; 0 means "none" on the wire
using Term = std::uint64_t;

inline constexpr NodeId kNoNode = 0;
inline constexpr NodeId kMaxNodeId = 1'000'000;
inline constexpr std::uint32_t kProtocolVersion = 2;

// The limits of docs/protocol.md, "Limits": the codec enforces them, and the
// core keeps what it builds inside them.
inline constexpr std::size_t kMaxFrameBytes = 1 << 20;     // whole frame
inline constexpr std::size_t kMaxMessageBytes = 256 << 10;  // a request's payload
inline constexpr std::size_t kMaxClientIdBytes = 64;
inline constexpr std::size_t kMaxTextBytes = 4096;  // any other string field
inline constexpr std::size_t kMaxKeyBytes = 1024;   // a key of the key-value store
inline constexpr std::size_t kMaxListItems = 4096;  // entries of an append, values of a read

// Every frame is a msgpack array [version, type, fields...]. The numbers are
// part of the wire contract and never change meaning.
enum class MessageType : std::uint8_t {
  pre_vote = 1,
  pre_vote_grant = 2,
  ballot = 3,
  vote = 4,
  heartbeat = 5,
  client_request = 10,
  client_reply = 11,
  status_request = 12,
  status_reply = 13,
  relay = 20,
  relay_reply = 21,
  append = 22,
  append_reply = 23,
  snapshot = 24,
  snapshot_reply = 25,
  tap = 30,
};

// What a client request asks of the replicated state machine. Writes (noop,
// append, put, del, cas) go through the log; reads (get, read) do not.
enum class Op : std::uint8_t {
  noop = 0,    // written by a new leader at the start of its term; never sent by clients
  append = 1,  // add `value` to the ordered stream; the result is its stream index
  put = 2,     // set `key` to `value`
  get = 3,     // read `key`
  del = 4,     // remove `key`
  cas = 5,     // set `key` to `value` if it currently holds `expected`
  read = 6,    // up to `count` stream messages from index `from`
};

enum class Role : std::uint8_t { follower = 0, pre_candidate = 1, candidate = 2, leader = 3 };

// The outcome of a client request. Everything but `ok` and `bad_request` is
// retryable with the same (client_id, request_id).
enum class Status : std::uint8_t {
  ok = 0,
  not_leader = 1,   // a relayed request reached a node that is not the leader
  unavailable = 2,  // no leader became known before the deadline
  timeout = 3,      // the deadline passed while the request was in flight
  overloaded = 4,   // a bounded table was full; try again later
  bad_request = 5,  // the request itself is wrong; retrying will not help
  unknown = 6,      // the outcome cannot be known (e.g. the leader died mid-request)
};

// ---- election channel (PUB/SUB, every node publishes, every node listens) ----

// "May I start term `term`?" Sent by a node whose leader went silent, before it
// touches its durable term, so a node that was cut off cannot disrupt a healthy
// cluster when it comes back. Re-published every heartbeat interval.
struct PreVote {
  Term term = 0;  // the term the sender would start
  NodeId from = kNoNode;
  Term last_log_term = 0;  // the sender's log: a grant needs one at least as fresh
  std::uint64_t last_log_index = 0;
};

// "Yes, I have not heard a leader for an election timeout either."
struct PreVoteGrant {
  Term term = 0;  // the proposed term being granted
  NodeId from = kNoNode;
  NodeId to = kNoNode;  // the pre-candidate
};

// A participant's random ballot for `term`. Re-published every heartbeat
// interval until the term has a leader (PUB/SUB loses what is sent before a
// subscription arrives, so a single publication is not enough).
struct Ballot {
  Term term = 0;
  NodeId from = kNoNode;
  std::uint64_t ballot = 0;  // drawn uniformly at random
  Term last_log_term = 0;    // the fresher log wins; among equally fresh logs
  std::uint64_t last_log_index = 0;  // the higher ballot, then the lower id
};

// The sender's one vote in `term`. Re-published while the term is undecided.
struct Vote {
  Term term = 0;
  NodeId from = kNoNode;
  NodeId candidate = kNoNode;
};

// Published by every node every heartbeat interval. From the leader it asserts
// leadership of `term`; from a follower it tells the leader (check-quorum) and
// the monitor whom it follows.
struct Heartbeat {
  Term term = 0;
  NodeId from = kNoNode;
  Role role = Role::follower;
  NodeId leader = kNoNode;  // whom the sender follows (itself when leader); 0 if unknown
};

// ---- client channel (client DEALER/REQ -> node ROUTER) ----

struct ClientRequest {
  std::string client_id;  // chosen by the client, unique per client process (1..64 bytes)
  std::uint64_t request_id = 0;  // unique within client_id; a retry reuses it
  std::uint32_t timeout_ms = 0;  // how long the client will wait; 0 = node default
  Op op = Op::append;
  std::string key;       // put, get, del, cas (1..kMaxKeyBytes)
  std::string value;     // put and cas: the new value; append: the message
  std::string expected;  // cas: the value the key must hold now
  std::uint64_t from = 0;    // read: the first stream index wanted (the stream starts at 1)
  std::uint32_t count = 0;   // read: at most this many messages; 0 = the node's default
};

struct ClientReply {
  std::string client_id;
  std::uint64_t request_id = 0;
  Status status = Status::ok;
  NodeId received_by = kNoNode;  // the node the client sent to
  NodeId relayed_by = kNoNode;   // the follower that relayed it, 0 if not relayed
  NodeId answered_by = kNoNode;  // the leader that executed it, 0 if none
  Term term = 0;                 // the answering leader's term (or the receiver's)
  std::uint64_t index = 0;       // log index the write was applied at; for a read, the read index
  NodeId leader_hint = kNoNode;  // the leader the receiver believes in, 0 if unknown
  std::string message;           // why, when not ok; empty when ok
  // The result, when ok:
  bool found = false;            // get: the key exists; del: it existed; cas: it was swapped
  std::string value;             // get: the value; cas: the value the key holds after it
  std::uint64_t position = 0;    // append: the message's stream index; read: of values[0]
  std::vector<std::string> values;  // read: the messages, in stream order
};

struct StatusRequest {
  std::uint64_t request_id = 0;
};

// A node's view of itself, for `relay-client status` and the monitor.
struct StatusReply {
  std::uint64_t request_id = 0;
  NodeId id = kNoNode;
  Role role = Role::follower;
  Term term = 0;
  NodeId leader = kNoNode;
  NodeId voted_for = kNoNode;
  std::uint64_t elections = 0;        // terms this node has taken part in
  std::uint64_t leader_changes = 0;   // times the known leader changed
  std::uint64_t leaderless_ms = 0;    // total time without a known leader
  std::uint64_t heartbeat_age_ms = 0; // since the last leader heartbeat (0 on the leader)
  std::uint64_t requests = 0;         // client requests received
  std::uint64_t relayed = 0;          // of those, relayed to the leader
  std::uint64_t executed = 0;         // requests this node executed as leader
  std::uint64_t pending = 0;          // requests waiting at this node now
  std::uint64_t last_index = 0;       // the last entry of this node's log
  std::uint64_t commit_index = 0;     // the highest entry it knows committed
  std::uint64_t applied_index = 0;    // the highest entry it applied
};

// ---- peer channel (follower DEALER -> leader ROUTER) ----

// A client request forwarded by `from` to the node it believes is leader.
struct Relay {
  NodeId from = kNoNode;
  std::uint64_t relay_id = 0;  // the follower's handle for the pending request
  std::uint32_t remaining_ms = 0;  // time left before the client's deadline
  ClientRequest request;
};

struct RelayReply {
  std::uint64_t relay_id = 0;
  ClientReply reply;
};

// One entry of the replicated log: a write command with the client request it
// came from (empty client_id and request_id 0 for a noop).
struct Entry {
  std::uint64_t index = 0;
  Term term = 0;
  Op op = Op::noop;
  std::string client_id;
  std::uint64_t request_id = 0;
  std::string key;
  std::string value;
  std::string expected;
};

// Leader -> follower, through the follower's connection to the leader's peer
// ROUTER. Entries follow prev_index; with none it is a heartbeat that also
// confirms leadership for reads (`round`).
struct Append {
  Term term = 0;
  NodeId leader = kNoNode;
  std::uint64_t prev_index = 0;
  Term prev_term = 0;
  std::uint64_t commit_index = 0;
  std::uint64_t round = 0;  // the leader's read round; echoed in the reply
  std::vector<Entry> entries;
};

// Follower -> leader. `ok`: the follower holds everything up to `last_index`
// (match). Not ok: its log does not hold prev_index with prev_term; the
// leader should go back to `last_index` + 1. Also sent unasked, as a hello, so
// that the leader learns the route to the follower.
struct AppendReply {
  Term term = 0;
  NodeId from = kNoNode;
  bool ok = false;
  std::uint64_t last_index = 0;
  std::uint64_t round = 0;
};

// Leader -> follower: a chunk of the state machine snapshot at last_index.
struct Snapshot {
  Term term = 0;
  NodeId leader = kNoNode;
  std::uint64_t last_index = 0;
  Term last_term = 0;
  std::uint64_t offset = 0;
  bool done = false;
  std::string chunk;
};

struct SnapshotReply {
  Term term = 0;
  NodeId from = kNoNode;
  std::uint64_t last_index = 0;   // the snapshot being sent
  std::uint64_t next_offset = 0;  // the bytes received so far
};

// ---- monitor channel (node PUB -> monitor SUB) ----

// One event of a node's traffic tap: a message it sent or received, or a
// change of its own state. `seq` increases by one per event, so a monitor can
// count what it missed.
struct Tap {
  NodeId node = kNoNode;
  std::uint64_t seq = 0;
  std::uint64_t time_us = 0;  // node wall clock, microseconds since the epoch
  std::string kind;           // "in", "out", "role", "socket", "drop"
  std::string channel;        // "election", "peer", "client", "" for state events
  NodeId peer = kNoNode;      // the other node, 0 for clients or broadcasts
  std::uint32_t size = 0;     // frame size in bytes
  std::string text;           // describe() of the message, or the event in words
};

using Message = std::variant<PreVote, PreVoteGrant, Ballot, Vote, Heartbeat, ClientRequest,
                             ClientReply, StatusRequest, StatusReply, Relay, RelayReply, Append,
                             AppendReply, Snapshot, SnapshotReply, Tap>;

const char* to_string(Role role);
const char* to_string(Status status);
const char* to_string(MessageType type);
const char* to_string(Op op);

// Reads leave the log alone; every other op is a write.
inline bool is_read(Op op) { return op == Op::get || op == Op::read; }

}  // namespace relay::proto
