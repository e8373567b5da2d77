// The election rules of the core, one test per rule (docs/protocol.md,
// "Election and relay rules"). Each test drives one node by hand with a fixed seed and
// checks the actions it returns.
#include <doctest/doctest.h>

#include <limits>
#include <set>

#include "unit/core_harness.hpp"

namespace relay::test {
namespace {

using proto::Ballot;
using proto::Heartbeat;
using proto::PreVote;
using proto::PreVoteGrant;
using proto::Vote;

constexpr std::uint64_t kMaxBallot = std::numeric_limits<std::uint64_t>::max();

bool has_vote(const Actions& actions) { return !published<Vote>(actions).empty(); }

}  // namespace

TEST_SUITE("core election") {

TEST_CASE("a follower that hears no leader for the election timeout starts a pre-vote, not a new term") {
  Driver d(1, 3);
  d.tick(kElectionTimeoutTicks - 1);
  CHECK(published<PreVote>(d.last).empty());

  d.tick_until_pre_vote();
  CHECK(d.node.now() >= kElectionTimeoutTicks);
  CHECK(d.node.now() < 2 * kElectionTimeoutTicks);
  const auto pre_votes = published<PreVote>(d.last);
  REQUIRE(pre_votes.size() == 1);
  CHECK(pre_votes[0].term == 1);
  CHECK(pre_votes[0].from == 1);
  CHECK(all_of<core::Persist>(d.last).empty());
  CHECK(d.node.term() == 0);
  CHECK(d.node.role() == Role::pre_candidate);

  // The pre-vote is repeated with every heartbeat (PUB/SUB may lose it); the
  // heartbeat schedule runs on regardless of when the pre-vote began.
  for (int round = 0; round < 3; ++round) {
    d.tick_until([](const Actions& a) { return !published<PreVote>(a).empty(); });
    CHECK(d.ticked <= kHeartbeatTicks);
    CHECK(published<PreVote>(d.last).front().term == 1);
  }
  CHECK(d.ticked == kHeartbeatTicks);
  CHECK(d.node.term() == 0);
}

TEST_CASE("the election timeout is drawn in [T, 2T) from the injected seed") {
  std::set<std::uint64_t> timeouts;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Driver d(1, 3, {}, seed);
    d.tick_until_pre_vote();
    CHECK(d.node.now() >= kElectionTimeoutTicks);
    CHECK(d.node.now() < 2 * kElectionTimeoutTicks);
    timeouts.insert(d.node.now());
  }
  CHECK(timeouts.size() > 10);
}

TEST_CASE("a node that hears the leader refuses pre-votes, and grants once the leader is silent") {
  Driver d(2, 3);
  d.follow(1, 1);
  d.hear(PreVote{2, 3});
  CHECK(published<PreVoteGrant>(d.last).empty());

  d.tick(kElectionTimeoutTicks - 1);
  d.hear(PreVote{2, 3});
  CHECK(published<PreVoteGrant>(d.last).empty());

  d.tick(1);  // an election timeout without the leader
  d.hear(PreVote{2, 3});
  const auto grants = published<PreVoteGrant>(d.last);
  REQUIRE(grants.size() == 1);
  CHECK(grants[0].term == 2);
  CHECK(grants[0].from == 2);
  CHECK(grants[0].to == 3);
  CHECK(d.node.term() == 1);  // granting a pre-vote changes nothing durable
  CHECK(all_of<core::Persist>(d.last).empty());
}

TEST_CASE("a pre-vote for a term not above the node's own is refused") {
  Driver d(2, 3, {4, proto::kNoNode});
  d.tick(2 * kElectionTimeoutTicks);
  d.hear(PreVote{4, 3});
  CHECK(published<PreVoteGrant>(d.last).empty());
  d.hear(PreVote{5, 3});
  CHECK(published<PreVoteGrant>(d.last).size() == 1);
}

TEST_CASE("a pre-vote majority starts term+1, persisted before the ballot") {
  Driver d(1, 3);
  d.tick_until_pre_vote();
  d.hear(PreVoteGrant{1, 2, 1});

  const auto persist = index_of<core::Persist>(d.last);
  const auto ballot = index_of<core::Publish, Ballot>(d.last);
  REQUIRE(persist);
  REQUIRE(ballot);
  CHECK(*persist < *ballot);
  CHECK(all_of<core::Persist>(d.last).front().state == DurableState{1, proto::kNoNode});
  CHECK(published<Ballot>(d.last).front().term == 1);
  CHECK(d.node.term() == 1);
  CHECK(d.node.role() == Role::candidate);
}

TEST_CASE("pre-vote grants for another node, another round or from a stranger do not count") {
  Driver d(1, 5);
  d.tick_until_pre_vote();
  d.hear(PreVoteGrant{1, 2, 3});  // granted to node 3
  d.hear(PreVoteGrant{7, 3, 1});  // another round
  d.hear(PreVoteGrant{1, 9, 1});  // not a member
  d.hear(PreVoteGrant{1, 2, 1});  // one real grant: 2 of 5 is no majority
  d.hear(PreVoteGrant{1, 2, 1});  // the same grant again
  CHECK(d.node.role() == Role::pre_candidate);
  CHECK(d.node.term() == 0);
  d.hear(PreVoteGrant{1, 4, 1});
  CHECK(d.node.role() == Role::candidate);
  CHECK(d.node.term() == 1);
}

TEST_CASE("ballots are re-published every heartbeat until the term is decided") {
  Driver d(1, 3);
  d.become_candidate({2});
  const auto first = published<Ballot>(d.last);
  REQUIRE(first.size() == 1);

  for (int round = 0; round < 4; ++round) {
    d.tick_until([](const Actions& a) { return !published<Ballot>(a).empty(); });
    CHECK(d.ticked <= kHeartbeatTicks);
    const auto again = published<Ballot>(d.last);
    REQUIRE(again.size() == 1);
    CHECK(again[0].ballot == first[0].ballot);  // one ballot per node per term
    CHECK(again[0].term == 1);
  }
  // After the vote window it has voted, and the vote is repeated with the ballot.
  CHECK(has_vote(d.last));

  d.follow(2, 1);  // the term is decided: node 2 leads it
  d.tick_until([](const Actions& a) { return !published<Ballot>(a).empty() || has_vote(a); },
               4 * kHeartbeatTicks);
  CHECK(d.ticked > 4 * kHeartbeatTicks);
}

TEST_CASE("a candidate votes for the best ballot, persisted before the vote is published") {
  Driver d(1, 3);
  d.become_candidate({2});
  const auto own = published<Ballot>(d.last).front().ballot;
  REQUIRE(own != kMaxBallot);
  d.hear(Ballot{1, 3, 0});
  CHECK_FALSE(has_vote(d.last));  // node 2's ballot is still missing
  d.hear(Ballot{1, 2, kMaxBallot});

  const auto persist = index_of<core::Persist>(d.last);
  const auto vote = index_of<core::Publish, Vote>(d.last);
  REQUIRE(persist);
  REQUIRE(vote);
  CHECK(*persist < *vote);
  CHECK(all_of<core::Persist>(d.last).front().state == DurableState{1, 2});
  CHECK(published<Vote>(d.last).front().candidate == 2);
}

TEST_CASE("equal ballots go to the lower node id") {
  Driver d(3, 3);
  d.become_candidate({2});
  const auto own = published<Ballot>(d.last).front().ballot;
  d.hear(Ballot{1, 2, own});
  d.hear(Ballot{1, 1, own});
  const auto votes = published<Vote>(d.last);
  REQUIRE(votes.size() == 1);
  CHECK(votes[0].candidate == 1);
}

TEST_CASE("without every ballot, a candidate votes when the vote window closes") {
  Driver d(1, 3);
  d.become_candidate({2});
  d.hear(Ballot{1, 2, kMaxBallot});
  d.tick_until(has_vote);
  CHECK(d.ticked == 2 * kHeartbeatTicks);  // min(2 heartbeats, half an election timeout)
  CHECK(published<Vote>(d.last).front().candidate == 2);
}

TEST_CASE("a candidate does not wait for the ballot of a node silent for an election timeout") {
  Driver d(1, 3);
  d.tick_until_pre_vote();
  d.hear(follower_heartbeat(0, 2, proto::kNoNode));  // node 3 has never been heard: frozen or gone
  d.hear(proto::PreVoteGrant{1, 2, 1});
  CHECK_FALSE(has_vote(d.last));
  d.hear(Ballot{1, 2, kMaxBallot});
  REQUIRE(has_vote(d.last));  // at once, not after the vote window
  CHECK(published<Vote>(d.last).front().candidate == 2);
}

TEST_CASE("a candidate does not wait for the ballot of a peer whose connection closed") {
  Driver d(1, 3);
  d.become_candidate({2});
  d.hear(Ballot{1, 2, kMaxBallot});
  CHECK_FALSE(has_vote(d.last));
  d.step(core::PeerConnection{3, false});
  REQUIRE(has_vote(d.last));
  CHECK(published<Vote>(d.last).front().candidate == 2);
}

TEST_CASE("a pre-candidate is not pulled back into the term it has given up on") {
  Driver d(1, 3);
  d.become_candidate({2});
  REQUIRE(d.node.role() == Role::candidate);
  const Term term = d.node.term();
  d.tick_until_pre_vote();  // the term decided nothing: ask for the next
  REQUIRE(d.node.role() == Role::pre_candidate);
  d.hear(Ballot{term, 3, 5});  // a ballot of the failed term, still re-published
  CHECK(d.node.role() == Role::pre_candidate);
  d.hear(proto::PreVoteGrant{term + 1, 2, 1});
  CHECK(d.node.role() == Role::candidate);
  CHECK(d.node.term() == term + 1);
}

TEST_CASE("election messages with a term near the end of its range are ignored") {
  Driver d(1, 3);
  d.follow(2, 1);
  d.hear(leader_heartbeat(core::kMaxTerm, 3));
  CHECK(d.node.term() == 1);
  CHECK(d.node.leader() == 2);
  d.hear(follower_heartbeat(~Term{0}, 3, proto::kNoNode));
  CHECK(d.node.term() == 1);
}

TEST_CASE("a node never votes twice in a term, also after a restart from its durable state") {
  Driver d(1, 3);
  d.become_candidate({2});
  d.hear(Ballot{1, 2, kMaxBallot - 1});
  d.tick_until(has_vote);
  REQUIRE(d.disk == DurableState{1, 2});

  d.hear(Ballot{1, 3, kMaxBallot});  // a better ballot, too late
  CHECK(all_of<core::Persist>(d.last).empty());
  for (const auto& vote : published<Vote>(d.last)) CHECK(vote.candidate == 2);

  // The process restarts with what it persisted and a new seed.
  Driver restarted(1, 3, d.disk, kSeed + 1);
  CHECK(restarted.node.durable() == DurableState{1, 2});
  restarted.hear(Ballot{1, 3, kMaxBallot});
  for (int i = 0; i < 4 * static_cast<int>(kHeartbeatTicks); ++i) {
    for (const auto& persist : all_of<core::Persist>(restarted.last)) {
      CHECK((persist.state.term > 1 || persist.state.voted_for == 2));
    }
    for (const auto& vote : published<Vote>(restarted.last)) {
      CHECK((vote.term > 1 || vote.candidate == 2));
    }
    restarted.tick();
  }
}

TEST_CASE("a leader needs votes from a majority of the configured nodes (1 to 5 nodes)") {
  for (std::size_t cluster = 1; cluster <= 5; ++cluster) {
    CAPTURE(cluster);
    const std::size_t majority = cluster / 2 + 1;
    Driver d(1, cluster);
    d.tick_until_pre_vote();
    for (NodeId from = 2; from <= majority; ++from) {
      CHECK(d.node.role() == Role::pre_candidate);
      d.hear(PreVoteGrant{1, from, 1});
    }
    CHECK(d.node.role() == Role::candidate);

    d.tick_until(has_vote);  // only its own ballot is known: it votes for itself
    std::size_t votes = 1;
    for (NodeId from = 2; from <= cluster + 1; ++from) {
      CAPTURE(votes);
      CHECK((d.node.role() == Role::leader) == (votes >= majority));
      if (from > cluster) break;
      d.hear(Vote{1, from, 1});
      ++votes;
    }
  }
}

TEST_CASE("votes for another candidate, of another term or from a stranger do not count") {
  Driver d(1, 3);
  d.become_candidate({2});
  d.tick_until(has_vote);
  d.hear(Vote{1, 2, 3});
  d.hear(Vote{1, 9, 1});
  d.hear(Vote{1, 1, 1});  // its own vote, echoed back
  CHECK(d.node.role() == Role::candidate);
  d.hear(Vote{1, 3, 1});
  CHECK(d.node.role() == Role::leader);
}

TEST_CASE("a new leader announces itself at once and heartbeats every interval") {
  Driver d(1, 3);
  d.become_leader(3);
  REQUIRE(d.node.role() == Role::leader);
  const auto announced = published<Heartbeat>(d.last);
  REQUIRE(announced.size() == 1);
  CHECK(announced[0].role == Role::leader);
  CHECK(announced[0].leader == 1);
  CHECK(announced[0].term == 1);
  for (int round = 0; round < 4; ++round) {
    d.hear(proto::Heartbeat{1, 2, Role::follower, 1});
    d.tick_until([](const Actions& a) { return !published<Heartbeat>(a).empty(); });
    CHECK(d.ticked <= kHeartbeatTicks);
    CHECK(published<Heartbeat>(d.last).front().role == Role::leader);
  }
  CHECK(d.ticked == kHeartbeatTicks);
}

TEST_CASE("check-quorum: a leader that hears no majority for an election timeout steps down") {
  Driver d(1, 3);
  d.become_leader(3);
  REQUIRE(d.node.role() == Role::leader);
  // One follower of two is a majority with the leader itself.
  for (std::uint64_t t = 0; t < 3 * kElectionTimeoutTicks; ++t) {
    if (t % kHeartbeatTicks == 0) d.hear(follower_heartbeat(1, 2, 1));
    d.tick();
    REQUIRE(d.node.role() == Role::leader);
  }
  // Then silence.
  d.tick_until([](const Actions& a) { return !all_of<core::RoleChanged>(a).empty(); });
  CHECK(d.node.role() == Role::follower);
  CHECK(d.node.leader() == proto::kNoNode);
  CHECK(d.node.term() == 1);
  CHECK(d.ticked <= kElectionTimeoutTicks);
  // It says so in its next heartbeat, so that the followers look for another leader.
  d.tick_until([](const Actions& a) { return !published<Heartbeat>(a).empty(); });
  CHECK(published<Heartbeat>(d.last).front().role != Role::leader);
}

TEST_CASE("a leader steps down on a higher term") {
  SUBCASE("heard in a heartbeat") {
    Driver d(1, 3);
    d.become_leader(3);
    d.hear(Heartbeat{2, 3, Role::candidate, proto::kNoNode});
    CHECK(d.node.role() == Role::follower);
    CHECK(d.node.term() == 2);
    CHECK(d.disk == DurableState{2, proto::kNoNode});
  }
  SUBCASE("heard in a ballot") {
    Driver d(1, 3);
    d.become_leader(3);
    d.hear(Ballot{2, 3, 7});
    CHECK(d.node.role() == Role::candidate);  // it joins the election of term 2
    CHECK(d.node.term() == 2);
    CHECK(d.node.leader() == proto::kNoNode);
  }
  SUBCASE("heard in a leader's heartbeat") {
    Driver d(1, 3);
    d.become_leader(3);
    d.follow(2, 5);
    CHECK(d.node.role() == Role::follower);
    CHECK(d.node.leader() == 2);
    CHECK(d.node.term() == 5);
  }
}

TEST_CASE("a follower that hears its leader ignores other nodes' higher terms (stability)") {
  Driver d(2, 3);
  d.follow(1, 1);
  d.hear(Ballot{2, 3, kMaxBallot});
  d.hear(Heartbeat{2, 3, Role::candidate, proto::kNoNode});
  d.hear(Vote{2, 3, 3});
  CHECK(d.node.term() == 1);
  CHECK(d.node.leader() == 1);
  CHECK(d.node.role() == Role::follower);
  CHECK(d.disk == DurableState{1, proto::kNoNode});
}

TEST_CASE("a restarted node follows the leader it hears without starting a term") {
  Driver d(2, 3, {3, 1}, kSeed + 7);
  CHECK(d.node.role() == Role::follower);
  CHECK(d.node.term() == 3);
  CHECK(d.node.leader() == proto::kNoNode);
  d.follow(1, 3);
  CHECK(d.node.leader() == 1);
  CHECK(all_of<core::Persist>(d.last).empty());
  for (std::uint64_t t = 0; t < 4 * kElectionTimeoutTicks; ++t) {
    if (t % kHeartbeatTicks == 0) d.follow(1, 3);
    d.tick();
    REQUIRE(published<PreVote>(d.last).empty());
  }
}

TEST_CASE("a leader's heartbeat makes a candidate of the same term its follower") {
  Driver d(1, 3);
  d.become_candidate({2});
  d.follow(3, 1);
  CHECK(d.node.role() == Role::follower);
  CHECK(d.node.leader() == 3);
  CHECK(d.node.term() == 1);
}

TEST_CASE("a follower that learned a term from a heartbeat joins that term's election on a ballot") {
  Driver d(2, 3);
  d.hear(Heartbeat{1, 3, Role::candidate, proto::kNoNode});
  CHECK(d.node.term() == 1);
  CHECK(d.node.role() == Role::follower);
  d.hear(Ballot{1, 3, 9});
  CHECK(d.node.role() == Role::candidate);
  CHECK(published<Ballot>(d.last).size() == 1);
}

// Found by relay-sim seed 6737: a leader that stepped down rejoined its own
// term when a late ballot arrived, collected the same voters' re-published
// votes and led the term a second time. With a log, a second tenure would
// write a second noop of the same term at another index: two entries with
// one (index, term) and different contents break log matching.
TEST_CASE("a node leads a term at most once: not again after a check-quorum step-down") {
  Driver d(1, 3);
  d.become_leader(3);
  d.from_client("c", request("alice", 1));
  REQUIRE(written_entries(d.last).size() == 1);  // in its log, not answered: nobody acked it
  CHECK(client_replies(d.last).empty());
  d.tick_until([](const Actions& a) { return !all_of<core::RoleChanged>(a).empty(); });
  REQUIRE(d.node.role() == Role::follower);
  // The write it held is answered as it steps down, never left waiting.
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == Status::unknown);

  // Candidates of term 1 that never heard it lead re-publish their ballots
  // and their votes for it (or the network delivers them late).
  d.hear(Ballot{1, 2, 5});
  d.hear(Vote{1, 2, 1});
  d.hear(Vote{1, 3, 1});
  CHECK(d.node.role() != Role::leader);
  CHECK(d.node.term() == 1);

  // It may lead a later term, which it opens with a noop of its own.
  const auto last_index = d.node.log().last_index();
  d.become_leader(3);
  REQUIRE(d.node.role() == Role::leader);
  CHECK(d.node.term() == 2);
  REQUIRE(d.node.log().last_index() == last_index + 1);
  CHECK(d.node.log().at(last_index + 1).term == 2);
  CHECK(d.node.log().at(last_index + 1).op == proto::Op::noop);
}

TEST_CASE("a node leads a term at most once: not again after a restart in that term") {
  // It led term 1 (or may have: the disk does not say) and restarted.
  Driver d(1, 3, {1, 1}, kSeed + 3);
  d.hear(Ballot{1, 2, 5});
  d.hear(Vote{1, 2, 1});
  d.hear(Vote{1, 3, 1});
  CHECK(d.node.role() != Role::leader);
  CHECK(all_of<core::Persist>(d.last).empty());
  d.become_leader(3);
  CHECK(d.node.role() == Role::leader);
  CHECK(d.node.term() == 2);
}

// Found by relay-sim seed 10659: a heartbeat node 3 published as a candidate,
// delivered after its first heartbeats as leader, made both followers drop a
// healthy leader and elect another.
TEST_CASE("a late heartbeat from before the leader led does not make its followers drop it") {
  Driver d(2, 3);
  d.follow(1, 1);
  d.hear(Heartbeat{1, 1, Role::candidate, proto::kNoNode});
  CHECK(d.node.leader() == 1);
  d.hear(PreVote{2, 3});
  CHECK(published<PreVoteGrant>(d.last).empty());  // the leader is still alive for it
  for (std::uint64_t t = 1; t <= 4 * kElectionTimeoutTicks; ++t) {
    if (t % kHeartbeatTicks == 0) d.follow(1, 1);
    d.tick();
    REQUIRE(published<PreVote>(d.last).empty());
  }
  CHECK(d.node.leader() == 1);
}

TEST_CASE("a leader that says it stepped down is replaced within two heartbeats, not an election timeout") {
  Driver d(2, 3);
  d.follow(1, 1);
  d.tick(10);
  d.hear(Heartbeat{1, 1, Role::follower, proto::kNoNode});  // node 1 lost its quorum
  d.tick_until_pre_vote();
  CHECK(d.ticked <= 2 * kHeartbeatTicks);
  CHECK(d.node.leader() == proto::kNoNode);
}

// ---- elections with logs (docs/replication.md, "Election with logs") ----

// Node `self` of a 3-node cluster restarted in `term` with a log whose entry i
// has term terms[i-1].
Driver with_log(NodeId self, Term term, const std::vector<Term>& terms, std::uint64_t seed = kSeed) {
  return Driver(options(self, 3), core::Restored{{term, proto::kNoNode}, 0, 0, {}, log_of_terms(terms)}, seed);
}

TEST_CASE("a ballot with a fresher log wins over a higher random ballot") {
  SUBCASE("a higher last term beats a longer log and a higher ballot") {
    Driver d(1, 3);
    d.become_candidate({2});
    d.hear(Ballot{1, 3, kMaxBallot, 0, 7});
    d.hear(Ballot{1, 2, 0, 1, 1});
    const auto votes = published<Vote>(d.last);
    REQUIRE(votes.size() == 1);
    CHECK(votes[0].candidate == 2);
  }
  SUBCASE("with the same last term, the longer log wins") {
    Driver d(1, 3);
    d.become_candidate({2});
    d.hear(Ballot{1, 3, kMaxBallot, 0, 0});
    d.hear(Ballot{1, 2, 0, 0, 0});  // equally fresh: the random ballot decides
    REQUIRE(published<Vote>(d.last).size() == 1);
    CHECK(published<Vote>(d.last)[0].candidate == 3);

    auto e = with_log(1, 2, {1, 2});
    e.become_candidate({2});
    REQUIRE(e.node.term() == 3);
    e.hear(Ballot{3, 3, kMaxBallot, 2, 2});
    e.hear(Ballot{3, 2, 0, 2, 3});
    REQUIRE(published<Vote>(e.last).size() == 1);
    CHECK(published<Vote>(e.last)[0].candidate == 2);
  }
  SUBCASE("a candidate whose own log is fresher votes for itself against any ballot") {
    auto d = with_log(1, 2, {1, 2});
    d.become_candidate({2});
    const auto own = published<Ballot>(d.last);
    REQUIRE(own.size() == 1);
    CHECK(own[0].last_log_term == 2);
    CHECK(own[0].last_log_index == 2);
    d.hear(Ballot{3, 2, kMaxBallot, 1, 9});
    d.hear(Ballot{3, 3, kMaxBallot, 2, 1});
    REQUIRE(published<Vote>(d.last).size() == 1);
    CHECK(published<Vote>(d.last)[0].candidate == 1);
  }
}

TEST_CASE("a pre-vote from a node with a staler log is not granted; an equally fresh or fresher one is") {
  auto d = with_log(2, 2, {1, 2, 2});
  d.tick(2 * kElectionTimeoutTicks);  // no leader for an election timeout
  d.hear(PreVote{3, 3, 2, 2});        // same last term, shorter
  CHECK(published<PreVoteGrant>(d.last).empty());
  d.hear(PreVote{3, 3, 1, 9});        // longer, but an older last term
  CHECK(published<PreVoteGrant>(d.last).empty());
  d.hear(PreVote{3, 3, 2, 3});        // as fresh
  CHECK(published<PreVoteGrant>(d.last).size() == 1);
  d.hear(PreVote{4, 1, 3, 1});        // a newer last term
  CHECK(published<PreVoteGrant>(d.last).size() == 1);
  CHECK(d.node.term() == 2);
}

TEST_CASE("a node publishes its log's last term and index in its pre-vote and its ballot") {
  auto d = with_log(1, 2, {1, 1, 2});
  d.tick_until_pre_vote();
  const auto pre_votes = published<PreVote>(d.last);
  REQUIRE(pre_votes.size() == 1);
  CHECK(pre_votes[0].last_log_term == 2);
  CHECK(pre_votes[0].last_log_index == 3);
  d.hear(PreVoteGrant{3, 2, 1});
  const auto ballots = published<Ballot>(d.last);
  REQUIRE(ballots.size() == 1);
  CHECK(ballots[0].term == 3);
  CHECK(ballots[0].last_log_term == 2);
  CHECK(ballots[0].last_log_index == 3);
}

}  // TEST_SUITE
}  // namespace relay::test
