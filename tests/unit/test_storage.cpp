// Log storage: records survive a reopen across segments, truncation and
// snapshots; a torn tail is cut off and reported; corruption anywhere else is
// an error naming file and offset; a failed write leaves the log as it was.
// Every case works in a fresh directory under /tmp, removed afterwards.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "storage/log_store.hpp"

namespace fs = std::filesystem;
using relay::proto::Entry;
using relay::proto::Op;
using relay::storage::FsyncMode;
using relay::storage::LogStore;
using relay::storage::Recovery;
using relay::storage::SnapshotData;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = "/tmp/relay-storage-test-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path log() const { return path / "log"; }
};

// Fixed-width fields, so every entry's record has the same size.
Entry make_entry(std::uint64_t index, relay::proto::Term term) {
  const std::string digits = std::to_string(index);
  const std::string padded = std::string(6 - digits.size(), '0') + digits;
  return Entry{index, term, Op::put, "client-7", index * 10, "key-" + padded, "value-" + padded, ""};
}

std::vector<Entry> make_entries(std::uint64_t first, std::uint64_t count, relay::proto::Term term = 1) {
  std::vector<Entry> entries;
  for (std::uint64_t i = 0; i < count; ++i) entries.push_back(make_entry(first + i, term));
  return entries;
}

std::pair<LogStore, Recovery> open_ok(const fs::path& dir, FsyncMode mode = FsyncMode::batch,
                                      std::uint64_t segment_bytes = 64u << 20) {
  auto result = LogStore::open(dir, mode, segment_bytes);
  if (const auto* error = std::get_if<std::string>(&result)) FAIL("open failed: " << *error);
  return std::get<std::pair<LogStore, Recovery>>(std::move(result));
}

std::string open_error(const fs::path& dir, std::uint64_t segment_bytes = 64u << 20) {
  auto result = LogStore::open(dir, FsyncMode::batch, segment_bytes);
  REQUIRE_MESSAGE(std::holds_alternative<std::string>(result), "expected open to fail");
  return std::get<std::string>(result);
}

void check_same(const Entry& got, const Entry& want) {
  CHECK(got.index == want.index);
  CHECK(got.term == want.term);
  CHECK(got.op == want.op);
  CHECK(got.client_id == want.client_id);
  CHECK(got.request_id == want.request_id);
  CHECK(got.key == want.key);
  CHECK(got.value == want.value);
  CHECK(got.expected == want.expected);
}

// The entries hold exactly the indexes first..last with make_entry's contents.
void check_range(const std::vector<Entry>& entries, std::uint64_t first, std::uint64_t last) {
  REQUIRE(entries.size() == last + 1 - first);
  for (std::uint64_t i = first; i <= last; ++i) check_same(entries[i - first], make_entry(i, entries[i - first].term));
}

std::vector<fs::path> files_named(const fs::path& dir, std::string_view suffix) {
  std::vector<fs::path> files;
  for (const auto& item : fs::directory_iterator(dir)) {
    if (item.path().filename().string().ends_with(suffix)) files.push_back(item.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void flip_byte(const fs::path& file, std::uint64_t offset) {
  std::fstream stream(file, std::ios::in | std::ios::out | std::ios::binary);
  stream.seekg(static_cast<std::streamoff>(offset));
  char byte = 0;
  stream.get(byte);
  stream.seekp(static_cast<std::streamoff>(offset));
  stream.put(static_cast<char>(byte ^ 0x5A));
}

std::uint64_t record_size() { return relay::storage::record_bytes(make_entry(1, 1)); }

// Lowers the soft RLIMIT_FSIZE so that writes past `bytes` fail with EFBIG
// (SIGXFSZ ignored); restores both when it goes out of scope.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved_) == 0);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  }
  ~FileSizeLimit() { restore(); }
  void restore() {
    if (restored_) return;
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, old_handler_);
    restored_ = true;
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = SIG_DFL;
  bool restored_ = false;
};

}  // namespace

TEST_CASE("crc32c gives the Castagnoli check value and continues across calls") {
  using relay::storage::crc32c;
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c("") == 0u);
  CHECK(crc32c("56789", crc32c("1234")) == 0xE3069283u);
}

TEST_CASE("entries round trip through a reopen, every field and odd bytes included") {
  TempDir temp;
  std::vector<Entry> written = {
      Entry{1, 1, Op::noop, "", 0, "", "", ""},
      Entry{2, 1, Op::cas, "c", 42, "k", std::string("new\0\xff", 5), "old"},
      Entry{3, 2, Op::append, "client", 7, "", std::string(5000, 'x'), ""},
      Entry{4, 2, Op::del, "client", 8, "gone", "", ""},
  };
  {
    auto [store, recovery] = open_ok(temp.log());
    CHECK(!recovery.snapshot);
    CHECK(recovery.entries.empty());
    CHECK(recovery.report.empty());
    CHECK(store.first_index() == 1);
    CHECK(store.last_index() == 0);
    CHECK(!store.append({written[0]}));
    CHECK(!store.append({written[1], written[2], written[3]}));
    CHECK(store.last_index() == 4);
    CHECK(!store.sync());
  }
  auto [store, recovery] = open_ok(temp.log());
  CHECK(recovery.report.empty());
  REQUIRE(recovery.entries.size() == written.size());
  for (std::size_t i = 0; i < written.size(); ++i) check_same(recovery.entries[i], written[i]);
  CHECK(store.first_index() == 1);
  CHECK(store.last_index() == 4);
  CHECK(store.mode() == FsyncMode::batch);
}

TEST_CASE("append refuses indexes that do not continue the log") {
  TempDir temp;
  auto [store, recovery] = open_ok(temp.log());
  CHECK(store.append(make_entries(2, 1)));  // the log starts at 1
  CHECK(!store.append(make_entries(1, 3)));
  CHECK(store.append(make_entries(3, 1)));                        // a repeat
  CHECK(store.append(make_entries(5, 1)));                        // a gap
  CHECK(store.append({make_entry(4, 1), make_entry(6, 1)}));      // a gap inside the batch
  CHECK(store.last_index() == 3);
  CHECK(!store.append(make_entries(4, 1)));
}

TEST_CASE("many appends roll over into several small segments and all come back") {
  TempDir temp;
  const std::uint64_t segment_bytes = 10 * record_size();
  {
    auto [store, recovery] = open_ok(temp.log(), FsyncMode::batch, segment_bytes);
    for (std::uint64_t index = 1; index <= 95; ++index) REQUIRE(!store.append(make_entries(index, 1)));
    REQUIRE(!store.append(make_entries(96, 105)));  // one batch spanning several segments
    CHECK(!store.sync());
    CHECK(store.last_index() == 200);
  }
  const auto segments = files_named(temp.log(), ".seg");
  CHECK(segments.size() == 20);
  CHECK(segments.front().filename() == "00000000000000000001.seg");
  CHECK(segments[1].filename() == "00000000000000000011.seg");
  for (const auto& segment : segments) CHECK(fs::file_size(segment) == segment_bytes);
  auto [store, recovery] = open_ok(temp.log(), FsyncMode::batch, segment_bytes);
  CHECK(recovery.report.empty());
  check_range(recovery.entries, 1, 200);
  CHECK(!store.append(make_entries(201, 1)));
  CHECK(files_named(temp.log(), ".seg").size() == 21);
}

TEST_CASE("truncate_from removes a suffix in the middle of a segment and across segments") {
  TempDir temp;
  const std::uint64_t segment_bytes = 10 * record_size();
  {
    auto [store, recovery] = open_ok(temp.log(), FsyncMode::batch, segment_bytes);
    REQUIRE(!store.append(make_entries(1, 50)));
    CHECK(!store.truncate_from(46));  // inside the last segment
    CHECK(store.last_index() == 45);
    CHECK(!store.truncate_from(17));  // three segments back
    CHECK(store.last_index() == 16);
    CHECK(files_named(temp.log(), ".seg").size() == 2);
    CHECK(!store.truncate_from(99));  // past the end: nothing to do
    CHECK(store.truncate_from(0));
    REQUIRE(!store.append(make_entries(17, 20, 2)));  // the new leader's entries
    CHECK(store.last_index() == 36);
  }
  {
    auto [store, recovery] = open_ok(temp.log(), FsyncMode::batch, segment_bytes);
    REQUIRE(recovery.entries.size() == 36);
    check_range(recovery.entries, 1, 36);
    CHECK(recovery.entries[15].term == 1);
    CHECK(recovery.entries[16].term == 2);
    CHECK(!store.truncate_from(11));  // exactly a segment boundary
    CHECK(store.last_index() == 10);
    CHECK(files_named(temp.log(), ".seg").size() == 1);
    CHECK(!store.truncate_from(1));  // everything
    CHECK(store.last_index() == 0);
    CHECK(!store.append(make_entries(1, 3, 3)));
  }
  auto [store, recovery] = open_ok(temp.log(), FsyncMode::batch, segment_bytes);
  check_range(recovery.entries, 1, 3);
  CHECK(recovery.entries[0].term == 3);
}

TEST_CASE("a record cut short at the tail of the last segment is truncated and reported") {
  TempDir temp;
  const std::uint64_t segment_bytes = 10 * record_size();
  {
    auto [store, recovery] = open_ok(temp.log(), FsyncMode::batch, segment_bytes);
    REQUIRE(!store.append(make_entries(1, 25)));
  }
  const fs::path last = temp.log() / "00000000000000000021.seg";
  const std::uint64_t size = fs::file_size(last);
  fs::resize_file(last, size - 3);
  {
    auto [store, recovery] = open_ok(temp.log(), FsyncMode::batch, segment_bytes);
    INFO("report: " << recovery.report);
    CHECK(recovery.report.find(last.string()) != std::string::npos);
    CHECK(recovery.report.find("byte offset " + std::to_string(size - record_size())) != std::string::npos);
    CHECK(recovery.report.find("index 25") != std::string::npos);
    check_range(recovery.entries, 1, 24);
    CHECK(fs::file_size(last) == size - record_size());
    CHECK(store.last_index() == 24);
    REQUIRE(!store.append(make_entries(25, 2, 2)));
  }
  auto [store, recovery] = open_ok(temp.log(), FsyncMode::batch, segment_bytes);
  CHECK(recovery.report.empty());
  check_range(recovery.entries, 1, 26);
}

TEST_CASE("a flipped byte in the last record, or a tail of zeros, is a torn write") {
  TempDir temp;
  {
    auto [store, recovery] = open_ok(temp.log());
    REQUIRE(!store.append(make_entries(1, 5)));
  }
  const fs::path segment = temp.log() / "00000000000000000001.seg";
  flip_byte(segment, fs::file_size(segment) - 2);
  {
    auto [store, recovery] = open_ok(temp.log());
    INFO("report: " << recovery.report);
    CHECK(recovery.report.find("checksum") != std::string::npos);
    CHECK(recovery.report.find("index 5") != std::string::npos);
    CHECK(recovery.report.find("byte offset " + std::to_string(4 * record_size())) != std::string::npos);
    check_range(recovery.entries, 1, 4);
    REQUIRE(!store.append(make_entries(5, 1)));
  }
  {  // as after a crash that extended the file without writing its data
    std::ofstream out(segment, std::ios::binary | std::ios::app);
    out << std::string(100, '\0');
  }
  auto [store, recovery] = open_ok(temp.log());
  CHECK(recovery.report.find("zero bytes") != std::string::npos);
  check_range(recovery.entries, 1, 5);
  CHECK(fs::file_size(segment) == 5 * record_size());
}

TEST_CASE("the last record: torn when its end never reached the disk, corrupt when its bytes changed") {
  TempDir temp;
  {
    auto [store, recovery] = open_ok(temp.log());
    REQUIRE(!store.append(make_entries(1, 5)));
  }
  const fs::path segment = temp.log() / "00000000000000000001.seg";
  const std::uint64_t last = 4 * record_size();  // where record 5 starts
  SUBCASE("its second half is zero bytes, as when the file grew but not all its pages were written") {
    fs::resize_file(segment, last + record_size() / 2);
    fs::resize_file(segment, last + record_size());
    auto [store, recovery] = open_ok(temp.log());
    INFO("report: " << recovery.report);
    CHECK(recovery.report.find("index 5") != std::string::npos);
    check_range(recovery.entries, 1, 4);
  }
  SUBCASE("a flipped high byte of its length field") {
    flip_byte(segment, last + 3);
    const std::string error = open_error(temp.log());
    INFO("error: " << error);
    CHECK(error.find("byte offset " + std::to_string(last)) != std::string::npos);
    CHECK(fs::file_size(segment) == 5 * record_size());
  }
  SUBCASE("a length field made smaller, so data follows its stated end") {
    std::fstream stream(segment, std::ios::in | std::ios::out | std::ios::binary);
    stream.seekp(static_cast<std::streamoff>(last));
    stream.put(static_cast<char>(record_size() - 8 - 20));  // 20 bytes short of the real record
    stream.close();
    const std::string error = open_error(temp.log());
    INFO("error: " << error);
    CHECK(error.find("byte offset " + std::to_string(last)) != std::string::npos);
    CHECK(error.find("not a torn write") != std::string::npos);
  }
}

TEST_CASE("a torn record whose value holds a record's image is still a torn write") {
  TempDir temp;
  std::string image;
  relay::storage::encode_record(make_entry(7, 1), image);
  Entry big = make_entry(5, 1);
  big.value = "head-" + image + std::string(200, 'v');  // a value is the client's to choose
  {
    auto [store, recovery] = open_ok(temp.log());
    REQUIRE(!store.append(make_entries(1, 4)));
    REQUIRE(!store.append({big}));
  }
  const fs::path segment = temp.log() / "00000000000000000001.seg";
  // The write of record 5 tore after the image, in the middle of the value.
  fs::resize_file(segment, fs::file_size(segment) - 100);
  auto [store, recovery] = open_ok(temp.log());
  INFO("report: " << recovery.report);
  CHECK(recovery.report.find("index 5") != std::string::npos);
  check_range(recovery.entries, 1, 4);
}

TEST_CASE("a bad record before the tail is corruption naming file and offset") {
  TempDir temp;
  const std::uint64_t segment_bytes = 10 * record_size();
  {
    auto [store, recovery] = open_ok(temp.log(), FsyncMode::batch, segment_bytes);
    REQUIRE(!store.append(make_entries(1, 25)));
  }
  SUBCASE("in the middle of a segment that is not the last") {
    const fs::path segment = temp.log() / "00000000000000000011.seg";
    flip_byte(segment, 3 * record_size() + 30);
    const std::string error = open_error(temp.log(), segment_bytes);
    INFO("error: " << error);
    CHECK(error.find(segment.string()) != std::string::npos);
    CHECK(error.find("byte offset " + std::to_string(3 * record_size())) != std::string::npos);
    CHECK(error.find("index 14") != std::string::npos);
  }
  SUBCASE("the tail of a segment that is not the last") {
    const fs::path segment = temp.log() / "00000000000000000011.seg";
    fs::resize_file(segment, fs::file_size(segment) - 2);
    const std::string error = open_error(temp.log(), segment_bytes);
    CHECK(error.find(segment.string()) != std::string::npos);
    CHECK(error.find("byte offset " + std::to_string(9 * record_size())) != std::string::npos);
  }
  SUBCASE("an earlier record of the last segment") {
    const fs::path segment = temp.log() / "00000000000000000021.seg";
    flip_byte(segment, record_size() + 30);
    const std::string error = open_error(temp.log(), segment_bytes);
    INFO("error: " << error);
    CHECK(error.find(segment.string()) != std::string::npos);
    CHECK(error.find("byte offset " + std::to_string(record_size())) != std::string::npos);
    CHECK(fs::file_size(segment) == 5 * record_size());  // nothing was cut off
  }
  SUBCASE("a length field of the last segment that points past the end of the file") {
    // The record then looks cut short, as a torn write does; the valid records
    // after it show that it is not the tail.
    const fs::path segment = temp.log() / "00000000000000000021.seg";
    flip_byte(segment, record_size() + 1);
    const std::string error = open_error(temp.log(), segment_bytes);
    INFO("error: " << error);
    CHECK(error.find(segment.string()) != std::string::npos);
    CHECK(error.find("byte offset " + std::to_string(record_size())) != std::string::npos);
    CHECK(error.find("valid records follow from index 23 at byte offset " + std::to_string(2 * record_size())) !=
          std::string::npos);
    CHECK(fs::file_size(segment) == 5 * record_size());
  }
  SUBCASE("a missing segment leaves a hole") {
    fs::remove(temp.log() / "00000000000000000011.seg");
    const std::string error = open_error(temp.log(), segment_bytes);
    CHECK(error.find("00000000000000000021.seg") != std::string::npos);
    CHECK(error.find("missing") != std::string::npos);
  }
  SUBCASE("a segment holding the wrong indexes") {
    fs::rename(temp.log() / "00000000000000000021.seg", temp.log() / "00000000000000000030.seg");
    CHECK(open_error(temp.log(), segment_bytes).find("missing") != std::string::npos);
  }
}

TEST_CASE("a snapshot replaces the segments it covers and comes back at reopen") {
  TempDir temp;
  const std::uint64_t segment_bytes = 10 * record_size();
  {
    auto [store, recovery] = open_ok(temp.log(), FsyncMode::batch, segment_bytes);
    REQUIRE(!store.append(make_entries(1, 45)));
    const std::uint64_t all_bytes = store.bytes_since_snapshot();
    CHECK(all_bytes == 45 * record_size());
    CHECK(!store.save_snapshot(SnapshotData{15, 1, "state at 15"}));
    CHECK(files_named(temp.log(), ".seg").size() == 4);  // 1..10 went; 11..20 still holds 16..20
    CHECK(store.first_index() == 16);
    CHECK(store.bytes_since_snapshot() == 30 * record_size());
    CHECK(!store.save_snapshot(SnapshotData{32, 1, std::string("state\0at 32", 11)}));
    CHECK(files_named(temp.log(), ".seg").size() == 2);
    CHECK(fs::exists(temp.log() / "snapshot-32-1"));
    CHECK(!fs::exists(temp.log() / "snapshot-15-1"));
    CHECK(store.truncate_from(32));  // covered by the snapshot
    CHECK(store.save_snapshot(SnapshotData{20, 1, "older"}));
  }
  {
    std::ofstream(temp.log() / "snapshot-40-1.tmp") << "half written";  // a crash mid-save
    auto [store, recovery] = open_ok(temp.log(), FsyncMode::batch, segment_bytes);
    REQUIRE(recovery.snapshot);
    CHECK(recovery.snapshot->last_index == 32);
    CHECK(recovery.snapshot->last_term == 1);
    CHECK(recovery.snapshot->data == std::string("state\0at 32", 11));
    check_range(recovery.entries, 33, 45);
    CHECK(store.first_index() == 33);
    CHECK(store.last_index() == 45);
    CHECK(store.snapshot_index() == 32);
    CHECK(files_named(temp.log(), ".tmp").empty());
    // A snapshot from the leader, ahead of the whole log.
    CHECK(!store.save_snapshot(SnapshotData{100, 3, "leader state"}));
    CHECK(files_named(temp.log(), ".seg").empty());
    CHECK(store.first_index() == 101);
    CHECK(store.last_index() == 100);
    CHECK(store.bytes_since_snapshot() == 0);
    CHECK(store.append(make_entries(102, 1)));
    CHECK(!store.append(make_entries(101, 3, 3)));
  }
  auto [store, recovery] = open_ok(temp.log(), FsyncMode::batch, segment_bytes);
  REQUIRE(recovery.snapshot);
  CHECK(recovery.snapshot->last_index == 100);
  check_range(recovery.entries, 101, 103);
}

TEST_CASE("a corrupt snapshot is skipped only when the segments still cover its entries") {
  TempDir temp;
  {
    auto [store, recovery] = open_ok(temp.log());
    REQUIRE(!store.append(make_entries(1, 10)));
    REQUIRE(!store.save_snapshot(SnapshotData{4, 1, "state"}));  // one segment: nothing is deleted
  }
  flip_byte(temp.log() / "snapshot-4-1", 40);
  {
    auto [store, recovery] = open_ok(temp.log());
    CHECK(!recovery.snapshot);
    CHECK(recovery.report.find("snapshot-4-1") != std::string::npos);
    check_range(recovery.entries, 1, 10);
    REQUIRE(!store.save_snapshot(SnapshotData{20, 2, "ahead"}));
  }
  flip_byte(temp.log() / "snapshot-20-2", 40);
  const std::string error = open_error(temp.log());
  CHECK(error.find("corrupt snapshot") != std::string::npos);
  CHECK(error.find("snapshot-20-2") != std::string::npos);
}

TEST_CASE("a failed write leaves the log as it was, and the next append works") {
  TempDir temp;
  {
    auto [store, recovery] = open_ok(temp.log(), FsyncMode::always);
    REQUIRE(!store.append(make_entries(1, 10)));
    const auto segment = temp.log() / "00000000000000000001.seg";
    const std::uint64_t size = fs::file_size(segment);
    FileSizeLimit limit(size + 10);  // the first record fits only partly
    const auto error = store.append(make_entries(11, 5));
    REQUIRE(error);
    CHECK(error->find("EFBIG") != std::string::npos);
    CHECK(error->find(segment.string()) != std::string::npos);
    CHECK(store.last_index() == 10);
    CHECK(fs::file_size(segment) == size);
    CHECK(!store.sync_pending());
  }
  {
    FileSizeLimit limit(1);  // reopening must not need to write
    auto [store, recovery] = open_ok(temp.log(), FsyncMode::always);
    CHECK(recovery.report.empty());
    check_range(recovery.entries, 1, 10);
    limit.restore();
    CHECK(!store.append(make_entries(11, 5)));
  }
  auto [store, recovery] = open_ok(temp.log(), FsyncMode::always);
  check_range(recovery.entries, 1, 15);
}

TEST_CASE("a write that fails after a segment roll also undoes the earlier part of the batch") {
  TempDir temp;
  const std::uint64_t segment_bytes = 10 * record_size();
  auto [store, recovery] = open_ok(temp.log(), FsyncMode::batch, segment_bytes);
  REQUIRE(!store.append(make_entries(1, 7)));
  {
    // Records 8..10 fill the first segment; 11.. go to a new one, where the
    // big record 11 passes the limit.
    FileSizeLimit limit(segment_bytes + record_size() / 2);
    auto batch = make_entries(8, 6);
    batch[3].value = std::string(12 * record_size(), 'v');
    const auto error = store.append(batch);
    REQUIRE(error);
    CHECK(error->find("EFBIG") != std::string::npos);
    CHECK(error->find("00000000000000000011.seg") != std::string::npos);
  }
  CHECK(store.last_index() == 7);
  CHECK(files_named(temp.log(), ".seg").size() == 1);
  CHECK(fs::file_size(temp.log() / "00000000000000000001.seg") == 7 * record_size());
  CHECK(!store.append(make_entries(8, 6)));
  CHECK(!store.sync());
  CHECK(files_named(temp.log(), ".seg").size() == 2);
}

TEST_CASE("sync is pending only after writes, and never in mode never") {
  TempDir temp;
  SUBCASE("batch") {
    auto [store, recovery] = open_ok(temp.log(), FsyncMode::batch);
    CHECK(!store.sync_pending());
    REQUIRE(!store.append(make_entries(1, 3)));
    CHECK(store.sync_pending());
    CHECK(!store.sync());
    CHECK(!store.sync_pending());
    CHECK(!store.sync());  // nothing to do
  }
  SUBCASE("always") {
    auto [store, recovery] = open_ok(temp.log(), FsyncMode::always);
    REQUIRE(!store.append(make_entries(1, 3)));
    CHECK(!store.sync_pending());
  }
  SUBCASE("never") {
    auto [store, recovery] = open_ok(temp.log(), FsyncMode::never);
    REQUIRE(!store.append(make_entries(1, 3)));
    CHECK(!store.sync_pending());
    CHECK(!store.sync());
  }
}

TEST_CASE("a second store on the same directory is refused while the first is open") {
  TempDir temp;
  {
    auto [store, recovery] = open_ok(temp.log());
    CHECK(open_error(temp.log()).find("already open") != std::string::npos);
    LogStore moved = std::move(store);  // the lock moves with the store
    CHECK(open_error(temp.log()).find("already open") != std::string::npos);
  }
  open_ok(temp.log());
}
