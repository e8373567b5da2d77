// Reads the cluster INI file with inih and validates it into a Cluster.
//
// inih tokenizes; this file adds what inih cannot know. Debian builds inih
// without INI_HANDLER_LINENO, so the reader callback counts lines for the
// messages. inih splits a line longer than its buffer into two lines without
// a word, so the reader refuses such lines. inih does not report section
// headers, so the reader notices them to catch duplicate, unknown and empty
// sections. Every rule is described in docs/configuration.md.
#include "config/config.hpp"

#include <ini.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <system_error>

#include "config/endpoint.hpp"
#include "config/text.hpp"

namespace relay::config {
namespace {

namespace fs = std::filesystem;
using namespace text;

constexpr std::size_t kMaxNodes = 15;
constexpr std::uint64_t kMaxNodeId = 1'000'000;
// A cluster file is a few dozen lines; the cap keeps `--config /dev/zero`
// from eating memory.
constexpr std::size_t kMaxFileBytes = 1 << 20;

struct MsRange {
  std::uint64_t min;
  std::uint64_t max;
};
constexpr MsRange kHeartbeatRange{1, 60'000};
constexpr MsRange kElectionRange{2, 600'000};
constexpr MsRange kRequestRange{1, 3'600'000};
constexpr std::uint64_t kMinSnapshotBytes = 4096;
constexpr std::uint64_t kMaxSnapshotBytes = 1ull << 40;

constexpr std::array<std::string_view, 4> kEndpointKeys{"client", "peer", "election", "monitor"};

std::string& endpoint_field(NodeConfig& node, std::string_view key) {
  if (key == "client") return node.client;
  if (key == "peer") return node.peer;
  if (key == "election") return node.election;
  return node.monitor;
}

enum class SectionKind { none, cluster, node };

// One [node.N] section as read, with the lines its parts came from.
struct NodeDraft {
  NodeConfig node;
  std::string section;  // "node.N", for messages
  int section_line = 0;
  std::map<std::string, int, std::less<>> key_lines;
};

// One pass over one text. Keeps only the first error: later ones are often
// consequences of it, and the message must stay one line.
class Parser {
 public:
  Parser(std::string_view text, std::string_view name, fs::path base_dir)
      : text_(text), name_(name), base_dir_(std::move(base_dir)) {}

  LoadResult run();

 private:
  // inih is C: nothing may be thrown through it, hence noexcept.
  static char* reader_thunk(char* out, int size, void* self) noexcept;
  static int handler_thunk(void* self, const char* section, const char* key, const char* value) noexcept;

  char* read_line(char* out, int size);
  bool scan_line(std::string_view line);
  bool open_section(std::string_view header);
  void set_key(std::string_view key, std::string_view value);
  void set_cluster_key(std::string_view key, std::string_view value);
  void set_node_key(NodeConfig& node, std::string_view key, std::string_view value);
  std::optional<std::uint32_t> parse_ms(std::string_view key, std::string_view value, MsRange range);
  void check_nodes();
  void check_shared_endpoints();
  void check_timing();
  std::string syntax_reason(int line) const;
  Cluster build() const;

  void fail(int line, std::string message);
  void fail_line(int line, const std::string& reason) { fail(line, reason); }
  void fail_key(int line, std::string_view key, const std::string& reason) {
    fail(line, "key '" + std::string(key) + "': " + reason);
  }
  void fail_section(int line, std::string_view section, const std::string& reason) {
    fail(line, "section [" + std::string(section) + "]: " + reason);
  }

  std::string_view text_;
  std::size_t position_ = 0;
  int line_ = 0;
  std::string name_;
  fs::path base_dir_;
  std::optional<ConfigError> error_;
  int error_line_ = 0;

  SectionKind kind_ = SectionKind::none;
  std::string section_;                                    // the current one, as written
  std::map<std::string, int, std::less<>> section_lines_;  // every section seen
  std::map<std::string, int, std::less<>> cluster_key_lines_;
  std::vector<NodeDraft> nodes_;  // in file order
  Cluster cluster_;
  std::string data_dir_ = "data";
};

void Parser::fail(int line, std::string message) {
  if (error_) return;
  // Values are echoed in messages; a control character must not break the
  // one-line contract or a terminal.
  std::string text = line > 0 ? name_ + ":" + std::to_string(line) + ": " + message : name_ + ": " + message;
  std::replace_if(text.begin(), text.end(), is_control, '?');
  error_ = ConfigError{std::move(text)};
  error_line_ = line;
}

LoadResult Parser::run() {
  const int rc = ini_parse_stream(&Parser::reader_thunk, this, &Parser::handler_thunk, this);
  // inih returns the first line it could not parse. Ours stopped the
  // parse, so inih's is reported only if it lies before ours.
  if (rc > 0 && (!error_ || rc < error_line_)) {
    error_.reset();
    fail_line(rc, syntax_reason(rc));
  } else if (rc < 0) {
    fail(0, "inih could not allocate its line buffer");
  }
  if (!error_) check_nodes();
  if (!error_) check_shared_endpoints();
  if (!error_) check_timing();
  if (error_) return *error_;
  return build();
}

char* Parser::reader_thunk(char* out, int size, void* self) noexcept {
  auto* parser = static_cast<Parser*>(self);
  try {
    return parser->read_line(out, size);
  } catch (const std::exception& e) {
    parser->fail(0, std::string("internal error: ") + e.what());
    return nullptr;
  }
}

// The section inih passes is ignored: scan_line() has already tracked it,
// with its line number.
int Parser::handler_thunk(void* self, const char* /*section*/, const char* key, const char* value) noexcept {
  auto* parser = static_cast<Parser*>(self);
  try {
    parser->set_key(key, value);
  } catch (const std::exception& e) {
    parser->fail(0, std::string("internal error: ") + e.what());
  }
  // Errors are recorded by us with a better message; inih's count is only
  // used for lines it could not parse at all.
  return 1;
}

// fgets-like, over text_: one line per call, so line_ is the line inih is
// about to parse when it calls the handler.
char* Parser::read_line(char* out, int size) {
  if (error_ || position_ >= text_.size()) return nullptr;
  const std::size_t newline = text_.find('\n', position_);
  const std::size_t stop = newline == std::string_view::npos ? text_.size() : newline + 1;
  std::string_view line = text_.substr(position_, stop - position_);
  position_ = stop;
  ++line_;
  if (line.ends_with('\n')) line.remove_suffix(1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  // inih wants room for "\r\n\0" after the text (ini.h, INI_MAX_LINE).
  const std::size_t limit = size > 3 ? static_cast<std::size_t>(size) - 3 : 0;
  if (line.size() > limit) {
    fail_line(line_, "line is " + std::to_string(line.size()) + " bytes long; at most " + std::to_string(limit) +
                         " are allowed");
    return nullptr;
  }
  if (line.find('\0') != std::string_view::npos) {
    fail_line(line_, "line contains a NUL byte");
    return nullptr;
  }
  if (!scan_line(line)) return nullptr;
  std::memcpy(out, line.data(), line.size());
  out[line.size()] = '\n';
  out[line.size() + 1] = '\0';
  return out;
}

// Classifies the line the way inih will, to see the section headers it
// keeps to itself.
bool Parser::scan_line(std::string_view line) {
  if (line_ == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);  // inih skips a BOM too
  const std::string_view text = trim(line);
  if (text.empty() || text.front() == ';' || text.front() == '#') return true;
  if (is_space(line.front())) {
    // inih would append an indented line to the previous key's value, which
    // no one means in this file.
    fail_line(line_,
              "line starts with whitespace; indentation is not allowed (inih would read it as the "
              "continuation of the previous value)");
    return false;
  }
  if (text.front() != '[') return true;  // a key line: set_key() will see it
  return open_section(text);
}

bool Parser::open_section(std::string_view header) {
  const std::size_t close = header.find(']');
  if (close == std::string_view::npos) {
    fail_line(line_, "section header '" + std::string(header) + "' has no closing ']'");
    return false;
  }
  const std::string name(header.substr(1, close - 1));
  const std::string_view rest = trim(header.substr(close + 1));
  if (!rest.empty() && rest.front() != ';' && rest.front() != '#') {
    fail_section(line_, name, "unexpected text after ']'");
    return false;
  }
  std::optional<std::uint64_t> id;
  if (name != "cluster") {
    if (!name.starts_with("node.")) {
      fail_section(line_, name, "unknown section; expected [cluster] or [node.N]");
      return false;
    }
    id = parse_identity(std::string_view(name).substr(5), kMaxNodeId);
    if (!id) {
      fail_section(line_, name,
                   "node id '" + name.substr(5) +
                       "' is not a positive integer from 1 to 1000000 "
                       "(digits only, no sign, no leading zeros)");
      return false;
    }
  }
  if (const auto seen = section_lines_.find(name); seen != section_lines_.end()) {
    fail_section(line_, name, "duplicate section (first on line " + std::to_string(seen->second) + ")");
    return false;
  }
  if (id && nodes_.size() == kMaxNodes) {
    fail_section(line_, name, "too many nodes; a cluster has at most 15");
    return false;
  }
  section_lines_.emplace(name, line_);
  section_ = name;
  kind_ = id ? SectionKind::node : SectionKind::cluster;
  if (id) nodes_.push_back(NodeDraft{NodeConfig{static_cast<std::uint32_t>(*id), {}, {}, {}, {}}, name, line_, {}});
  return true;
}

void Parser::set_key(std::string_view key, std::string_view value) {
  if (error_) return;
  if (kind_ == SectionKind::none) {
    fail_key(line_, key, "appears before any section; put it under [cluster] or [node.N]");
    return;
  }
  // inih also splits at ':', so "client tcp://h:1" arrives as key "client tcp".
  if (std::any_of(key.begin(), key.end(), is_space)) {
    fail_key(line_, key, "a key name has no spaces; is the '=' missing?");
    return;
  }
  auto& key_lines = kind_ == SectionKind::cluster ? cluster_key_lines_ : nodes_.back().key_lines;
  if (const auto seen = key_lines.find(key); seen != key_lines.end()) {
    fail_key(line_, key, "duplicate key in [" + section_ + "] (first on line " + std::to_string(seen->second) + ")");
    return;
  }
  key_lines.emplace(std::string(key), line_);
  if (kind_ == SectionKind::cluster) {
    set_cluster_key(key, value);
  } else {
    set_node_key(nodes_.back().node, key, value);
  }
}

void Parser::set_cluster_key(std::string_view key, std::string_view value) {
  if (key == "heartbeat_interval_ms") {
    if (const auto ms = parse_ms(key, value, kHeartbeatRange)) cluster_.heartbeat_interval_ms = *ms;
  } else if (key == "election_timeout_ms") {
    if (const auto ms = parse_ms(key, value, kElectionRange)) cluster_.election_timeout_ms = *ms;
  } else if (key == "request_timeout_ms") {
    if (const auto ms = parse_ms(key, value, kRequestRange)) cluster_.request_timeout_ms = *ms;
  } else if (key == "data_dir") {
    if (value.empty()) {
      fail_key(line_, key, "empty value; give a directory (a relative one is resolved against this file's directory)");
    }
    data_dir_ = value;
  } else if (key == "fsync") {
    if (value == "always") {
      cluster_.fsync = Fsync::always;
    } else if (value == "batch") {
      cluster_.fsync = Fsync::batch;
    } else if (value == "never") {
      cluster_.fsync = Fsync::never;
    } else {
      fail_key(line_, key, "'" + std::string(value) + "' is not one of always, batch, never");
    }
  } else if (key == "snapshot_bytes") {
    const auto bytes = parse_digits(value);
    if (!bytes || *bytes < kMinSnapshotBytes || *bytes > kMaxSnapshotBytes) {
      fail_key(line_, key, "'" + std::string(value) + "' is not a whole number of bytes from " +
                               std::to_string(kMinSnapshotBytes) + " to " + std::to_string(kMaxSnapshotBytes));
    } else {
      cluster_.snapshot_bytes = *bytes;
    }
  } else {
    fail_key(line_, key,
             "unknown key in [cluster]; expected heartbeat_interval_ms, election_timeout_ms, "
             "request_timeout_ms, data_dir, fsync or snapshot_bytes");
  }
}

void Parser::set_node_key(NodeConfig& node, std::string_view key, std::string_view value) {
  if (std::find(kEndpointKeys.begin(), kEndpointKeys.end(), key) == kEndpointKeys.end()) {
    fail_key(line_, key, "unknown key in [" + section_ + "]; expected client, peer, election or monitor");
    return;
  }
  if (const auto problem = endpoint_problem(value)) {
    fail_key(line_, key, "malformed endpoint '" + std::string(value) + "': " + *problem);
    return;
  }
  endpoint_field(node, key) = value;
}

std::optional<std::uint32_t> Parser::parse_ms(std::string_view key, std::string_view value, MsRange range) {
  const std::string expected =
      "expected milliseconds from " + std::to_string(range.min) + " to " + std::to_string(range.max);
  const auto ms = parse_digits(value);
  if (!ms) {
    fail_key(line_, key, "'" + std::string(value) + "' is not a whole number; " + expected);
    return std::nullopt;
  }
  if (*ms < range.min || *ms > range.max) {
    fail_key(line_, key, std::string(value) + " is out of range; " + expected);
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(*ms);
}

void Parser::check_nodes() {
  if (nodes_.empty()) {
    fail(0, "no [node.N] section; a cluster needs 1 to 15 nodes");
    return;
  }
  for (const auto& draft : nodes_) {
    for (const auto key : kEndpointKeys) {
      if (!draft.key_lines.contains(key)) {
        fail_key(draft.section_line, key,
                 "missing from [" + draft.section + "]; every node needs client, peer, election and monitor");
        return;
      }
    }
  }
}

// Every endpoint is bound by exactly one socket, so no two may be equal,
// within a node or across nodes. The later use is the one reported.
void Parser::check_shared_endpoints() {
  struct Use {
    int line;
    std::uint32_t node;
    std::string_view key;
    std::string_view endpoint;
  };
  std::vector<Use> uses;
  for (auto& draft : nodes_) {
    for (const auto key : kEndpointKeys) {
      uses.push_back(Use{draft.key_lines.find(key)->second, draft.node.id, key, endpoint_field(draft.node, key)});
    }
  }
  std::sort(uses.begin(), uses.end(), [](const Use& a, const Use& b) { return a.line < b.line; });
  std::map<std::string, const Use*> first_use;
  for (const auto& use : uses) {
    const auto [seen, inserted] = first_use.emplace(endpoint_identity(use.endpoint), &use);
    if (!inserted) {
      const Use& other = *seen->second;
      fail_key(use.line, use.key,
               "endpoint '" + std::string(use.endpoint) + "' is already used by node " + std::to_string(other.node) +
                   " key '" + std::string(other.key) + "' (line " + std::to_string(other.line) +
                   "); every endpoint must be unique");
      return;
    }
  }
}

// A follower must hear at least one heartbeat per election timeout, or it
// would start elections against a healthy leader.
void Parser::check_timing() {
  const std::uint64_t heartbeat = cluster_.heartbeat_interval_ms;
  const std::uint64_t election = cluster_.election_timeout_ms;
  if (election >= 2 * heartbeat) return;
  if (const auto set = cluster_key_lines_.find("election_timeout_ms"); set != cluster_key_lines_.end()) {
    fail_key(set->second, "election_timeout_ms",
             std::to_string(election) + " must be at least twice heartbeat_interval_ms (2 x " +
                 std::to_string(heartbeat) + " = " + std::to_string(2 * heartbeat) + ")");
  } else {
    fail_key(cluster_key_lines_.find("heartbeat_interval_ms")->second, "heartbeat_interval_ms",
             std::to_string(heartbeat) + " must be at most half of election_timeout_ms (" + std::to_string(election) +
                 " by default)");
  }
}

std::string Parser::syntax_reason(int line) const {
  const auto lines = split(text_, '\n');
  const auto index = static_cast<std::size_t>(line - 1);
  std::string_view text = index < lines.size() ? trim(lines[index]) : std::string_view{};
  if (text.size() > 60) text = text.substr(0, 60);
  return "syntax error: '" + std::string(text) + "' is neither [section], key = value nor a comment";
}

Cluster Parser::build() const {
  Cluster cluster = cluster_;
  cluster.source = name_;
  const fs::path data_dir(data_dir_);
  cluster.data_dir = (data_dir.is_absolute() ? data_dir : base_dir_ / data_dir).lexically_normal();
  for (const auto& draft : nodes_) cluster.nodes.push_back(draft.node);
  std::sort(cluster.nodes.begin(), cluster.nodes.end(),
            [](const NodeConfig& a, const NodeConfig& b) { return a.id < b.id; });
  return cluster;
}

// Reads the whole file (bounded); returns a reason on failure.
std::optional<std::string> read_file(const fs::path& file, std::string& text) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> stream(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!stream) return "cannot open: " + std::generic_category().message(errno);
  std::array<char, 4096> buffer{};
  while (text.size() <= kMaxFileBytes) {
    const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), stream.get());
    text.append(buffer.data(), n);
    if (n < buffer.size()) break;
  }
  if (std::ferror(stream.get())) return "cannot read: " + std::generic_category().message(errno);
  if (text.size() > kMaxFileBytes) return "larger than 1 MiB; this is not a cluster file";
  return std::nullopt;
}

}  // namespace

const NodeConfig* Cluster::find(std::uint32_t id) const {
  const auto it = std::find_if(nodes.begin(), nodes.end(), [id](const NodeConfig& node) { return node.id == id; });
  return it == nodes.end() ? nullptr : &*it;
}

LoadResult parse(std::string_view text, std::string_view name, const std::filesystem::path& base_dir) {
  try {
    return Parser(text, name, base_dir).run();
  } catch (const std::exception& e) {
    return ConfigError{std::string(name) + ": internal error: " + e.what()};
  }
}

LoadResult load(const std::filesystem::path& file) {
  try {
    std::string text;
    if (const auto problem = read_file(file, text)) return ConfigError{file.string() + ": " + *problem};
    LoadResult result = parse(text, file.string(), file.parent_path());
    if (auto* cluster = std::get_if<Cluster>(&result)) cluster->source = file;
    return result;
  } catch (const std::exception& e) {
    return ConfigError{file.string() + ": internal error: " + e.what()};
  }
}

}  // namespace relay::config
