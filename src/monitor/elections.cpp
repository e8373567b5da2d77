#include "monitor/elections.hpp"

#include <algorithm>
#include <cstdio>

#include "util/words.hpp"

namespace relay::monitor {
namespace {

std::string ballot_text(std::uint64_t ballot) {
  char text[19];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(ballot));
  return text;
}

std::string ms_text(std::uint64_t us) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", static_cast<double>(us) / 1000.0);
  return text;
}

}  // namespace

const ElectionView* Elections::undecided() const {
  if (elections_.empty() || elections_.back().winner != proto::kNoNode) return nullptr;
  return &elections_.back();
}

// Elections are kept in term order; a message for a term older than the
// oldest one kept still gets a record, placed where it belongs.
ElectionView& Elections::election(proto::Term term, std::uint64_t now_us) {
  auto at = std::lower_bound(elections_.begin(), elections_.end(), term,
                             [](const ElectionView& e, proto::Term t) { return e.term < t; });
  if (at != elections_.end() && at->term == term) return *at;
  ElectionView fresh;
  fresh.term = term;
  fresh.started_us = now_us;
  // The cluster has been without a leader since the old one was last heard,
  // not since the first ballot: followers wait out a timeout first.
  fresh.leaderless_since_us = leader_term_ < term && leader_heard_us_ != 0 ? leader_heard_us_ : now_us;
  at = elections_.insert(at, std::move(fresh));
  if (elections_.size() > kKept) {
    const bool dropping_this = at == elections_.begin();
    elections_.pop_front();
    if (dropping_this) return elections_.front();  // a very old term: merge into the oldest kept
  }
  return *at;
}

void Elections::on_message(const Line& line, std::uint64_t now_us, std::vector<Finding>& out) {
  const auto term = line.number("term");
  const auto from = static_cast<proto::NodeId>(line.number("from"));
  if (term == 0 || from == proto::kNoNode) return;
  if (line.type == "heartbeat") {
    if (line.text("role") == "leader") on_leader(term, from, now_us, out);
    return;
  }
  if (term < leader_term_) return;  // stale repeats from before the current leader
  auto& e = election(term, now_us);
  if (line.type == "pre_vote" && e.pre_voters.insert(from).second) {
    auto f = make_finding("election", now_us,
                          "pre-vote: node " + std::to_string(from) + " asks to start term " + std::to_string(term));
    f.json.field("phase", "pre_vote").field("term", term).field("node", from);
    out.push_back(std::move(f));
  } else if (line.type == "ballot") {
    const auto ballot = line.hex_or_number("ballot");
    if (!e.ballots.emplace(from, ballot).second) return;
    auto f = make_finding("election", now_us,
                          "ballot: node " + std::to_string(from) + " drew " + ballot_text(ballot) + " in term " +
                              std::to_string(term));
    f.json.field("phase", "ballot").field("term", term).field("node", from).field("ballot", ballot_text(ballot));
    out.push_back(std::move(f));
  } else if (line.type == "vote") {
    const auto candidate = static_cast<proto::NodeId>(line.number("candidate"));
    if (!e.votes.emplace(from, candidate).second) return;
    auto f = make_finding("election", now_us,
                          "vote: node " + std::to_string(from) + " votes for node " + std::to_string(candidate) +
                              " in term " + std::to_string(term));
    f.json.field("phase", "vote").field("term", term).field("node", from).field("candidate", candidate);
    out.push_back(std::move(f));
  }
}

void Elections::on_leader(proto::Term term, proto::NodeId leader, std::uint64_t now_us, std::vector<Finding>& out) {
  if (term > leader_term_ || (term == leader_term_ && leader == leader_)) {
    leader_ = leader;
    leader_term_ = term;
    leader_heard_us_ = now_us;
  }
  const bool seen = std::any_of(elections_.begin(), elections_.end(), [term](const ElectionView& e) {
    return e.term == term && e.winner != proto::kNoNode;
  });
  if (seen) return;  // a second leader of the same term is the alarm engine's business
  const bool observed = std::any_of(elections_.begin(), elections_.end(),
                                    [term](const ElectionView& e) { return e.term == term; });
  auto& e = election(term, now_us);
  e.winner = leader;
  e.won_us = now_us;
  e.observed = observed;
  std::string text = "leader: node " + std::to_string(leader) + " leads term " + std::to_string(term);
  if (observed) {
    text += " (" + util::counted(e.votes.size(), "vote") + " seen, " + ms_text(e.leaderless_us()) +
            " without a leader)";
  } else {
    text += " (election not observed)";
  }
  auto f = make_finding("election", now_us, std::move(text));
  f.json.field("phase", "won").field("term", term).field("node", leader).field("observed", observed);
  f.json.field("votes", static_cast<std::uint64_t>(e.votes.size()));
  f.json.field("ballots", static_cast<std::uint64_t>(e.ballots.size()));
  if (observed) f.json.field("leaderless_us", e.leaderless_us());
  out.push_back(std::move(f));
}

}  // namespace relay::monitor
