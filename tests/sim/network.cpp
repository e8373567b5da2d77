#include "sim/network.hpp"

#include <algorithm>

namespace relay::sim {

const char* to_string(Channel channel) {
  switch (channel) {
    case Channel::election: return "election";
    case Channel::peer: return "peer";
    case Channel::client: return "client";
  }
  return "invalid_channel";
}

Network::Network(std::vector<NodeId> nodes, core::Random& random)
    : nodes_(std::move(nodes)), random_(random) {}

bool Network::chance(std::uint32_t per_mille) {
  return per_mille != 0 && random_.between(0, 1000) < per_mille;
}

void Network::send(std::uint64_t now_ms, NodeId from, NodeId to, Channel channel,
                   const proto::Message& message, const core::ClientAddress& client) {
  ++stats_.sent;
  if (chance(faults_.drop_per_mille)) {
    ++stats_.dropped;
    return;
  }
  Packet packet{0, 0, from, to, channel, client, message};
  // Client connections never duplicate: the checker relies on one reply per
  // request a node received.
  if (channel != Channel::client && chance(faults_.duplicate_per_mille)) {
    ++stats_.duplicated;
    enqueue(now_ms, packet);
  }
  enqueue(now_ms, std::move(packet));
}

void Network::broadcast(std::uint64_t now_ms, NodeId from, const proto::Message& message) {
  for (NodeId to : nodes_) {
    if (to != from) send(now_ms, from, to, Channel::election, message);
  }
}

// Each copy draws its own delay, so two packets on one link may overtake each
// other; a late packet overtakes many.
void Network::enqueue(std::uint64_t now_ms, Packet packet) {
  auto delay_ms = random_.between(faults_.min_delay_ms, faults_.max_delay_ms + 1);
  if (chance(faults_.late_per_mille)) {
    ++stats_.late;
    delay_ms += random_.between(0, faults_.late_delay_ms + 1);
  }
  packet.deliver_at_ms = now_ms + delay_ms;
  packet.order = next_order_++;
  queue_.push_back(std::move(packet));
  std::push_heap(queue_.begin(), queue_.end(), Later{});
}

void Network::cut(NodeId from, NodeId to) {
  if (from != to) cuts_.emplace(from, to);
}

void Network::split(const std::vector<NodeId>& side) {
  for (NodeId a : nodes_) {
    const bool a_inside = std::find(side.begin(), side.end(), a) != side.end();
    for (NodeId b : nodes_) {
      const bool b_inside = std::find(side.begin(), side.end(), b) != side.end();
      if (a_inside != b_inside) cut(a, b);
    }
  }
}

void Network::isolate(NodeId node) { split({node}); }

void Network::heal() { cuts_.clear(); }

bool Network::connected(NodeId from, NodeId to) const {
  return cuts_.find({from, to}) == cuts_.end();
}

std::string Network::describe_cuts() const {
  if (cuts_.empty()) return "none";
  std::string text;
  for (const auto& [from, to] : cuts_) {
    if (!text.empty()) text += ' ';
    text += std::to_string(from) + "->" + std::to_string(to);
  }
  return text;
}

std::vector<Packet> Network::take_due(std::uint64_t now_ms) {
  std::vector<Packet> due;
  while (!queue_.empty() && queue_.front().deliver_at_ms <= now_ms) {
    std::pop_heap(queue_.begin(), queue_.end(), Later{});
    Packet packet = std::move(queue_.back());
    queue_.pop_back();
    if (!connected(packet.from, packet.to)) {
      ++stats_.cut;
      continue;
    }
    ++stats_.delivered;
    due.push_back(std::move(packet));
  }
  return due;
}

}  // namespace relay::sim
