#include "core/log.hpp"

namespace relay::core {

Log::Log(std::uint64_t snapshot_index, proto::Term snapshot_term, std::vector<proto::Entry> entries)
    : snapshot_index_(snapshot_index), snapshot_term_(snapshot_term) {
  for (auto& entry : entries) append(std::move(entry));
}

std::optional<proto::Term> Log::term_at(std::uint64_t index) const {
  if (index == snapshot_index_) return snapshot_term_;
  if (index < first_index() || index > last_index()) return std::nullopt;
  return at(index).term;
}

std::vector<proto::Entry> Log::slice(std::uint64_t from, std::size_t max_entries, std::size_t max_bytes) const {
  std::vector<proto::Entry> out;
  std::size_t bytes = 0;
  for (auto index = std::max(from, first_index()); index <= last_index() && out.size() < max_entries; ++index) {
    const auto& entry = at(index);
    if (!out.empty() && bytes + size_of(entry) > max_bytes) break;
    bytes += size_of(entry);
    out.push_back(entry);
  }
  return out;
}

std::uint64_t Log::first_index_of_term_at(std::uint64_t index) const {
  const auto term = term_at(index);
  if (!term) return first_index();
  while (index > first_index() && at(index - 1).term == *term) --index;
  return index;
}

void Log::append(proto::Entry entry) {
  bytes_ += size_of(entry);
  entries_.push_back(std::move(entry));
}

void Log::truncate_from(std::uint64_t index) {
  while (!entries_.empty() && last_index() >= index) {
    bytes_ -= size_of(entries_.back());
    entries_.pop_back();
  }
}

void Log::compact_to(std::uint64_t index, proto::Term term) {
  while (!entries_.empty() && first_index() <= index) {
    bytes_ -= size_of(entries_.front());
    entries_.pop_front();
    ++snapshot_index_;
  }
  snapshot_index_ = std::max(snapshot_index_, index);
  snapshot_term_ = term;
}

void Log::reset(std::uint64_t snapshot_index, proto::Term snapshot_term) {
  entries_.clear();
  bytes_ = 0;
  snapshot_index_ = snapshot_index;
  snapshot_term_ = snapshot_term;
}

}  // namespace relay::core
