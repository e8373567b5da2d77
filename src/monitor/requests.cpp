#include "monitor/requests.hpp"

#include <algorithm>
#include <cstdio>

namespace relay::monitor {
namespace {

std::string request_name(const std::string& client_id, std::uint64_t request_id) {
  return client_id + "#" + std::to_string(request_id);
}

std::string node_text(proto::NodeId node) { return std::to_string(node); }

}  // namespace

std::string RequestPath::path_text(std::string_view arrow) const {
  std::string text;
  for (const auto& stop : stops) {
    if (!text.empty()) text += arrow;
    text += stop;
  }
  return text;
}

void Requests::on_tap(const Event& event, const Line& line, std::vector<Finding>& out, std::vector<Alarm>& alarms) {
  if (event.kind == "in" && line.type == "client_request") {
    note_op(line);
    on_arrival(event, line);
  } else if (line.type == "relay") {
    // The leader learns the op from the relay coming in: its own answer may
    // be the only other tap of the request that arrives.
    note_op(line);
    if (event.kind == "out") on_relay(event, line);
  } else if (line.type == "relay_reply") {
    if (event.kind == "in") on_relay_reply(event, line);
    if (event.kind == "out") check_execution(event, line, out, alarms);
  } else if (event.kind == "out" && line.type == "client_reply") {
    check_execution(event, line, out, alarms);
    on_answer(event, line, out);
  }
}

void Requests::on_arrival(const Event& event, const Line& line) {
  if (active_.size() >= kMaxInFlight) active_.erase(active_.begin());  // answers we never saw
  RequestPath path;
  path.client_id = line.text("client");
  path.request_id = line.number("req");
  path.received_by = event.node;
  path.stops = {"client", node_text(event.node)};
  path.started_us = event.time_us;
  path.op = line.text("op");
  active_[Key{path.client_id, path.request_id, event.node}] = std::move(path);
}

// The relay carries the request inline, so the follower's tap names it.
void Requests::on_relay(const Event& event, const Line& line) {
  const auto found = active_.find(Key{line.text("client"), line.number("req"), event.node});
  if (found == active_.end()) return;
  found->second.stops.push_back(node_text(event.peer));
}

// The answer is back at the follower that holds the request. The path is
// built from that node's taps alone: they arrive in the order it saw things,
// while the leader's taps come over another connection and may overtake them.
void Requests::on_relay_reply(const Event& event, const Line& line) {
  const auto found = active_.find(Key{line.text("client"), line.number("req"), event.node});
  if (found == active_.end()) return;
  found->second.stops.push_back(node_text(event.node));
}

void Requests::on_answer(const Event& event, const Line& line, std::vector<Finding>& out) {
  const auto found = active_.find(Key{line.text("client"), line.number("req"), event.node});
  if (found == active_.end()) return;  // the arrival was before we joined, or the reply is a status reply
  auto path = std::move(found->second);
  active_.erase(found);
  path.stops.push_back("client");
  path.latency_us = event.time_us > path.started_us ? event.time_us - path.started_us : 0;
  path.status = line.text("status");
  path.relayed_by = static_cast<proto::NodeId>(line.number("relayed_by"));
  path.answered_by = static_cast<proto::NodeId>(line.number("answered_by"));
  path.term = line.number("term");
  path.index = line.number("index");

  char latency[32];
  std::snprintf(latency, sizeof latency, "%.2f ms", static_cast<double>(path.latency_us) / 1000.0);
  auto f = make_finding("request", event.recv_us,
                        "request " + request_name(path.client_id, path.request_id) + ": " + path.path_text() + "  " +
                            path.status + " term " + std::to_string(path.term) + " index " + std::to_string(path.index) +
                            "  " + latency);
  f.json.field("client_id", path.client_id).field("request_id", path.request_id).field("op", path.op);
  f.json.field("path", path.path_text(" -> ")).field("received_by", path.received_by);
  f.json.field("relayed", path.relayed_by != proto::kNoNode).field("relayed_by", path.relayed_by);
  f.json.field("answered_by", path.answered_by).field("term", path.term).field("index", path.index);
  f.json.field("status", path.status).field("latency_us", path.latency_us);
  out.push_back(std::move(f));
  completed_.push_back(std::move(path));
  if (completed_.size() > kKeptCompleted) completed_.pop_front();
}

Requests::Executions& Requests::executions_of(const RequestId& id) {
  auto [at, fresh] = executed_.try_emplace(id);
  if (fresh) {
    executed_order_.push_back(id);
    if (executed_order_.size() > kRememberedExecutions) {
      executed_.erase(executed_order_.front());
      executed_order_.pop_front();
    }
  }
  return at->second;  // evicting the oldest never moves another map node
}

void Requests::note_op(const Line& line) {
  const std::string op = line.text("op");
  if (op.empty()) return;
  executions_of({line.text("client"), line.number("req")}).op = op;
}

void Requests::check_execution(const Event& event, const Line& line, std::vector<Finding>& out,
                               std::vector<Alarm>& alarms) {
  if (line.text("status") != "ok") return;
  const auto answered_by = static_cast<proto::NodeId>(line.number("answered_by"));
  if (answered_by == proto::kNoNode) return;
  const RequestId id{line.text("client"), line.number("req")};
  const auto found = executed_.find(id);
  // Only writes are checked, and only when a tap told us the op: a read
  // answered twice at two read indexes is two reads, not a double execution.
  if (found == executed_.end() || found->second.op.empty()) return;
  Executions& seen = found->second;
  if (seen.op == "get" || seen.op == "read") return;
  const std::uint64_t index = line.number("index");
  const proto::Term term = line.number("term");
  if (!seen.answered) {
    seen = Executions{seen.op, true, index, answered_by, term, {}};
    return;
  }
  // The same index again is a retry answered from the exactly-once table,
  // whichever leader answered it and in whichever term.
  if (index == seen.first_index) return;
  if (std::find(seen.alarmed.begin(), seen.alarmed.end(), index) != seen.alarmed.end()) return;
  seen.alarmed.push_back(index);
  Alarm alarm;
  alarm.type = kExecutedTwice;
  alarm.time_us = event.recv_us;
  alarm.node = answered_by;
  alarm.other = seen.first_by;
  alarm.term = term;
  alarm.request = request_name(id.first, id.second);
  alarm.text = "request " + alarm.request + " (" + seen.op + ") executed twice: at index " +
               std::to_string(seen.first_index) + " (node " + std::to_string(seen.first_by) + ", term " +
               std::to_string(seen.first_term) + "), and at index " + std::to_string(index) + " (node " +
               std::to_string(answered_by) + ", term " + std::to_string(term) + ")";
  out.push_back(alarm_finding(alarm));
  alarms.push_back(std::move(alarm));
}

}  // namespace relay::monitor
