// What the monitor concludes from the events it receives: a node changed
// role, an election moved on, a request completed its path, an alarm fired.
//
// Every conclusion is a Finding, printed as one readable line off a terminal,
// as one JSON object with --json, and kept in the live view's logs. Alarms are
// also kept as structured records, because scripts and tests ask "which
// alarms fired and about what", not "which lines were printed".
#pragma once

#include <cstdint>
#include <string>

#include "proto/messages.hpp"
#include "util/json.hpp"

namespace relay::monitor {

struct Finding {
  std::string kind;      // node, election, request, alarm, message, note
  std::uint64_t time_us = 0;  // monitor clock, µs since the epoch
  std::string text;      // one human-readable line, without the time
  util::JsonObject json;  // the same finding; starts with "event" and "time_us"
};

Finding make_finding(std::string kind, std::uint64_t time_us, std::string text);

// The alarm types, as they appear in the "alarm" field of the JSON.
inline constexpr const char* kTwoLeaders = "two_leaders";        // two nodes led the same term
inline constexpr const char* kExecutedTwice = "executed_twice";  // one request, two executions
inline constexpr const char* kTapGap = "tap_gap";                // tap events lost on the way
inline constexpr const char* kSilent = "silent";                 // nothing heard for an election timeout

struct Alarm {
  std::string type;  // one of the constants above
  std::uint64_t time_us = 0;
  proto::NodeId node = proto::kNoNode;   // the node concerned (for two_leaders, the second)
  proto::NodeId other = proto::kNoNode;  // two_leaders: the first leader of the term
  proto::Term term = 0;                  // two_leaders, executed_twice
  std::uint64_t missed = 0;              // tap_gap: events missed; silent: ms since last heard
  std::string request;                   // executed_twice: "client_id#request_id"
  std::string text;                      // the alarm in words
};

// Both the structured alarm and the finding that reports it.
Finding alarm_finding(const Alarm& alarm);

// "12:34:56.789" in local time: the prefix of every plain line.
std::string clock_text(std::uint64_t time_us);

}  // namespace relay::monitor
