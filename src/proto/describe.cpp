// The one-line text form of every message. Logs, the monitor and the test
// traces all print messages through here, so the format is a contract: the
// message type's name, then `key=value` pairs in the struct's field order,
// separated by single spaces, never a newline.
//
// Payloads come from clients and may be anything, so they are quoted, escaped
// (\" \\ \n \r \t, other bytes outside printable ASCII as \xNN) and cut: a
// payload shows at most 40 characters between its quotes, and a cut one ends
// `"+N` where N is the number of bytes not shown. This file must not include
// msgpack: the core links it.
#include "proto/describe.hpp"

#include <cstdio>
#include <string_view>
#include <utility>

namespace relay::proto {
namespace {

// Enough to recognise a payload, short enough that a flood of large requests
// cannot turn the log into a copy of the traffic.
constexpr std::size_t kShownPayloadChars = 40;
// A tap's text is itself a describe() line; the monitor needs most of it.
constexpr std::size_t kShownTapTextChars = 160;
// Client ids and tap words are short; quoted only when they hold odd bytes.
constexpr std::size_t kShownWordChars = 64;

bool is_plain_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':' || c == '/' || c == '@';
}

bool is_plain_word(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!is_plain_word_char(c)) return false;
  }
  return true;
}

// The escaped form of one byte: itself when printable, else a C-style escape.
std::string escape_byte(char c) {
  switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: break;
  }
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7f) return std::string(1, c);
  char hex[5];
  std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(byte));
  return hex;
}

// Appends `text` quoted and escaped; an escape is never split by the cut.
void append_quoted(std::string& out, std::string_view text, std::size_t shown_chars) {
  out += '"';
  std::size_t used_chars = 0;
  std::size_t shown_bytes = 0;
  for (; shown_bytes < text.size(); ++shown_bytes) {
    const std::string piece = escape_byte(text[shown_bytes]);
    if (used_chars + piece.size() > shown_chars) break;
    out += piece;
    used_chars += piece.size();
  }
  out += '"';
  if (shown_bytes < text.size()) {
    out += '+';
    out += std::to_string(text.size() - shown_bytes);
  }
}

// Builds "type key=value key=value ...".
class Line {
 public:
  explicit Line(MessageType type) : out_(to_string(type)) {}

  Line& num(std::string_view key, std::uint64_t value) {
    start(key) += std::to_string(value);
    return *this;
  }
  // Ballots are random 64-bit draws: fixed-width hex lines them up in a trace.
  Line& hex(std::string_view key, std::uint64_t value) {
    char text[19];
    std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(value));
    start(key) += text;
    return *this;
  }
  Line& name(std::string_view key, const char* value) {
    start(key) += value;
    return *this;
  }
  // Bare when it is a plain token, so `client=c1a2` stays greppable.
  Line& word(std::string_view key, std::string_view value) {
    if (is_plain_word(value)) {
      start(key) += value;
    } else {
      append_quoted(start(key), value, kShownWordChars);
    }
    return *this;
  }
  Line& quoted(std::string_view key, std::string_view value, std::size_t shown_chars) {
    append_quoted(start(key), value, shown_chars);
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string& start(std::string_view key) {
    out_ += ' ';
    out_ += key;
    out_ += '=';
    return out_;
  }

  std::string out_;
};

MessageType type_code(const PreVote&) { return MessageType::pre_vote; }
MessageType type_code(const PreVoteGrant&) { return MessageType::pre_vote_grant; }
MessageType type_code(const Ballot&) { return MessageType::ballot; }
MessageType type_code(const Vote&) { return MessageType::vote; }
MessageType type_code(const Heartbeat&) { return MessageType::heartbeat; }
MessageType type_code(const ClientRequest&) { return MessageType::client_request; }
MessageType type_code(const ClientReply&) { return MessageType::client_reply; }
MessageType type_code(const StatusRequest&) { return MessageType::status_request; }
MessageType type_code(const StatusReply&) { return MessageType::status_reply; }
MessageType type_code(const Relay&) { return MessageType::relay; }
MessageType type_code(const RelayReply&) { return MessageType::relay_reply; }
MessageType type_code(const Append&) { return MessageType::append; }
MessageType type_code(const AppendReply&) { return MessageType::append_reply; }
MessageType type_code(const Snapshot&) { return MessageType::snapshot; }
MessageType type_code(const SnapshotReply&) { return MessageType::snapshot_reply; }
MessageType type_code(const Tap&) { return MessageType::tap; }

void append_fields(Line& line, const PreVote& m) {
  line.num("term", m.term).num("from", m.from);
  line.num("last_log_term", m.last_log_term).num("last_log_index", m.last_log_index);
}

void append_fields(Line& line, const PreVoteGrant& m) {
  line.num("term", m.term).num("from", m.from).num("to", m.to);
}

void append_fields(Line& line, const Ballot& m) {
  line.num("term", m.term).num("from", m.from).hex("ballot", m.ballot);
  line.num("last_log_term", m.last_log_term).num("last_log_index", m.last_log_index);
}

void append_fields(Line& line, const Vote& m) {
  line.num("term", m.term).num("from", m.from).num("candidate", m.candidate);
}

void append_fields(Line& line, const Heartbeat& m) {
  line.num("term", m.term).num("from", m.from).name("role", to_string(m.role));
  line.num("leader", m.leader);
}

void append_fields(Line& line, const ClientRequest& m) {
  line.word("client", m.client_id).num("req", m.request_id).num("timeout_ms", m.timeout_ms);
  line.name("op", to_string(m.op));
  switch (m.op) {
    case Op::put: line.quoted("key", m.key, kShownPayloadChars).quoted("value", m.value, kShownPayloadChars); break;
    case Op::get:
    case Op::del: line.quoted("key", m.key, kShownPayloadChars); break;
    case Op::cas:
      line.quoted("key", m.key, kShownPayloadChars).quoted("expected", m.expected, kShownPayloadChars);
      line.quoted("value", m.value, kShownPayloadChars);
      break;
    case Op::append: line.quoted("msg", m.value, kShownPayloadChars); break;
    case Op::read: line.num("from", m.from).num("count", m.count); break;
    case Op::noop: break;
  }
}

void append_fields(Line& line, const ClientReply& m) {
  line.word("client", m.client_id).num("req", m.request_id).name("status", to_string(m.status));
  line.num("received_by", m.received_by).num("relayed_by", m.relayed_by);
  line.num("answered_by", m.answered_by).num("term", m.term).num("index", m.index);
  line.num("leader_hint", m.leader_hint);
  if (!m.message.empty()) line.quoted("msg", m.message, kShownPayloadChars);
  if (m.status == Status::ok) {
    line.num("found", m.found ? 1 : 0).quoted("value", m.value, kShownPayloadChars);
    line.num("position", m.position).num("values", m.values.size());
  }
}

void append_fields(Line& line, const StatusRequest& m) { line.num("req", m.request_id); }

void append_fields(Line& line, const StatusReply& m) {
  line.num("req", m.request_id).num("id", m.id).name("role", to_string(m.role));
  line.num("term", m.term).num("leader", m.leader).num("voted_for", m.voted_for);
  line.num("elections", m.elections).num("leader_changes", m.leader_changes);
  line.num("leaderless_ms", m.leaderless_ms).num("heartbeat_age_ms", m.heartbeat_age_ms);
  line.num("requests", m.requests).num("relayed", m.relayed).num("executed", m.executed);
  line.num("pending", m.pending).num("last_index", m.last_index);
  line.num("commit_index", m.commit_index).num("applied_index", m.applied_index);
}

// A relay shows the request it carries inline, so one line tells the whole path.
void append_fields(Line& line, const Relay& m) {
  line.num("from", m.from).num("relay_id", m.relay_id).num("remaining_ms", m.remaining_ms);
  append_fields(line, m.request);
}

void append_fields(Line& line, const RelayReply& m) {
  line.num("relay_id", m.relay_id);
  append_fields(line, m.reply);
}

// Entries are summed up, not listed: an append may carry thousands.
void append_fields(Line& line, const Append& m) {
  line.num("term", m.term).num("leader", m.leader).num("prev_index", m.prev_index);
  line.num("prev_term", m.prev_term).num("commit", m.commit_index).num("round", m.round);
  line.num("entries", m.entries.size());
  if (!m.entries.empty()) line.num("first", m.entries.front().index).num("last", m.entries.back().index);
}

void append_fields(Line& line, const AppendReply& m) {
  line.num("term", m.term).num("from", m.from).num("ok", m.ok ? 1 : 0);
  line.num("last_index", m.last_index).num("round", m.round);
}

void append_fields(Line& line, const Snapshot& m) {
  line.num("term", m.term).num("leader", m.leader).num("last_index", m.last_index);
  line.num("last_term", m.last_term).num("offset", m.offset).num("done", m.done ? 1 : 0);
  line.num("bytes", m.chunk.size());
}

void append_fields(Line& line, const SnapshotReply& m) {
  line.num("term", m.term).num("from", m.from).num("last_index", m.last_index);
  line.num("next_offset", m.next_offset);
}

void append_fields(Line& line, const Tap& m) {
  line.num("node", m.node).num("seq", m.seq).num("time_us", m.time_us);
  line.word("kind", m.kind).word("channel", m.channel).num("peer", m.peer).num("size", m.size);
  line.quoted("text", m.text, kShownTapTextChars);
}

}  // namespace

MessageType type_of(const Message& message) {
  return std::visit([](const auto& m) { return type_code(m); }, message);
}

std::string describe(const Message& message) {
  Line line(type_of(message));
  std::visit([&line](const auto& m) { append_fields(line, m); }, message);
  return line.take();
}

}  // namespace relay::proto
