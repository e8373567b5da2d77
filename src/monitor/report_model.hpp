// What the HTML report draws, computed from a recording: lanes, each node's
// role over time, the messages as arrows from sender to receiver, the
// elections, the requests' paths and the alarms.
//
// The recording is replayed through a ClusterView, so the report agrees with
// what the live monitor said; arrows pair a sender's "out" tap with the
// receiver's "in" tap of the same message. Times are the nodes' own clocks
// for taps and the monitor's for what it heard directly; on one machine they
// agree, across machines they are as good as the clocks' synchronisation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "monitor/cluster_view.hpp"
#include "monitor/record.hpp"

namespace relay::monitor {

struct RoleSpan {
  proto::NodeId node = proto::kNoNode;
  std::string role;  // follower, pre_candidate, candidate, leader, or "silent"
  proto::Term term = 0;
  std::uint64_t from_us = 0;
  std::uint64_t to_us = 0;
};

struct Arrow {
  std::string from;  // lane ids: "node:2", "client:c1a2"
  std::string to;
  std::uint64_t sent_us = 0;
  std::uint64_t received_us = 0;
  bool delivered = true;  // false: no receiver reported it
  std::string type;       // the message type
  std::string request;    // "client#request" when it carries a client request or its answer
  std::string text;
};

struct ReportModel {
  RecordHeader header;
  std::uint64_t first_us = 0;
  std::uint64_t last_us = 0;
  std::vector<std::string> clients;  // client ids with a lane, in order of appearance
  std::vector<RoleSpan> roles;
  std::vector<Arrow> arrows;
  std::vector<ElectionView> elections;
  std::vector<RequestPath> requests;
  std::vector<Alarm> alarms;
  std::uint64_t events = 0;
  std::uint64_t arrows_dropped = 0;  // beyond kMaxArrows, not drawn

  static constexpr std::size_t kMaxArrows = 20'000;
  static constexpr std::size_t kMaxClientLanes = 8;
};

// Reads a recording; returns an error line instead if it is malformed.
std::variant<ReportModel, std::string> build_report_model(const std::filesystem::path& recording);

}  // namespace relay::monitor
