#include "monitor/report_model.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <tuple>

namespace relay::monitor {
namespace {

std::string node_lane(proto::NodeId id) { return "node:" + std::to_string(id); }

// Pairs each message a node sent with its receipt at the other end.
class ArrowBuilder {
 public:
  explicit ArrowBuilder(ReportModel& model) : model_(model) {}

  void on_tap(const Event& event, const Line& line) {
    if (heartbeats_.is_heartbeat(event, line) || line.type.empty()) return;
    if (event.channel == "client") {
      on_client(event, line);
    } else if (event.kind == "out" && (event.channel == "peer" || event.channel == "election")) {
      const auto index = add(node_lane(event.node), event.peer != 0 ? node_lane(event.peer) : "", event, line, false);
      if (index) waiting_[std::make_tuple(event.node, event.peer, event.text)].push_back(*index);
    } else if (event.kind == "in" && (event.channel == "peer" || event.channel == "election")) {
      on_receipt(event, line);
    }
  }

 private:
  // A node's in-tap names the sender: the peer for peer messages, the
  // message's `from` for broadcasts, which go out once and arrive n-1 times.
  void on_receipt(const Event& event, const Line& line) {
    const bool broadcast = event.channel == "election";
    const auto sender = broadcast ? static_cast<proto::NodeId>(line.number("from")) : event.peer;
    auto found = waiting_.find(std::make_tuple(sender, broadcast ? proto::kNoNode : event.node, event.text));
    if (found == waiting_.end() || found->second.empty()) return;
    // Peer messages arrive in order; a broadcast is re-published every
    // heartbeat, and a receipt belongs to the latest publication.
    const auto index = broadcast ? found->second.back() : found->second.front();
    auto& arrow = model_.arrows[index];
    if (!broadcast || !arrow.delivered) {  // the first receipt completes the arrow drawn at sending
      if (!broadcast) found->second.pop_front();
      arrow.to = node_lane(event.node);
      arrow.received_us = event.time_us;
      arrow.delivered = true;
      return;
    }
    auto copy = model_.arrows[index];  // one arrow per receiver of the broadcast
    copy.to = node_lane(event.node);
    copy.received_us = event.time_us;
    copy.delivered = true;
    if (model_.arrows.size() < ReportModel::kMaxArrows) model_.arrows.push_back(std::move(copy));
    if (found->second.size() > 4) found->second.pop_front();  // re-published: keep the latest few
  }

  void on_client(const Event& event, const Line& line) {
    const auto client = line.text("client");
    if (client.empty() || (line.type != "client_request" && line.type != "client_reply")) return;
    const auto lane = client_lane(client);
    const bool request = event.kind == "in";
    add(request ? lane : node_lane(event.node), request ? node_lane(event.node) : lane, event, line, true);
  }

  std::string client_lane(const std::string& client) {
    auto& clients = model_.clients;
    if (std::find(clients.begin(), clients.end(), client) == clients.end()) {
      if (clients.size() >= ReportModel::kMaxClientLanes) return "client:*";
      clients.push_back(client);
    }
    return "client:" + client;
  }

  std::optional<std::size_t> add(std::string from, std::string to, const Event& event, const Line& line,
                                 bool delivered) {
    if (model_.arrows.size() >= ReportModel::kMaxArrows) {
      ++model_.arrows_dropped;
      return std::nullopt;
    }
    Arrow arrow{std::move(from), std::move(to), event.time_us, event.time_us, delivered, line.type, "", event.text};
    if (line.find("client") != nullptr) arrow.request = line.text("client") + "#" + std::to_string(line.number("req"));
    model_.arrows.push_back(std::move(arrow));
    return model_.arrows.size() - 1;
  }

  ReportModel& model_;
  HeartbeatFilter heartbeats_;  // heartbeat traffic would bury everything else
  std::map<std::tuple<proto::NodeId, proto::NodeId, std::string>, std::deque<std::size_t>> waiting_;
};

// Turns the view's per-node state into spans of constant role.
class RoleTracker {
 public:
  explicit RoleTracker(ReportModel& model) : model_(model) {}

  void update(const ClusterView& view, std::uint64_t now_us) {
    for (const auto& [id, node] : view.nodes()) {
      const std::string role = node.liveness == Liveness::silent ? "silent"
                               : node.known                      ? proto::to_string(node.role)
                                                                 : "";
      auto& open = open_[id];
      if (open.has_value() && model_.roles[*open].role == role && model_.roles[*open].term == node.term) {
        model_.roles[*open].to_us = now_us;
        continue;
      }
      if (role.empty()) continue;
      model_.roles.push_back(RoleSpan{id, role, node.term, now_us, now_us});
      open = model_.roles.size() - 1;
    }
  }

 private:
  ReportModel& model_;
  std::map<proto::NodeId, std::optional<std::size_t>> open_;
};

}  // namespace

std::variant<ReportModel, std::string> build_report_model(const std::filesystem::path& recording) {
  ReportModel model;
  std::optional<ClusterView> view;
  ArrowBuilder arrows(model);
  RoleTracker roles(model);
  std::uint64_t alarms_seen = 0;
  std::uint64_t last_us = 0;
  auto collect = [&](const std::vector<Finding>& findings, std::uint64_t now_us) {
    for (const auto& finding : findings) {
      if (finding.kind == "request" && !view->requests().completed().empty()) {
        model.requests.push_back(view->requests().completed().back());
      }
    }
    const auto fresh = std::min<std::uint64_t>(view->alarm_count() - alarms_seen, view->alarms().size());
    for (auto i = view->alarms().size() - fresh; i < view->alarms().size(); ++i) model.alarms.push_back(view->alarms()[i]);
    alarms_seen = view->alarm_count();
    roles.update(*view, now_us);
  };
  const auto result = read_record(
      recording,
      [&](const RecordHeader& header) {
        model.header = header;
        ViewOptions options;
        options.nodes = header.nodes;
        options.heartbeat_interval_ms = header.heartbeat_interval_ms;
        options.election_timeout_ms = header.election_timeout_ms;
        view.emplace(options, header.started_us);
        model.first_us = header.started_us;
      },
      [&](const Event& event) {
        ++model.events;
        model.first_us = std::min(model.first_us, event.time_us);
        model.last_us = std::max({model.last_us, event.recv_us, event.time_us});
        for (auto at_us : liveness_checks(last_us, event.recv_us)) collect(view->on_time(at_us), at_us);
        last_us = std::max(last_us, event.recv_us);
        collect(view->on_event(event), event.recv_us);
        if (event.source == Source::tap) arrows.on_tap(event, parse_line(event.text));
        return true;
      });
  if (!result.error.empty()) return result.error;
  if (view) {
    collect(view->on_time(model.last_us), model.last_us);
    const auto& all = view->elections().all();
    model.elections.assign(all.begin(), all.end());
  }
  return model;
}

}  // namespace relay::monitor
