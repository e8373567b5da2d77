// The election rules: pre-vote, random ballots, one vote per term, leader
// heartbeats and check-quorum. docs/protocol.md states the same rules in
// prose; each function names the rule it implements.
#include <algorithm>

#include "core/node.hpp"

namespace relay::core {

using proto::Role;

namespace {

// Rule "fresher log first": ballots are ordered by the freshness of the
// candidate's log (last term, then last index), then by the random value,
// then by the lower node id, so that equal draws still give every voter the
// same favourite.
template <typename B>
bool better_ballot(const B& a, NodeId id_a, const B& b, NodeId id_b) {
  if (a.last_log_term != b.last_log_term) return a.last_log_term > b.last_log_term;
  if (a.last_log_index != b.last_log_index) return a.last_log_index > b.last_log_index;
  return a.ballot != b.ballot ? a.ballot > b.ballot : id_a < id_b;
}

}  // namespace

void Node::on_election_tick() {
  if (now_ >= next_heartbeat_at_) {
    publish_own_state();
    next_heartbeat_at_ = now_ + options_.heartbeat_ticks;
    if (role_ == Role::leader) heartbeat_followers();
    say_hello();
    dispatch_pending();  // held requests whose relay could not leave go again
  }
  switch (role_) {
    case Role::leader:
      check_quorum();
      return;
    case Role::candidate:
      maybe_vote();
      break;
    case Role::follower:
    case Role::pre_candidate:
      break;
  }
  // A follower whose leader went silent, or an election that decided
  // nothing: ask for a new term (a new pre-vote round).
  if (role_ != Role::leader && now_ >= election_deadline_) start_pre_vote();
}

// How long a participant waits for the other ballots before it votes for the
// best one it has: two heartbeat rounds, so each participant's ballot has been
// published at least twice.
std::uint64_t Node::vote_window_ticks() const {
  return std::max<std::uint64_t>(
      1, std::min(2 * options_.heartbeat_ticks, options_.election_timeout_ticks / 2));
}

std::uint64_t Node::next_timer() const {
  auto next = next_heartbeat_at_;
  if (role_ != Role::leader) next = std::min(next, election_deadline_);
  if (role_ == Role::candidate && durable_.voted_for == proto::kNoNode) {
    next = std::min(next, term_started_at_ + vote_window_ticks());
  }
  return next;
}

// Everything a node repeats every heartbeat interval. Repetition is what
// makes PUB/SUB usable for elections: a subscriber that connected late, or a
// message that was lost, is covered by the next round.
void Node::publish_own_state() {
  publish(proto::Heartbeat{durable_.term, options_.self, role_, leader_});
  if (role_ == Role::pre_candidate) {
    publish(proto::PreVote{pre_vote_term_, options_.self, log_.last_term(), log_.last_index()});
  }
  if (role_ == Role::candidate) {
    const auto& mine = ballots_[options_.self];
    publish(proto::Ballot{durable_.term, options_.self, my_ballot_, mine.last_log_term, mine.last_log_index});
    if (durable_.voted_for != proto::kNoNode) {
      publish(proto::Vote{durable_.term, options_.self, durable_.voted_for});
    }
  }
}

// Rule "pre-vote": before touching its durable term, a node asks whether a
// majority also misses the leader. A node cut off from a healthy cluster
// never gets that majority, so it cannot push terms up or depose the leader.
void Node::start_pre_vote() {
  set_leader(proto::kNoNode);
  pre_vote_term_ = durable_.term + 1;
  pre_vote_grants_ = {options_.self};
  reset_election_timer();
  change_role(Role::pre_candidate, "leader silent");
  publish(proto::PreVote{pre_vote_term_, options_.self, log_.last_term(), log_.last_index()});
  if (pre_vote_grants_.size() >= majority()) start_election();
}

void Node::on_pre_vote(const proto::PreVote& message) {
  if (message.from == options_.self || !is_member(message.from)) return;
  // A node whose log lacks entries this one holds could not win a ballot
  // against it, so it is not encouraged to try.
  if (message.term > durable_.term && !leader_is_alive() &&
      !(log_.last_term() != message.last_log_term ? log_.last_term() > message.last_log_term
                                                  : log_.last_index() > message.last_log_index)) {
    publish(proto::PreVoteGrant{message.term, options_.self, message.from});
  }
}

void Node::on_pre_vote_grant(const proto::PreVoteGrant& message) {
  if (role_ != Role::pre_candidate || message.to != options_.self ||
      message.term != pre_vote_term_ || !is_member(message.from)) {
    return;
  }
  pre_vote_grants_.insert(message.from);
  if (pre_vote_grants_.size() >= majority()) start_election();
}

void Node::start_election() { join_election(durable_.term + 1); }

// Rule "ballots": every participant of a term draws one random 64-bit ballot
// and publishes it until the term is decided. A node leads a term at most
// once, so it never stands again in a term it led or may have led.
void Node::join_election(Term term) {
  if (term < durable_.term) return;
  // The current term is joined only by a follower that knows no leader in
  // it. A pre-candidate has given up on it: pulled back in by a ballot that
  // is still being re-published, it would drop its pre-vote for the next
  // term, and with slow links every node could take turns doing so forever.
  if (term == durable_.term && (role_ == Role::candidate || role_ == Role::pre_candidate ||
                                leader_ != proto::kNoNode || term == no_candidacy_term_)) {
    return;
  }
  if (term > durable_.term) enter_term(term);
  ballots_.clear();
  votes_for_me_.clear();
  my_ballot_ = random_.next();
  ballots_[options_.self] = BallotOf{my_ballot_, log_.last_term(), log_.last_index()};
  term_started_at_ = now_;
  ++elections_;
  reset_election_timer();
  change_role(Role::candidate, "election");
  publish(proto::Ballot{durable_.term, options_.self, my_ballot_, log_.last_term(), log_.last_index()});
  if (durable_.voted_for != proto::kNoNode) {
    publish(proto::Vote{durable_.term, options_.self, durable_.voted_for});
  }
}

// Rule "one vote per term": the vote goes to the best ballot this node has
// seen, and it is on disk before it is published. A node votes once every
// participant's ballot is in, or after a short window, whichever is first.
void Node::cast_vote() {
  if (role_ != Role::candidate || durable_.voted_for != proto::kNoNode) return;
  auto best = ballots_.begin();
  for (auto it = ballots_.begin(); it != ballots_.end(); ++it) {
    if (better_ballot(it->second, it->first, best->second, best->first)) best = it;

  }
  persist({durable_.term, best->first});
  publish(proto::Vote{durable_.term, options_.self, best->first});
  if (best->first == options_.self) {
    votes_for_me_.insert(options_.self);
    if (votes_for_me_.size() >= majority()) become_leader();
  }
}

void Node::on_ballot(const proto::Ballot& message) {
  if (message.from == options_.self || !is_member(message.from)) return;
  if (message.term < durable_.term) return;
  if (message.term > durable_.term && role_ != Role::leader && leader_is_alive()) return;
  join_election(message.term);
  if (role_ != Role::candidate || message.term != durable_.term) return;
  ballots_[message.from] = BallotOf{message.ballot, message.last_log_term, message.last_log_index};
  maybe_vote();
}

// A candidate votes once it has the ballot of every live participant (a
// frozen or departed node is not waited for), or when the vote window has
// passed, whichever comes first.
void Node::maybe_vote() {
  if (role_ != Role::candidate || durable_.voted_for != proto::kNoNode) return;
  const bool all_in = std::all_of(options_.members.begin(), options_.members.end(),
                                  [this](NodeId id) { return ballots_.contains(id) || !is_live(id); });
  if (all_in || now_ - term_started_at_ >= vote_window_ticks()) cast_vote();
}

// Rule "quorum": a candidate becomes leader with votes from a majority of the
// configured nodes, never fewer.
void Node::on_vote(const proto::Vote& message) {
  if (message.from == options_.self || !is_member(message.from)) return;
  if (message.term < durable_.term) return;
  if (message.term > durable_.term) {
    if (role_ != Role::leader && leader_is_alive()) return;
    join_election(message.term);
  }
  if (role_ != Role::candidate || message.candidate != options_.self) return;
  votes_for_me_.insert(message.from);
  if (votes_for_me_.size() >= majority()) become_leader();
}

// Rule "heartbeats": a leader's heartbeat of a term at least ours makes us
// its follower. Other heartbeats raise our term only when no leader is alive
// for us (stability); a leader always steps down before a higher term, which
// is how a node that got ahead of the cluster finds its way back.
void Node::on_heartbeat(const proto::Heartbeat& message) {
  if (message.from == options_.self || !is_member(message.from)) return;
  if (message.term > durable_.term) {
    const bool from_leader = message.role == Role::leader;
    if (!from_leader && role_ != Role::leader && leader_is_alive()) return;
    adopt_term(message.term, from_leader ? "newer leader" : "newer term");
  }
  if (message.term < durable_.term) return;

  if (message.role == Role::leader) {
    if (role_ == Role::leader) return;  // impossible by quorum; the invariant check reports it
    if (role_ != Role::follower || leader_ != message.from) {
      become_follower(message.from, "heard leader");
    } else {
      leader_heard_at_ = now_;
      reset_election_timer();
    }
    return;
  }
  if (role_ != Role::leader && message.from == leader_) {
    // Our leader says it does not lead: it stepped down, or this heartbeat is
    // a late one from before it led. Only what follows tells them apart, so
    // look for the next leader unless a leader heartbeat comes within two
    // heartbeat intervals.
    election_deadline_ = std::min(election_deadline_, now_ + 2 * options_.heartbeat_ticks);
  }
}

// Rule "check-quorum": a leader that has not heard a majority within an
// election timeout steps down, so a leader cut off from the cluster stops
// answering as if it still led. A closed connection alone does not count:
// a follower that restarts is back within the timeout.
void Node::check_quorum() {
  const auto timeout = options_.election_timeout_ticks;
  if (now_ - leader_since_ < timeout) return;
  const auto heard = static_cast<std::size_t>(std::count_if(
      options_.members.begin(), options_.members.end(), [this](NodeId id) { return heard_recently(id); }));
  if (heard >= majority()) return;
  stop_leading("lost quorum");
  set_leader(proto::kNoNode);
  reset_election_timer();
  change_role(Role::follower, "lost quorum");
}

}  // namespace relay::core
