// Hand-made event streams for the monitor's tests: each helper builds the
// Event a node's tap or election channel would deliver, with its text made by
// the real proto::describe, so the tests also pin the monitor to that format.
#pragma once

#include <cstdint>
#include <string>

#include "monitor/event.hpp"
#include "proto/describe.hpp"

namespace relay::monitor::testing {

// A stream with its own clock (µs) and each node's tap numbering.
class Stream {
 public:
  std::uint64_t now_us = 1'000'000'000;

  Event heartbeat(proto::NodeId from, proto::Term term, proto::Role role, proto::NodeId leader) {
    return from_election(from, proto::Heartbeat{term, from, role, leader}, 10, tick());
  }
  Event election(proto::NodeId from, const proto::Message& message) { return from_election(from, message, 20, tick()); }

  // A tap from `node`: kind in/out, the channel, the other node, the message.
  Event tap(proto::NodeId node, const char* kind, const char* channel, proto::NodeId peer,
            const proto::Message& message) {
    return tap_text(node, kind, channel, peer, proto::describe(message));
  }
  Event tap_text(proto::NodeId node, const char* kind, const char* channel, proto::NodeId peer, std::string text) {
    const auto at = tick();
    return Event{at, Source::tap, node, ++seq_[node], at, kind, channel, peer, 30, std::move(text)};
  }
  // Pretends `count` taps of `node` were lost on the way.
  void lose_taps(proto::NodeId node, std::uint64_t count) { seq_[node] += count; }
  void restart_taps(proto::NodeId node) { seq_[node] = 0; }

  std::uint64_t tick(std::uint64_t step_us = 100) { return now_us += step_us; }

 private:
  std::uint64_t seq_[16] = {};
};

// An append of "hello" to the stream (a write), or another op on key "k".
inline proto::ClientRequest request(const std::string& client, std::uint64_t id, proto::Op op = proto::Op::append) {
  return proto::ClientRequest{client, id, 2000, op, op == proto::Op::append ? "" : "k", "hello", "", 0, 0};
}

// The ok answer to a request, applied (or, for a read, read) at log `index`.
inline proto::ClientReply ok_reply(const std::string& client, std::uint64_t id, proto::NodeId received_by,
                                   proto::NodeId relayed_by, proto::NodeId answered_by, proto::Term term,
                                   std::uint64_t index) {
  return proto::ClientReply{client, id, proto::Status::ok, received_by, relayed_by, answered_by, term, index,
                            answered_by, "", false, "", 0, {}};
}

}  // namespace relay::monitor::testing
