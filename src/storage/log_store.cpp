// LogStore: appending, truncating, syncing and snapshotting. Reading the
// directory back at start-up lives in log_store_open.cpp.
#include "storage/log_store.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cstdio>
#include <system_error>

namespace relay::storage {
namespace fs = std::filesystem;
using detail::Fd;

namespace {

std::string segment_name(std::uint64_t first_index) {
  const std::string digits = std::to_string(first_index);
  return std::string(20 - digits.size(), '0') + digits + ".seg";
}

std::optional<std::string> write_snapshot_file(const fs::path& path, const SnapshotData& snapshot) {
  auto opened = detail::open_file(path, O_WRONLY | O_CREAT | O_TRUNC);
  if (auto* error = std::get_if<std::string>(&opened)) return *error;
  const Fd fd = std::get<Fd>(std::move(opened));
  const std::string header = encode_snapshot_header(snapshot.last_index, snapshot.last_term, snapshot.data);
  if (auto error = detail::write_all(fd.get(), header, 0, path)) return error;
  if (auto error = detail::write_all(fd.get(), snapshot.data, header.size(), path)) return error;
  return detail::sync_data(fd.get(), path);
}

}  // namespace

LogStore::LogStore(fs::path dir, FsyncMode mode, std::uint64_t segment_bytes, Fd dir_fd)
    : dir_(std::move(dir)), mode_(mode), segment_bytes_(segment_bytes), dir_fd_(std::move(dir_fd)) {}

std::string LogStore::fail(std::string error) {
  if (broken_.empty()) broken_ = error;
  return error;
}

std::optional<std::string> LogStore::check_usable() const {
  if (broken_.empty()) return std::nullopt;
  return "log " + dir_.string() + " refuses writes after an earlier failure (" + broken_ + "); reopen it";
}

std::optional<std::string> LogStore::append(const std::vector<proto::Entry>& entries) {
  if (auto error = check_usable()) return error;
  if (entries.empty()) return std::nullopt;
  const std::uint64_t first_new = last_index() + 1;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].index != first_new + i) {
      return "append: entry " + std::to_string(i) + " has index " + std::to_string(entries[i].index) +
             ", expected " + std::to_string(first_new + i) + " to continue the log";
    }
    if (record_bytes(entries[i]) - 8 > kMaxRecordLength) {
      return "append: entry " + std::to_string(entries[i].index) + " is too large to store (" +
             std::to_string(record_bytes(entries[i])) + " bytes)";
    }
  }
  std::size_t next = 0;
  while (next < entries.size()) {
    std::optional<std::string> error;
    const bool full = !segments_.empty() && !segments_.back().offsets.empty() &&
                      segments_.back().size_bytes >= segment_bytes_;
    if (segments_.empty() || full) {
      error = roll_segment(entries[next].index);
    } else if (!active_.valid()) {
      error = open_active();
    }
    if (!error) error = write_chunk(entries, next);
    if (error) {
      // Earlier chunks of this call may sit in earlier segments: take them out
      // too, so that the log is exactly as it was.
      if (!broken_.empty()) return error;
      if (auto undo = remove_from(first_new)) return *error + "; undoing the partial append failed too: " + *undo;
      return error;
    }
  }
  if (mode_ == FsyncMode::always) return sync();
  return std::nullopt;
}

// Writes entries from `next` on into the last segment with one pwrite, up to
// the record that takes the segment past segment_bytes_; advances `next`.
std::optional<std::string> LogStore::write_chunk(const std::vector<proto::Entry>& entries, std::size_t& next) {
  Segment& segment = segments_.back();
  const std::size_t old_count = segment.offsets.size();
  const std::size_t first = next;
  scratch_.clear();
  while (next < entries.size() && (next == first || segment.size_bytes + scratch_.size() < segment_bytes_)) {
    segment.offsets.push_back(segment.size_bytes + scratch_.size());
    encode_record(entries[next], scratch_);
    ++next;
  }
  if (auto error = detail::write_all(active_.get(), scratch_, segment.size_bytes, segment.path)) {
    segment.offsets.resize(old_count);
    if (auto cut = detail::truncate_file(active_.get(), segment.size_bytes, segment.path)) {
      return fail(*error + "; cutting off the partial write failed too: " + *cut);
    }
    return error;
  }
  segment.size_bytes += scratch_.size();
  active_dirty_ = true;
  if (scratch_.capacity() > (16u << 20)) scratch_ = std::string();  // do not keep a huge batch's buffer
  return std::nullopt;
}

std::optional<std::string> LogStore::roll_segment(std::uint64_t first_index) {
  // The old segment is complete: sync it now (in every mode) so that only the
  // last segment can ever hold a torn write.
  if (active_.valid() && active_dirty_) {
    if (auto error = detail::sync_data(active_.get(), segments_.back().path)) return fail(*error);
  }
  active_.reset();
  active_dirty_ = false;
  Segment segment{dir_ / segment_name(first_index), first_index, {}, 0};
  auto opened = detail::open_file(segment.path, O_WRONLY | O_CREAT | O_EXCL);
  if (auto* error = std::get_if<std::string>(&opened)) return *error;
  active_ = std::get<Fd>(std::move(opened));
  segments_.push_back(std::move(segment));
  dir_dirty_ = true;
  return std::nullopt;
}

std::optional<std::string> LogStore::open_active() {
  auto opened = detail::open_file(segments_.back().path, O_WRONLY);
  if (auto* error = std::get_if<std::string>(&opened)) return *error;
  active_ = std::get<Fd>(std::move(opened));
  return std::nullopt;
}

std::optional<std::string> LogStore::truncate_from(std::uint64_t index) {
  if (auto error = check_usable()) return error;
  if (index <= snapshot_index_) {
    return "truncate_from: index " + std::to_string(index) + " is covered by the snapshot at index " +
           std::to_string(snapshot_index_);
  }
  if (index > last_index()) return std::nullopt;
  return remove_from(index);
}

// Any failure here leaves the files in a state the in-memory view may not
// match, so it marks the store broken.
std::optional<std::string> LogStore::remove_from(std::uint64_t index) {
  bool unlinked = false;
  while (!segments_.empty() && segments_.back().first_index >= index) {
    active_.reset();
    active_dirty_ = false;
    if (auto error = detail::remove_file(segments_.back().path)) return fail(*error);
    segments_.pop_back();
    unlinked = true;
  }
  // The removals must be durable before the segment in front is shortened:
  // otherwise a crash could keep a later segment behind a shortened one, a
  // hole that open() refuses. Done in every mode for that reason.
  if (unlinked) {
    if (auto error = sync_dir()) return error;
  }
  if (segments_.empty() || segments_.back().last_index() < index) return std::nullopt;
  Segment& segment = segments_.back();
  if (!active_.valid()) {
    if (auto error = open_active()) return fail(*error);
  }
  const std::uint64_t keep = index - segment.first_index;
  const std::uint64_t size_bytes = segment.offsets[keep];
  if (auto error = detail::truncate_file(active_.get(), size_bytes, segment.path)) return fail(*error);
  segment.offsets.resize(keep);
  segment.size_bytes = size_bytes;
  active_dirty_ = true;
  if (mode_ != FsyncMode::never) {
    if (auto error = detail::sync_data(active_.get(), segment.path)) return fail(*error);
    active_dirty_ = false;
  }
  return std::nullopt;
}

std::optional<std::string> LogStore::sync() {
  if (mode_ == FsyncMode::never) return std::nullopt;
  if (auto error = check_usable()) return error;
  // After a failed fsync the kernel may have dropped the dirty pages and a
  // retry would "succeed" without them, hence fail(): only a reopen, which
  // reads what really is on disk, can continue.
  if (active_dirty_ && active_.valid()) {
    if (auto error = detail::sync_data(active_.get(), segments_.back().path)) return fail(*error);
  }
  active_dirty_ = false;
  if (dir_dirty_) return sync_dir();
  return std::nullopt;
}

bool LogStore::sync_pending() const { return mode_ != FsyncMode::never && (active_dirty_ || dir_dirty_); }

std::optional<std::string> LogStore::sync_dir() {
  if (auto error = detail::sync_all(dir_fd_.get(), dir_)) return fail(*error);
  dir_dirty_ = false;
  return std::nullopt;
}

std::optional<std::string> LogStore::save_snapshot(const SnapshotData& snapshot) {
  if (auto error = check_usable()) return error;
  if (snapshot.last_index < snapshot_index_) {
    return "save_snapshot: index " + std::to_string(snapshot.last_index) + " is older than the snapshot at index " +
           std::to_string(snapshot_index_);
  }
  const fs::path path =
      dir_ / ("snapshot-" + std::to_string(snapshot.last_index) + "-" + std::to_string(snapshot.last_term));
  fs::path temporary = path;
  temporary += ".tmp";
  // Snapshots are synced in every mode: the segments they replace are deleted.
  if (auto error = write_snapshot_file(temporary, snapshot)) {
    ::unlink(temporary.c_str());
    return error;
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    auto error = detail::error_text("rename to " + path.string() + ":", temporary, errno);
    ::unlink(temporary.c_str());
    return error;
  }
  if (auto error = sync_dir()) return error;
  snapshot_index_ = snapshot.last_index;
  snapshot_term_ = snapshot.last_term;

  bool removed = false;
  auto problem = remove_other_snapshots(path, removed);
  if (!problem) problem = drop_covered_segments(removed);
  std::optional<std::string> synced;
  if (removed) synced = sync_dir();
  if (problem) return "snapshot " + path.string() + " saved, but " + *problem;
  return synced;
}

std::optional<std::string> LogStore::remove_other_snapshots(const fs::path& keep, bool& removed) {
  std::error_code ec;
  std::vector<fs::path> others;
  for (fs::directory_iterator it(dir_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().starts_with("snapshot-") && it->path() != keep) others.push_back(it->path());
  }
  if (ec) return "list " + dir_.string() + ": " + ec.message();
  for (const auto& other : others) {
    if (auto error = detail::remove_file(other)) return error;
    removed = true;
  }
  return std::nullopt;
}

// Deletes segments whose entries the snapshot covers, oldest first, so that a
// crash half-way leaves the remaining segments contiguous.
std::optional<std::string> LogStore::drop_covered_segments(bool& removed) {
  while (!segments_.empty() && segments_.front().last_index() <= snapshot_index_) {
    if (segments_.size() == 1) {
      active_.reset();
      active_dirty_ = false;
    }
    if (auto error = detail::remove_file(segments_.front().path)) return error;
    segments_.erase(segments_.begin());
    removed = true;
  }
  return std::nullopt;
}

std::uint64_t LogStore::first_index() const {
  if (segments_.empty()) return snapshot_index_ + 1;
  return std::max(segments_.front().first_index, snapshot_index_ + 1);
}

std::uint64_t LogStore::last_index() const {
  if (segments_.empty()) return snapshot_index_;
  return std::max(segments_.back().last_index(), snapshot_index_);
}

std::uint64_t LogStore::bytes_since_snapshot() const {
  std::uint64_t total = 0;
  for (const auto& segment : segments_) {
    if (segment.offsets.empty() || segment.last_index() <= snapshot_index_) continue;
    if (segment.first_index > snapshot_index_) {
      total += segment.size_bytes;
    } else {
      total += segment.size_bytes - segment.offsets[snapshot_index_ + 1 - segment.first_index];
    }
  }
  return total;
}

}  // namespace relay::storage
