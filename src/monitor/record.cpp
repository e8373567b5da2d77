#include "monitor/record.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "util/json.hpp"

namespace relay::monitor {
namespace {

using nlohmann::json;

std::string join_nodes(const std::vector<proto::NodeId>& nodes) {
  std::string text;
  for (auto id : nodes) text += (text.empty() ? "" : ",") + std::to_string(id);
  return text;
}

std::optional<std::vector<proto::NodeId>> split_nodes(const std::string& text) {
  std::vector<proto::NodeId> nodes;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto comma = std::min(text.find(',', at), text.size());
    const auto word = text.substr(at, comma - at);
    if (word.empty() || word.find_first_not_of("0123456789") != std::string::npos || word.size() > 7) {
      return std::nullopt;
    }
    nodes.push_back(static_cast<proto::NodeId>(std::stoul(word)));
    at = comma + 1;
  }
  return nodes;
}

// Field readers that say which field was wrong instead of throwing.
template <typename T>
bool read_uint(const json& object, const char* key, T& out, std::string& error) {
  const auto found = object.find(key);
  if (found == object.end() || !found->is_number_unsigned()) {
    error = std::string("field '") + key + "' must be a non-negative integer";
    return false;
  }
  out = static_cast<T>(found->get<std::uint64_t>());
  return true;
}

bool read_text(const json& object, const char* key, std::string& out, std::string& error) {
  const auto found = object.find(key);
  if (found == object.end() || !found->is_string()) {
    error = std::string("field '") + key + "' must be a string";
    return false;
  }
  out = found->get<std::string>();
  return true;
}

bool read_header(const json& object, RecordHeader& header, std::string& error) {
  std::string nodes;
  if (!read_uint(object, "relay_monitor_record", header.version, error)) return false;
  if (header.version != kRecordVersion) {
    error = "unsupported recording version " + std::to_string(header.version);
    return false;
  }
  if (!read_uint(object, "started_us", header.started_us, error) ||
      !read_uint(object, "heartbeat_interval_ms", header.heartbeat_interval_ms, error) ||
      !read_uint(object, "election_timeout_ms", header.election_timeout_ms, error) ||
      !read_text(object, "nodes", nodes, error) || !read_text(object, "config", header.config, error)) {
    return false;
  }
  auto parsed = split_nodes(nodes);
  if (!parsed) {
    error = "field 'nodes' must list node ids separated by commas";
    return false;
  }
  header.nodes = std::move(*parsed);
  return true;
}

bool read_event(const json& object, Event& event, std::string& error) {
  std::string source;
  if (!read_text(object, "source", source, error)) return false;
  const auto parsed = parse_source(source);
  if (!parsed) {
    error = "field 'source' must be \"election\" or \"tap\"";
    return false;
  }
  event.source = *parsed;
  return read_uint(object, "recv_us", event.recv_us, error) && read_uint(object, "node", event.node, error) &&
         read_uint(object, "seq", event.seq, error) && read_uint(object, "time_us", event.time_us, error) &&
         read_text(object, "kind", event.kind, error) && read_text(object, "channel", event.channel, error) &&
         read_uint(object, "peer", event.peer, error) && read_uint(object, "size", event.size, error) &&
         read_text(object, "text", event.text, error);
}

}  // namespace

std::string header_line(const RecordHeader& header) {
  util::JsonObject object;
  object.field("relay_monitor_record", header.version).field("started_us", header.started_us);
  object.field("nodes", join_nodes(header.nodes)).field("heartbeat_interval_ms", header.heartbeat_interval_ms);
  object.field("election_timeout_ms", header.election_timeout_ms).field("config", header.config);
  return object.str();
}

std::string event_line(const Event& event) {
  util::JsonObject object;
  object.field("recv_us", event.recv_us).field("source", to_string(event.source)).field("node", event.node);
  object.field("seq", event.seq).field("time_us", event.time_us).field("kind", event.kind);
  object.field("channel", event.channel).field("peer", event.peer).field("size", event.size);
  object.field("text", event.text);
  return object.str();
}

std::variant<RecordWriter, std::string> RecordWriter::open(const std::filesystem::path& path,
                                                           const RecordHeader& header) {
  std::FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) return "cannot create recording " + path.string() + ": " + std::strerror(errno);
  RecordWriter writer(file);
  const auto line = header_line(header) + "\n";
  if (std::fputs(line.c_str(), file) < 0 || std::fflush(file) != 0) {
    return "cannot write recording " + path.string() + ": " + std::strerror(errno);
  }
  return writer;
}

void RecordWriter::write(const Event& event) {
  if (file_ == nullptr || failed_) return;
  const auto line = event_line(event) + "\n";
  failed_ = std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0;
}

RecordWriter::RecordWriter(RecordWriter&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)), failed_(other.failed_) {}

RecordWriter::~RecordWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

RecordReadResult read_record(const std::filesystem::path& path,
                             const std::function<void(const RecordHeader&)>& on_header,
                             const std::function<bool(const Event&)>& on_event) {
  RecordReadResult result;
  std::ifstream in(path);
  if (!in) {
    result.error = "cannot open recording " + path.string();
    return result;
  }
  std::string text;
  std::size_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (text.empty()) continue;
    const auto object = json::parse(text, nullptr, false);
    std::string error = object.is_object() ? "" : "not a JSON object";
    Event event;
    if (error.empty() && number == 1) {
      if (read_header(object, result.header, error)) on_header(result.header);
    } else if (error.empty()) {
      if (read_event(object, event, error) && !on_event(event)) break;
    }
    if (!error.empty()) {
      result.error = path.string() + ":" + std::to_string(number) + ": " + error;
      return result;
    }
  }
  if (number == 0) result.error = path.string() + ": empty, not a recording";
  return result;
}

}  // namespace relay::monitor
