// Names of the protocol's enumerators, exactly as written in messages.hpp, so
// that logs, the monitor's JSON and docs/protocol.md all use one spelling.
#include "proto/messages.hpp"

namespace relay::proto {

const char* to_string(Role role) {
  switch (role) {
    case Role::follower: return "follower";
    case Role::pre_candidate: return "pre_candidate";
    case Role::candidate: return "candidate";
    case Role::leader: return "leader";
  }
  // Only reachable through a cast of a value the codec never produces.
  return "invalid_role";
}

const char* to_string(Status status) {
  switch (status) {
    case Status::ok: return "ok";
    case Status::not_leader: return "not_leader";
    case Status::unavailable: return "unavailable";
    case Status::timeout: return "timeout";
    case Status::overloaded: return "overloaded";
    case Status::bad_request: return "bad_request";
    case Status::unknown: return "unknown";
  }
  return "invalid_status";
}

const char* to_string(MessageType type) {
  switch (type) {
    case MessageType::pre_vote: return "pre_vote";
    case MessageType::pre_vote_grant: return "pre_vote_grant";
    case MessageType::ballot: return "ballot";
    case MessageType::vote: return "vote";
    case MessageType::heartbeat: return "heartbeat";
    case MessageType::client_request: return "client_request";
    case MessageType::client_reply: return "client_reply";
    case MessageType::status_request: return "status_request";
    case MessageType::status_reply: return "status_reply";
    case MessageType::relay: return "relay";
    case MessageType::relay_reply: return "relay_reply";
    case MessageType::append: return "append";
    case MessageType::append_reply: return "append_reply";
    case MessageType::snapshot: return "snapshot";
    case MessageType::snapshot_reply: return "snapshot_reply";
    case MessageType::tap: return "tap";
  }
  return "invalid_type";
}

const char* to_string(Op op) {
  switch (op) {
    case Op::noop: return "noop";
    case Op::append: return "append";
    case Op::put: return "put";
    case Op::get: return "get";
    case Op::del: return "del";
    case Op::cas: return "cas";
    case Op::read: return "read";
  }
  return "invalid_op";
}

}  // namespace relay::proto
