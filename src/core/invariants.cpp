// What must hold for a single node after every event. The simulator adds the
// properties that span nodes (one leader per term, at most once execution).
#include <string>

#include "core/node.hpp"

namespace relay::core {

std::optional<std::string> Node::broken_invariant() const {
  if (durable_.term < checked_term_) {
    return "term went backwards from " + std::to_string(checked_term_) + " to " +
           std::to_string(durable_.term);
  }
  if (durable_.term == checked_term_ && checked_vote_ != proto::kNoNode &&
      durable_.voted_for != checked_vote_) {
    return "changed its vote in term " + std::to_string(durable_.term);
  }
  if ((role_ == proto::Role::leader) != (leader_ == options_.self)) {
    return "role and leader disagree";
  }
  if (pending_.size() > options_.max_pending) return "pending table over its bound";
  std::size_t bytes = 0;
  for (const auto& [id, pending] : pending_) bytes += request_bytes(pending.request);
  if (bytes != pending_bytes_ || bytes > options_.max_pending_bytes) return "pending bytes wrong or over bound";
  if (machine_.applied_index() > commit_index_ && machine_.applied_index() > log_.last_index()) {
    return "applied past both the commit index and the log";
  }
  if (commit_index_ > log_.last_index() && commit_index_ > machine_.applied_index()) {
    return "commit index past the end of the log";
  }
  if (log_.last_index() - log_.snapshot_index() > 0 && log_.term_at(log_.last_index()) > durable_.term) {
    return "log holds an entry of a term later than the node's";
  }
  if (role_ == proto::Role::leader && write_waiters_.size() > log_.last_index() - commit_index_ + proposed_.size() + options_.max_pending * 2) {
    return "leader's waiting writes unbounded";
  }
  return std::nullopt;
}

}  // namespace relay::core
