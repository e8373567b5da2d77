// LogStore: the durable copy of one node's replicated log on local disk. The
// shell owns one per node and calls it from its loop thread only (it is not
// thread-safe); the core never sees it. Errors come back as one line of text,
// never as exceptions.
//
// Layout of the directory (e.g. data_dir/node-1/log):
//   NNNNNNNNNNNNNNNNNNNN.seg   a segment, named by the index of its first record
//                              (20 digits, zero-padded). Records are appended;
//                              a new segment starts once the last one has passed
//                              `segment_bytes`.
//   snapshot-<index>-<term>    the state machine as of <index>; written to
//                              <name>.tmp, fsynced, renamed, directory fsynced.
// Record (little-endian; see record.hpp):
//   [length u32][crc32c u32][index u64][term u64][payload]
//   length = bytes after the crc field; crc32c over those same bytes;
//   payload = [op u8][request_id u64] then client_id, key, value, expected,
//   each as [size u32][bytes].
// Snapshot file: ["RRSNAP01"][crc32c u32][last_index u64][last_term u64]
//   [size u64][data], the crc over everything after it.
//
// What must hold: indexes run consecutively from the first segment to the last,
// the first segment starts at or before snapshot.last_index + 1 (at 1 when there
// is no snapshot), and only the last segment is ever written.
//
// Recovery rules: a torn write can only end the LAST segment. A bad record
// there is torn, and cut off with everything after it, when the rest of the
// file is zero bytes, or when no valid chain of records resumes after it and
// it is cut short by the end of the file or fails its checksum with only
// zeros after its stated end. Any other bad record (a valid log resumes after
// it, data follows it, its length field is impossible, its checksum is fine
// but its payload is not), a bad record in any other segment, a
// checksum-valid record with the wrong index, or a gap between segments is
// corruption: open() fails naming file and offset.
//
// Deliberate choices beyond the brief: the directory is locked with flock, so
// a second LogStore (or process) on it fails to open; a failed fsync, or a
// failed undo of a failed write, makes the store refuse further writes (the page
// cache can no longer be trusted; reopen to re-read the disk); a segment is
// fdatasynced when it is rolled over and the directory is fsynced when
// truncate_from removes whole segments, in every mode, so that even mode
// `never` cannot leave a log with a hole after a machine crash; snapshots are
// always fsynced.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "proto/messages.hpp"
#include "storage/file.hpp"
#include "storage/record.hpp"

namespace relay::storage {

enum class FsyncMode { always, batch, never };

struct SnapshotData {
  std::uint64_t last_index = 0;  // the last log index the state covers
  proto::Term last_term = 0;     // that entry's term
  std::string data;              // the serialised state machine, opaque here
};

// What open() found on disk.
struct Recovery {
  std::optional<SnapshotData> snapshot;  // the newest valid snapshot, if any
  std::vector<proto::Entry> entries;     // entries after the snapshot, in index order, no gaps
  std::string report;  // human text when a torn tail was truncated or an invalid snapshot skipped, else ""
};

namespace detail {
struct SnapshotFile {  // a snapshot-<index>-<term> found in the directory
  std::uint64_t index = 0;
  proto::Term term = 0;
  std::filesystem::path path;
};
}  // namespace detail

class LogStore {
 public:
  // Opens or creates `dir`, reads the newest valid snapshot and every segment,
  // cuts off a torn tail of the last segment (fsynced, described in the
  // report), removes leftover snapshot temporaries and segments a snapshot
  // already covers. Corruption returns an error naming file and byte offset.
  static std::variant<std::pair<LogStore, Recovery>, std::string> open(const std::filesystem::path& dir,
                                                                       FsyncMode mode,
                                                                       std::uint64_t segment_bytes = 64u << 20);

  LogStore(LogStore&&) noexcept = default;
  LogStore& operator=(LogStore&&) noexcept = default;
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;
  ~LogStore() = default;  // does not sync: call sync() first if it matters

  // Appends entries whose indexes continue the log (the first is last_index()+1;
  // after a snapshot with an empty log, snapshot.last_index+1). One pwrite per
  // segment touched. Mode always: synced before it returns. A failed or short
  // write returns the error and leaves the log as it was before the call.
  std::optional<std::string> append(const std::vector<proto::Entry>& entries);

  // Removes every entry with index >= `index` (an uncommitted conflicting
  // suffix), across segments; synced except in mode never. `index` must be
  // above the snapshot; beyond last_index() it does nothing.
  std::optional<std::string> truncate_from(std::uint64_t index);

  // Makes everything appended so far durable: fdatasync of the segment written
  // since the last sync and fsync of the directory after a segment was created.
  // A no-op in mode never and when nothing is pending.
  std::optional<std::string> sync();
  bool sync_pending() const;

  // Writes snapshot-<index>-<term> atomically, then deletes the other
  // snapshots and every segment whose entries are all <= last_index (all of
  // them when the snapshot is ahead of the log, as after installing a leader's
  // snapshot). The caller first truncates a conflicting suffix, if any.
  // `last_index` must not be below the current snapshot's.
  std::optional<std::string> save_snapshot(const SnapshotData& snapshot);

  std::uint64_t first_index() const;  // first entry held (snapshot.last_index+1 when empty)
  std::uint64_t last_index() const;   // the last entry, or the snapshot's last_index; 0 when nothing at all
  std::uint64_t bytes_since_snapshot() const;  // record bytes of entries after the snapshot
  FsyncMode mode() const { return mode_; }
  std::uint64_t snapshot_index() const { return snapshot_index_; }  // 0 without a snapshot
  proto::Term snapshot_term() const { return snapshot_term_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct Segment {
    std::filesystem::path path;
    std::uint64_t first_index = 0;        // from the file name
    std::vector<std::uint64_t> offsets;   // byte offset of each record, in index order
    std::uint64_t size_bytes = 0;         // the file's length: whole records only
    std::uint64_t last_index() const { return first_index + offsets.size() - 1; }  // first-1 when empty
  };
  LogStore(std::filesystem::path dir, FsyncMode mode, std::uint64_t segment_bytes, detail::Fd dir_fd);

  // open() helpers (log_store_open.cpp).
  std::optional<std::string> load_snapshot(std::vector<detail::SnapshotFile> files, Recovery& recovery);
  std::optional<std::string> load_segments(const std::vector<std::pair<std::uint64_t, std::filesystem::path>>& files,
                                           Recovery& recovery);
  std::optional<std::string> load_segment(Segment& segment, bool last, Recovery& recovery);
  static std::optional<std::string> check_torn(const Segment& segment, std::string_view bytes, std::uint64_t offset,
                                               std::uint64_t index, const RecordRead& read, bool last);
  std::optional<std::string> cut_torn_tail(Segment& segment, std::uint64_t offset, std::uint64_t file_bytes,
                                           std::string_view reason, Recovery& recovery);

  std::optional<std::string> write_chunk(const std::vector<proto::Entry>& entries, std::size_t& next);
  std::optional<std::string> roll_segment(std::uint64_t first_index);
  std::optional<std::string> open_active();
  std::optional<std::string> remove_from(std::uint64_t index);
  std::optional<std::string> drop_covered_segments(bool& removed);
  std::optional<std::string> remove_other_snapshots(const std::filesystem::path& keep, bool& removed);
  std::optional<std::string> sync_dir();
  std::string fail(std::string error);  // marks the store broken and returns the error
  std::optional<std::string> check_usable() const;

  std::filesystem::path dir_;
  FsyncMode mode_ = FsyncMode::batch;
  std::uint64_t segment_bytes_ = 0;
  detail::Fd dir_fd_;               // open for fsync and holding the flock
  std::vector<Segment> segments_;   // in index order; the last one is the one written
  detail::Fd active_;               // the last segment, opened for writing on first need
  bool active_dirty_ = false;       // data written to active_ since its last fdatasync
  bool dir_dirty_ = false;          // a segment was created since the directory's last fsync
  std::uint64_t snapshot_index_ = 0;
  proto::Term snapshot_term_ = 0;
  std::string broken_;              // why the store refuses writes; "" while healthy
  std::string invalid_snapshot_;              // open() only: the newest invalid snapshot and why
  std::uint64_t invalid_snapshot_index_ = 0;  // ... and its index
  std::string scratch_;             // the write buffer, kept to reuse its capacity
};

}  // namespace relay::storage
