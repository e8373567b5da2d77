// The replicated state machine: what every node builds by applying the
// committed log entries in index order (docs/replication.md, "State machine").
//
// It holds the key-value map, the ordered stream and the exactly-once table.
// All three are replicated state: two machines that applied the same entries
// with the same Limits are identical, byte for byte in their snapshots, which
// is why eviction from the exactly-once table depends only on the entries.
//
// The machine does no I/O and never throws on bad input: a malformed write is
// answered with `bad_request`, a malformed snapshot with an error text. Applying
// an entry out of order is a bug in the caller and aborts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "proto/messages.hpp"

namespace relay::store {

// Bounds on memory and on the size of one read. Not part of a snapshot: every
// node of a cluster must run with the same values (they come from the cluster
// configuration), or their exactly-once tables would evict differently.
struct Limits {
  std::size_t dedup_capacity = 100'000;      // remembered replies, at most
  std::size_t dedup_bytes = 16u << 20;       // their approximate memory, at most
  std::uint32_t default_read_count = 100;    // a read with count 0 gets this many
  std::uint32_t max_read_count = 1000;       // a larger count is cut to this
  std::size_t max_read_bytes = 512u << 10;   // a read stops before passing this (but returns one message at least)
};

class StateMachine {
 public:
  explicit StateMachine(Limits limits = {});

  // Applies the committed entry `entry`, whose index must be applied_index()+1,
  // and returns the reply for the client that sent it: client_id, request_id,
  // status, index, found, value and position are filled; the routing fields
  // (received_by, term ...) are the caller's. A (client_id, request_id) that
  // was applied before and is still remembered gets the remembered reply,
  // including its original index, and changes nothing.
  proto::ClientReply apply(const proto::Entry& entry);

  // The remembered reply to (client_id, request_id), if it is still remembered.
  std::optional<proto::ClientReply> answered(std::string_view client_id, std::uint64_t request_id) const;

  // Answers a get or a read at the current state; index = applied_index().
  // Anything else is a bad_request.
  proto::ClientReply read(const proto::ClientRequest& request) const;

  std::uint64_t applied_index() const { return applied_index_; }
  proto::Term applied_term() const { return applied_term_; }  // of the last applied entry
  std::uint64_t stream_length() const { return stream_.size(); }
  std::size_t key_count() const { return kv_.size(); }
  std::size_t remembered_count() const { return dedup_.size(); }
  std::size_t remembered_bytes() const { return dedup_bytes_; }

  // The whole replicated state (not the limits) as bytes: a magic and version
  // header, the body, and an FNV-1a 64 checksum of everything before it.
  std::string snapshot() const;

  // The machine saved by snapshot(), or an error text saying what is wrong
  // with `bytes`. If the saved exactly-once table exceeds `limits`, its oldest
  // entries are evicted, as apply would have.
  static std::variant<StateMachine, std::string> restore(std::string_view bytes, Limits limits = {});

 private:
  // One remembered reply of the exactly-once table.
  struct Remembered {
    std::uint64_t hash = 0;  // dedup_hash(client_id, request_id)
    proto::ClientReply reply;
    std::size_t bytes = 0;
  };
  using SeqIndex = std::unordered_multimap<std::uint64_t, std::uint64_t>;  // hash -> sequence number

  proto::ClientReply execute(const proto::Entry& entry);
  void remember(const proto::ClientReply& reply);
  void evict_to_limits();
  proto::ClientReply read_stream(const proto::ClientRequest& request, proto::ClientReply reply) const;
  static std::uint64_t dedup_hash(std::string_view client_id, std::uint64_t request_id);
  SeqIndex::const_iterator find_remembered(std::string_view client_id, std::uint64_t request_id) const;
  void index_remembered(Remembered item);
  static std::size_t cost_of(const proto::ClientReply& reply);

  Limits limits_;
  // Hashed, for the lookup every write and get makes; snapshot() sorts the
  // keys, so a snapshot stays canonical (the same state, the same bytes).
  std::unordered_map<std::string, std::string> kv_;
  std::vector<std::string> stream_;                      // stream index i is stream_[i - 1]

  // The exactly-once table in the order the replies were applied, oldest
  // first. The remembered reply with sequence number s is dedup_[s - dedup_first_seq_];
  // sequence numbers (not iterators) keep the machine safely copyable and movable.
  // The index is keyed by a 64-bit hash, not by a string built per lookup: it
  // is consulted for every request, and each hit is confirmed against the
  // reply's own ids, so two requests whose hashes collide stay apart.
  std::deque<Remembered> dedup_;
  SeqIndex dedup_seq_;
  std::uint64_t dedup_first_seq_ = 0;
  std::size_t dedup_bytes_ = 0;

  std::uint64_t applied_index_ = 0;
  proto::Term applied_term_ = 0;
};

}  // namespace relay::store
