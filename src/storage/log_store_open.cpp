// LogStore::open: reading the directory back, checking that the log has no
// hole, and cutting off a torn write at the tail of the last segment.
#include <fcntl.h>
#include <sys/file.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <system_error>

#include "storage/log_store.hpp"

namespace relay::storage {
namespace fs = std::filesystem;
using detail::Fd;

namespace {

std::optional<std::uint64_t> parse_number(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "00000000000000000042.seg" -> 42
std::optional<std::uint64_t> segment_index(std::string_view name) {
  if (name.size() != 24 || !name.ends_with(".seg")) return std::nullopt;
  const auto digits = name.substr(0, 20);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return parse_number(digits);
}

// "snapshot-42-3" -> {42, 3}
std::optional<std::pair<std::uint64_t, proto::Term>> snapshot_name(std::string_view name) {
  constexpr std::string_view kPrefix = "snapshot-";
  if (!name.starts_with(kPrefix)) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  const auto dash = name.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto index = parse_number(name.substr(0, dash));
  const auto term = parse_number(name.substr(dash + 1));
  if (!index || !term) return std::nullopt;
  return std::pair{*index, *term};
}

struct Listing {
  std::vector<std::pair<std::uint64_t, fs::path>> segments;
  std::vector<detail::SnapshotFile> snapshots;
  std::vector<fs::path> temporaries;  // snapshots whose writing was interrupted
};

std::variant<Listing, std::string> list_dir(const fs::path& dir) {
  Listing listing;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (const auto index = segment_index(name)) {
      listing.segments.emplace_back(*index, it->path());
    } else if (name.starts_with("snapshot-") && name.ends_with(".tmp")) {
      listing.temporaries.push_back(it->path());
    } else if (const auto snapshot = snapshot_name(name)) {
      listing.snapshots.push_back({snapshot->first, snapshot->second, it->path()});
    }
  }
  if (ec) return "list " + dir.string() + ": " + ec.message();
  std::sort(listing.segments.begin(), listing.segments.end());
  return listing;
}

bool all_zero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == '\0'; });
}

std::string corruption(const fs::path& path, std::uint64_t offset, std::uint64_t index, std::string_view reason) {
  return "corrupt log: " + path.string() + " at byte offset " + std::to_string(offset) + " (expected index " +
         std::to_string(index) + "): " + std::string(reason);
}

// True if a chain of valid records with consecutive indexes starts at `at`
// and runs to the end of `bytes`, or to a tail of zero bytes.
bool valid_chain_to_end(std::string_view bytes, std::uint64_t at, std::uint64_t index) {
  while (at < bytes.size()) {
    const RecordRead read = decode_record(bytes.substr(at));
    if (read.status != RecordStatus::ok || read.entry.index != index) return all_zero(bytes.substr(at));
    at += read.bytes;
    ++index;
  }
  return true;
}

// Where valid records resume after the bad record at `bad` (which should
// have held index `index`): the offset and index of the first record that
// starts a valid chain to the end of the file. A torn write ends the file, so
// such a chain means the bad bytes lie inside the durable log. Requiring the
// chain to reach the end keeps a lone lookalike inside a torn record's
// payload from being taken for one. Runs only after a record failed, so a
// byte-by-byte scan is affordable; the index field filters candidates before
// any checksum is computed.
std::optional<std::pair<std::uint64_t, std::uint64_t>> find_resumed_log(std::string_view bytes, std::uint64_t bad,
                                                                        std::uint64_t index) {
  static const std::uint64_t kMinRecordBytes = record_bytes(proto::Entry{});
  for (std::uint64_t at = bad + 1; at + kRecordHeaderBytes <= bytes.size(); ++at) {
    const std::uint64_t candidate = record_index_field(bytes.substr(at));
    // At most one record per kMinRecordBytes fits between the two.
    if (candidate <= index || candidate - index > (at - bad) / kMinRecordBytes + 1) continue;
    const RecordRead read = decode_record(bytes.substr(at));
    if (read.status == RecordStatus::ok && read.entry.index == candidate && valid_chain_to_end(bytes, at, candidate)) {
      return std::pair{at, candidate};
    }
  }
  return std::nullopt;
}

// Creates `dir` and its missing parents, syncing each new directory's name
// into its parent: otherwise a power cut could lose a new node's whole data
// directory, with the vote stored in it, after the node had answered.
std::optional<std::string> create_durably(const fs::path& dir) {
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path at = dir; !at.empty() && !fs::exists(at, ec); at = at.parent_path()) {
    missing.push_back(at);
    if (at == at.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (!fs::create_directory(*it, ec) && ec) return "create directory " + it->string() + ": " + ec.message();
    const fs::path parent = it->parent_path().empty() ? fs::path(".") : it->parent_path();
    auto opened = detail::open_file(parent, O_RDONLY | O_DIRECTORY);
    if (auto* error = std::get_if<std::string>(&opened)) return *error;
    if (auto error = detail::sync_all(std::get<Fd>(opened).get(), parent)) return error;
  }
  return std::nullopt;
}

}  // namespace

std::variant<std::pair<LogStore, Recovery>, std::string> LogStore::open(const fs::path& dir, FsyncMode mode,
                                                                       std::uint64_t segment_bytes) {
  if (auto error = create_durably(dir)) return *error;
  auto opened = detail::open_file(dir, O_RDONLY | O_DIRECTORY);
  if (auto* error = std::get_if<std::string>(&opened)) return *error;
  Fd dir_fd = std::get<Fd>(std::move(opened));
  // Two writers on one log would interleave records; the lock makes the
  // second one fail at start-up instead.
  if (::flock(dir_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return dir.string() + ": the log is already open in another process (is this node already running?)";
    }
    return detail::error_text("lock", dir, errno);
  }
  auto listed = list_dir(dir);
  if (auto* error = std::get_if<std::string>(&listed)) return *error;
  Listing listing = std::get<Listing>(std::move(listed));

  LogStore store(dir, mode, segment_bytes, std::move(dir_fd));
  Recovery recovery;
  bool removed = false;
  for (const auto& path : listing.temporaries) {
    if (auto error = detail::remove_file(path)) return *error;
    removed = true;
  }
  if (auto error = store.load_snapshot(std::move(listing.snapshots), recovery)) return *error;
  if (auto error = store.load_segments(listing.segments, recovery)) return *error;
  // Without this, a lost snapshot and its deleted segments would open as an
  // empty log, and the node would forget what it acknowledged.
  if (!store.invalid_snapshot_.empty() && store.invalid_snapshot_index_ > store.last_index()) {
    return "corrupt snapshot " + store.invalid_snapshot_ + "; no older snapshot or segment holds entries up to index " +
           std::to_string(store.invalid_snapshot_index_);
  }
  // Finishes a save_snapshot that a crash interrupted before its deletions.
  if (auto error = store.drop_covered_segments(removed)) return *error;
  if (removed) {
    if (auto error = store.sync_dir()) return *error;
  }
  return std::pair<LogStore, Recovery>(std::move(store), std::move(recovery));
}

std::optional<std::string> LogStore::load_snapshot(std::vector<detail::SnapshotFile> files, Recovery& recovery) {
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return std::pair{a.index, a.term} > std::pair{b.index, b.term}; });
  for (const auto& file : files) {
    std::string bytes;
    if (auto error = detail::read_all(file.path, bytes)) return error;
    SnapshotData snapshot;
    auto problem = decode_snapshot(bytes, snapshot.last_index, snapshot.last_term, snapshot.data);
    if (!problem && (snapshot.last_index != file.index || snapshot.last_term != file.term)) {
      problem = "its header says index " + std::to_string(snapshot.last_index) + " term " +
                std::to_string(snapshot.last_term) + ", unlike its name";
    }
    if (problem) {
      // An older valid snapshot may still do, provided the segments reach
      // this one's index (checked in open()).
      if (invalid_snapshot_.empty()) {
        invalid_snapshot_ = file.path.string() + ": " + *problem;
        invalid_snapshot_index_ = file.index;
      }
      recovery.report += (recovery.report.empty() ? "" : "; ") + std::string("skipped invalid snapshot ") +
                         file.path.string() + ": " + *problem;
      continue;
    }
    snapshot_index_ = snapshot.last_index;
    snapshot_term_ = snapshot.last_term;
    recovery.snapshot = std::move(snapshot);
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> LogStore::load_segments(
    const std::vector<std::pair<std::uint64_t, fs::path>>& files, Recovery& recovery) {
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& [first, path] = files[i];
    if (first == 0) return path.string() + ": a segment cannot start at index 0";
    if (i == 0 && first > snapshot_index_ + 1) {
      return "corrupt log: " + path.string() + " starts at index " + std::to_string(first) + " but " +
             (snapshot_index_ == 0 ? std::string("there is no snapshot")
                                   : "the snapshot ends at index " + std::to_string(snapshot_index_)) +
             ": entries are missing";
    }
    if (i > 0 && first != segments_.back().last_index() + 1) {
      return "corrupt log: " + path.string() + " starts at index " + std::to_string(first) +
             " but the segment before it ends at index " + std::to_string(segments_.back().last_index()) +
             " (a segment is missing or misnamed)";
    }
    segments_.push_back(Segment{path, first, {}, 0});
    if (auto error = load_segment(segments_.back(), i + 1 == files.size(), recovery)) return error;
  }
  return std::nullopt;
}

std::optional<std::string> LogStore::load_segment(Segment& segment, bool last, Recovery& recovery) {
  std::string bytes;
  if (auto error = detail::read_all(segment.path, bytes)) return error;
  const std::string_view view(bytes);
  std::uint64_t offset = 0;
  while (offset < bytes.size()) {
    const std::uint64_t index = segment.last_index() + 1;
    RecordRead read = decode_record(view.substr(offset));
    if (read.status == RecordStatus::ok && read.entry.index != index) {
      return corruption(segment.path, offset, index, "the record holds index " + std::to_string(read.entry.index));
    }
    if (read.status != RecordStatus::ok) {
      if (auto error = check_torn(segment, view, offset, index, read, last)) return error;
      return cut_torn_tail(segment, offset, bytes.size(),
                           all_zero(view.substr(offset)) ? "zero bytes" : to_string(read.status), recovery);
    }
    segment.offsets.push_back(offset);
    offset += read.bytes;
    segment.size_bytes = offset;
    if (index > snapshot_index_) recovery.entries.push_back(std::move(read.entry));
  }
  return std::nullopt;
}

// Nothing, if the bad record at `offset` (which should hold `index`) is a
// torn write: only the last write can be torn, and it ends the last segment.
// That is so when everything from it on is zero bytes (the file grew, its
// data never came), or when no valid log resumes after it and it is either
// cut short by the end of the file or fails its checksum with nothing but
// zeros after its stated end. Anything else is corruption inside the durable
// log: cutting there would drop entries that may have been acknowledged.
std::optional<std::string> LogStore::check_torn(const Segment& segment, std::string_view bytes, std::uint64_t offset,
                                                std::uint64_t index, const RecordRead& read, bool last) {
  const std::string status = to_string(read.status);
  if (!last) return corruption(segment.path, offset, index, status);
  if (all_zero(bytes.substr(offset))) return std::nullopt;
  if (const auto resumed = find_resumed_log(bytes, offset, index)) {
    return corruption(segment.path, offset, index,
                      status + ", yet valid records follow from index " + std::to_string(resumed->second) +
                          " at byte offset " + std::to_string(resumed->first) + ", so this is not a torn write");
  }
  const bool cut_short = read.status == RecordStatus::cut_short;
  const bool torn_body = read.status == RecordStatus::bad_checksum && all_zero(bytes.substr(offset + read.bytes));
  if (cut_short || torn_body) return std::nullopt;
  return corruption(segment.path, offset, index, status + " in the last record, with data after it: not a torn write");
}

std::optional<std::string> LogStore::cut_torn_tail(Segment& segment, std::uint64_t offset, std::uint64_t file_bytes,
                                                   std::string_view reason, Recovery& recovery) {
  auto opened = detail::open_file(segment.path, O_WRONLY);
  if (auto* error = std::get_if<std::string>(&opened)) return *error;
  const Fd fd = std::get<Fd>(std::move(opened));
  if (auto error = detail::truncate_file(fd.get(), offset, segment.path)) return error;
  if (auto error = detail::sync_data(fd.get(), segment.path)) return error;
  segment.size_bytes = offset;
  recovery.report += (recovery.report.empty() ? "" : "; ") + std::string("truncated a torn write at the tail of ") +
                     segment.path.string() + ": byte offset " + std::to_string(offset) + ", index " +
                     std::to_string(segment.last_index() + 1) + " and after (" + std::string(reason) + ", " +
                     std::to_string(file_bytes - offset) + " bytes dropped)";
  return std::nullopt;
}

}  // namespace relay::storage
