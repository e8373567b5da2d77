#include "monitor/event.hpp"

#include <charconv>

#include "proto/describe.hpp"

namespace relay::monitor {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads a quoted value starting at line[at] == '"', undoing describe()'s
// escapes; returns the index just past it (and past a `+N` cut marker).
std::size_t read_quoted(std::string_view line, std::size_t at, std::string& out) {
  std::size_t i = at + 1;
  while (i < line.size() && line[i] != '"') {
    if (line[i] != '\\' || i + 1 >= line.size()) {
      out += line[i++];
      continue;
    }
    const char escaped = line[i + 1];
    i += 2;
    switch (escaped) {
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'x':
        if (i + 1 < line.size() && hex_digit(line[i]) >= 0 && hex_digit(line[i + 1]) >= 0) {
          out += static_cast<char>(hex_digit(line[i]) * 16 + hex_digit(line[i + 1]));
          i += 2;
        }
        break;
      default: out += escaped;
    }
  }
  if (i < line.size()) ++i;  // the closing quote
  if (i < line.size() && line[i] == '+') {
    while (++i < line.size() && line[i] != ' ') {
    }
  }
  return i;
}

std::uint64_t to_number(std::string_view text, int base) {
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value, base);
  return result.ec == std::errc{} && result.ptr == end ? value : 0;
}

}  // namespace

const char* to_string(Source source) { return source == Source::election ? "election" : "tap"; }

std::optional<Source> parse_source(std::string_view name) {
  if (name == "election") return Source::election;
  if (name == "tap") return Source::tap;
  return std::nullopt;
}

Event from_tap(const proto::Tap& tap, std::uint64_t recv_us) {
  return Event{recv_us,     Source::tap, tap.node, tap.seq,  tap.time_us,
               tap.kind,    tap.channel, tap.peer, tap.size, tap.text};
}

Event from_election(proto::NodeId node, const proto::Message& message, std::size_t size,
                    std::uint64_t recv_us) {
  return Event{recv_us,    Source::election, node,          0, recv_us, "pub", "election",
               proto::kNoNode, static_cast<std::uint32_t>(size), proto::describe(message)};
}

const std::string* Line::find(std::string_view key) const {
  for (const auto& [name, value] : values) {
    if (name == key) return &value;
  }
  return nullptr;
}

std::string Line::text(std::string_view key) const {
  const auto* value = find(key);
  return value != nullptr ? *value : std::string();
}

std::uint64_t Line::number(std::string_view key) const {
  const auto* value = find(key);
  return value != nullptr ? to_number(*value, 10) : 0;
}

std::uint64_t Line::hex_or_number(std::string_view key) const {
  const auto* value = find(key);
  if (value == nullptr) return 0;
  if (value->starts_with("0x")) return to_number(std::string_view(*value).substr(2), 16);
  return to_number(*value, 10);
}

Line parse_line(std::string_view text) {
  Line line;
  std::size_t i = text.find(' ');
  line.type = std::string(text.substr(0, i));
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i >= text.size()) break;
    const auto word_end = std::min(text.find(' ', i), text.size());
    const auto equals = text.find('=', i);
    if (equals >= word_end) {  // a free word: part of the previous value
      if (!line.values.empty()) line.values.back().second += " " + std::string(text.substr(i, word_end - i));
      i = word_end;
      continue;
    }
    std::string key(text.substr(i, equals - i));
    std::string value;
    if (equals + 1 < text.size() && text[equals + 1] == '"') {
      i = read_quoted(text, equals + 1, value);
    } else {
      value = std::string(text.substr(equals + 1, word_end - equals - 1));
      i = word_end;
    }
    line.values.emplace_back(std::move(key), std::move(value));
  }
  return line;
}

bool HeartbeatFilter::is_heartbeat(const Event& event, const Line& line) {
  if (line.type == "heartbeat") return true;
  if (line.type == "append") {
    const auto* entries = line.find("entries");
    return entries != nullptr && *entries == "0";
  }
  // A follower's own taps give its replies in the order it sent them; the
  // leader's taps of receiving them may come late, from another channel.
  if (line.type != "append_reply" || event.kind != "out") return false;
  auto& last = replies_[{event.node, event.peer}];
  const LastReply now{line.number("term"), line.number("last_index")};
  const bool repeated = now.term != 0 && now.term == last.term && now.last_index == last.last_index;
  last = now;
  return repeated;
}

}  // namespace relay::monitor
