// relay::core::Log — the in-memory copy of a node's replicated log.
//
// Entries are numbered from 1 without gaps. A prefix may have been compacted
// into a snapshot: the log then starts after `snapshot_index()`, and the term
// of that last compacted entry is still known, so appends right after it can
// be checked. The shell keeps the same entries on disk (src/storage); the
// core tells it what changed through actions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "proto/messages.hpp"

namespace relay::core {

class Log {
 public:
  Log() = default;
  Log(std::uint64_t snapshot_index, proto::Term snapshot_term, std::vector<proto::Entry> entries);

  std::uint64_t snapshot_index() const { return snapshot_index_; }
  proto::Term snapshot_term() const { return snapshot_term_; }
  std::uint64_t first_index() const { return snapshot_index_ + 1; }
  std::uint64_t last_index() const { return snapshot_index_ + entries_.size(); }
  proto::Term last_term() const { return entries_.empty() ? snapshot_term_ : entries_.back().term; }
  std::size_t bytes() const { return bytes_; }  // payload bytes held in memory

  // The term of entry `index`; none when it is past the end or compacted
  // (the snapshot's own last entry excepted).
  std::optional<proto::Term> term_at(std::uint64_t index) const;
  const proto::Entry& at(std::uint64_t index) const { return entries_[index - first_index()]; }

  // Entries from `from` on, at most `max_entries` and about `max_bytes` (at
  // least one entry when there is one, however large).
  std::vector<proto::Entry> slice(std::uint64_t from, std::size_t max_entries, std::size_t max_bytes) const;

  // The first index of the term that entry `index` belongs to, for skipping
  // a whole conflicting term at once.
  std::uint64_t first_index_of_term_at(std::uint64_t index) const;

  void append(proto::Entry entry);
  void truncate_from(std::uint64_t index);  // removes `index` and everything after
  void compact_to(std::uint64_t index, proto::Term term);  // drops entries up to `index`
  void reset(std::uint64_t snapshot_index, proto::Term snapshot_term);  // empty, after a snapshot

  static std::size_t size_of(const proto::Entry& entry) {
    return entry.client_id.size() + entry.key.size() + entry.value.size() + entry.expected.size() + 32;
  }

 private:
  std::uint64_t snapshot_index_ = 0;
  proto::Term snapshot_term_ = 0;
  std::deque<proto::Entry> entries_;
  std::size_t bytes_ = 0;
};

}  // namespace relay::core
