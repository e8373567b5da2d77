#include "client/output.hpp"

#include <algorithm>
#include <cstdio>

#include "util/json.hpp"

namespace relay::client {

namespace {

std::uint64_t percentile(const std::vector<std::uint64_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

// The message for a terminal: control characters become '?'; other bytes,
// UTF-8 included, pass as they are.
std::string printable(const std::string& text) {
  std::string out;
  for (const char c : text.substr(0, 60)) {
    const auto byte = static_cast<unsigned char>(c);
    out += (byte < 0x20 || byte == 0x7f) ? '?' : c;
  }
  return out;
}

}  // namespace

void print_outcome(const transport::RequestOutcome& outcome, bool json) {
  const auto& reply = outcome.reply;
  const bool ok = outcome.answered && reply.status == proto::Status::ok;
  const char* status = outcome.answered ? proto::to_string(reply.status) : "no_answer";
  if (json) {
    util::JsonObject line;
    line.field("request_id", outcome.request_id)
        .field("sent_to", outcome.sent_to)
        .field("answered_by", reply.answered_by)
        .field("relayed", reply.relayed_by != proto::kNoNode)
        .field("relayed_by", reply.relayed_by)
        .field("term", reply.term)
        .field("seq", reply.seq)
        .field("status", status)
        .field("attempts", outcome.attempts)
        .field("latency_us", outcome.latency_us);
    if (ok) {
      line.field("message", reply.message);
    } else {
      line.field("error", outcome.error);
    }
    std::printf("%s\n", line.str().c_str());
    return;
  }
  const double ms = static_cast<double>(outcome.latency_us) / 1000.0;
  std::string tried;
  for (const auto node : outcome.tried) tried += (tried.empty() ? "" : ", ") + std::to_string(node);
  if (!ok) {
    std::printf("request %-5llu FAILED after %u attempt(s) (nodes %s), %.2f ms: %s\n",
                static_cast<unsigned long long>(outcome.request_id), outcome.attempts, tried.c_str(), ms,
                outcome.error.c_str());
    return;
  }
  const auto retried = outcome.attempts > 1 ? "  (attempt " + std::to_string(outcome.attempts) + "; tried nodes " +
                                                  tried + ")"
                                            : std::string();
  const auto path = reply.relayed_by != proto::kNoNode
                        ? "node " + std::to_string(outcome.sent_to) + " relayed to leader " +
                              std::to_string(reply.answered_by)
                        : "leader " + std::to_string(reply.answered_by) + " answered directly";
  std::printf("request %-5llu sent to node %u: %-32s term %llu seq %-5llu %7.2f ms  \"%s\"%s\n",
              static_cast<unsigned long long>(outcome.request_id), outcome.sent_to, path.c_str(),
              static_cast<unsigned long long>(reply.term), static_cast<unsigned long long>(reply.seq), ms,
              printable(reply.message).c_str(), retried.c_str());
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
    std::printf("; latency of ok replies p50 %.2f ms, p99 %.2f ms", static_cast<double>(p50) / 1000.0,
                static_cast<double>(p99) / 1000.0);
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
      line.field("role", status->role == proto::Role::leader ? "leader"
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
          .field("pending", status->pending);
    }
    std::printf("%s\n", line.str().c_str());
    return;
  }
  if (!status) {
    std::printf("node %-3u unreachable\n", id);
    return;
  }
  std::printf("node %-3u %-13s term %-5llu leader %-3u requests %llu relayed %llu executed %llu\n", id,
              proto::to_string(status->role), static_cast<unsigned long long>(status->term), status->leader,
              static_cast<unsigned long long>(status->requests), static_cast<unsigned long long>(status->relayed),
              static_cast<unsigned long long>(status->executed));
}

}  // namespace relay::client
