#include "monitor/subscriber.hpp"

#include <spdlog/spdlog.h>

#include "proto/codec.hpp"
#include "transport/framing.hpp"

namespace relay::monitor {
namespace {

// Generous, so a burst waits in our queue instead of being dropped; what is
// dropped anyway shows up as a tap gap.
constexpr int kReceiveHighWaterMark = 100'000;
constexpr int kBatch = 512;  // frames read from one socket before looking at the others

bool is_election_message(const proto::Message& message) {
  return std::holds_alternative<proto::PreVote>(message) || std::holds_alternative<proto::PreVoteGrant>(message) ||
         std::holds_alternative<proto::Ballot>(message) || std::holds_alternative<proto::Vote>(message) ||
         std::holds_alternative<proto::Heartbeat>(message);
}

}  // namespace

std::uint64_t wall_clock_us() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

Subscriber::Subscriber(const config::Cluster& cluster) {
  for (const auto& node : cluster.nodes) {
    for (auto source : {Source::election, Source::tap}) {
      zmq::socket_t socket(context_, zmq::socket_type::sub);
      socket.set(zmq::sockopt::linger, 0);
      socket.set(zmq::sockopt::rcvhwm, kReceiveHighWaterMark);
      socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(proto::kMaxFrameBytes));
      socket.set(zmq::sockopt::subscribe, "");
      socket.connect(source == Source::election ? node.election : node.monitor);
      channels_.push_back(Channel{node.id, source, std::move(socket)});
    }
  }
}

bool Subscriber::poll(std::chrono::milliseconds timeout, const std::function<void(const Event&)>& on_event) {
  std::vector<zmq::pollitem_t> items;
  for (auto& channel : channels_) items.push_back({channel.socket.handle(), 0, ZMQ_POLLIN, 0});
  try {
    zmq::poll(items, timeout);
  } catch (const zmq::error_t& error) {
    if (error.num() == EINTR) return false;
    throw;
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].revents & ZMQ_POLLIN) drain(channels_[i], on_event);
  }
  return true;
}

void Subscriber::drain(Channel& channel, const std::function<void(const Event&)>& on_event) {
  std::string error;
  for (int i = 0; i < kBatch; ++i) {
    const auto frame = transport::receive_single(channel.socket, error);
    if (!frame) return;
    const auto now_us = wall_clock_us();
    auto decoded = error.empty() ? proto::decode(*frame) : proto::DecodeResult{proto::DecodeError{error}};
    const auto* message = std::get_if<proto::Message>(&decoded);
    const auto* tap = message != nullptr ? std::get_if<proto::Tap>(message) : nullptr;
    const bool fits = channel.source == Source::tap ? tap != nullptr : message != nullptr && is_election_message(*message);
    if (!fits) {
      ++bad_frames_;
      spdlog::debug("dropped a frame from node {}'s {} channel", channel.node, to_string(channel.source));
      continue;
    }
    if (channel.source == Source::tap) {
      auto event = from_tap(*tap, now_us);
      event.node = channel.node;  // the configuration, not the frame, says whose channel this is
      on_event(event);
    } else {
      on_event(from_election(channel.node, *message, frame->size(), now_us));
    }
  }
}

}  // namespace relay::monitor
