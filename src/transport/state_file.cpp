#include "transport/state_file.hpp"

#include "core/node.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace relay::transport {

namespace {

constexpr std::string_view kHeader = "relay-raft state v1";

// FNV-1a: enough to tell a damaged file from a good one; not a defence
// against someone who edits the file on purpose.
std::uint64_t checksum(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string body_of(const core::DurableState& state) {
  return std::string(kHeader) + "\nterm " + std::to_string(state.term) + "\nvoted_for " +
         std::to_string(state.voted_for) + "\n";
}

template <typename Number>
bool parse_line(std::istream& in, std::string_view name, Number& value) {
  std::string line;
  if (!std::getline(in, line) || line.rfind(std::string(name) + " ", 0) != 0) return false;
  const auto digits = std::string_view(line).substr(name.size() + 1);
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return error == std::errc{} && end == digits.data() + digits.size();
}

std::string system_error(const std::filesystem::path& path, const char* what) {
  return path.string() + ": " + what + ": " + std::strerror(errno);
}

bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const auto written = ::write(fd, text.data(), text.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

std::optional<std::string> sync_directory(const std::filesystem::path& directory) {
  const int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return system_error(directory, "cannot open directory");
  const bool synced = ::fsync(dir) == 0;
  const auto error = system_error(directory, "cannot sync directory");
  ::close(dir);
  if (!synced) return error;
  return std::nullopt;
}

}  // namespace

StateFile::StateFile(std::filesystem::path directory)
    : directory_(std::move(directory)), path_(directory_ / "state") {}

std::variant<core::DurableState, std::string> StateFile::load() const {
  std::error_code error;
  if (!std::filesystem::exists(path_, error)) {
    if (error) return path_.string() + ": cannot check: " + error.message();
    return core::DurableState{};
  }
  std::ifstream file(path_, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  if (!file) return system_error(path_, "cannot read state file");
  const auto text = contents.str();
  const auto footer = text.rfind("checksum ");
  core::DurableState state;
  std::istringstream lines(text);
  std::string header;
  std::uint64_t stored_sum = 0;
  std::istringstream footer_line(footer == std::string::npos ? "" : text.substr(footer));
  if (!std::getline(lines, header) || header != kHeader || !parse_line(lines, "term", state.term) ||
      !parse_line(lines, "voted_for", state.voted_for) ||
      state.term >= core::kMaxTerm || !parse_line(footer_line, "checksum", stored_sum) ||
      checksum(std::string_view(text).substr(0, footer)) != stored_sum) {
    return path_.string() +
           ": state file is damaged (refusing to start: a fresh state could vote twice in a term; "
           "restore it, or, only while every other node is up and healthy, remove the node's directory so "
           "that it rejoins empty)";
  }
  return state;
}

std::optional<std::string> StateFile::store(const core::DurableState& state) const {
  std::error_code error;
  if (!std::filesystem::exists(directory_, error)) {
    std::filesystem::create_directories(directory_, error);
    if (error) return directory_.string() + ": cannot create: " + error.message();
    // The new directory's name lives in its parent: sync that too, or a
    // power cut could lose the directory along with the vote inside it.
    if (auto sync_error = sync_directory(directory_.parent_path())) return sync_error;
  }
  const auto body = body_of(state);
  const auto text = body + "checksum " + std::to_string(checksum(body)) + "\n";
  const auto temporary = path_.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return system_error(temporary, "cannot open");
  const bool written = write_all(fd, text) && ::fsync(fd) == 0;
  const auto write_error = system_error(temporary, "cannot write");
  ::close(fd);
  if (!written) return write_error;
  if (::rename(temporary.c_str(), path_.c_str()) != 0) return system_error(path_, "cannot rename");
  return sync_directory(directory_);
}

}  // namespace relay::transport
