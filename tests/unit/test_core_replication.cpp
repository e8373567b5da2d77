// The replicated log of the core, one test per rule (docs/replication.md):
// commit on a majority, apply, then answer; log repair; commit only by an
// entry of the current term; pipelining and batching; exactly-once across
// leaders; read-index reads; storage failures; snapshots.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <string>

#include "unit/core_harness.hpp"

namespace relay::test {
namespace {

using proto::Append;
using proto::AppendReply;
using proto::ClientReply;
using proto::Entry;
using proto::Relay;
using proto::RelayReply;

// Node 1 as the leader of term 1 of a cluster of `size`, every follower
// holding the noop (index 1, committed).
Driver ready_leader(std::size_t size = 3, core::Options o = {}) {
  if (o.members.empty()) o = options(1, size);
  Driver d(o);
  d.lead();
  REQUIRE(d.node.role() == Role::leader);
  REQUIRE(d.node.commit_index() == 1);
  return d;
}

// Sends `r` to leader `d` as a client, acks it from node 2, returns the reply.
ClientReply commit_one(Driver& d, proto::ClientRequest r) {
  d.from_client("c", std::move(r));
  Actions acks;
  for (const auto& append : appends_to(d.last, 2)) {
    const auto& out = d.ack(2, append);
    acks.insert(acks.end(), out.begin(), out.end());
  }
  const auto replies = client_replies(acks.empty() ? d.last : acks);
  REQUIRE(replies.size() == 1);
  return replies[0];
}

std::vector<Term> terms_of(const core::Log& log) {
  std::vector<Term> terms;
  for (auto i = log.first_index(); i <= log.last_index(); ++i) terms.push_back(log.at(i).term);
  return terms;
}

Driver restored(NodeId self, std::size_t size, Term term, const std::vector<Term>& log_terms,
                core::Options o = {}) {
  if (o.members.empty()) o = options(self, size);
  return Driver(o, core::Restored{{term, proto::kNoNode}, 0, 0, {}, log_of_terms(log_terms)});
}

// The leader of a cluster of one, batches ended by hand (auto_flush off), its
// noop written and confirmed.
Driver lone_leader() {
  Driver d(1, 1);
  d.auto_flush = false;
  d.tick_until_pre_vote();
  d.tick_until([](const Actions& a) { return !published<proto::Vote>(a).empty(); });
  REQUIRE(d.node.role() == Role::leader);
  d.flush();
  d.confirm();
  return d;
}

}  // namespace

TEST_SUITE("core replication") {

TEST_CASE("a write is answered only once a majority holds it, with its log index and result") {
  auto d = ready_leader(5);
  d.from_client("c", put("alice", 1, "k", "v1"));

  // Written to the leader's own log before any follower is sent it.
  const auto write = index_of<core::AppendLog>(d.last);
  const auto send = index_of<core::ReplyToPeer, Append>(d.last);
  REQUIRE(write);
  REQUIRE(send);
  CHECK(*write < *send);
  const auto written = written_entries(d.last);
  REQUIRE(written.size() == 1);
  CHECK(written[0].index == 2);
  CHECK(written[0].term == 1);
  CHECK(written[0].op == Op::put);
  CHECK(written[0].client_id == "alice");
  CHECK(written[0].request_id == 1);
  CHECK(written[0].key == "k");
  CHECK(written[0].value == "v1");
  CHECK(client_replies(d.last).empty());

  std::map<NodeId, Append> sent;
  for (NodeId peer = 2; peer <= 5; ++peer) {
    const auto appends = appends_to(d.last, peer);
    REQUIRE(appends.size() == 1);
    CHECK(appends[0].prev_index == 1);
    CHECK(appends[0].prev_term == 1);
    CHECK(appends[0].commit_index == 1);
    REQUIRE(appends[0].entries.size() == 1);
    CHECK(appends[0].entries[0].index == 2);
    sent[peer] = appends[0];
  }

  d.ack(2, sent[2]);  // leader and node 2: 2 of 5
  CHECK(client_replies(d.last).empty());
  CHECK(d.node.commit_index() == 1);
  CHECK(d.node.applied_index() == 1);
  d.ack(2, sent[2]);  // the same ack again counts once
  CHECK(client_replies(d.last).empty());

  d.ack(4, sent[4]);  // 3 of 5: committed, applied, answered
  CHECK(d.node.commit_index() == 2);
  CHECK(d.node.applied_index() == 2);
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == Status::ok);
  CHECK(replies[0].index == 2);
  CHECK(replies[0].found == false);  // the key is new
  CHECK(replies[0].answered_by == 1);
  CHECK(replies[0].term == 1);

  d.ack(3, sent[3]);
  CHECK(client_replies(d.last).empty());  // answered once
}

TEST_CASE("each write is answered with the result of applying it") {
  auto d = ready_leader();
  auto r = commit_one(d, put("alice", 1, "k", "a"));
  CHECK(r.index == 2);
  CHECK_FALSE(r.found);
  r = commit_one(d, put("alice", 2, "k", "b"));
  CHECK(r.index == 3);
  CHECK(r.found);  // it replaced a value
  r = commit_one(d, cas("alice", 3, "k", "zzz", "c"));
  CHECK(r.status == Status::ok);
  CHECK_FALSE(r.found);
  CHECK(r.value == "b");
  r = commit_one(d, cas("alice", 4, "k", "b", "c"));
  CHECK(r.found);
  CHECK(r.value == "c");
  r = commit_one(d, del("alice", 5, "k"));
  CHECK(r.found);
  r = commit_one(d, del("alice", 6, "k"));
  CHECK_FALSE(r.found);
  r = commit_one(d, request("alice", 7, 0, "m1"));
  CHECK(r.position == 1);
  r = commit_one(d, request("alice", 8, 0, "m2"));
  CHECK(r.position == 2);
  CHECK(r.index == 9);
}

TEST_CASE("a cluster of one commits and answers a write once the shell has written it") {
  auto d = lone_leader();
  d.from_client("c", put("alice", 1, "k", "v"));
  CHECK(client_replies(d.last).empty());
  d.flush();
  CHECK(written_entries(d.last).size() == 1);
  CHECK(client_replies(d.last).empty());  // not before its own write is done
  d.confirm();
  REQUIRE(client_replies(d.last).size() == 1);
  CHECK(client_replies(d.last)[0].index == 2);
  d.from_client("c", get("alice", 2, "k"));
  d.flush();
  REQUIRE(client_replies(d.last).size() == 1);
  CHECK(client_replies(d.last)[0].value == "v");
}

TEST_CASE("a follower writes entries before it acks them, and applies what the leader says is committed") {
  Driver f(2, 3);
  f.follow(1, 1);
  Append append{1, 1, 0, 0, 0, 0, {entry(1, 1, Op::noop), entry(2, 1)}};
  f.from_peer(1, append);
  const auto write = index_of<core::AppendLog>(f.last);
  const auto ack = index_of<core::SendToPeer, AppendReply>(f.last);
  REQUIRE(write);
  REQUIRE(ack);
  CHECK(*write < *ack);
  CHECK(written_entries(f.last).size() == 2);
  const auto replies = messages<AppendReply, core::SendToPeer>(f.last);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].ok);
  CHECK(replies[0].last_index == 2);
  CHECK(f.node.applied_index() == 0);  // nothing committed yet

  f.from_peer(1, Append{1, 1, 2, 1, 2, 0, {}});  // a heartbeat with the commit index
  CHECK(f.node.commit_index() == 2);
  CHECK(f.node.applied_index() == 2);
  CHECK(f.node.machine().read(get("x", 1, "k2")).found);

  // A commit index past what the append proves it holds is not trusted.
  f.from_peer(1, Append{1, 1, 2, 1, 9, 0, {}});
  CHECK(f.node.commit_index() == 2);
}

// The follower holds three entries of term 2 that never committed; the new
// leader's log has term 3 there. The follower's suffix is cut before the
// leader's entries are written in its place.
TEST_CASE("the leader repairs a diverging follower, truncating its uncommitted suffix before appending") {
  auto l = restored(1, 3, 3, {1, 1, 3, 3, 3});
  auto f = restored(2, 3, 3, {1, 1, 2, 2, 2});
  l.become_leader(3);
  REQUIRE(l.node.role() == Role::leader);
  REQUIRE(l.node.term() == 4);
  REQUIRE(l.node.log().last_index() == 6);  // its noop

  Net net;
  net.add(l);
  net.add(f);
  f.follow(1, 4);  // the follower hears the leader and says hello
  net.send(2, f.last);

  const auto follower_actions = net.actions_of(2);
  const auto truncate = index_of<core::TruncateLog>(follower_actions);
  const auto write = index_of<core::AppendLog>(follower_actions);
  REQUIRE(truncate);
  REQUIRE(write);
  CHECK(*truncate < *write);
  CHECK(all_of<core::TruncateLog>(follower_actions).size() == 1);
  CHECK(all_of<core::TruncateLog>(follower_actions).at(0).from == 3);
  CHECK(all_of<core::AppendLog>(follower_actions).at(0).entries.front().index == 3);

  CHECK(terms_of(f.node.log()) == std::vector<Term>{1, 1, 3, 3, 3, 4});
  for (std::uint64_t i = 1; i <= 6; ++i) CHECK(f.node.log().at(i).value == l.node.log().at(i).value);
  CHECK(l.node.commit_index() == 6);
  const auto replies = net.delivered<AppendReply>(2, 1);
  REQUIRE_FALSE(replies.empty());
  CHECK(replies.back().ok);
  CHECK(replies.back().last_index == 6);
}

TEST_CASE("a follower whose previous entry conflicts names the last index before the conflicting term") {
  auto f = restored(2, 3, 3, {1, 1, 2, 2, 2});
  f.from_peer(1, Append{4, 1, 5, 3, 0, 0, {entry(6, 4, Op::noop)}});
  auto replies = messages<AppendReply, core::SendToPeer>(f.last);
  REQUIRE_FALSE(replies.empty());
  CHECK_FALSE(replies.back().ok);
  CHECK(replies.back().last_index == 2);  // back over all of term 2 at once
  CHECK(all_of<core::TruncateLog>(f.last).empty());  // nothing is cut on a mismatch
  CHECK(written_entries(f.last).empty());

  // A previous entry past its end: it names its end.
  f.from_peer(1, Append{4, 1, 8, 3, 0, 0, {}});
  replies = messages<AppendReply, core::SendToPeer>(f.last);
  REQUIRE_FALSE(replies.empty());
  CHECK_FALSE(replies.back().ok);
  CHECK(replies.back().last_index == 5);
}

// protocol.md, Rule "append": "On a mismatch it names the first index of the
// conflicting term so the leader skips back a term at a time, not an entry
// at a time." A new leader starts after its own log and backs up from there;
// a follower that already holds the log gets only what it lacks.
TEST_CASE("a new leader sends a follower only what it lacks, backing up one term per rejection") {
  SUBCASE("the follower holds the whole log") {
    auto l = restored(1, 3, 3, {1, 1, 3, 3, 3});
    l.become_leader(3);
    const auto appends = appends_to(l.hello(2, 5), 2);
    REQUIRE(appends.size() == 1);
    CHECK(appends[0].prev_index == 5);
    CHECK(appends[0].entries.size() == 1);  // the noop alone, not the log again
  }
  SUBCASE("the follower diverges over a whole term") {
    auto l = restored(1, 3, 3, {1, 1, 3, 3, 3});
    auto f = restored(2, 3, 3, {1, 1, 2, 2, 2});
    l.become_leader(3);
    Net net;
    net.add(l);
    net.add(f);
    f.follow(1, 4);
    net.send(2, f.last);
    const auto appends = net.delivered<Append>(1, 2);
    REQUIRE(appends.size() == 2);
    CHECK(appends[0].prev_index == 5);
    CHECK(appends[1].prev_index == 2);
  }
}

TEST_CASE("a follower never truncates an entry it knows is committed") {
  Driver f(2, 3);
  f.follow(1, 1);
  f.from_peer(1, Append{1, 1, 0, 0, 2, 0, {entry(1, 1), entry(2, 1)}});
  REQUIRE(f.node.commit_index() == 2);
  f.follow(3, 2);
  f.from_peer(3, Append{2, 3, 0, 0, 0, 0, {entry(1, 2), entry(2, 2)}});  // a leader that contradicts it
  CHECK(all_of<core::TruncateLog>(f.last).empty());
  CHECK(terms_of(f.node.log()) == std::vector<Term>{1, 1});
}

TEST_CASE("a lost append shows up as a gap: the follower answers with its real end and the leader resends") {
  auto l = ready_leader(3);
  Driver f(2, 3);
  f.follow(1, 1);
  f.from_peer(1, Append{1, 1, 0, 0, 1, 0, {entry(1, 1, Op::noop)}});
  REQUIRE(f.node.log().last_index() == 1);

  Net net;
  net.add(l);
  net.add(f);
  bool dropped = false;
  net.drop = [&](NodeId, NodeId to, const proto::Message& m) {
    const auto* append = std::get_if<Append>(&m);
    if (dropped || to != 2 || append == nullptr || append->entries.empty()) return false;
    return dropped = true;
  };
  for (std::uint64_t i = 1; i <= 3; ++i) net.send(1, l.from_client("c", put("alice", i, "k", std::to_string(i))));
  CHECK(dropped);
  CHECK(terms_of(f.node.log()) == terms_of(l.node.log()));
  CHECK(l.node.commit_index() == 4);
  CHECK(client_replies(net.actions_of(1)).size() == 3);
  const auto replies = net.delivered<AppendReply>(2, 1);
  CHECK(std::any_of(replies.begin(), replies.end(), [](const AppendReply& r) { return !r.ok && r.last_index == 1; }));
}

// Raft's figure 8: an entry of an older term held by a majority may still be
// overwritten, so only the current term's entries commit by counting.
TEST_CASE("the leader never commits an entry of an older term by counting; its noop commits it") {
  auto o = options(1, 3);
  o.max_append_bytes = 1;  // one entry per append, so the follower can ack index 2 alone
  auto d = restored(1, 3, 2, {1, 2}, o);
  d.become_leader(3);
  REQUIRE(d.node.term() == 3);
  REQUIRE(d.node.log().last_index() == 3);

  const auto appends = appends_to(d.hello(2, 1), 2);
  REQUIRE(appends.size() >= 2);
  const auto& noop = appends.back();
  REQUIRE(noop.entries.size() == 1);
  CHECK(noop.entries[0].index == 3);
  for (std::size_t i = 0; i + 1 < appends.size(); ++i) {
    REQUIRE(appends[i].entries.size() == 1);
    CHECK(appends[i].entries[0].index <= 2);
    d.ack(2, appends[i]);
  }
  REQUIRE(appends[appends.size() - 2].entries[0].index == 2);
  CHECK(appends[appends.size() - 2].entries[0].term == 2);
  // Entry 2 (term 2) is on the leader and node 2, a majority: not committed.
  CHECK(d.node.commit_index() == 0);
  CHECK(d.node.applied_index() == 0);

  d.ack(2, noop);  // the noop of term 3 is: it commits, and entry 2 with it
  CHECK(d.node.commit_index() == 3);
  CHECK(d.node.applied_index() == 3);
  CHECK(d.node.machine().read(get("x", 1, "k2")).found);
}

TEST_CASE("pipelining: appends go out without waiting for replies, at most max_in_flight of them") {
  auto o = options(1, 3);
  o.max_in_flight = 3;
  auto d = ready_leader(3, o);
  std::vector<Append> in_flight;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    d.from_client("c", request("alice", i));
    const auto appends = appends_to(d.last, 2);
    REQUIRE(appends.size() == 1);
    CHECK(appends[0].prev_index == i);  // each follows the previous, unanswered one
    CHECK(appends[0].entries.size() == 1);
    in_flight.push_back(appends[0]);
  }
  // The window is full: more writes go to the log, not to the followers.
  for (std::uint64_t i = 4; i <= 6; ++i) {
    d.from_client("c", request("alice", i));
    CHECK(written_entries(d.last).size() == 1);
    CHECK(appends_to(d.last, 2).empty());
    CHECK(appends_to(d.last, 3).empty());
  }
  CHECK(d.node.log().last_index() == 7);

  // One reply opens the window by one; the entries that waited go in one append.
  d.ack(2, in_flight[0]);
  CHECK(client_replies(d.last).size() == 1);
  const auto batch = appends_to(d.last, 2);
  REQUIRE(batch.size() == 1);
  CHECK(batch[0].prev_index == 4);
  REQUIRE(batch[0].entries.size() == 3);
  CHECK(batch[0].entries.front().index == 5);
  CHECK(batch[0].entries.back().index == 7);
  CHECK(appends_to(d.last, 3).empty());  // node 3's window is still full

  d.ack(2, in_flight[1]);
  d.ack(2, in_flight[2]);
  d.ack(2, batch[0]);
  CHECK(d.node.commit_index() == 7);
}

// A follower that rejects every append of a full window (it lost them, or its
// disk refuses them) sends one rejection per append. Answering each with a
// new window would multiply the traffic with every round.
TEST_CASE("rejections of a window of pipelined appends are answered once, then at the heartbeat") {
  auto o = options(1, 3);
  o.max_in_flight = 3;
  auto d = ready_leader(3, o);
  for (std::uint64_t i = 1; i <= 3; ++i) d.from_client("c", request("alice", i));
  d.hello(2, 1);  // the rejection of the first
  auto resent = appends_to(d.last, 2);
  REQUIRE(!resent.empty());
  CHECK(resent.front().prev_index == 1);
  d.hello(2, 1);  // the rejections of the other two say nothing new
  CHECK(appends_to(d.last, 2).empty());
  d.hello(2, 1);
  CHECK(appends_to(d.last, 2).empty());
  // Nothing confirmed in a whole heartbeat interval: the window goes out again.
  d.tick_until([](const Actions& a) {
    const auto appends = appends_to(a, 2);
    return !appends.empty() && !appends.front().entries.empty();
  });
  CHECK(appends_to(d.last, 2).front().prev_index == 1);
  // A rejection that moves the follower's end is answered at once.
  d.hello(2, 0);
  resent = appends_to(d.last, 2);
  REQUIRE(!resent.empty());
  CHECK(resent.front().prev_index == 0);
}

// Node 2's disk is full: it keeps index 1 and refuses everything after it,
// while node 3 takes every entry and the leader compacts its log past 1. Once
// node 2 can write again it must get the snapshot: the heartbeat's resend
// starts from what it holds, not from the leader's first entry.
TEST_CASE("a follower whose disk was full while the leader compacted gets the snapshot once it can write") {
  auto o = options(1, 3);
  o.snapshot_bytes = 4096;
  Driver d(o);
  d.lead();
  std::uint64_t end2 = 1;  // node 2's log end
  bool full = true;
  std::size_t snapshot_chunks = 0;
  const auto pump = [&](const Actions& first) {
    std::deque<Actions> work{first};
    for (int guard = 0; !work.empty() && guard < 10000; ++guard) {
      const Actions actions = std::move(work.front());
      work.pop_front();
      for (const auto& append : appends_to(actions, 3)) work.push_back(d.ack(3, append));
      for (const auto& append : appends_to(actions, 2)) {
        const bool takes = !full && append.prev_index <= end2;
        if (takes) end2 = std::max(end2, append.prev_index + append.entries.size());
        work.push_back(d.from_peer(2, AppendReply{append.term, 2, takes, end2, append.round}));
      }
      for (const auto& chunk : snapshots_to(actions, 2)) {
        ++snapshot_chunks;
        if (full) continue;
        if (chunk.done) end2 = chunk.last_index;
        const std::uint64_t next_offset = chunk.done ? UINT64_MAX : chunk.offset + chunk.chunk.size();
        work.push_back(d.from_peer(2, proto::SnapshotReply{chunk.term, 2, chunk.last_index, next_offset}));
      }
    }
  };
  const auto heartbeat = [&] {
    pump(d.tick(30));
    for (NodeId peer : {2, 3}) d.hear(follower_heartbeat(d.node.term(), peer, 1));  // both still follow it
  };
  std::uint64_t id = 1;
  for (int round = 0; round < 60; ++round) {
    pump(d.from_client("c", put("alice", id++, "k", std::string(400, 'x'))));
    heartbeat();
  }
  REQUIRE(d.node.role() == Role::leader);
  REQUIRE(d.node.log().snapshot_index() > 1);  // compacted past what node 2 holds
  CHECK(end2 == 1);
  full = false;
  // Writes go on (an idle leader would send an empty probe, which hides the
  // problem).
  for (int round = 0; round < 40 && end2 < d.node.log().snapshot_index(); ++round) {
    pump(d.from_client("c", put("alice", id++, "k", std::string(400, 'x'))));
    heartbeat();
  }
  REQUIRE(d.node.role() == Role::leader);
  CHECK(snapshot_chunks > 0);
  CHECK(end2 >= d.node.log().snapshot_index());
}

// A cluster of one counts its own copy only once the shell has written it: a
// write the disk refused is never applied, so no read can see it.
TEST_CASE("a cluster of one never applies a write its disk refused") {
  auto d = lone_leader();
  d.from_client("c", put("alice", 1, "k", "lost"));
  d.flush();
  REQUIRE(written_entries(d.last).size() == 1);
  d.step(core::StorageFailed{1, "No space left on device"});
  const auto refused = client_replies(d.last);
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].status == proto::Status::unavailable);
  CHECK(d.node.commit_index() == 1);
  // It stepped down (a leader that cannot write cannot count itself); a read
  // is answered once it leads again.
  d.auto_flush = true;
  d.from_client("c", get("alice", 2, "k"));
  if (client_replies(d.last).empty()) d.tick_until([](const Actions& a) { return !client_replies(a).empty(); });
  const auto read = client_replies(d.last);
  REQUIRE(read.size() == 1);
  CHECK(read[0].status == proto::Status::ok);
  CHECK_FALSE(read[0].found);
}

TEST_CASE("batching: what arrives in one batch is one log write and one append per follower") {
  auto d = ready_leader(3);
  d.auto_flush = false;
  for (std::uint64_t i = 1; i <= 10; ++i) {
    d.from_client("c", request("alice", i));
    CHECK(all_of<core::AppendLog>(d.last).empty());
    CHECK(all_of<core::ReplyToPeer>(d.last).empty());
  }
  d.flush();
  REQUIRE(all_of<core::AppendLog>(d.last).size() == 1);
  CHECK(written_entries(d.last).size() == 10);
  for (NodeId peer : {2, 3}) {
    const auto appends = appends_to(d.last, peer);
    REQUIRE(appends.size() == 1);
    CHECK(appends[0].entries.size() == 10);
  }
  d.auto_flush = true;
  d.ack(3, appends_to(d.last, 3)[0]);
  CHECK(client_replies(d.last).size() == 10);
}

TEST_CASE("an append carries about max_append_bytes of entries") {
  auto o = options(1, 3);
  Entry sample;
  sample.client_id = "old";
  sample.key = "k2";
  sample.value = "v";
  o.max_append_bytes = 3 * core::Log::size_of(sample);  // every entry below has this size
  auto d = ready_leader(3, o);
  d.auto_flush = false;
  for (std::uint64_t i = 1; i <= 7; ++i) d.from_client("c", put("old", i + 1, "k" + std::to_string(i + 1), "v"));
  d.flush();
  const auto appends = appends_to(d.last, 2);
  REQUIRE(appends.size() == 3);
  for (const auto& append : appends) CHECK(append.entries.size() <= 3);
  CHECK(appends.back().entries.back().index == 8);
}

// An empty append (a heartbeat or a read round) asserts every entry before
// `next`, so its ack confirms the appends in flight ahead of it (on one
// connection they arrive first) and opens the window only for that reason.
TEST_CASE("an ack of an empty append confirms the appends in flight before it") {
  auto o = options(1, 3);
  o.max_in_flight = 2;
  auto d = ready_leader(3, o);
  d.from_client("c", request("alice", 1));
  d.from_client("c", request("alice", 2));
  const auto first = appends_to(d.last, 2);
  d.from_client("c", request("alice", 3));  // window full: held
  REQUIRE(appends_to(d.last, 2).empty());
  d.from_client("r", get("bob", 1, "k"));   // a read: the flush sends a round to everyone
  const auto round = appends_to(d.last, 2);
  REQUIRE(round.size() == 1);
  CHECK(round[0].entries.empty());
  CHECK(round[0].prev_index == 3);  // noop, alice 1, alice 2: everything sent so far
  d.ack(2, round[0]);
  CHECK(client_replies(d.last).size() == 3);  // both writes committed, the read confirmed
  const auto next = appends_to(d.last, 2);    // the window is free: alice 3 goes
  REQUIRE(next.size() == 1);
  REQUIRE(next[0].entries.size() == 1);
  CHECK(next[0].entries[0].index == 4);
}

// The lost-ack case the probe exists for: entries reached the follower, the
// reply saying so was lost, and a hello then cleared what was in flight.
TEST_CASE("a follower whose confirming reply was lost is caught up by the heartbeat probe") {
  auto d = ready_leader(3);
  d.from_client("c", request("alice", 1));
  const auto sent = appends_to(d.last, 2);
  REQUIRE(sent.size() == 1);
  // The reply is lost; the follower then says hello with its whole log.
  d.hello(2, sent[0].entries.back().index);
  d.tick_until([](const Actions& a) { return !appends_to(a, 2).empty(); });
  const auto probe = appends_to(d.last, 2);
  REQUIRE(!probe.empty());
  CHECK(probe.back().prev_index == sent[0].entries.back().index);
  d.ack(2, probe.back());
  CHECK(client_replies(d.last).size() == 1);  // committed with the follower's copy
}

TEST_CASE("a retry of an applied request is answered from the exactly-once table without a new entry") {
  auto d = ready_leader();
  const auto original = commit_one(d, put("alice", 1, "k", "v"));
  d.from_client("c", put("alice", 1, "k", "v"));
  CHECK(written_entries(d.last).empty());
  CHECK(appends_to(d.last, 2).empty());
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == Status::ok);
  CHECK(replies[0].index == original.index);
  CHECK(d.node.log().last_index() == 2);
}

TEST_CASE("a new leader answers a retry of a request its predecessor committed from the replicated table") {
  Driver l(1, 3);
  Driver f(2, 3, {}, kSeed + 1);
  Net net;
  net.add(l);
  net.add(f);
  l.become_leader(3);
  f.follow(1, 1);
  net.send(2, f.last);  // hello; the noop goes out and commits
  REQUIRE(l.node.commit_index() == 1);

  net.send(1, l.from_client("c", put("alice", 1, "k", "v")));
  const auto answered = client_replies(net.actions_of(1));
  REQUIRE(answered.size() == 1);
  const auto original = answered[0];
  CHECK(original.index == 2);
  REQUIRE(f.node.log().last_index() == 2);

  SUBCASE("the follower applied it before it became leader") {
    // The next heartbeat tells the follower the commit index.
    net.send(1, l.tick_until([](const Actions& a) { return !appends_to(a, 2).empty(); }));
    REQUIRE(f.node.applied_index() == 2);

    f.become_leader(3);
    REQUIRE(f.node.role() == Role::leader);
    REQUIRE(f.node.term() == 2);
    const auto last_index = f.node.log().last_index();
    f.from_client("c2", put("alice", 1, "k", "v"));
    CHECK(written_entries(f.last).empty());
    CHECK(f.node.log().last_index() == last_index);
    const auto replies = client_replies(f.last);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].status == Status::ok);
    CHECK(replies[0].index == original.index);
    CHECK(replies[0].answered_by == 2);
  }
  SUBCASE("the follower held it but had not applied it") {
    REQUIRE(f.node.applied_index() < 2);
    f.become_leader(3);
    REQUIRE(f.node.role() == Role::leader);
    f.from_client("c2", put("alice", 1, "k", "v"));
    CHECK(client_replies(f.last).empty());  // it cannot know yet whether it committed
    Actions acks = f.ack_all(3, f.hello(3, 0));
    const auto replies = client_replies(acks);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].status == Status::ok);
    CHECK(replies[0].index == original.index);  // the original result, applied once
    CHECK(f.node.machine().key_count() == 1);
  }
}

TEST_CASE("a read waits for a majority to confirm a leadership round, then answers the applied value") {
  auto d = ready_leader(5);
  d.from_client("c", put("alice", 1, "k", "v"));
  const auto a2 = appends_to(d.last, 2).at(0);
  const auto a3 = appends_to(d.last, 3).at(0);
  d.ack(2, a2);
  d.ack(3, a3);
  REQUIRE(d.node.applied_index() == 2);

  d.from_client("r", get("bob", 1, "k"));
  CHECK(client_replies(d.last).empty());  // applied, but leadership is not confirmed
  std::map<NodeId, Append> round;
  for (NodeId peer = 2; peer <= 5; ++peer) {
    const auto appends = appends_to(d.last, peer);
    REQUIRE(appends.size() == 1);
    CHECK(appends[0].round > 0);
    round[peer] = appends[0];
  }
  d.ack(2, round[2]);
  CHECK(client_replies(d.last).empty());  // 2 of 5
  d.from_peer(3, AppendReply{1, 3, true, 2, round[3].round - 1});  // an older round does not count
  CHECK(client_replies(d.last).empty());
  d.ack(4, round[4]);  // 3 of 5
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == Status::ok);
  CHECK(replies[0].found);
  CHECK(replies[0].value == "v");
  CHECK(replies[0].index == 2);
  CHECK(d.node.log().last_index() == 2);  // a read writes nothing
}

TEST_CASE("reads of the stream wait for the round and return the messages in order") {
  auto d = ready_leader(3);
  commit_one(d, request("alice", 1, 0, "m1"));
  commit_one(d, request("alice", 2, 0, "m2"));
  commit_one(d, request("alice", 3, 0, "m3"));
  d.from_client("r", read_stream("bob", 1, 2, 5));
  CHECK(client_replies(d.last).empty());
  d.ack(3, appends_to(d.last, 3).at(0));
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].position == 2);
  CHECK(replies[0].values == std::vector<std::string>{"m2", "m3"});
}

TEST_CASE("a new leader answers reads only once the noop of its term is applied") {
  auto d = restored(1, 3, 1, {1, 1});
  d.become_leader(3);
  REQUIRE(d.node.term() == 2);
  d.hello(2, 2);
  d.from_client("r", get("bob", 1, "k2"));
  const auto round = appends_to(d.last, 2);
  REQUIRE(round.size() == 1);
  // Node 2 confirms the round but does not hold the noop yet.
  d.from_peer(2, AppendReply{2, 2, true, 2, round[0].round});
  CHECK(client_replies(d.last).empty());
  CHECK(d.node.commit_index() == 0);
  d.from_peer(2, AppendReply{2, 2, true, 3, round[0].round});
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].found);
  CHECK(replies[0].value == "v2@1");
}

TEST_CASE("a request without a key, or a noop, is answered bad_request and never logged") {
  auto d = ready_leader();
  for (const auto& r : {put("alice", 1, "", "v"), get("alice", 2, ""), del("alice", 3, ""), cas("alice", 4, "", "a", "b")}) {
    CAPTURE(proto::to_string(r.op));
    d.from_client("c", r);
    const auto replies = client_replies(d.last);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].status == Status::bad_request);
    CHECK(written_entries(d.last).empty());
  }
  auto noop = request("alice", 5);
  noop.op = Op::noop;
  d.from_client("c", noop);
  REQUIRE(client_replies(d.last).size() == 1);
  CHECK(client_replies(d.last)[0].status == Status::bad_request);

  d.from_peer(2, Relay{2, 9, 500, put("alice", 6, "", "v")});  // relayed: answered through the relay
  const auto answers = messages<RelayReply, core::ReplyToPeer>(d.last);
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].reply.status == Status::bad_request);
  CHECK(d.node.log().last_index() == 1);
}

TEST_CASE("a failed log write makes the leader step down and answer every write it holds") {
  auto d = ready_leader();
  d.from_client("c/1", put("alice", 1, "k", "v"));
  d.from_client("c/2", put("alice", 2, "k", "w"));
  d.from_peer(3, Relay{3, 4, 500, put("bob", 1, "k", "x")});
  REQUIRE(d.node.log().last_index() == 4);

  d.step(core::StorageFailed{1, "disk full"});
  CHECK(d.node.role() == Role::follower);
  CHECK(d.node.leader() == proto::kNoNode);
  CHECK(d.node.term() == 1);
  CHECK(d.node.log().last_index() == 1);  // nothing after what the disk holds
  REQUIRE(all_of<core::RoleChanged>(d.last).size() == 1);
  CHECK(all_of<core::RoleChanged>(d.last)[0].role == Role::follower);

  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 2);
  for (const auto& reply : replies) {
    CHECK(reply.status != Status::ok);
    CHECK(reply.status != Status::bad_request);
    CHECK(reply.message.find("disk full") != std::string::npos);
  }
  const auto relayed = messages<RelayReply, core::ReplyToPeer>(d.last);
  REQUIRE(relayed.size() == 1);
  CHECK(relayed[0].reply.status == Status::not_leader);  // the follower holds it for the next leader
  CHECK(d.node.broken_invariant() == std::nullopt);
}

// docs/replication.md, "Storage": "A failed write or a full disk: the entry is
// not acknowledged, the client gets `unavailable` with the reason". An entry
// past durable_index was never written, so never sent: it cannot commit.
TEST_CASE("a write lost with a failed log write is answered unavailable, not unknown") {
  auto d = ready_leader();
  d.from_client("c", put("alice", 1, "k", "v"));
  d.step(core::StorageFailed{1, "disk full"});
  const auto replies = client_replies(d.last);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == Status::unavailable);
}

TEST_CASE("a follower whose log write failed tells its leader where its log really ends") {
  Driver f(2, 3);
  f.follow(1, 1);
  f.from_peer(1, Append{1, 1, 0, 0, 0, 0, {entry(1, 1, Op::noop), entry(2, 1), entry(3, 1)}});
  REQUIRE(f.node.log().last_index() == 3);
  f.step(core::StorageFailed{1, "I/O error"});
  CHECK(f.node.log().last_index() == 1);
  const auto hellos = messages<AppendReply, core::SendToPeer>(f.last);
  REQUIRE(hellos.size() == 1);
  CHECK_FALSE(hellos[0].ok);
  CHECK(hellos[0].last_index == 1);
}

// Three nodes with small snapshots: the leader and node 2 take writes until
// the leader has compacted its log; then node 3, which has nothing, joins.
struct SnapshotScene {
  core::Options opts(NodeId self) {
    auto o = options(self, 3);
    o.snapshot_bytes = 400;
    o.snapshot_chunk_bytes = 64;
    o.dedup_capacity = dedup_capacity;
    return o;
  }
  explicit SnapshotScene(std::size_t capacity = 100'000)
      : dedup_capacity(capacity), l(opts(1)), f2(opts(2), DurableState{}, kSeed + 2), f3(opts(3), DurableState{}, kSeed + 3) {
    net.add(l);
    net.add(f2);
    l.become_leader(3);
    f2.follow(1, 1);
    net.send(2, f2.last);
  }
  void write(const std::string& client, std::uint64_t first, std::uint64_t count) {
    for (auto i = first; i < first + count; ++i) {
      net.send(1, l.from_client("c", put(client, i, "key" + std::to_string(i % 7), "value-" + std::to_string(i))));
    }
  }
  // Until every follower in the net has heard the leader's commit index.
  void heartbeat() {
    net.send(1, l.tick_until([](const Actions& a) { return !all_of<core::ReplyToPeer>(a).empty(); }));
  }
  std::size_t dedup_capacity;
  Driver l, f2, f3;
  Net net;
};

TEST_CASE("past snapshot_bytes the log is compacted; a follower far behind gets the snapshot in chunks") {
  SnapshotScene s;
  s.write("alice", 1, 30);
  REQUIRE(s.l.node.applied_index() == 31);
  REQUIRE_FALSE(s.l.snapshots_saved.empty());
  const auto& saved = s.l.snapshots_saved.back();
  CHECK_FALSE(saved.replace_log);
  CHECK(saved.last_index <= s.l.node.applied_index());
  CHECK(s.l.node.log().snapshot_index() == saved.last_index);
  CHECK(s.l.node.log().bytes() < 400);
  const auto snapshot_index = s.l.node.log().snapshot_index();
  REQUIRE(snapshot_index > 1);

  s.net.add(s.f3);
  s.f3.follow(1, 1);
  s.net.send(3, s.f3.last);
  s.heartbeat();

  const auto chunks = s.net.delivered<proto::Snapshot>(1, 3);
  REQUIRE(chunks.size() > 1);
  std::uint64_t offset = 0;
  for (const auto& chunk : chunks) {
    CHECK(chunk.offset == offset);
    CHECK(chunk.chunk.size() <= 64);
    CHECK(chunk.last_index == snapshot_index);
    offset += chunk.chunk.size();
  }
  CHECK(chunks.back().done);
  REQUIRE_FALSE(s.f3.snapshots_saved.empty());
  CHECK(s.f3.snapshots_saved.front().replace_log);
  CHECK(s.f3.snapshots_saved.front().last_index == snapshot_index);

  CHECK(s.f3.node.log().last_index() == s.l.node.log().last_index());
  CHECK(s.f3.node.applied_index() == s.l.node.applied_index());
  CHECK(s.f3.node.machine().snapshot() == s.l.node.machine().snapshot());
  CHECK(s.f2.node.machine().snapshot() == s.l.node.machine().snapshot());

  // It follows from there with the log.
  s.write("bob", 1, 3);
  s.heartbeat();
  CHECK(s.f3.node.applied_index() == s.l.node.applied_index());
  CHECK(s.f3.node.machine().snapshot() == s.l.node.machine().snapshot());
}

// state_machine.hpp: every node must run with the same Limits, "or their
// exactly-once tables would evict differently". A snapshot received from the
// leader must be restored with the node's configured dedup_capacity.
TEST_CASE("a follower restored from the leader's snapshot evicts its exactly-once table like the others") {
  SnapshotScene s(2);
  s.write("alice", 1, 30);
  REQUIRE(s.l.node.log().snapshot_index() > 1);
  s.net.add(s.f3);
  s.f3.follow(1, 1);
  s.net.send(3, s.f3.last);
  s.heartbeat();
  CHECK(s.f3.node.machine().snapshot() == s.l.node.machine().snapshot());

  for (int i = 0; i < 3; ++i) s.write("client-" + std::to_string(i), 1, 1);
  s.heartbeat();
  REQUIRE(s.f3.node.applied_index() == s.l.node.applied_index());
  CHECK(s.l.node.machine().remembered_count() == 2);
  CHECK(s.f3.node.machine().remembered_count() == s.l.node.machine().remembered_count());
  CHECK(s.f3.node.machine().snapshot() == s.l.node.machine().snapshot());
}

}  // TEST_SUITE
}  // namespace relay::test
