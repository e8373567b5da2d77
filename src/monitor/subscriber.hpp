// relay::monitor::Subscriber — the monitor's sockets: a SUB to every node's
// election PUB and one to every node's monitor XPUB.
//
// Subscribing to the monitor XPUB is what turns a node's tap on (a node taps
// only while someone listens). The election channel needs no cooperation at
// all, so heartbeats tell us each node's role, term and leader even before
// its taps arrive, and from nodes whose taps we lost. This is the monitor's
// only ZeroMQ code.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include <zmq.hpp>

#include "config/config.hpp"
#include "monitor/event.hpp"

namespace relay::monitor {

std::uint64_t wall_clock_us();

class Subscriber {
 public:
  // Connects (ZeroMQ connects lazily, so nodes may start later or restart).
  explicit Subscriber(const config::Cluster& cluster);

  // Waits at most `timeout` for frames and hands every one that decodes to
  // `on_event`, stamped with the time it was read. Returns false when polling
  // was interrupted by a signal.
  bool poll(std::chrono::milliseconds timeout, const std::function<void(const Event&)>& on_event);

  std::uint64_t bad_frames() const { return bad_frames_; }

 private:
  struct Channel {
    proto::NodeId node;
    Source source;
    zmq::socket_t socket;
  };
  void drain(Channel& channel, const std::function<void(const Event&)>& on_event);

  zmq::context_t context_{1};
  std::vector<Channel> channels_;
  std::uint64_t bad_frames_ = 0;
};

}  // namespace relay::monitor
