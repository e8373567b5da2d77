// The monitor's cluster view and alarm engine, fed hand-made event streams:
// healthy ones (a late start, an election, direct and relayed requests) and
// faulty ones for each alarm (two leaders in a term, a request executed twice,
// lost taps, a silent node).
#include <doctest/doctest.h>

#include <algorithm>

#include "monitor/cluster_view.hpp"
#include "monitor_events.hpp"

namespace relay::monitor {
namespace {

using proto::Role;
using testing::ok_reply;
using testing::request;
using testing::Stream;

ViewOptions three_nodes() {
  ViewOptions options;
  options.nodes = {1, 2, 3};
  options.heartbeat_interval_ms = 50;
  options.election_timeout_ms = 300;
  return options;
}

std::vector<Finding> feed(ClusterView& view, const Event& event) { return view.on_event(event); }

std::size_t count_kind(const std::vector<Finding>& findings, const std::string& kind) {
  return static_cast<std::size_t>(
      std::count_if(findings.begin(), findings.end(), [&](const Finding& f) { return f.kind == kind; }));
}

std::size_t alarms_of(const ClusterView& view, const std::string& type) {
  return static_cast<std::size_t>(std::count_if(view.alarms().begin(), view.alarms().end(),
                                                [&](const Alarm& a) { return a.type == type; }));
}

// Node 1 leads term 1, the others follow; every node heard once.
void settle(ClusterView& view, Stream& s) {
  feed(view, s.heartbeat(1, 1, Role::leader, 1));
  feed(view, s.heartbeat(2, 1, Role::follower, 1));
  feed(view, s.heartbeat(3, 1, Role::follower, 1));
}

TEST_CASE("a monitor started late learns roles, terms and the leader from the next heartbeats") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  const auto findings = feed(view, s.heartbeat(2, 7, Role::leader, 2));
  feed(view, s.heartbeat(1, 7, Role::follower, 2));
  CHECK(view.nodes().at(2).role == Role::leader);
  CHECK(view.nodes().at(2).term == 7);
  CHECK(view.nodes().at(1).leader == 2);
  CHECK_FALSE(view.nodes().at(3).known);
  CHECK(view.elections().leader() == 2);
  REQUIRE(view.elections().all().size() == 1);
  CHECK_FALSE(view.elections().all().back().observed);  // we only saw its result
  CHECK(count_kind(findings, "node") == 1);
  CHECK(view.alarm_count() == 0);
}

TEST_CASE("an election is reported with its ballots, votes, winner and time without a leader") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  settle(view, s);
  s.tick(500'000);  // the leader is gone for half a second before anyone moves
  feed(view, s.election(2, proto::PreVote{2, 2}));
  feed(view, s.election(2, proto::Ballot{2, 2, 0x9000}));
  feed(view, s.election(3, proto::Ballot{2, 3, 0x5000}));
  feed(view, s.election(3, proto::Ballot{2, 3, 0x5000}));  // re-published: not news
  feed(view, s.election(2, proto::Vote{2, 2, 2}));
  feed(view, s.election(3, proto::Vote{2, 3, 2}));
  const auto won = feed(view, s.heartbeat(2, 2, Role::leader, 2));

  const auto& e = view.elections().all().back();
  CHECK(e.term == 2);
  CHECK(e.pre_voters.size() == 1);
  CHECK(e.ballots.size() == 2);
  CHECK(e.ballots.at(2) == 0x9000);
  CHECK(e.votes.at(3) == 2);
  CHECK(e.winner == 2);
  CHECK(e.observed);
  // From the old leader's last heartbeat, not from the first ballot.
  CHECK(e.leaderless_us() > 500'000);
  CHECK(view.elections().leader() == 2);
  REQUIRE(count_kind(won, "election") == 1);
  const auto json = won.front().json.str();
  CHECK(json.find("\"phase\":\"won\"") != std::string::npos);
  CHECK(json.find("\"leaderless_us\":") != std::string::npos);
}

TEST_CASE("alarm: two leaders in one term") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  settle(view, s);
  feed(view, s.heartbeat(1, 1, Role::leader, 1));  // the same leader again: fine
  CHECK(view.alarm_count() == 0);
  const auto findings = feed(view, s.heartbeat(3, 1, Role::leader, 3));
  REQUIRE(alarms_of(view, kTwoLeaders) == 1);
  const auto& alarm = view.alarms().back();
  CHECK(alarm.term == 1);
  CHECK(alarm.node == 3);
  CHECK(alarm.other == 1);
  CHECK(count_kind(findings, "alarm") == 1);
  feed(view, s.heartbeat(3, 1, Role::leader, 3));  // raised once, not at every heartbeat
  CHECK(alarms_of(view, kTwoLeaders) == 1);
  // A leader of a later term is a new term, not a second leader.
  feed(view, s.heartbeat(2, 2, Role::leader, 2));
  CHECK(alarms_of(view, kTwoLeaders) == 1);
}

TEST_CASE("alarm: two leaders in one term, seen only in the nodes' role taps") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  feed(view, s.tap_text(1, "role", "", 0, "leader term=4 leader=1 reason=won the election"));
  feed(view, s.tap_text(2, "role", "", 0, "leader term=4 leader=2 reason=won the election"));
  REQUIRE(alarms_of(view, kTwoLeaders) == 1);
  CHECK(view.nodes().at(1).role == Role::leader);
}

TEST_CASE("a direct request and a relayed one are traced with their paths and latency") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  settle(view, s);
  feed(view, s.tap(1, "in", "client", 0, request("c1", 1)));
  auto direct = feed(view, s.tap(1, "out", "client", 0, ok_reply("c1", 1, 1, 0, 1, 1, 1)));
  REQUIRE(count_kind(direct, "request") == 1);
  CHECK(view.requests().completed().back().path_text() == "client → 1 → client");

  proto::Relay relay{2, 9, 1500, request("c1", 2)};
  feed(view, s.tap(2, "in", "client", 0, request("c1", 2)));
  feed(view, s.tap(2, "out", "peer", 1, relay));
  feed(view, s.tap(1, "in", "peer", 2, relay));
  feed(view, s.tap(1, "out", "peer", 2, proto::RelayReply{9, ok_reply("c1", 2, 2, 2, 1, 1, 2)}));
  feed(view, s.tap(2, "in", "peer", 1, proto::RelayReply{9, ok_reply("c1", 2, 2, 2, 1, 1, 2)}));
  const auto relayed = feed(view, s.tap(2, "out", "client", 0, ok_reply("c1", 2, 2, 2, 1, 1, 2)));
  REQUIRE(count_kind(relayed, "request") == 1);
  const auto& path = view.requests().completed().back();
  CHECK(path.path_text() == "client → 2 → 1 → 2 → client");
  CHECK(path.relayed_by == 2);
  CHECK(path.answered_by == 1);
  CHECK(path.latency_us == 500);  // five ticks of 100 µs on node 2's clock
  CHECK(relayed.front().json.str().find("\"relayed\":true") != std::string::npos);
  CHECK(view.nodes().at(2).counters.relayed == 1);
  CHECK(view.nodes().at(1).counters.executed == 2);
  CHECK(view.alarm_count() == 0);
}

TEST_CASE("a relayed request's path does not depend on the leader's taps arriving first") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  proto::Relay relay{3, 4, 1500, request("c2", 8)};
  const proto::RelayReply answer{4, ok_reply("c2", 8, 3, 3, 1, 1, 1)};
  feed(view, s.tap(3, "in", "client", 0, request("c2", 8)));
  feed(view, s.tap(1, "in", "peer", 3, relay));          // the leader's taps overtake
  feed(view, s.tap(1, "out", "peer", 3, answer));         // the follower's
  feed(view, s.tap(3, "out", "peer", 1, relay));
  feed(view, s.tap(3, "in", "peer", 1, answer));
  feed(view, s.tap(3, "out", "client", 0, answer.reply));
  CHECK(view.requests().completed().back().path_text(" -> ") == "client -> 3 -> 1 -> 3 -> client");
}

TEST_CASE("alarm: a write applied at two log indexes, but not a retry answered from the table") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  settle(view, s);
  feed(view, s.tap(1, "in", "client", 0, request("c1", 5)));
  feed(view, s.tap(1, "out", "client", 0, ok_reply("c1", 5, 1, 0, 1, 1, 3)));
  // The retry comes back with the original answer: exactly once holds.
  feed(view, s.tap(1, "in", "client", 0, request("c1", 5)));
  feed(view, s.tap(1, "out", "client", 0, ok_reply("c1", 5, 1, 0, 1, 1, 3)));
  // A new leader answers a retry from the replicated table: the original
  // index, though another node answers in another term. Still exactly once.
  feed(view, s.tap(2, "in", "client", 0, request("c1", 5)));
  feed(view, s.tap(2, "out", "client", 0, ok_reply("c1", 5, 2, 0, 2, 2, 3)));
  CHECK(view.alarm_count() == 0);
  // A leader applies it again: a second index.
  feed(view, s.tap(3, "in", "client", 0, request("c1", 5)));
  const auto findings = feed(view, s.tap(3, "out", "client", 0, ok_reply("c1", 5, 3, 0, 3, 3, 9)));
  REQUIRE(alarms_of(view, kExecutedTwice) == 1);
  const auto& alarm = view.alarms().back();
  CHECK(alarm.request == "c1#5");
  CHECK(alarm.node == 3);
  CHECK(alarm.other == 1);
  CHECK(alarm.term == 3);
  CHECK(alarm.text.find("index 3") != std::string::npos);
  CHECK(alarm.text.find("index 9") != std::string::npos);
  CHECK(count_kind(findings, "alarm") == 1);
  // Each distinct index is raised once.
  feed(view, s.tap(3, "out", "client", 0, ok_reply("c1", 5, 3, 0, 3, 3, 9)));
  feed(view, s.tap(1, "out", "client", 0, ok_reply("c1", 5, 1, 0, 1, 1, 3)));
  CHECK(alarms_of(view, kExecutedTwice) == 1);
}

TEST_CASE("alarm: a write applied twice by the same leader in one term, seen in its relay replies") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  // The leader's own taps: the relays tell it the op, the replies the indexes.
  const proto::Relay first{2, 1, 1500, request("c9", 1, proto::Op::put)};
  const proto::Relay second{3, 2, 1500, request("c9", 1, proto::Op::put)};
  feed(view, s.tap(1, "in", "peer", 2, first));
  feed(view, s.tap(1, "out", "peer", 2, proto::RelayReply{1, ok_reply("c9", 1, 2, 2, 1, 4, 10)}));
  feed(view, s.tap(1, "in", "peer", 3, second));
  feed(view, s.tap(1, "out", "peer", 3, proto::RelayReply{2, ok_reply("c9", 1, 3, 3, 1, 4, 11)}));
  CHECK(alarms_of(view, kExecutedTwice) == 1);
}

TEST_CASE("no alarm: a read retried is read again at a new read index") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  settle(view, s);
  for (const proto::Op op : {proto::Op::get, proto::Op::read}) {
    const std::uint64_t id = op == proto::Op::get ? 1 : 2;
    feed(view, s.tap(1, "in", "client", 0, request("r1", id, op)));
    feed(view, s.tap(1, "out", "client", 0, ok_reply("r1", id, 1, 0, 1, 1, 4)));
    feed(view, s.tap(2, "in", "client", 0, request("r1", id, op)));
    feed(view, s.tap(2, "out", "client", 0, ok_reply("r1", id, 2, 2, 1, 1, 7)));
  }
  CHECK(view.alarm_count() == 0);
  CHECK(view.requests().completed().back().op == "read");
  CHECK(view.requests().completed().back().index == 7);
}

TEST_CASE("no alarm: answers to a request whose op no tap showed are not compared") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  // Joined late: only the answers are seen. It may have been a read.
  feed(view, s.tap(1, "out", "peer", 2, proto::RelayReply{1, ok_reply("c8", 1, 2, 2, 1, 4, 10)}));
  feed(view, s.tap(1, "out", "peer", 3, proto::RelayReply{2, ok_reply("c8", 1, 3, 3, 1, 4, 11)}));
  CHECK(view.alarm_count() == 0);
}

TEST_CASE("alarm: a gap in a node's tap sequence says how many events were missed") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  feed(view, s.tap_text(2, "socket", "", 0, "node 1 connected (tcp://127.0.0.1:1)"));
  feed(view, s.tap_text(2, "socket", "", 0, "node 3 connected (tcp://127.0.0.1:3)"));
  CHECK(view.alarm_count() == 0);
  s.lose_taps(2, 7);
  const auto findings = feed(view, s.tap_text(2, "socket", "", 0, "node 3 disconnected (tcp://127.0.0.1:3)"));
  REQUIRE(alarms_of(view, kTapGap) == 1);
  CHECK(view.alarms().back().missed == 7);
  CHECK(view.alarms().back().node == 2);
  CHECK(view.nodes().at(2).counters.taps_missed == 7);
  REQUIRE(count_kind(findings, "alarm") == 1);
  const auto json = std::find_if(findings.begin(), findings.end(), [](const Finding& f) { return f.kind == "alarm"; })
                        ->json.str();
  CHECK(json.find("\"missed\":7") != std::string::npos);
}

TEST_CASE("a node whose tap numbering starts over has restarted: no gap alarm") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  for (int i = 0; i < 5; ++i) feed(view, s.tap_text(3, "socket", "", 0, "node 1 connected (x)"));
  s.restart_taps(3);
  const auto findings = feed(view, s.tap_text(3, "socket", "", 0, "node 1 connected (x)"));
  CHECK(view.alarm_count() == 0);
  CHECK(count_kind(findings, "node") == 1);
}

TEST_CASE("the first tap of a node sets its numbering: joining late is not a gap") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  s.lose_taps(1, 1000);
  feed(view, s.tap_text(1, "socket", "", 0, "node 2 connected (x)"));
  feed(view, s.tap_text(1, "socket", "", 0, "node 3 connected (x)"));
  CHECK(view.alarm_count() == 0);
}

TEST_CASE("alarm: a node silent past the election timeout; suspect before; heard again after") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  settle(view, s);
  const auto heard_us = s.now_us;
  auto keep_two_alive = [&](std::uint64_t until_us) {
    while (s.now_us < until_us) {
      s.tick(50'000);
      feed(view, s.heartbeat(1, 1, Role::leader, 1));
      feed(view, s.heartbeat(2, 1, Role::follower, 1));
      view.on_time(s.now_us);
    }
  };
  keep_two_alive(heard_us + 200'000);
  CHECK(view.nodes().at(3).liveness == Liveness::suspect);
  CHECK(view.nodes().at(1).liveness == Liveness::alive);
  CHECK(view.alarm_count() == 0);
  keep_two_alive(heard_us + 400'000);
  CHECK(view.nodes().at(3).liveness == Liveness::silent);
  REQUIRE(alarms_of(view, kSilent) == 1);
  CHECK(view.alarms().back().node == 3);
  CHECK(view.alarms().back().missed > 300);
  keep_two_alive(heard_us + 900'000);
  CHECK(alarms_of(view, kSilent) == 1);  // once per silence
  const auto back = feed(view, s.heartbeat(3, 1, Role::follower, 1));
  CHECK(view.nodes().at(3).liveness == Liveness::alive);
  CHECK(count_kind(back, "node") == 1);
}

TEST_CASE("a monitor catching up on its backlog does not call the nodes still queued silent") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  settle(view, s);
  view.on_time(s.now_us);
  s.tick(2'000'000);  // the monitor was stopped for two seconds; then its queues are read
  feed(view, s.heartbeat(1, 1, Role::leader, 1));
  feed(view, s.heartbeat(2, 1, Role::follower, 1));
  feed(view, s.heartbeat(3, 1, Role::follower, 1));
  view.on_time(s.now_us);
  CHECK(view.alarm_count() == 0);
  CHECK(liveness_checks(s.now_us, s.now_us + 500).empty());  // one batch
  CHECK(liveness_checks(s.now_us, s.now_us + 120'000).size() == 3);
}

TEST_CASE("alarm: a node never heard since the monitor started goes silent too") {
  Stream s;
  ClusterView view(three_nodes(), s.now_us);
  view.on_time(s.now_us + 100'000);
  CHECK(view.alarm_count() == 0);
  const auto findings = view.on_time(s.now_us + 301'000);
  CHECK(alarms_of(view, kSilent) == 3);
  CHECK(count_kind(findings, "alarm") == 3);
  CHECK(view.alarms().back().text.find("never heard") != std::string::npos);
}

TEST_CASE("--messages reports each message sent, and what clients sent, but never heartbeats") {
  Stream s;
  auto options = three_nodes();
  options.messages = true;
  ClusterView view(options, s.now_us);
  CHECK(count_kind(feed(view, s.tap(1, "out", "election", 0, proto::Heartbeat{1, 1, Role::leader, 1})), "message") == 0);
  CHECK(count_kind(feed(view, s.tap(1, "out", "election", 0, proto::Ballot{1, 1, 7})), "message") == 1);
  CHECK(count_kind(feed(view, s.tap(1, "in", "client", 0, request("c", 1))), "message") == 1);
  CHECK(count_kind(feed(view, s.tap(2, "in", "election", 0, proto::Ballot{1, 1, 7})), "message") == 0);
  CHECK(view.log().size() < 10);  // messages are printed, not kept for the screen
}

TEST_CASE("--messages leaves out heartbeat traffic: appends without entries, answers that tell nothing new") {
  Stream s;
  auto options = three_nodes();
  options.messages = true;
  ClusterView view(options, s.now_us);
  settle(view, s);
  const auto shown = [&](proto::NodeId node, proto::NodeId peer, const proto::Message& message) {
    return count_kind(feed(view, s.tap(node, "out", "peer", peer, message)), "message");
  };
  const proto::Entry entry{6, 1, proto::Op::put, "c", 1, "k", "v", ""};
  // Leader 1's heartbeat append to node 2, and node 2's answer: the first is news.
  CHECK(shown(1, 2, proto::Append{1, 1, 5, 1, 5, 0, {}}) == 0);
  CHECK(shown(2, 1, proto::AppendReply{1, 2, true, 5, 0}) == 1);
  CHECK(shown(1, 2, proto::Append{1, 1, 5, 1, 5, 0, {}}) == 0);
  CHECK(shown(2, 1, proto::AppendReply{1, 2, true, 5, 0}) == 0);
  CHECK(shown(1, 2, proto::Append{1, 1, 5, 1, 5, 1, {}}) == 0);   // a read round rides on it
  CHECK(shown(2, 1, proto::AppendReply{1, 2, true, 5, 1}) == 0);
  // An entry and the answer that moves last_index are traffic.
  CHECK(shown(1, 2, proto::Append{1, 1, 5, 1, 5, 1, {entry}}) == 1);
  CHECK(shown(2, 1, proto::AppendReply{1, 2, true, 6, 1}) == 1);
  CHECK(shown(2, 1, proto::AppendReply{1, 2, true, 6, 1}) == 0);
  // A hello (ok=0, round 0) where the follower's log still ends: nothing new.
  CHECK(shown(2, 1, proto::AppendReply{1, 2, false, 6, 0}) == 0);
  // A refusal that sends the leader back is news; so is each follower's own first answer.
  CHECK(shown(2, 1, proto::AppendReply{1, 2, false, 3, 1}) == 1);
  CHECK(shown(2, 1, proto::AppendReply{1, 2, true, 6, 1}) == 1);
  CHECK(shown(3, 1, proto::AppendReply{1, 3, true, 6, 1}) == 1);
  CHECK(shown(3, 1, proto::AppendReply{2, 3, true, 6, 0}) == 1);  // a new term
  // The leader's taps of receiving them are not messages it sent.
  CHECK(count_kind(feed(view, s.tap(1, "in", "peer", 2, proto::AppendReply{1, 2, true, 6, 1})), "message") == 0);
}

}  // namespace
}  // namespace relay::monitor
