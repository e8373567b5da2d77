#include "client/output.hpp"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "util/json.hpp"
#include "util/words.hpp"

namespace relay::client {

namespace {

using proto::Op;

std::uint64_t percentile(const std::vector<std::uint64_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

// A value for a terminal: quoted and escaped as in a JSON string, and a byte
// that is not UTF-8 as \xNN, so that control characters, quotes and any
// bytes are visible and a value always stays on its line. Text longer than
// `max_bytes` is cut at a character boundary and marked with "...".
std::string shown(std::string_view text, std::size_t max_bytes = std::string_view::npos) {
  std::string out;
  if (text.size() <= max_bytes) {
    util::append_escaped(out, text);
    return out;
  }
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;  // not mid-character
  util::append_escaped(out, text.substr(0, cut));
  out.insert(out.size() - 1, "...");
  return out;
}

// A key or a cas operand as typed: bare when that is unambiguous (no
// spaces, quotes or control characters), quoted otherwise.
std::string word(std::string_view text) {
  const auto text_shown = shown(text, 60);
  const bool plain = !text.empty() && text.size() <= 60 && text_shown.size() == text.size() + 2 &&
                     text.find(' ') == std::string_view::npos;
  return plain ? std::string(text) : text_shown;
}

// "put k1", "cas k1 v1 -> v2", "send \"hello\"": the request in the words of the command line.
std::string title_of(const proto::ClientRequest& request) {
  switch (request.op) {
    case Op::put: return "put " + word(request.key);
    case Op::get: return "get " + word(request.key);
    case Op::del: return "del " + word(request.key);
    case Op::cas:
      return "cas " + word(request.key) + " " + word(request.expected) + " -> " + word(request.value);
    case Op::append: return "send " + shown(request.value, 60);
    case Op::read: return "read " + std::to_string(request.from);
    case Op::noop: break;
  }
  return proto::to_string(request.op);
}

std::string node_list(const std::vector<proto::NodeId>& nodes) {
  std::string out;
  for (const auto node : nodes) out += (out.empty() ? "" : ", ") + std::to_string(node);
  return out;
}

double milliseconds(std::uint64_t us) { return static_cast<double>(us) / 1000.0; }

// "(index 42, node 2 via node 3)": where the answer came from; node 2
// answered (the leader), node 3 received the request and relayed it.
std::string where_of(const transport::RequestOutcome& outcome, bool with_latency) {
  const auto& reply = outcome.reply;
  std::string out = "(index " + std::to_string(reply.index) + ", node " + std::to_string(reply.answered_by);
  if (reply.relayed_by != proto::kNoNode) out += " via node " + std::to_string(reply.relayed_by);
  if (with_latency) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, ", %.2f ms", milliseconds(outcome.latency_us));
    out += buffer;
  }
  if (outcome.attempts > 1) {
    const std::vector<proto::NodeId> before(outcome.tried.begin(), outcome.tried.end() - 1);
    out += ", attempt " + std::to_string(outcome.attempts) + " after " + util::noun(before.size(), "node") + " " +
           node_list(before);
  }
  return out + ")";
}

// What an ok reply says, in words: "ok", "\"v1\"", "not found", "swapped" ...
std::string result_of(const transport::RequestOutcome& outcome) {
  const auto& request = outcome.request;
  const auto& reply = outcome.reply;
  switch (request.op) {
    case Op::put: return "ok";
    case Op::get: return reply.found ? shown(reply.value) : "not found";
    case Op::del: return reply.found ? "deleted" : "not found";
    case Op::cas:
      if (reply.found) return "swapped";
      if (reply.value.empty()) return "not swapped, " + word(request.key) + " is missing or empty";
      return "not swapped, holds " + shown(reply.value);
    case Op::append: return "position " + std::to_string(reply.position);
    case Op::read: return util::counted(reply.values.size(), "message");
    case Op::noop: break;
  }
  return "ok";
}

// The fields every request's JSON object has: the request as sent and where
// its answer came from.
util::JsonObject json_head(const transport::RequestOutcome& outcome) {
  const auto& request = outcome.request;
  const auto& reply = outcome.reply;
  util::JsonObject line;
  line.field("request_id", outcome.request_id).field("op", proto::to_string(request.op));
  switch (request.op) {
    case Op::put: line.bytes_field("key", request.key).bytes_field("value", request.value); break;
    case Op::get:
    case Op::del: line.bytes_field("key", request.key); break;
    case Op::cas: line.bytes_field("key", request.key).bytes_field("expected", request.expected); break;
    case Op::append: line.bytes_field("value", request.value); break;
    case Op::read: line.field("from", request.from).field("count", request.count); break;
    case Op::noop: break;
  }
  line.field("status", outcome.answered ? proto::to_string(reply.status) : "no_answer")
      .field("sent_to", outcome.sent_to)
      .field("received_by", reply.received_by)
      .field("relayed", reply.relayed_by != proto::kNoNode)
      .field("relayed_by", reply.relayed_by)
      .field("answered_by", reply.answered_by)
      .field("leader_hint", reply.leader_hint)
      .field("term", reply.term)
      .field("index", reply.index)
      .field("attempts", outcome.attempts)
      .field("latency_us", outcome.latency_us);
  return line;
}

// The result fields of an ok reply, or why there is none.
void json_result(util::JsonObject& line, const transport::RequestOutcome& outcome) {
  const auto& reply = outcome.reply;
  if (!succeeded(outcome)) {
    line.field("error", outcome.error);
    if (outcome.answered && !reply.message.empty()) line.field("message", reply.message);
    return;
  }
  switch (outcome.request.op) {
    case Op::put:
    case Op::del: line.field("found", reply.found); break;
    case Op::get:
      line.field("found", reply.found);
      if (reply.found) {
        line.bytes_field("value", reply.value);
      } else {
        line.null_field("value");
      }
      break;
    case Op::cas: line.field("found", reply.found).bytes_field("value", reply.value); break;
    case Op::append:
    case Op::read: line.field("position", reply.position); break;
    case Op::noop: break;
  }
}

// `line` with one more field, an array of values (util::JsonObject has no arrays).
std::string with_bytes_array(const util::JsonObject& line, std::string_view key,
                             const std::vector<std::string>& values) {
  std::string text = line.str();
  text.pop_back();  // the closing brace
  text += text.size() > 1 ? "," : "";
  util::append_json_string(text, key);
  text += ":[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) text += ',';
    util::append_json_bytes(text, values[i]);
  }
  return text + "]}";
}

// A request without an ok answer is an error: one line on stderr, whatever
// stdout shows (with --json, the request's object says it too).
void report_failure(const transport::RequestOutcome& outcome) {
  std::fprintf(stderr, "relay-client: %s failed: %s (%s: %s %s; %.2f ms)\n", title_of(outcome.request).c_str(),
               outcome.error.c_str(), util::counted(outcome.attempts, "attempt").c_str(),
               util::noun(outcome.tried.size(), "node").c_str(), node_list(outcome.tried).c_str(),
               milliseconds(outcome.latency_us));
}

}  // namespace

bool succeeded(const transport::RequestOutcome& outcome) {
  return outcome.answered && outcome.reply.status == proto::Status::ok;
}

void print_outcome(const transport::RequestOutcome& outcome, bool json) {
  if (json) {
    auto line = json_head(outcome);
    json_result(line, outcome);
    std::printf("%s\n", line.str().c_str());
    if (!succeeded(outcome)) report_failure(outcome);
    return;
  }
  if (!succeeded(outcome)) {
    report_failure(outcome);
    return;
  }
  const bool with_latency = outcome.request.op == Op::append;
  const char* separator = outcome.request.op == Op::cas ? ": " : " -> ";
  std::printf("%s%s%s %s\n", title_of(outcome.request).c_str(), separator, result_of(outcome).c_str(),
              where_of(outcome, with_latency).c_str());
}

void print_read_page(const transport::RequestOutcome& outcome, bool json) {
  if (json) {
    auto line = json_head(outcome);
    json_result(line, outcome);
    const auto text = succeeded(outcome) ? with_bytes_array(line, "values", outcome.reply.values) : line.str();
    std::printf("%s\n", text.c_str());
    if (!succeeded(outcome)) report_failure(outcome);
    return;
  }
  if (!succeeded(outcome)) return;  // print_read_end says why
  auto position = outcome.reply.position;
  for (const auto& value : outcome.reply.values) {
    std::printf("%llu %s\n", static_cast<unsigned long long>(position++), shown(value).c_str());
  }
}

void print_read_end(const transport::RequestOutcome& last, std::uint64_t from, std::uint64_t messages) {
  if (!succeeded(last)) {
    if (messages != 0) {
      std::printf("read %llu: %s before the failure\n", static_cast<unsigned long long>(from),
                  util::counted(messages, "message").c_str());
    }
    report_failure(last);
    return;
  }
  const auto first = static_cast<unsigned long long>(from);
  if (messages == 0) {
    std::printf("read %llu -> no messages %s\n", first, where_of(last, false).c_str());
  } else {
    std::printf("read %llu -> %s, positions %llu..%llu %s\n", first, util::counted(messages, "message").c_str(),
                first, first + messages - 1, where_of(last, false).c_str());
  }
}

void print_summary(Summary summary, bool json) {
  std::sort(summary.latencies_us.begin(), summary.latencies_us.end());
  const auto p50 = percentile(summary.latencies_us, 0.50);
  const auto p99 = percentile(summary.latencies_us, 0.99);
  if (json) {
    util::JsonObject line;
    line.field("summary", true)
        .field("sent", summary.sent)
        .field("ok", summary.ok)
        .field("failed", summary.failed)
        .field("relayed", summary.relayed)
        .field("p50_us", p50)
        .field("p99_us", p99)
        .field("interrupted", summary.interrupted);
    std::printf("%s\n", line.str().c_str());
    return;
  }
  std::printf("sent %llu, ok %llu, failed %llu, relayed %llu", static_cast<unsigned long long>(summary.sent),
              static_cast<unsigned long long>(summary.ok), static_cast<unsigned long long>(summary.failed),
              static_cast<unsigned long long>(summary.relayed));
  if (!summary.latencies_us.empty()) {
    std::printf("; latency of ok replies p50 %.2f ms, p99 %.2f ms", milliseconds(p50), milliseconds(p99));
  }
  std::printf("%s\n", summary.interrupted ? " (interrupted)" : "");
}

void print_status(proto::NodeId id, const std::optional<proto::StatusReply>& status, bool json) {
  if (json) {
    util::JsonObject line;
    line.field("id", id);
    if (!status) {
      line.field("role", "unreachable").null_field("term").null_field("leader");
    } else {
      line.field("role", status->role == proto::Role::leader     ? "leader"
                         : status->role == proto::Role::follower ? "follower"
                                                                 : "candidate")
          .field("state", proto::to_string(status->role))
          .field("term", status->term)
          .field("leader", status->leader)
          .field("voted_for", status->voted_for)
          .field("elections", status->elections)
          .field("leader_changes", status->leader_changes)
          .field("leaderless_ms", status->leaderless_ms)
          .field("heartbeat_age_ms", status->heartbeat_age_ms)
          .field("requests", status->requests)
          .field("relayed", status->relayed)
          .field("executed", status->executed)
          .field("pending", status->pending)
          .field("last_index", status->last_index)
          .field("commit_index", status->commit_index)
          .field("applied_index", status->applied_index);
    }
    std::printf("%s\n", line.str().c_str());
    return;
  }
  if (!status) {
    std::printf("node %-3u unreachable\n", id);
    return;
  }
  std::printf("node %-3u %-13s term %-5llu leader %-3u log last %llu commit %llu applied %llu  requests %llu "
              "relayed %llu executed %llu\n",
              id, proto::to_string(status->role), static_cast<unsigned long long>(status->term), status->leader,
              static_cast<unsigned long long>(status->last_index),
              static_cast<unsigned long long>(status->commit_index),
              static_cast<unsigned long long>(status->applied_index),
              static_cast<unsigned long long>(status->requests), static_cast<unsigned long long>(status->relayed),
              static_cast<unsigned long long>(status->executed));
}

}  // namespace relay::client
