// relay::core::Node — one cluster member as a deterministic state machine.
//
// Feed it one event at a time with step(); it returns what to do. Everything
// that decides anything lives here: terms, pre-votes, ballots, votes, leader
// heartbeats, check-quorum, relaying client requests to the leader and the
// leader's answers. Given the same options, seed and events it produces the
// same actions, which is what the unit tests and the simulator rely on.
//
// Ownership: the shell (src/transport) owns a Node and is the only caller.
// Nothing here blocks, allocates without bound, or throws on bad input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/events.hpp"
#include "core/log.hpp"
#include "core/random.hpp"
#include "store/state_machine.hpp"

namespace relay::core {

// Election messages with a term at or above this are ignored as corrupt or
// hostile: a cluster driven there could never elect again.
inline constexpr Term kMaxTerm = Term{1} << 62;

// The bytes of a request that a node holds while it waits: bounded per node.
inline std::size_t request_bytes(const proto::ClientRequest& request) {
  return request.key.size() + request.value.size() + request.expected.size();
}

struct Options {
  NodeId self = proto::kNoNode;
  std::vector<NodeId> members;  // every configured node, self included
  std::uint64_t heartbeat_ticks = 50;
  std::uint64_t election_timeout_ticks = 300;  // randomized in [T, 2T)
  std::uint64_t request_timeout_ticks = 2000;  // when the client names none
  std::size_t max_pending = 10'000;            // requests waiting at this node
  std::size_t max_pending_bytes = 64 << 20;    // and their payloads, in bytes
  std::size_t dedup_capacity = 100'000;        // answered requests remembered
  std::size_t max_uncommitted = 10'000;        // leader: entries not yet committed
  std::size_t max_append_bytes = 256 << 10;    // entries per append message, in bytes
  std::size_t max_in_flight = 8;               // append messages unanswered per follower
  std::size_t snapshot_bytes = 64 << 20;       // log kept in memory before a snapshot
  std::size_t snapshot_chunk_bytes = 256 << 10;
  bool check_invariants = false;               // abort on a broken invariant
};

class Node {
 public:
  Node(Options options, DurableState durable, std::uint64_t seed);
  Node(Options options, Restored restored, std::uint64_t seed);

  Actions step(const Event& event);

  // The end of a batch of events: the leader writes the commands it took in
  // since the last flush as one log append, sends them to its followers and
  // starts a leadership round for the reads that came in. The shell calls it
  // after each batch of events it read in one go; calling it after every
  // event is correct too, only with less batching.
  Actions flush();

  // The node is about to stop: every request it holds is answered
  // "unavailable" so that no client waits for a reply that cannot come.
  Actions shut_down();

  // Read-only views for the shell, tests and the simulator.
  NodeId id() const { return options_.self; }
  proto::Role role() const { return role_; }
  Term term() const { return durable_.term; }
  NodeId leader() const { return leader_; }
  const DurableState& durable() const { return durable_; }
  std::uint64_t now() const { return now_; }
  std::size_t pending() const { return pending_.size(); }
  const Log& log() const { return log_; }
  std::uint64_t commit_index() const { return commit_index_; }
  // True while the leader has log writes that the shell has not yet
  // reported durable. The shell calls confirm_writes() after each sync that
  // succeeded (after the writes, in mode `never`): only then does the leader
  // count its own copy towards a majority. A cluster of one commits there.
  bool awaiting_own_write() const { return role_ == proto::Role::leader && confirmed_written_ < written_index_; }
  Actions confirm_writes();
  std::uint64_t applied_index() const { return machine_.applied_index(); }
  const store::StateMachine& machine() const { return machine_; }
  proto::StatusReply status(std::uint64_t request_id) const;

  // The tick (in now() terms) at which the next timer of the election falls
  // due, so the shell can sleep until then. Pending requests' deadlines are
  // not included: the shell checks them at least every few milliseconds.
  std::uint64_t next_timer() const;

  // Empty when every invariant of this node holds, otherwise what is broken.
  std::optional<std::string> broken_invariant() const;

 private:
  // A client request this node is holding: relayed to the leader, or waiting
  // for one to be known.
  struct Pending {
    ClientAddress client;
    proto::ClientRequest request;
    std::uint64_t deadline = 0;   // in ticks of now_
    NodeId sent_to = proto::kNoNode;  // the leader it was relayed to, 0 if held
  };

  // An answered request, for exactly-once: a retry gets the original answer.
  // The table keeps the reply without its echoed payload (a retry carries the
  // same payload), so its memory is bounded by its count, not by payload size.
  using RequestKey = std::pair<std::string, std::uint64_t>;

  // Who waits for the leader's answer to a request: a client of this node,
  // or a follower that relayed it (answered through its connection).
  struct Origin {
    ClientAddress client;
    NodeId peer = proto::kNoNode;  // set when relayed
    std::string route;
    std::uint64_t relay_id = 0;
  };

  // A request the leader took in and has not answered yet.
  struct Waiter {
    Origin origin;
    proto::ClientRequest request;  // for a write, without its value (the log has it)
    std::uint64_t deadline = 0;
    std::uint64_t round = 0;       // reads: the leadership round that confirms them (0: none yet)
    std::uint64_t read_index = 0;  // reads: apply up to here, then answer
  };

  // The leader's view of one follower.
  struct Progress {
    std::uint64_t next = 1;        // the next entry to send
    std::uint64_t match = 0;       // the highest entry known to be on its disk
    std::deque<std::uint64_t> in_flight;  // last index of each append with entries not yet confirmed
    std::uint64_t match_at_heartbeat = 0;  // match at the last heartbeat round
    std::string route;             // its connection to this node's peer ROUTER
    std::uint64_t round = 0;       // the highest leadership round it confirmed
    std::uint64_t snapshot_offset = 0;  // bytes of the snapshot it has, while it gets one
    bool sending_snapshot = false;
    // The log end its last rejection named, while the appends sent in answer
    // to it are in flight: the same rejection again is stale, not news.
    std::optional<std::uint64_t> answered_rejection;
  };

  // --- node.cpp: dispatch, time, terms, roles ---
  void on_tick(std::uint64_t ticks);
  void on_election_message(const proto::Message& message);
  void on_peer_message(NodeId from, const proto::Message& message, const std::string& route);
  void on_client_message(const ClientAddress& from, const proto::Message& message);
  void on_peer_connection(const PeerConnection& event);
  void adopt_term(Term term, const char* reason);
  void enter_term(Term term);
  void persist(DurableState state);
  void become_follower(NodeId leader, const char* reason);
  void become_leader();
  void set_leader(NodeId leader);
  void change_role(proto::Role role, const char* reason);
  void reset_election_timer();
  bool leader_is_alive() const;
  std::size_t majority() const { return options_.members.size() / 2 + 1; }
  bool is_member(NodeId id) const;
  template <typename Message>
  void publish(Message message) { out_.push_back(Publish{std::move(message)}); }

  // --- election.cpp ---
  void on_election_tick();
  std::uint64_t vote_window_ticks() const;
  void start_pre_vote();
  void start_election();
  void join_election(Term term);
  void cast_vote();
  void maybe_vote();
  bool is_live(NodeId peer) const;
  bool heard_recently(NodeId peer) const;
  void publish_own_state();
  void on_pre_vote(const proto::PreVote& message);
  void on_pre_vote_grant(const proto::PreVoteGrant& message);
  void on_ballot(const proto::Ballot& message);
  void on_vote(const proto::Vote& message);
  void on_heartbeat(const proto::Heartbeat& message);
  void check_quorum();

  // --- replication.cpp ---
  void propose(Origin origin, const proto::ClientRequest& request, std::uint64_t deadline);
  void take_read(Origin origin, const proto::ClientRequest& request, std::uint64_t deadline);
  void on_append(NodeId from, const proto::Append& message);
  void on_append_reply(NodeId from, const proto::AppendReply& message, const std::string& route);
  void on_snapshot(NodeId from, const proto::Snapshot& message);
  void on_snapshot_reply(NodeId from, const proto::SnapshotReply& message, const std::string& route);
  void on_storage_failed(const StorageFailed& event);
  void start_leading();
  void stop_leading(const char* why);
  void write_proposals();
  void replicate(NodeId peer, bool heartbeat);
  void send_snapshot_chunk(NodeId peer, Progress& progress);
  void heartbeat_followers();
  void say_hello();
  void advance_commit();
  void apply_committed();
  void answer_reads();
  void maybe_snapshot();
  void expire_waiters();
  void answer(const Origin& origin, proto::ClientReply reply);
  void append_to_log(proto::Entry entry);
  bool log_at_least_as_fresh_as(Term last_term, std::uint64_t last_index) const;
  std::optional<std::string> invalid_request(const proto::ClientRequest& request) const;

  // --- relay.cpp ---
  void on_client_request(const ClientAddress& from, const proto::ClientRequest& request);
  void on_relay(NodeId from, const proto::Relay& relay, const std::string& route);
  void on_relay_reply(NodeId from, const proto::RelayReply& reply);
  void on_undeliverable(const Undeliverable& event);
  void serve(Origin origin, const proto::ClientRequest& request, std::uint64_t deadline);
  void dispatch_pending();
  void abandon_relays_to_former_leader();
  void abandon_relays_to(NodeId peer);
  void abandon(std::uint64_t relay_id);
  void dispatch(std::uint64_t relay_id, Pending& pending);
  void expire_pending();
  void answer_pending(std::uint64_t relay_id, proto::ClientReply reply);
  proto::ClientReply refusal(const proto::ClientRequest& request, proto::Status status,
                             std::string reason) const;
  void reply_to_client(const ClientAddress& to, proto::ClientReply reply);

  Options options_;
  Random random_;
  Actions out_;  // actions of the event being processed

  // Durable state: only ever changed through persist().
  DurableState durable_;

  // Volatile state.
  std::uint64_t now_ = 0;
  proto::Role role_ = proto::Role::follower;
  NodeId leader_ = proto::kNoNode;
  std::uint64_t leader_heard_at_ = 0;   // last heartbeat from leader_
  std::uint64_t election_deadline_ = 0;  // when to suspect the leader / retry
  std::uint64_t next_heartbeat_at_ = 0;

  // A term this node must not stand in again: the last term it led, or after
  // a restart the term on its disk (it may have led it before the crash). A
  // second tenure in a term would number requests from seq 1 again and, after
  // a restart, execute again what the first tenure executed.
  Term no_candidacy_term_ = 0;

  // Election of the current term (valid while pre_candidate or candidate).
  Term pre_vote_term_ = 0;
  std::set<NodeId> pre_vote_grants_;
  std::uint64_t term_started_at_ = 0;
  std::uint64_t my_ballot_ = 0;
  struct BallotOf {
    std::uint64_t ballot = 0;
    Term last_log_term = 0;
    std::uint64_t last_log_index = 0;
  };
  std::map<NodeId, BallotOf> ballots_;  // participants' ballots in this term
  std::set<NodeId> votes_for_me_;
  std::set<NodeId> disconnected_;  // peers whose election connection is closed
  std::map<NodeId, std::uint64_t> peer_heard_at_;  // last election message from each peer

  // Leader: when it took office (check-quorum waits one timeout first).
  std::uint64_t leader_since_ = 0;

  // The replicated log and the state machine it feeds.
  Log log_;
  store::StateMachine machine_;
  std::uint64_t commit_index_ = 0;
  std::uint64_t written_index_ = 0;   // entries handed to the shell to write
  // The part of written_index_ the shell has reported synced
  // (confirm_writes). The leader counts only these as its own copy, so no
  // entry commits, is applied or is announced as committed to followers
  // while it is on the leader's disk only in the page cache — a machine crash
  // could still take it — nor when the disk refused it.
  std::uint64_t confirmed_written_ = 0;
  std::uint64_t last_append_at_ = 0;  // follower: when the leader's last append came
  std::string snapshot_;              // the newest snapshot's bytes (sent to laggards)
  std::uint64_t snapshot_index_ = 0;
  Term snapshot_term_ = 0;
  std::string incoming_snapshot_;     // follower: a snapshot arriving in chunks
  std::uint64_t incoming_snapshot_index_ = 0;

  // Leader state, valid while role_ == leader.
  std::map<NodeId, Progress> progress_;
  std::uint64_t term_first_index_ = 0;  // the noop that opened this term
  std::multimap<std::uint64_t, Waiter> write_waiters_;  // by log index
  std::map<RequestKey, std::uint64_t> proposed_;        // requests in the log, not yet applied
  std::vector<Waiter> read_waiters_;
  std::uint64_t round_ = 0;             // leadership rounds started (reads)
  bool round_wanted_ = false;           // a read arrived since the last round started

  // Requests.
  std::map<std::uint64_t, Pending> pending_;  // by relay id
  std::size_t pending_bytes_ = 0;             // payload bytes held in pending_
  std::uint64_t next_relay_id_ = 1;  // starts at a random value: ids of a restarted node differ

  // Counters for status and the monitor.
  std::uint64_t elections_ = 0;
  std::uint64_t leader_changes_ = 0;
  std::uint64_t leaderless_ticks_ = 0;
  std::uint64_t requests_ = 0;
  std::uint64_t relayed_ = 0;
  std::uint64_t executed_ = 0;

  // For the invariant check: the highest term seen and the vote in it.
  Term checked_term_ = 0;
  NodeId checked_vote_ = proto::kNoNode;
};

}  // namespace relay::core
