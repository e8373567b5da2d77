#include "monitor/cluster_view.hpp"

#include <algorithm>
#include <optional>

#include "util/words.hpp"

namespace relay::monitor {
namespace {

std::optional<proto::Role> parse_role(std::string_view name) {
  for (auto role : {proto::Role::follower, proto::Role::pre_candidate, proto::Role::candidate, proto::Role::leader}) {
    if (name == proto::to_string(role)) return role;
  }
  return std::nullopt;
}

bool is_election_type(const std::string& type) {
  return type == "pre_vote" || type == "pre_vote_grant" || type == "ballot" || type == "vote" || type == "heartbeat";
}

std::string node_name(proto::NodeId id) { return id == proto::kNoNode ? "all" : "node " + std::to_string(id); }

}  // namespace

std::vector<std::uint64_t> liveness_checks(std::uint64_t last_us, std::uint64_t next_us) {
  std::vector<std::uint64_t> checks;
  if (last_us == 0 || next_us <= last_us + kSameBatchUs) return checks;
  for (auto t = last_us; t < next_us; t += kLivenessStepUs) checks.push_back(t);
  return checks;
}

const char* to_string(Liveness liveness) {
  switch (liveness) {
    case Liveness::unknown: return "unknown";
    case Liveness::alive: return "alive";
    case Liveness::suspect: return "suspect";
    case Liveness::silent: return "silent";
  }
  return "unknown";
}

ClusterView::ClusterView(ViewOptions options, std::uint64_t started_us)
    : options_(std::move(options)), started_us_(started_us), now_us_(started_us) {
  for (auto id : options_.nodes) node(id);
}

NodeView& ClusterView::node(proto::NodeId id) {
  auto& view = nodes_[id];
  view.id = id;
  return view;
}

std::vector<Finding> ClusterView::on_event(const Event& event) {
  std::vector<Finding> out;
  now_us_ = std::max(now_us_, event.recv_us);
  auto& from = node(event.node);
  heard(from, event.recv_us, out);
  const auto line = parse_line(event.text);
  if (event.source == Source::election) {
    on_election_message(event, line, out);
  } else {
    check_tap_seq(from, event, out);
    count(from, event, line);
    if (event.channel == "election" && is_election_type(line.type)) on_election_message(event, line, out);
    if (event.kind == "role") {
      if (auto role = parse_role(line.type)) {
        on_state(event.node, *role, line.number("term"), static_cast<proto::NodeId>(line.number("leader")),
                 line.text("reason"), event.recv_us, out);
      }
    }
    std::vector<Alarm> raised;
    requests_.on_tap(event, line, out, raised);
    for (auto& alarm : raised) {
      ++alarm_count_;
      alarms_.push_back(std::move(alarm));
      if (alarms_.size() > kKeptAlarms) alarms_.pop_front();
    }
    if (event.kind == "socket") {
      auto f = make_finding("socket", event.recv_us, node_name(event.node) + ": " + event.text);
      f.json.field("node", event.node).field("text", event.text);
      out.push_back(std::move(f));
    }
    report_traffic(event, line, out);
  }
  keep(out);
  return out;
}

std::vector<Finding> ClusterView::on_time(std::uint64_t now_us) {
  std::vector<Finding> out;
  if (now_us > now_us_) now_us_ = now_us;
  const std::uint64_t alive_us = 2ULL * options_.heartbeat_interval_ms * 1000;
  const std::uint64_t timeout_us = std::uint64_t{options_.election_timeout_ms} * 1000;
  for (auto& [id, view] : nodes_) {
    const auto since = view.last_heard_us != 0 ? view.last_heard_us : started_us_;
    const auto age_us = now_us_ > since ? now_us_ - since : 0;
    const auto liveness = age_us <= alive_us ? (view.last_heard_us != 0 ? Liveness::alive : Liveness::unknown)
                          : age_us <= timeout_us ? Liveness::suspect
                                                 : Liveness::silent;
    if (liveness == Liveness::silent && view.liveness != Liveness::silent) {
      Alarm alarm;
      alarm.type = kSilent;
      alarm.time_us = now_us_;
      alarm.node = id;
      alarm.missed = age_us / 1000;
      alarm.text = node_name(id) + " silent for " + std::to_string(age_us / 1000) + " ms (election timeout " +
                   std::to_string(options_.election_timeout_ms) + " ms)" +
                   (view.last_heard_us == 0 ? ", never heard since the monitor started" : "");
      raise(std::move(alarm), out);
    }
    view.liveness = liveness;
  }
  keep(out);
  return out;
}

void ClusterView::heard(NodeView& view, std::uint64_t now_us, std::vector<Finding>& out) {
  if (view.liveness == Liveness::silent && view.last_heard_us != 0) {
    auto f = make_finding("node", now_us,
                          node_name(view.id) + " heard again after " +
                              std::to_string((now_us - view.last_heard_us) / 1000) + " ms of silence");
    f.json.field("node", view.id).field("liveness", "alive");
    out.push_back(std::move(f));
  }
  view.last_heard_us = now_us;
  view.liveness = Liveness::alive;
}

// Tap numbers grow by one per event the node published. A jump is what we
// lost (a full queue at the node or at us); a step back is a restarted node.
void ClusterView::check_tap_seq(NodeView& view, const Event& event, std::vector<Finding>& out) {
  ++view.counters.taps;
  if (view.next_tap_seq != 0 && event.seq > view.next_tap_seq) {
    const auto missed = event.seq - view.next_tap_seq;
    view.counters.taps_missed += missed;
    Alarm alarm;
    alarm.type = kTapGap;
    alarm.time_us = event.recv_us;
    alarm.node = view.id;
    alarm.missed = missed;
    alarm.text = node_name(view.id) + " tap gap: missed " + util::counted(missed, "event") + " (seq " +
                 std::to_string(view.next_tap_seq) + " to " + std::to_string(event.seq - 1) + ")";
    raise(std::move(alarm), out);
  } else if (view.next_tap_seq != 0 && event.seq < view.next_tap_seq) {
    auto f = make_finding("node", event.recv_us,
                          node_name(view.id) + " restarted its tap (seq " + std::to_string(event.seq) + " after " +
                              std::to_string(view.next_tap_seq - 1) + ")");
    f.json.field("node", view.id).field("tap_restart", true);
    out.push_back(std::move(f));
  }
  view.next_tap_seq = event.seq + 1;
}

void ClusterView::count(NodeView& view, const Event& event, const Line& line) {
  auto& c = view.counters;
  if (event.kind == "in") ++c.messages_in;
  if (event.kind == "out") ++c.messages_out;
  if (event.kind == "drop") ++c.drops;
  if (event.kind == "in" && line.type == "client_request") ++c.requests;
  if (event.kind == "out" && line.type == "relay") ++c.relayed;
  const bool answer = line.type == "client_reply" || line.type == "relay_reply";
  if (event.kind == "out" && answer && line.text("status") == "ok" && line.number("answered_by") == view.id) {
    ++c.executed;
  }
}

void ClusterView::on_election_message(const Event& event, const Line& line, std::vector<Finding>& out) {
  elections_.on_message(line, event.recv_us, out);
  if (line.type != "heartbeat") return;
  const auto from = static_cast<proto::NodeId>(line.number("from"));
  // A heartbeat speaks for its sender; taps of heartbeats a node received
  // only repeat what the sender's own channel said, possibly late.
  if (from != event.node) return;
  if (event.source == Source::election) ++node(from).counters.heartbeats;
  if (auto role = parse_role(line.text("role"))) {
    on_state(from, *role, line.number("term"), static_cast<proto::NodeId>(line.number("leader")), "", event.recv_us,
             out);
  }
}

void ClusterView::on_state(proto::NodeId id, proto::Role role, proto::Term term, proto::NodeId leader,
                           const std::string& reason, std::uint64_t now_us, std::vector<Finding>& out) {
  if (role == proto::Role::leader) check_leader(id, term, now_us, out);
  auto& view = node(id);
  if (view.known && term < view.term) return;  // a late report from before what we know
  if (view.known && view.role == role && view.term == term && view.leader == leader) return;
  view.known = true;
  view.role = role;
  view.term = term;
  view.leader = leader;
  std::string text = node_name(id) + " is " + proto::to_string(role) + " in term " + std::to_string(term) +
                     (leader != proto::kNoNode ? ", leader " + std::to_string(leader) : ", no leader");
  if (!reason.empty()) text += " (" + reason + ")";
  auto f = make_finding("node", now_us, std::move(text));
  f.json.field("node", id).field("role", proto::to_string(role)).field("term", term).field("leader", leader);
  if (!reason.empty()) f.json.field("reason", reason);
  out.push_back(std::move(f));
}

void ClusterView::check_leader(proto::NodeId id, proto::Term term, std::uint64_t now_us, std::vector<Finding>& out) {
  const auto [first, fresh] = leader_of_term_.emplace(term, id);
  if (fresh) {
    if (leader_of_term_.size() > 1024) leader_of_term_.erase(leader_of_term_.begin());
    return;
  }
  if (first->second == id || !doubled_.emplace(term, id).second) return;
  Alarm alarm;
  alarm.type = kTwoLeaders;
  alarm.time_us = now_us;
  alarm.node = id;
  alarm.other = first->second;
  alarm.term = term;
  alarm.text = "two leaders in term " + std::to_string(term) + ": node " + std::to_string(first->second) +
               " and node " + std::to_string(id);
  raise(std::move(alarm), out);
}

// With --messages: one line per message a node sent, and per request a
// client sent (clients have no tap of their own).
void ClusterView::report_traffic(const Event& event, const Line& line, std::vector<Finding>& out) {
  if (!options_.messages || heartbeats_.is_heartbeat(event, line)) return;
  if (event.kind == "drop") {
    auto f = make_finding("message", event.recv_us, node_name(event.node) + " dropped a bad frame: " + event.text);
    f.json.field("node", event.node).field("type", "drop").field("text", event.text);
    out.push_back(std::move(f));
    return;
  }
  const bool sent = event.kind == "out";
  const bool from_client = event.kind == "in" && event.channel == "client";
  if (!sent && !from_client) return;
  const std::string from = from_client ? "client" : node_name(event.node);
  const std::string to = from_client                  ? node_name(event.node)
                         : event.channel == "client" ? "client"
                                                     : node_name(event.peer);
  auto f = make_finding("message", event.recv_us, from + " → " + to + ": " + event.text);
  f.json.field("from", from).field("to", to).field("channel", event.channel).field("type", line.type);
  f.json.field("size", event.size).field("text", event.text);
  out.push_back(std::move(f));
}

void ClusterView::raise(Alarm alarm, std::vector<Finding>& out) {
  out.push_back(alarm_finding(alarm));
  ++alarm_count_;
  alarms_.push_back(std::move(alarm));
  if (alarms_.size() > kKeptAlarms) alarms_.pop_front();
}

void ClusterView::keep(const std::vector<Finding>& findings) {
  for (const auto& finding : findings) {
    if (finding.kind == "message") continue;  // too many for the screen's log; printed only
    log_.push_back(finding);
    if (log_.size() > kKeptLog) log_.pop_front();
  }
}

}  // namespace relay::monitor
