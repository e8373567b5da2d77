// The simulated network of the simulator: every packet between nodes, and
// between nodes and simulated clients, goes through here.
//
// One seeded generator (owned by the caller) decides every fault: per-packet
// delay, loss, duplication, late delivery (which reorders), and which links are
// cut. Links are directed, so a partition can be one-way: A hears B while B
// does not hear A. A cut link drops what would cross it at delivery time, so a
// packet in flight when a partition starts is lost, like a TCP connection that
// breaks. Client links are never cut or duplicated (a client talks to a node
// over one DEALER connection, which neither duplicates nor outlives a crash),
// but their packets may be delayed and, during faults, lost.
//
// Ownership: the Cluster owns one Network and is its only caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/events.hpp"
#include "core/random.hpp"
#include "proto/messages.hpp"

namespace relay::sim {

using proto::NodeId;

// Simulated clients have addresses above every node id, so a packet names its
// ends the same way whether a node or a client sent it.
inline constexpr NodeId kFirstClientAddress = 100'000;

enum class Channel : std::uint8_t {
  election,  // a node's PUB: broadcast to every other node
  peer,      // node to node, point to point (relays and their replies)
  client,    // client to node and back
};

const char* to_string(Channel channel);

struct Packet {
  std::uint64_t deliver_at_ms = 0;
  std::uint64_t order = 0;  // send order: breaks ties between packets due at once
  NodeId from = proto::kNoNode;
  NodeId to = proto::kNoNode;
  Channel channel = Channel::election;
  core::ClientAddress client;  // Channel::client only: the connection the reply must use
  proto::Message message;
};

// How badly links behave right now. Probabilities are in per mille so that a
// scenario reads as plain integers.
struct Faults {
  std::uint32_t drop_per_mille = 0;
  std::uint32_t duplicate_per_mille = 0;  // node links only
  std::uint32_t late_per_mille = 0;       // delivered after an extra delay: reorders
  std::uint64_t min_delay_ms = 0;
  std::uint64_t max_delay_ms = 1;
  std::uint64_t late_delay_ms = 0;  // the extra delay of a late packet is up to this

  bool operator==(const Faults&) const = default;
};

struct NetworkStats {
  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;
  std::uint64_t dropped = 0;     // lost to drop_per_mille
  std::uint64_t cut = 0;         // lost to a cut link
  std::uint64_t duplicated = 0;
  std::uint64_t late = 0;
};

class Network {
 public:
  Network(std::vector<NodeId> nodes, core::Random& random);

  void set_faults(const Faults& faults) { faults_ = faults; }
  const Faults& faults() const { return faults_; }

  // Queues `message` from `from` to `to`, applying the current faults.
  void send(std::uint64_t now_ms, NodeId from, NodeId to, Channel channel,
            const proto::Message& message, const core::ClientAddress& client = {});
  // Election channel: one independent copy to every other node.
  void broadcast(std::uint64_t now_ms, NodeId from, const proto::Message& message);

  // Partitions. Only links between nodes can be cut.
  void cut(NodeId from, NodeId to);  // one-way: `to` stops hearing `from`
  void split(const std::vector<NodeId>& side);  // both ways between `side` and the rest
  void isolate(NodeId node);
  void heal();
  bool connected(NodeId from, NodeId to) const;
  std::string describe_cuts() const;  // "1->2 3->1", or "none"

  // Removes and returns every packet due at or before `now_ms`, in delivery
  // order. Packets over a cut link are dropped here and not returned.
  std::vector<Packet> take_due(std::uint64_t now_ms);

  std::size_t in_flight() const { return queue_.size(); }
  const NetworkStats& stats() const { return stats_; }

 private:
  bool chance(std::uint32_t per_mille);
  void enqueue(std::uint64_t now_ms, Packet packet);

  struct Later {
    bool operator()(const Packet& a, const Packet& b) const {
      return a.deliver_at_ms != b.deliver_at_ms ? a.deliver_at_ms > b.deliver_at_ms
                                                : a.order > b.order;
    }
  };

  std::vector<NodeId> nodes_;
  core::Random& random_;
  Faults faults_;
  std::set<std::pair<NodeId, NodeId>> cuts_;  // (from, to) links that drop everything
  std::vector<Packet> queue_;  // a heap ordered by Later: the next packet due first
  std::uint64_t next_order_ = 0;
  NetworkStats stats_;
};

}  // namespace relay::sim
