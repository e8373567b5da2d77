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
  for (const auto& [id, pending] : pending_) bytes += pending.request.message.size();
  if (bytes != pending_bytes_ || bytes > options_.max_pending_bytes) return "pending bytes wrong or over bound";
  if (answered_.size() > options_.dedup_capacity || answered_.size() != answered_order_.size()) {
    return "answered table over its bound or out of step";
  }
  return std::nullopt;
}

}  // namespace relay::core
