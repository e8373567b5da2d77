// relay::monitor::Event — one thing the monitor received, in one normalized
// shape whatever channel it came from.
//
// A node's election PUB gives us its ballots, votes and heartbeats directly;
// its monitor XPUB gives us taps (every message it sent or received, and its
// state changes). Both become an Event whose `text` is the describe() line of
// the message, so one parser (parse_line) serves live sessions, recordings
// and the report alike, and a recording is just these events in order.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/messages.hpp"

namespace relay::monitor {

enum class Source : std::uint8_t {
  election,  // published on the node's election channel, received by us directly
  tap,       // reported by the node on its monitor channel
};

const char* to_string(Source source);
std::optional<Source> parse_source(std::string_view name);

struct Event {
  std::uint64_t recv_us = 0;  // monitor wall clock when it arrived, µs since the epoch
  Source source = Source::tap;
  proto::NodeId node = proto::kNoNode;  // whose channel it came from
  std::uint64_t seq = 0;      // the tap's sequence number; 0 for election messages
  std::uint64_t time_us = 0;  // the node's clock for taps; recv_us for election messages
  std::string kind;           // taps: in, out, role, socket, drop; election messages: pub
  std::string channel;        // election, peer, client, or empty for state events
  proto::NodeId peer = proto::kNoNode;  // the other node, 0 for clients and broadcasts
  std::uint32_t size = 0;     // frame size in bytes
  std::string text;           // describe() of the message, or the state change in words
};

Event from_tap(const proto::Tap& tap, std::uint64_t recv_us);
Event from_election(proto::NodeId node, const proto::Message& message, std::size_t size,
                    std::uint64_t recv_us);

// A describe() line read back: the first word and its key=value pairs.
// Values are unquoted and unescaped; words that follow a value without a key
// of their own (a role change's free-text reason) are joined onto it.
struct Line {
  std::string type;
  std::vector<std::pair<std::string, std::string>> values;

  const std::string* find(std::string_view key) const;
  std::string text(std::string_view key) const;  // empty when absent
  std::uint64_t number(std::string_view key) const;  // 0 when absent or not a number
  // Ballots are written in hex (0x...), everything else in decimal.
  std::uint64_t hex_or_number(std::string_view key) const;
};

Line parse_line(std::string_view line);

// Tells heartbeat traffic from the rest, for the views that leave it out
// (--messages and the report's arrows), where it would bury everything else:
// - a `heartbeat` on the election channel;
// - an `append` without entries: the leader sends one to each follower every
//   heartbeat interval (docs/protocol.md, Rule "append");
// - an `append_reply` a follower sent that tells its leader nothing new: the
//   same term and last_index as its last reply to it. That is the answer to
//   such an append, or a hello (ok=0, round 0) the follower sends when the
//   leader's append is a little late. The first reply to a leader and one
//   that moves last_index are news.
// It remembers each follower's last reply, so it must see every event of a
// stream in order, whatever the caller then does with it.
class HeartbeatFilter {
 public:
  bool is_heartbeat(const Event& event, const Line& line);

 private:
  struct LastReply {
    std::uint64_t term = 0;  // 0: none yet
    std::uint64_t last_index = 0;
  };
  std::map<std::pair<proto::NodeId, proto::NodeId>, LastReply> replies_;  // (follower, leader)
};

}  // namespace relay::monitor
