// The replicated log: the leader turns write requests into log entries,
// replicates them to its followers over the peer channel, commits an entry
// once a majority holds it, applies it to the state machine and only then
// answers. Reads wait for a leadership round confirmed by a majority (read
// index). docs/protocol.md, "Replication", states the same rules in prose.
#include <algorithm>

#include "core/node.hpp"

namespace relay::core {

using proto::Role;
using proto::Status;

// ---- taking requests in (leader) ----

namespace {

bool same_origin(const auto& a, const auto& b) {
  return a.peer == b.peer && a.relay_id == b.relay_id && a.client.route == b.client.route;
}

}  // namespace

std::optional<std::string> Node::invalid_request(const proto::ClientRequest& request) const {
  switch (request.op) {
    case proto::Op::noop: return "noop is not a client operation";
    case proto::Op::put:
    case proto::Op::get:
    case proto::Op::del:
    case proto::Op::cas:
      if (request.key.empty()) return std::string("the key must not be empty");
      break;
    case proto::Op::append:
    case proto::Op::read: break;
  }
  return std::nullopt;
}

void Node::serve(Origin origin, const proto::ClientRequest& request, std::uint64_t deadline) {
  if (auto problem = invalid_request(request)) {
    answer(origin, refusal(request, Status::bad_request, *problem));
  } else if (proto::is_read(request.op)) {
    take_read(std::move(origin), request, deadline);
  } else {
    propose(std::move(origin), request, deadline);
  }
}

// Rule "exactly once": a request already applied gets its recorded answer; a
// request already in the log waits for that entry; only a new one becomes a
// new entry. The recorded answers are part of the replicated state, so this
// holds across leader changes.
void Node::propose(Origin origin, const proto::ClientRequest& request, std::uint64_t deadline) {
  if (auto reply = machine_.answered(request.client_id, request.request_id)) {
    answer(origin, std::move(*reply));
    return;
  }
  RequestKey key{request.client_id, request.request_id};
  Waiter waiter{std::move(origin), request, deadline, 0, 0};
  waiter.request.value.clear();
  waiter.request.expected.clear();
  waiter.request.value.shrink_to_fit();
  waiter.request.expected.shrink_to_fit();
  if (auto it = proposed_.find(key); it != proposed_.end()) {
    // A duplicate delivery of the same relay or client message waits once.
    auto [first, last] = write_waiters_.equal_range(it->second);
    const bool waiting = std::any_of(first, last, [&](const auto& w) { return same_origin(w.second.origin, waiter.origin); });
    if (!waiting) write_waiters_.emplace(it->second, std::move(waiter));
    return;
  }
  if (log_.last_index() - commit_index_ >= options_.max_uncommitted) {
    answer(waiter.origin, refusal(request, Status::overloaded, "too many writes waiting to commit"));
    return;
  }
  proto::Entry entry;
  entry.index = log_.last_index() + 1;
  entry.term = durable_.term;
  entry.op = request.op;
  entry.client_id = request.client_id;
  entry.request_id = request.request_id;
  entry.key = request.key;
  entry.value = request.value;
  entry.expected = request.expected;
  proposed_.emplace(std::move(key), entry.index);
  write_waiters_.emplace(entry.index, std::move(waiter));
  log_.append(std::move(entry));
  ++executed_;
}

// Rule "linearizable reads": a read is answered from the state machine once
// (1) a majority confirmed this node's leadership in a round that started
// after the read arrived, and (2) everything committed when it arrived is
// applied. The entries of earlier terms count as committed only once this
// term's first entry is, so the read index is at least that entry.
void Node::take_read(Origin origin, const proto::ClientRequest& request, std::uint64_t deadline) {
  if (read_waiters_.size() >= options_.max_pending) {
    answer(origin, refusal(request, Status::overloaded, "too many reads waiting"));
    return;
  }
  Waiter waiter{std::move(origin), request, deadline, 0, std::max(commit_index_, term_first_index_)};
  const bool waiting = std::any_of(read_waiters_.begin(), read_waiters_.end(),
                                   [&](const Waiter& w) { return same_origin(w.origin, waiter.origin); });
  if (waiting) return;  // a duplicate delivery
  read_waiters_.push_back(std::move(waiter));
  round_wanted_ = true;
  if (options_.members.size() == 1) answer_reads();
}

Actions Node::flush() {
  out_.clear();
  if (role_ == Role::leader) {
    write_proposals();
    if (round_wanted_) {
      round_wanted_ = false;
      ++round_;
      for (auto& waiter : read_waiters_) {
        if (waiter.round == 0) waiter.round = round_;
      }
      for (auto& [peer, progress] : progress_) replicate(peer, true);
    } else {
      for (auto& [peer, progress] : progress_) replicate(peer, false);
    }
    advance_commit();
    answer_reads();
  }
  return std::move(out_);
}

// The entries proposed since the last flush go to the shell as one write.
void Node::write_proposals() {
  if (written_index_ >= log_.last_index()) return;
  AppendLog append;
  append.entries = log_.slice(written_index_ + 1, SIZE_MAX, SIZE_MAX);
  written_index_ = log_.last_index();
  out_.push_back(std::move(append));
}

void Node::append_to_log(proto::Entry entry) {
  log_.append(entry);
  if (!out_.empty()) {
    if (auto* append = std::get_if<AppendLog>(&out_.back())) {
      append->entries.push_back(std::move(entry));
      written_index_ = log_.last_index();
      return;
    }
  }
  out_.push_back(AppendLog{{std::move(entry)}});
  written_index_ = log_.last_index();
}

// ---- leader: replication ----

void Node::start_leading() {
  progress_.clear();
  for (const auto peer : options_.members) {
    if (peer == options_.self) continue;
    auto& progress = progress_[peer];
    progress.next = log_.last_index() + 1;
  }
  write_waiters_.clear();
  proposed_.clear();
  read_waiters_.clear();
  round_wanted_ = false;
  // A new term opens with an entry of its own: counting replicas commits only
  // entries of the current term, and this one carries the earlier ones along.
  proto::Entry noop;
  noop.index = log_.last_index() + 1;
  noop.term = durable_.term;
  noop.op = proto::Op::noop;
  term_first_index_ = noop.index;
  log_.append(std::move(noop));
}

// Every request waiting at a leader that stops leading is answered: a relayed
// one "not_leader", so the follower that relayed it holds it for the next
// leader (which applies it once at most: the exactly-once table is part of
// the log's state); a client of this node "unknown" (it may still commit).
void Node::stop_leading(const char* why) {
  const std::string reason = std::string("this node stopped leading (") + why +
                             ") before the request committed; it may or may not take effect";
  auto writes = std::move(write_waiters_);
  auto reads = std::move(read_waiters_);
  write_waiters_.clear();
  read_waiters_.clear();
  proposed_.clear();
  progress_.clear();
  for (auto& [index, waiter] : writes) {
    const bool relayed = waiter.origin.peer != proto::kNoNode;
    answer(waiter.origin, refusal(waiter.request, relayed ? Status::not_leader : Status::unknown, reason));
  }
  for (auto& waiter : reads) {
    const bool relayed = waiter.origin.peer != proto::kNoNode;
    answer(waiter.origin, refusal(waiter.request, relayed ? Status::not_leader : Status::unavailable,
                                  std::string("this node stopped leading (") + why + ")"));
  }
}

// Sends a follower what it lacks, pipelined: up to max_in_flight appends
// without waiting for replies. With `heartbeat`, it gets a message even when
// it lacks nothing, carrying the commit index and the current round.
void Node::replicate(NodeId peer, bool heartbeat) {
  auto& progress = progress_.at(peer);
  if (progress.route.empty()) return;  // it has not said hello on this connection yet
  if (progress.next <= log_.snapshot_index() && snapshot_index_ != 0) {
    if (!progress.sending_snapshot || heartbeat) send_snapshot_chunk(peer, progress);
    return;
  }
  bool sent = false;
  while (progress.in_flight.size() < options_.max_in_flight && progress.next <= written_index_) {
    proto::Append append;
    append.term = durable_.term;
    append.leader = options_.self;
    append.prev_index = progress.next - 1;
    append.prev_term = log_.term_at(append.prev_index).value_or(0);
    append.commit_index = commit_index_;
    append.round = round_;
    append.entries = log_.slice(progress.next, proto::kMaxListItems, options_.max_append_bytes);
    append.entries.erase(std::remove_if(append.entries.begin(), append.entries.end(),
                                        [this](const proto::Entry& e) { return e.index > written_index_; }),
                         append.entries.end());
    progress.next = append.entries.back().index + 1;
    progress.in_flight.push_back(append.entries.back().index);
    out_.push_back(ReplyToPeer{peer, std::move(append), progress.route});
    sent = true;
  }
  if (sent || !heartbeat) return;
  // Nothing new to send: an empty append that asserts everything before
  // `next`. It must not stop at `match`: when the reply confirming entries
  // was lost and nothing is in flight any more, only this probe can move
  // `match` up to what the follower holds (or, if refused, move `next` back).
  proto::Append append;
  append.term = durable_.term;
  append.leader = options_.self;
  append.prev_index = std::max(progress.next - 1, log_.snapshot_index());
  append.prev_term = log_.term_at(append.prev_index).value_or(0);
  append.commit_index = std::min(commit_index_, append.prev_index);
  append.round = round_;
  out_.push_back(ReplyToPeer{peer, std::move(append), progress.route});
}

void Node::send_snapshot_chunk(NodeId peer, Progress& progress) {
  if (!progress.sending_snapshot) {
    progress.sending_snapshot = true;
    progress.snapshot_offset = 0;
  }
  proto::Snapshot chunk;
  chunk.term = durable_.term;
  chunk.leader = options_.self;
  chunk.last_index = snapshot_index_;
  chunk.last_term = snapshot_term_;
  chunk.offset = std::min<std::uint64_t>(progress.snapshot_offset, snapshot_.size());
  const auto size = std::min<std::size_t>(options_.snapshot_chunk_bytes, snapshot_.size() - chunk.offset);
  chunk.chunk = snapshot_.substr(chunk.offset, size);
  chunk.done = chunk.offset + size == snapshot_.size();
  out_.push_back(ReplyToPeer{peer, std::move(chunk), progress.route});
}

// Every heartbeat interval: entries sent to a follower that it has not
// confirmed in a whole interval are taken as lost (or it is slow); send
// again from what it is known to hold.
void Node::heartbeat_followers() {
  for (auto& [peer, progress] : progress_) {
    if (!progress.in_flight.empty() && progress.match == progress.match_at_heartbeat) {
      // From what it is known to hold; if the log was compacted past that,
      // replicate() sends the snapshot. Its next rejection is news again.
      progress.in_flight.clear();
      progress.next = progress.match + 1;
      progress.answered_rejection.reset();
    }
    progress.match_at_heartbeat = progress.match;
    replicate(peer, true);
  }
}

void Node::on_append_reply(NodeId from, const proto::AppendReply& message, const std::string& route) {
  if (message.term > durable_.term) {
    adopt_term(message.term, "follower has a newer term");
    return;
  }
  if (role_ != Role::leader) return;
  auto it = progress_.find(from);
  if (it == progress_.end()) return;
  auto& progress = it->second;
  const bool new_route = progress.route != route;
  progress.route = route;
  if (message.term < durable_.term) {
    // A hello from a follower that has not heard of this term yet: the
    // heartbeat below tells it.
    replicate(from, true);
    return;
  }
  if (message.ok) {
    progress.match = std::max(progress.match, std::min(message.last_index, log_.last_index()));
    progress.next = std::max(progress.next, progress.match + 1);
    while (!progress.in_flight.empty() && progress.in_flight.front() <= progress.match) {
      progress.in_flight.pop_front();
    }
    progress.round = std::max(progress.round, message.round);
    advance_commit();
    answer_reads();
    progress.answered_rejection.reset();
  } else {
    // Every append of a pipelined window is rejected on its own; once the
    // first rejection has been answered, the same one again says nothing new
    // (if the answer is lost too, the heartbeat sends it again).
    if (progress.answered_rejection == message.last_index && !progress.in_flight.empty() && !new_route) return;
    // Its log ends at last_index, or conflicts after it: go back there. Its
    // word counts even below what it confirmed before: a node that lost the
    // tail of its disk (a torn write cut off at start) holds less than it did.
    progress.match = std::min(progress.match, message.last_index);
    progress.next = std::min(progress.next, message.last_index + 1);
    progress.in_flight.clear();
    progress.answered_rejection = message.last_index;
  }
  // What it lacks goes at the end of the batch (flush), together with what
  // the batch adds: one append per follower per batch under load. A new
  // connection or a mismatch is answered at once.
  if (new_route || !message.ok) replicate(from, true);
}

void Node::on_snapshot_reply(NodeId from, const proto::SnapshotReply& message, const std::string& route) {
  if (message.term > durable_.term) {
    adopt_term(message.term, "follower has a newer term");
    return;
  }
  if (role_ != Role::leader || message.term < durable_.term) return;
  auto it = progress_.find(from);
  if (it == progress_.end()) return;
  auto& progress = it->second;
  progress.route = route;
  if (message.last_index != snapshot_index_) return;  // about an older snapshot
  if (message.next_offset >= snapshot_.size()) {
    progress.sending_snapshot = false;
    progress.match = std::max(progress.match, snapshot_index_);
    progress.next = std::max(progress.next, snapshot_index_ + 1);
    progress.in_flight.clear();
    progress.answered_rejection.reset();
    replicate(from, false);
    return;
  }
  // One chunk is in flight at a time, and the reply naming the offset just
  // sent for has been answered already: a duplicate must not send it again,
  // or duplicated replies would breed duplicated chunks. A lost chunk goes
  // again with the next heartbeat.
  if (progress.sending_snapshot && message.next_offset == progress.snapshot_offset) return;
  progress.snapshot_offset = message.next_offset;
  send_snapshot_chunk(from, progress);
}

// Rule "commit": an entry is committed once a majority of the configured
// nodes hold it and it belongs to the leader's current term.
void Node::advance_commit() {
  if (role_ != Role::leader) return;
  std::vector<std::uint64_t> matches{confirmed_written_};
  for (const auto& [peer, progress] : progress_) matches.push_back(progress.match);
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const auto candidate = matches[majority() - 1];
  if (candidate > commit_index_ && log_.term_at(candidate) == durable_.term) {
    commit_index_ = candidate;
    apply_committed();
  }
}

void Node::apply_committed() {
  while (machine_.applied_index() < commit_index_) {
    const auto index = machine_.applied_index() + 1;
    const auto& entry = log_.at(index);
    auto reply = machine_.apply(entry);
    if (role_ != Role::leader) continue;
    proposed_.erase({entry.client_id, entry.request_id});
    auto [first, last] = write_waiters_.equal_range(index);
    std::vector<Waiter> done;
    for (auto it = first; it != last; ++it) done.push_back(std::move(it->second));
    write_waiters_.erase(first, last);
    for (auto& waiter : done) {
      if (waiter.request.client_id != entry.client_id || waiter.request.request_id != entry.request_id) continue;
      answer(waiter.origin, reply);
    }
  }
  maybe_snapshot();
}

void Node::answer_reads() {
  if (role_ != Role::leader || read_waiters_.empty()) return;
  // The highest round a majority confirmed (this node confirms every round).
  std::vector<std::uint64_t> rounds{round_};
  for (const auto& [peer, progress] : progress_) rounds.push_back(progress.round);
  std::sort(rounds.begin(), rounds.end(), std::greater<>());
  const auto confirmed = rounds[majority() - 1];
  std::vector<Waiter> ready;
  auto it = std::stable_partition(read_waiters_.begin(), read_waiters_.end(), [&](const Waiter& w) {
    return !(w.round != 0 && w.round <= confirmed && commit_index_ >= term_first_index_ &&
             machine_.applied_index() >= w.read_index);
  });
  for (auto ready_it = it; ready_it != read_waiters_.end(); ++ready_it) ready.push_back(std::move(*ready_it));
  read_waiters_.erase(it, read_waiters_.end());
  for (auto& waiter : ready) {
    auto reply = machine_.read(waiter.request);
    reply.term = durable_.term;
    answer(waiter.origin, std::move(reply));
  }
}

// Rule "snapshots": once the log in memory passes snapshot_bytes, the state
// machine is saved and the entries it covers are dropped.
void Node::maybe_snapshot() {
  if (log_.bytes() < options_.snapshot_bytes) return;
  const auto index = machine_.applied_index();
  if (index <= log_.snapshot_index()) return;
  const auto term = *log_.term_at(index);
  snapshot_ = machine_.snapshot();
  snapshot_index_ = index;
  snapshot_term_ = term;
  log_.compact_to(index, term);
  out_.push_back(SaveSnapshot{index, term, snapshot_, false});
}

void Node::expire_waiters() {
  for (auto it = write_waiters_.begin(); it != write_waiters_.end();) {
    if (it->second.deadline > now_) {
      ++it;
      continue;
    }
    auto waiter = std::move(it->second);
    it = write_waiters_.erase(it);
    answer(waiter.origin, refusal(waiter.request, Status::timeout,
                                  "not committed before the deadline; it may still take effect"));
  }
  std::vector<Waiter> late;
  auto it = std::stable_partition(read_waiters_.begin(), read_waiters_.end(),
                                  [this](const Waiter& w) { return w.deadline > now_; });
  for (auto late_it = it; late_it != read_waiters_.end(); ++late_it) late.push_back(std::move(*late_it));
  read_waiters_.erase(it, read_waiters_.end());
  for (auto& waiter : late) {
    answer(waiter.origin, refusal(waiter.request, Status::timeout, "leadership not confirmed before the deadline"));
  }
}

void Node::answer(const Origin& origin, proto::ClientReply reply) {
  reply.answered_by = reply.status == Status::ok ? options_.self : reply.answered_by;
  if (reply.status == Status::ok) reply.leader_hint = options_.self;
  if (reply.term == 0) reply.term = durable_.term;
  if (origin.peer == proto::kNoNode) {
    reply_to_client(origin.client, std::move(reply));
    return;
  }
  reply.received_by = origin.peer;
  reply.relayed_by = origin.peer;
  out_.push_back(ReplyToPeer{origin.peer, proto::RelayReply{origin.relay_id, std::move(reply)}, origin.route});
}

// ---- follower ----

// Rule "append": a follower takes entries only when its log holds the entry
// before them with the same term; entries that conflict with the leader's
// (never committed) are cut off first. It answers with the highest index it
// now shares with the leader, or, on a mismatch, where to go back to.
void Node::on_append(NodeId from, const proto::Append& message) {
  if (message.leader != from) return;
  proto::AppendReply reply{durable_.term, options_.self, false, log_.last_index(), message.round};
  if (message.term < durable_.term) {
    out_.push_back(SendToPeer{from, reply});
    return;
  }
  if (message.term > durable_.term) adopt_term(message.term, "newer leader");
  if (role_ == Role::leader) return;  // two leaders in one term cannot be; the invariant check reports it
  reply.term = durable_.term;
  if (role_ != Role::follower || leader_ != from) {
    become_follower(from, "heard leader");
  }
  leader_heard_at_ = now_;
  last_append_at_ = now_;
  reset_election_timer();

  for (std::size_t i = 0; i < message.entries.size(); ++i) {
    const auto& entry = message.entries[i];
    if (entry.index != message.prev_index + 1 + i || entry.term > message.term) return;  // malformed
  }
  const auto prev_term = log_.term_at(message.prev_index);
  if (message.prev_index > log_.last_index() || (message.prev_index >= log_.snapshot_index() && prev_term != message.prev_term)) {
    if (message.prev_index <= log_.last_index()) {
      reply.last_index = log_.first_index_of_term_at(message.prev_index) - 1;
      reply.last_index = std::max(reply.last_index, commit_index_);
    }
    out_.push_back(SendToPeer{from, reply});
    return;
  }
  for (const auto& entry : message.entries) {
    if (entry.index <= log_.snapshot_index()) continue;  // compacted here: committed, hence the same
    if (entry.index <= log_.last_index()) {
      if (log_.term_at(entry.index) == entry.term) continue;
      if (entry.index <= commit_index_) return;  // would undo a committed entry: never; drop the message
      log_.truncate_from(entry.index);
      written_index_ = log_.last_index();
      out_.push_back(TruncateLog{entry.index});
    }
    append_to_log(entry);
  }
  const auto matched = message.prev_index + message.entries.size();
  const auto leader_commit = std::min(message.commit_index, matched);
  if (leader_commit > commit_index_) {
    commit_index_ = std::min(leader_commit, log_.last_index());
    apply_committed();
  }
  reply.ok = true;
  reply.last_index = std::max(matched, log_.snapshot_index());
  out_.push_back(SendToPeer{from, reply});
}

void Node::on_snapshot(NodeId from, const proto::Snapshot& message) {
  if (message.leader != from) return;
  proto::SnapshotReply reply{durable_.term, options_.self, message.last_index, 0};
  if (message.term < durable_.term) {
    out_.push_back(SendToPeer{from, reply});
    return;
  }
  if (message.term > durable_.term) adopt_term(message.term, "newer leader");
  if (role_ == Role::leader) return;
  reply.term = durable_.term;
  if (role_ != Role::follower || leader_ != from) become_follower(from, "heard leader");
  leader_heard_at_ = now_;
  last_append_at_ = now_;
  reset_election_timer();
  if (message.last_index <= commit_index_) {  // it has all of that already
    reply.next_offset = UINT64_MAX;
    out_.push_back(SendToPeer{from, reply});
    return;
  }
  if (message.offset == 0 || incoming_snapshot_index_ != message.last_index) {
    incoming_snapshot_.clear();
    incoming_snapshot_index_ = message.last_index;
  }
  if (message.offset == incoming_snapshot_.size()) incoming_snapshot_ += message.chunk;
  reply.next_offset = incoming_snapshot_.size();
  if (message.done && message.offset + message.chunk.size() == incoming_snapshot_.size()) {
    auto restored = store::StateMachine::restore(incoming_snapshot_, store::Limits{options_.dedup_capacity});
    if (auto* machine = std::get_if<store::StateMachine>(&restored)) {
      machine_ = std::move(*machine);
      // Entries after the snapshot stay when this log agrees with it there:
      // some may be committed, and this node may be one of their majority.
      const bool keeps_suffix = log_.term_at(message.last_index) == message.last_term;
      if (keeps_suffix) {
        log_.compact_to(message.last_index, message.last_term);
      } else {
        log_.reset(message.last_index, message.last_term);
      }
      written_index_ = log_.last_index();
      commit_index_ = std::max(commit_index_, message.last_index);
      snapshot_ = std::move(incoming_snapshot_);
      snapshot_index_ = message.last_index;
      snapshot_term_ = message.last_term;
      out_.push_back(SaveSnapshot{snapshot_index_, snapshot_term_, snapshot_, !keeps_suffix});
      reply.next_offset = UINT64_MAX;
    } else {
      reply.next_offset = 0;  // unreadable: start again
    }
    incoming_snapshot_.clear();
    incoming_snapshot_index_ = 0;
  }
  out_.push_back(SendToPeer{from, reply});
}

// A follower tells its leader where it is whenever the leader has not sent it
// anything for two heartbeat intervals: the leader answers on the connection
// the hello came on, which is how it learns where to send. (One interval
// would race the leader's own heartbeat, which arrives every interval give or
// take a millisecond, and double the traffic of an idle cluster.)
void Node::say_hello() {
  if (role_ != Role::follower || leader_ == proto::kNoNode || leader_ == options_.self) return;
  if (now_ - last_append_at_ < 2 * options_.heartbeat_ticks && last_append_at_ != 0) return;
  out_.push_back(SendToPeer{leader_, proto::AppendReply{durable_.term, options_.self, false, log_.last_index(), 0}});
}

// The shell could not write: the entries after durable_index are gone from
// disk, so they go from memory too. A leader steps down, since it cannot
// count itself; a follower tells its leader where its log really ends.
void Node::on_storage_failed(const StorageFailed& event) {
  // Writes whose entries never reached the disk cannot commit: "unavailable".
  for (auto it = write_waiters_.upper_bound(event.durable_index); it != write_waiters_.end();) {
    auto waiter = std::move(it->second);
    proposed_.erase({waiter.request.client_id, waiter.request.request_id});
    it = write_waiters_.erase(it);
    // A relaying follower holds it for the next leader; a client of this node is told why.
    const bool relayed = waiter.origin.peer != proto::kNoNode;
    answer(waiter.origin, refusal(waiter.request, relayed ? Status::not_leader : Status::unavailable,
                                  "the log could not be written: " + event.reason));
  }
  if (log_.last_index() > event.durable_index) log_.truncate_from(event.durable_index + 1);
  written_index_ = log_.last_index();
  confirmed_written_ = std::min(confirmed_written_, written_index_);
  // Entries already applied stay applied; the leader sends them again and
  // they are written again, never applied twice.
  commit_index_ = std::min(commit_index_, std::max(log_.last_index(), machine_.applied_index()));
  if (role_ == Role::leader) {
    stop_leading(event.reason.c_str());
    set_leader(proto::kNoNode);
    reset_election_timer();
    change_role(Role::follower, "storage failed");
  } else if (leader_ != proto::kNoNode) {
    last_append_at_ = 0;
    say_hello();
  }
}

// Log freshness, for elections: a higher last term wins, then a longer log.
bool Node::log_at_least_as_fresh_as(Term last_term, std::uint64_t last_index) const {
  return last_term != log_.last_term() ? log_.last_term() > last_term : log_.last_index() >= last_index;
}

}  // namespace relay::core
