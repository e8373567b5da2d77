// relay::monitor::Elections — the elections the monitor has watched, term by
// term: who asked for a pre-vote, each participant's ballot, each vote, the
// winner, and how long the cluster was without a leader.
//
// It is fed every election-channel message whatever the route (heard on the
// node's election PUB, or reported in a tap), so it keeps sets, not logs, and
// reports only what is new. It also keeps the one fact the rest of the view
// needs to judge leaderlessness: the latest leader and when it was last heard.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "monitor/event.hpp"
#include "monitor/finding.hpp"

namespace relay::monitor {

struct ElectionView {
  proto::Term term = 0;
  std::uint64_t started_us = 0;            // first pre-vote, ballot or vote of the term seen
  std::uint64_t leaderless_since_us = 0;   // last heartbeat of the previous leader, or started_us
  std::set<proto::NodeId> pre_voters;      // asked for this term in a pre-vote
  std::map<proto::NodeId, std::uint64_t> ballots;  // participant -> ballot
  std::map<proto::NodeId, proto::NodeId> votes;    // voter -> candidate
  proto::NodeId winner = proto::kNoNode;
  std::uint64_t won_us = 0;
  bool observed = true;  // false: we only saw the winner's heartbeats (joined late)

  std::uint64_t leaderless_us() const { return won_us > leaderless_since_us ? won_us - leaderless_since_us : 0; }
};

class Elections {
 public:
  // Reads one election message (already parsed); appends what is new.
  void on_message(const Line& line, std::uint64_t now_us, std::vector<Finding>& out);

  // The elections seen, oldest first; at most kKept are remembered.
  const std::deque<ElectionView>& all() const { return elections_; }
  // The election of the highest term, if it has no winner yet.
  const ElectionView* undecided() const;
  proto::NodeId leader() const { return leader_; }
  proto::Term leader_term() const { return leader_term_; }

  static constexpr std::size_t kKept = 64;

 private:
  ElectionView& election(proto::Term term, std::uint64_t now_us);
  void on_leader(proto::Term term, proto::NodeId leader, std::uint64_t now_us, std::vector<Finding>& out);

  std::deque<ElectionView> elections_;
  proto::NodeId leader_ = proto::kNoNode;
  proto::Term leader_term_ = 0;
  std::uint64_t leader_heard_us_ = 0;
};

}  // namespace relay::monitor
