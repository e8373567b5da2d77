#include "monitor/report.hpp"

#include <cstdio>
#include <fstream>

#include "util/json.hpp"

namespace relay::monitor {
namespace {

constexpr std::string_view kDataMarker = "/*RELAY_REPORT_DATA*/";

// Milliseconds since the start of the session: small numbers for the page.
double ms_since(const ReportModel& model, std::uint64_t time_us) {
  return time_us >= model.first_us ? static_cast<double>(time_us - model.first_us) / 1000.0 : 0.0;
}

template <typename T, typename Write>
std::string json_array(const std::vector<T>& items, Write write) {
  std::string text = "[";
  for (const auto& item : items) {
    if (text.size() > 1) text += ',';
    text += write(item);
  }
  return text + "]";
}

std::string ballots_text(const ElectionView& e) {
  std::string text;
  for (const auto& [node, ballot] : e.ballots) {
    char hex[24];
    std::snprintf(hex, sizeof hex, "0x%016llx", static_cast<unsigned long long>(ballot));
    text += (text.empty() ? "" : " ") + std::to_string(node) + "=" + hex;
  }
  return text;
}

std::string votes_text(const ElectionView& e) {
  std::string text;
  for (const auto& [voter, candidate] : e.votes) {
    text += (text.empty() ? "" : " ") + std::to_string(voter) + "->" + std::to_string(candidate);
  }
  return text;
}

std::string election_json(const ReportModel& model, const ElectionView& e) {
  util::JsonObject o;
  o.field("term", e.term).field("t0", ms_since(model, e.observed ? e.leaderless_since_us : e.won_us));
  if (e.winner != proto::kNoNode) {
    o.field("t1", ms_since(model, e.won_us));
  } else {
    o.null_field("t1");
  }
  o.field("winner", e.winner).field("observed", e.observed);
  o.field("leaderless_ms", static_cast<double>(e.leaderless_us()) / 1000.0);
  std::string pre_voters;
  for (auto node : e.pre_voters) pre_voters += (pre_voters.empty() ? "" : ",") + std::to_string(node);
  o.field("pre_voters", pre_voters).field("ballots", ballots_text(e)).field("votes", votes_text(e));
  return o.str();
}

std::string request_json(const ReportModel& model, const RequestPath& r) {
  util::JsonObject o;
  o.field("req", r.client_id + "#" + std::to_string(r.request_id)).field("path", r.path_text(" -> ")).field("status", r.status);
  o.field("t0", ms_since(model, r.started_us)).field("latency_ms", static_cast<double>(r.latency_us) / 1000.0);
  o.field("received_by", r.received_by).field("relayed_by", r.relayed_by).field("answered_by", r.answered_by);
  o.field("term", r.term).field("index", r.index).field("op", r.op);
  return o.str();
}

std::string arrow_json(const ReportModel& model, const Arrow& a) {
  util::JsonObject o;
  o.field("from", a.from).field("to", a.to).field("t0", ms_since(model, a.sent_us));
  o.field("t1", ms_since(model, a.received_us)).field("ok", a.delivered).field("type", a.type);
  o.field("req", a.request).field("text", a.text);
  return o.str();
}

std::string role_json(const ReportModel& model, const RoleSpan& r) {
  util::JsonObject o;
  o.field("lane", "node:" + std::to_string(r.node)).field("role", r.role).field("term", r.term);
  o.field("t0", ms_since(model, r.from_us)).field("t1", ms_since(model, r.to_us));
  return o.str();
}

std::string alarm_json(const ReportModel& model, const Alarm& a) {
  util::JsonObject o;
  o.field("t", ms_since(model, a.time_us)).field("type", a.type).field("node", a.node).field("text", a.text);
  return o.str();
}

// "</script>" inside the data would end the script element early.
std::string safe_for_script(std::string json) {
  for (auto at = json.find("</"); at != std::string::npos; at = json.find("</", at + 3)) json.replace(at, 2, "<\\/");
  return json;
}

}  // namespace

std::string report_data_json(const ReportModel& model) {
  util::JsonObject head;
  head.field("title", model.header.config).field("duration_ms", ms_since(model, model.last_us));
  head.field("events", model.events).field("arrows_dropped", model.arrows_dropped);
  auto text = head.str();
  text.pop_back();  // reopen the object to add the arrays the flat writer cannot
  text += ",\"nodes\":" + json_array(model.header.nodes, [](proto::NodeId id) { return std::to_string(id); });
  text += ",\"clients\":" + json_array(model.clients, [](const std::string& c) {
    std::string quoted;
    util::append_json_string(quoted, c);
    return quoted;
  });
  text += ",\"roles\":" + json_array(model.roles, [&](const RoleSpan& r) { return role_json(model, r); });
  text += ",\"arrows\":" + json_array(model.arrows, [&](const Arrow& a) { return arrow_json(model, a); });
  text += ",\"elections\":" + json_array(model.elections, [&](const ElectionView& e) { return election_json(model, e); });
  text += ",\"requests\":" + json_array(model.requests, [&](const RequestPath& r) { return request_json(model, r); });
  text += ",\"alarms\":" + json_array(model.alarms, [&](const Alarm& a) { return alarm_json(model, a); });
  return text + "}";
}

std::string render_report(const ReportModel& model) {
  std::string page = report_page_template();
  const auto at = page.find(kDataMarker);
  if (at != std::string::npos) page.replace(at, kDataMarker.size(), safe_for_script(report_data_json(model)));
  return page;
}

std::string write_report(const std::filesystem::path& recording, const std::filesystem::path& output) {
  auto built = build_report_model(recording);
  if (auto* error = std::get_if<std::string>(&built)) return *error;
  const auto page = render_report(std::get<ReportModel>(built));
  std::ofstream out(output, std::ios::binary | std::ios::trunc);
  out << page;
  out.flush();
  if (!out) return "cannot write " + output.string();
  return "";
}

}  // namespace relay::monitor
