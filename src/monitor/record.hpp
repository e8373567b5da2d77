// Recordings of monitor sessions: JSON lines, one header then one line per
// received event, in the order received. The format is documented in
// docs/monitor.md; replay and the HTML report read it back.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "monitor/event.hpp"

namespace relay::monitor {

inline constexpr std::uint64_t kRecordVersion = 1;

// The first line of a recording: what the events need to be understood.
struct RecordHeader {
  std::uint64_t version = kRecordVersion;
  std::uint64_t started_us = 0;  // monitor clock when the session began
  std::vector<proto::NodeId> nodes;
  std::uint32_t heartbeat_interval_ms = 50;
  std::uint32_t election_timeout_ms = 300;
  std::string config;  // the configuration file it watched, for people
};

std::string header_line(const RecordHeader& header);
std::string event_line(const Event& event);

// Writes a session as it happens; each line is flushed so that a monitor
// killed mid-session leaves a readable recording.
class RecordWriter {
 public:
  // Returns an error line instead when the file cannot be created.
  static std::variant<RecordWriter, std::string> open(const std::filesystem::path& path, const RecordHeader& header);
  void write(const Event& event);
  bool failed() const { return failed_; }

  RecordWriter(RecordWriter&& other) noexcept;
  RecordWriter& operator=(RecordWriter&&) = delete;
  RecordWriter(const RecordWriter&) = delete;
  ~RecordWriter();

 private:
  explicit RecordWriter(std::FILE* file) : file_(file) {}
  std::FILE* file_;
  bool failed_ = false;
};

struct RecordReadResult {
  std::string error;  // "FILE:LINE: what is wrong", empty when the whole file was read
  RecordHeader header;
};

// Reads a recording: the header through `on_header`, then each event in
// order through `on_event` (which returns false to stop early).
RecordReadResult read_record(const std::filesystem::path& path,
                             const std::function<void(const RecordHeader&)>& on_header,
                             const std::function<bool(const Event&)>& on_event);

}  // namespace relay::monitor
