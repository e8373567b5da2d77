// The request path of the core, one test per rule (docs/protocol.md): the
// leader takes a request into its log and answers once it is applied, a
// follower relays one hop, held requests wait for a leader or their deadline,
// and each (client_id, request_id) is applied once.
#include <doctest/doctest.h>

#include <algorithm>

#include "unit/core_harness.hpp"

namespace relay::test {
namespace {

using proto::ClientReply;
using proto::Relay;
using proto::RelayReply;

std::vector<std::pair<NodeId, Relay>> relays_sent(const Actions& actions) {
  std::vector<std::pair<NodeId, Relay>> found;
  for (const auto& send : all_of<core::SendToPeer>(actions)) {
    if (const auto* relay = std::get_if<Relay>(&send.message)) found.emplace_back(send.to, *relay);
  }
  return found;
}

// The leader's answer to a relay, as the leader would build it.
RelayReply leader_answer(const Relay& relay, NodeId leader, Term term, std::uint64_t index) {
  ClientReply reply;
  reply.client_id = relay.request.client_id;
  reply.request_id = relay.request.request_id;
  reply.status = Status::ok;
  reply.received_by = relay.from;
  reply.relayed_by = relay.from;
  reply.answered_by = leader;
  reply.term = term;
  reply.index = index;
  reply.leader_hint = leader;
  return RelayReply{relay.relay_id, reply};
}

// Node 1 as the leader of term 1 in a 3-node cluster whose followers said
// hello and hold its noop (index 1, committed).
Driver leader() {
  Driver d(1, 3);
  d.lead();
  REQUIRE(d.node.role() == Role::leader);
  REQUIRE(d.node.commit_index() == 1);
  return d;
}

// Node 2 as a follower of node 1 in term 1.
Driver follower() {
  Driver d(2, 3);
  d.follow(1, 1);
  REQUIRE(d.node.leader() == 1);
  return d;
}

}  // namespace

TEST_SUITE("core relay") {

TEST_CASE("the leader answers a request it received once a follower holds it, and says so in the reply") {
  auto d = leader();
  d.from_client("c", request("alice", 1, 0, "ping"));
  CHECK(client_replies(d.last).empty());
  const auto appends = appends_to(d.last, 2);
  REQUIRE(appends.size() == 1);
  d.ack(2, appends[0]);
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == Status::ok);
  CHECK(replies[0].client_id == "alice");
  CHECK(replies[0].request_id == 1);
  CHECK(replies[0].received_by == 1);
  CHECK(replies[0].relayed_by == proto::kNoNode);
  CHECK(replies[0].answered_by == 1);
  CHECK(replies[0].leader_hint == 1);
  CHECK(replies[0].term == 1);
  CHECK(replies[0].index == 2);     // after the noop
  CHECK(replies[0].position == 1);  // the first message of the stream
  CHECK(replies[0].message.empty());
  CHECK(all_of<core::ReplyToClient>(d.last).front().to.route == "c");
}

TEST_CASE("a follower relays to the leader, one hop, and routes the answer back") {
  auto d = follower();
  d.from_client("c", request("alice", 1, 0, "ping"));
  const auto relays = relays_sent(d.last);
  REQUIRE(relays.size() == 1);
  CHECK(relays[0].first == 1);
  CHECK(relays[0].second.from == 2);
  CHECK(relays[0].second.remaining_ms == kRequestTimeoutTicks);
  CHECK(relays[0].second.request.value == "ping");
  CHECK(relays[0].second.request.op == Op::append);
  CHECK(client_replies(d.last).empty());

  d.from_peer(1, leader_answer(relays[0].second, 1, 1, 7));
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == Status::ok);
  CHECK(replies[0].received_by == 2);
  CHECK(replies[0].relayed_by == 2);
  CHECK(replies[0].answered_by == 1);
  CHECK(replies[0].index == 7);
  CHECK(d.node.pending() == 0);

  // A duplicate of the answer finds nothing to answer.
  d.from_peer(1, leader_answer(relays[0].second, 1, 1, 7));
  CHECK(client_replies(d.last).empty());
}

TEST_CASE("a relay that reaches a non-leader is answered not_leader with a hint, never forwarded") {
  auto d = follower();
  d.from_peer(3, Relay{3, 9, 500, request("alice", 1)});
  CHECK(relays_sent(d.last).empty());
  const auto answers = messages<RelayReply, core::ReplyToPeer>(d.last);
  REQUIRE(answers.size() == 1);
  CHECK(all_of<core::ReplyToPeer>(d.last).front().to == 3);
  CHECK(answers[0].relay_id == 9);
  CHECK(answers[0].reply.status == Status::not_leader);
  CHECK(answers[0].reply.leader_hint == 1);
  CHECK(answers[0].reply.relayed_by == 3);
  CHECK(d.node.pending() == 0);
}

TEST_CASE("the leader answers a relay once it is applied, and names the relaying node") {
  auto d = leader();
  d.from_peer(2, Relay{2, 5, 500, request("alice", 1, 0, "ping")});
  CHECK(messages<RelayReply, core::ReplyToPeer>(d.last).empty());
  d.ack(3, appends_to(d.last, 3).at(0));  // any follower makes the majority
  const auto answers = messages<RelayReply, core::ReplyToPeer>(d.last);
  REQUIRE(answers.size() == 1);
  CHECK(all_of<core::ReplyToPeer>(d.last).back().to == 2);
  CHECK(all_of<core::ReplyToPeer>(d.last).back().route == route_of(2));
  CHECK(answers[0].relay_id == 5);
  CHECK(answers[0].reply.status == Status::ok);
  CHECK(answers[0].reply.received_by == 2);
  CHECK(answers[0].reply.relayed_by == 2);
  CHECK(answers[0].reply.answered_by == 1);
  CHECK(answers[0].reply.index == 2);

  d.from_peer(2, Relay{2, 6, 0, request("alice", 2)});  // its deadline passed on the way
  CHECK(messages<RelayReply, core::ReplyToPeer>(d.last).front().reply.status == Status::timeout);
}

TEST_CASE("a follower told not_leader holds the request until heartbeats name a leader") {
  auto d = follower();
  d.from_client("c", request("alice", 1));
  const auto relay = relays_sent(d.last).front().second;
  ClientReply refusal;
  refusal.client_id = "alice";
  refusal.request_id = 1;
  refusal.status = Status::not_leader;
  refusal.leader_hint = 3;  // a hint is not trusted enough to forward on
  d.from_peer(1, RelayReply{relay.relay_id, refusal});
  CHECK(relays_sent(d.last).empty());
  CHECK(client_replies(d.last).empty());
  CHECK(d.node.pending() == 1);

  d.follow(3, 2);
  const auto relays = relays_sent(d.last);
  REQUIRE(relays.size() == 1);
  CHECK(relays[0].first == 3);
}

TEST_CASE("a held request is dispatched when a leader becomes known") {
  Driver d(2, 3);
  d.from_client("c", request("alice", 1));
  CHECK(relays_sent(d.last).empty());
  CHECK(client_replies(d.last).empty());
  CHECK(d.node.pending() == 1);

  d.tick(100);
  d.follow(3, 1);
  const auto relays = relays_sent(d.last);
  REQUIRE(relays.size() == 1);
  CHECK(relays[0].first == 3);
  CHECK(relays[0].second.remaining_ms == kRequestTimeoutTicks - 100);
}

TEST_CASE("a relay that could not leave the node is sent again with the next heartbeat round") {
  Driver d(2, 3);
  d.follow(3, 1);
  d.from_client("c", request("alice", 1));
  const auto relays = relays_sent(d.last);
  REQUIRE(relays.size() == 1);
  d.step(core::Undeliverable{3, relays[0].second});
  CHECK(d.node.pending() == 1);
  const auto& again = d.tick_until([](const Actions& a) { return !relays_sent(a).empty(); });
  CHECK(d.ticked <= kHeartbeatTicks);
  REQUIRE(relays_sent(again).size() == 1);
  CHECK(relays_sent(again)[0].second.relay_id == relays[0].second.relay_id);
}

// The exactly-once table is replicated state: the next leader does not apply
// again what the former one committed, so the relay is safe to send again.
TEST_CASE("relays to a leader whose connection closed are re-sent to the next leader") {
  Driver d(2, 3);
  d.follow(3, 1);
  d.from_client("c", request("alice", 1));
  const auto first = relays_sent(d.last);
  REQUIRE(first.size() == 1);
  d.step(core::PeerConnection{3, false});
  CHECK(client_replies(d.last).empty());
  CHECK(relays_sent(d.last).empty());
  CHECK(d.node.leader() == proto::kNoNode);
  CHECK(d.node.pending() == 1);

  d.follow(1, 2);
  const auto again = relays_sent(d.last);
  REQUIRE(again.size() == 1);
  CHECK(again[0].first == 1);
  CHECK(again[0].second.relay_id == first[0].second.relay_id);
  CHECK(again[0].second.request.client_id == "alice");
  CHECK(again[0].second.request.request_id == 1);

  // A late answer from the former leader is not taken for the new one's.
  d.from_peer(3, leader_answer(first[0].second, 3, 1, 2));
  CHECK(client_replies(d.last).empty());
  d.from_peer(1, leader_answer(again[0].second, 1, 2, 2));
  REQUIRE(client_replies(d.last).size() == 1);
  CHECK(client_replies(d.last)[0].answered_by == 1);
  CHECK(d.node.pending() == 0);
}

TEST_CASE("a held request goes into the log of its node when that node becomes the leader") {
  Driver d(1, 3);
  d.from_client("c", request("alice", 1));
  d.become_leader(3);
  REQUIRE(d.node.role() == Role::leader);
  CHECK(client_replies(d.last).empty());
  CHECK(d.node.pending() == 0);  // no longer held: it waits in the log
  const auto written = written_entries(d.last);
  REQUIRE(written.size() == 2);
  CHECK(written[0].op == Op::noop);
  CHECK(written[1].client_id == "alice");
  CHECK(written[1].index == 2);

  const auto to_2 = appends_to(d.hello(2), 2);
  REQUIRE(to_2.size() == 1);
  CHECK(to_2[0].entries.size() == 2);
  d.ack(2, to_2[0]);
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == Status::ok);
  CHECK(replies[0].answered_by == 1);
  CHECK(replies[0].index == 2);
}

TEST_CASE("a held request is answered unavailable at its deadline; a relayed one timeout") {
  SUBCASE("held: no leader known") {
    Driver d(2, 3);
    d.from_client("c", request("alice", 1, 100));
    d.tick(99);
    CHECK(client_replies(d.last).empty());
    d.tick(1);
    const auto replies = client_replies(d.last);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].status == Status::unavailable);
    CHECK(replies[0].received_by == 2);
    CHECK(d.node.pending() == 0);
  }
  SUBCASE("relayed: the leader did not answer") {
    auto d = follower();
    d.from_client("c", request("alice", 1, 100));
    REQUIRE(relays_sent(d.last).size() == 1);
    d.tick(99);
    CHECK(client_replies(d.last).empty());
    d.tick(1);
    const auto replies = client_replies(d.last);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].status == Status::timeout);
    CHECK(replies[0].relayed_by == 2);
    CHECK(d.node.pending() == 0);
  }
  SUBCASE("no timeout named: the node's default applies") {
    Driver d(2, 3);
    d.from_client("c", request("alice", 1));
    d.tick(kRequestTimeoutTicks - 1);
    CHECK(client_replies(d.last).empty());
    d.tick(1);
    CHECK(client_replies(d.last).size() == 1);
  }
}

TEST_CASE("when the leader changes, no pending request is silently dropped") {
  auto d = follower();
  d.from_client("relayed", request("alice", 1));
  REQUIRE(relays_sent(d.last).size() == 1);
  // Node 1 falls silent; node 2 gives up on it and holds what comes next.
  d.tick_until_pre_vote();
  REQUIRE(d.node.leader() == proto::kNoNode);
  d.from_client("held", request("bob", 1));
  CHECK(relays_sent(d.last).empty());

  d.follow(3, 2);
  // Both go to the new leader: the held one, and the one relayed to the
  // former leader (which may have committed it: the new leader's
  // exactly-once table then answers it without applying it again).
  const auto relays = relays_sent(d.last);
  CHECK(client_replies(d.last).empty());
  REQUIRE(relays.size() == 2);
  for (const auto& [to, relay] : relays) CHECK(to == 3);
  CHECK(std::any_of(relays.begin(), relays.end(),
                    [](const auto& sent) { return sent.second.request.client_id == "alice"; }));
  CHECK(std::any_of(relays.begin(), relays.end(),
                    [](const auto& sent) { return sent.second.request.client_id == "bob"; }));
  CHECK(d.node.pending() == 2);
}

// Sends `r` to leader `d` as a client and acks it from node 2; returns the reply.
proto::ClientReply commit_one(Driver& d, proto::ClientRequest r, const std::string& route = "c") {
  d.from_client(route, std::move(r));
  for (const auto& append : appends_to(d.last, 2)) d.ack(2, append);
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 1);
  return replies[0];
}

TEST_CASE("the leader applies each (client_id, request_id) once; a retry gets the original reply") {
  auto d = leader();
  const auto original = commit_one(d, request("alice", 1, 0, "first"), "c/1");
  CHECK(original.index == 2);
  CHECK(original.position == 1);
  CHECK(commit_one(d, request("alice", 2, 0, "second"), "c/2").position == 2);

  d.from_client("c/3", request("alice", 1, 0, "first"));  // a retry, straight to the leader
  const auto retry = client_replies(d.last).at(0);
  CHECK(written_entries(d.last).empty());
  CHECK(retry.status == Status::ok);
  CHECK(retry.index == original.index);
  CHECK(retry.position == original.position);
  CHECK(retry.term == original.term);

  d.from_peer(3, Relay{3, 1, 500, request("alice", 1, 0, "first")});  // a retry, relayed
  const auto relayed_retry = messages<RelayReply, core::ReplyToPeer>(d.last).at(0).reply;
  CHECK(written_entries(d.last).empty());
  CHECK(relayed_retry.index == original.index);
  CHECK(relayed_retry.position == original.position);
  CHECK(relayed_retry.relayed_by == 3);

  // The same request id from another client is a new request.
  const auto bob = commit_one(d, request("bob", 1), "c/4");
  CHECK(bob.index == 4);
  CHECK(bob.position == 3);
  CHECK(d.node.status(0).executed == 3);
  CHECK(d.node.machine().stream_length() == 3);
  CHECK(d.node.log().last_index() == 4);
}

TEST_CASE("log indexes go on without gaps across terms; a new term starts with its noop") {
  auto d = leader();
  for (std::uint64_t i = 1; i <= 5; ++i) {
    CHECK(commit_one(d, request("alice", i)).index == i + 1);
  }
  d.hear(proto::Heartbeat{2, 3, Role::candidate, proto::kNoNode});  // steps down
  REQUIRE(d.node.role() != Role::leader);
  d.become_leader(3);
  REQUIRE(d.node.role() == Role::leader);
  REQUIRE(d.node.term() == 3);
  REQUIRE(d.node.log().last_index() == 7);
  CHECK(d.node.log().at(7).op == Op::noop);
  CHECK(d.node.log().at(7).term == 3);
  // Its followers learn of the new term and say hello again; node 2 holds 1..6.
  for (const auto& append : appends_to(d.hello(2, 6), 2)) d.ack(2, append);
  CHECK(d.node.commit_index() == 7);
  const auto reply = commit_one(d, request("alice", 6));
  CHECK(reply.term == 3);
  CHECK(reply.index == 8);
  CHECK(reply.position == 6);
}

TEST_CASE("a node answers overloaded when its pending table is full") {
  auto o = options(2, 3);
  o.max_pending = 2;
  Driver d(o);
  d.from_client("c/1", request("alice", 1));
  d.from_client("c/2", request("alice", 2));
  CHECK(client_replies(d.last).empty());
  d.from_client("c/3", request("alice", 3));
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == Status::overloaded);
  CHECK(replies[0].request_id == 3);
  CHECK(d.node.pending() == 2);
}

TEST_CASE("a node answers overloaded when its pending payload bytes would pass their bound") {
  auto o = options(2, 3);
  o.max_pending_bytes = 10;
  Driver d(o);
  d.from_client("c/1", request("alice", 1, 0, "123456"));
  CHECK(client_replies(d.last).empty());
  d.from_client("c/2", request("alice", 2, 0, "123456"));
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == Status::overloaded);
  CHECK(d.node.pending() == 1);
}

TEST_CASE("a relay reply that answers another request is ignored") {
  Driver d(2, 3);
  d.follow(3, 1);
  d.from_client("c", request("alice", 7));
  const auto relays = relays_sent(d.last);
  REQUIRE(relays.size() == 1);
  proto::ClientReply wrong;
  wrong.client_id = "bob";
  wrong.request_id = 7;
  wrong.status = Status::ok;
  d.from_peer(3, proto::RelayReply{relays[0].second.relay_id, wrong});
  CHECK(client_replies(d.last).empty());
  CHECK(d.node.pending() == 1);
}

TEST_CASE("a retry of a request still in the log waits for that entry; both are answered from it") {
  auto d = leader();
  d.from_client("c/1", put("alice", 1, "k", std::string(1000, 'x')));
  const auto appends = appends_to(d.last, 2);
  REQUIRE(appends.size() == 1);
  d.from_client("c/2", put("alice", 1, "k", std::string(1000, 'x')));
  CHECK(client_replies(d.last).empty());
  CHECK(written_entries(d.last).empty());  // no second entry
  CHECK(d.node.log().last_index() == 2);

  d.ack(2, appends[0]);
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 2);
  for (const auto& reply : replies) {
    CHECK(reply.status == Status::ok);
    CHECK(reply.index == 2);
    CHECK(reply.value.empty());  // a put's answer carries no payload back
  }
  std::vector<std::string> routes;
  for (const auto& r : all_of<core::ReplyToClient>(d.last)) routes.push_back(r.to.route);
  CHECK(routes == std::vector<std::string>{"c/1", "c/2"});
}

TEST_CASE("a client message that is not a request is answered bad_request by the receiver") {
  Driver d(2, 3);
  d.from_client("c", proto::Heartbeat{1, 1, Role::leader, 1});
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == Status::bad_request);
  CHECK(replies[0].received_by == 2);
}

TEST_CASE("a status reply describes the node") {
  auto d = follower();
  d.from_client("c", request("alice", 1));  // relayed to node 1, still pending
  d.tick(40);
  d.from_client("s", proto::StatusRequest{77});
  const auto statuses = messages<proto::StatusReply, core::ReplyToClient>(d.last);
  REQUIRE(statuses.size() == 1);
  const auto& s = statuses[0];
  CHECK(s.request_id == 77);
  CHECK(s.id == 2);
  CHECK(s.role == Role::follower);
  CHECK(s.term == 1);
  CHECK(s.leader == 1);
  CHECK(s.voted_for == proto::kNoNode);
  CHECK(s.elections == 0);
  CHECK(s.leader_changes == 1);
  CHECK(s.leaderless_ms == 0);
  CHECK(s.heartbeat_age_ms == 40);
  CHECK(s.requests == 1);
  CHECK(s.relayed == 1);
  CHECK(s.executed == 0);
  CHECK(s.pending == 1);

  auto l = leader();
  commit_one(l, request("alice", 1));
  l.from_client("c", request("alice", 2));  // in the log, not committed
  l.from_client("s", proto::StatusRequest{78});
  const auto leader_status = messages<proto::StatusReply, core::ReplyToClient>(l.last).front();
  CHECK(leader_status.role == Role::leader);
  CHECK(leader_status.leader == 1);
  CHECK(leader_status.voted_for == 1);
  CHECK(leader_status.elections == 1);
  CHECK(leader_status.heartbeat_age_ms == 0);
  CHECK(leader_status.executed == 2);
  CHECK(leader_status.last_index == 3);
  CHECK(leader_status.commit_index == 2);
  CHECK(leader_status.applied_index == 2);
  CHECK(leader_status.leaderless_ms == l.node.now());  // every tick before it won
}

}  // TEST_SUITE
}  // namespace relay::test
