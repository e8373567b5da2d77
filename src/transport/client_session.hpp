// relay::transport::ClientSession — the client side of the protocol, used by
// relay-client and the tests. Each request goes to a random node (or a pinned
// one); when an attempt times out or is answered with a retryable status, the
// same request (same client_id and request_id) is tried on another random
// node, a bounded number of times. A node that let an attempt time out is
// passed over by the random choice for two seconds.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "config/config.hpp"
#include "core/random.hpp"
#include "proto/messages.hpp"

namespace relay::transport {

struct ClientOptions {
  std::string client_id;              // unique per client process
  std::uint32_t attempts = 4;         // first try plus retries
  std::uint32_t timeout_ms = 2000;    // whole deadline of one request
  std::uint64_t seed = 1;             // for the choice of nodes
};

struct RequestOutcome {
  std::uint64_t request_id = 0;
  proto::ClientRequest request;      // as sent (client_id, request_id and timeout_ms filled in)
  std::vector<proto::NodeId> tried;  // the node of each attempt, in order
  bool answered = false;       // a reply came (of any status)
  proto::ClientReply reply;    // valid when answered
  proto::NodeId sent_to = 0;   // the node of the attempt that was answered (or of the last one)
  std::uint32_t attempts = 0;
  std::uint64_t latency_us = 0;  // first send until the outcome was settled
  std::string error;           // why there is no ok reply, in words
};

class ClientSession {
 public:
  ClientSession(const config::Cluster& cluster, ClientOptions options);

  // Sends one request (its op and operands; the session fills in client_id,
  // request_id and timeout_ms); blocks until it is answered or given up.
  // `stop` cuts the wait short (Ctrl-C).
  RequestOutcome send(proto::ClientRequest request, std::optional<proto::NodeId> pin,
                      const std::atomic<bool>& stop);

  // Appends `message` to the ordered stream: send() with op append.
  RequestOutcome append(const std::string& message, std::optional<proto::NodeId> pin,
                        const std::atomic<bool>& stop);

  // Asks one node for its status; nothing if it does not answer in time.
  std::optional<proto::StatusReply> status(proto::NodeId node, std::chrono::milliseconds timeout);

 private:
  zmq::socket_t& socket_for(proto::NodeId node);
  static void finish(RequestOutcome& outcome, proto::NodeId answered_node, const std::string& last_error,
                     std::chrono::steady_clock::time_point started);
  proto::NodeId pick_node(proto::NodeId avoid);
  std::optional<proto::ClientReply> await_reply(std::uint64_t request_id,
                                                std::chrono::steady_clock::time_point deadline,
                                                const std::atomic<bool>& stop);

  const config::Cluster& cluster_;
  ClientOptions options_;
  core::Random random_;
  zmq::context_t context_{1};
  std::map<proto::NodeId, zmq::socket_t> sockets_;  // one DEALER per node, made on first use
  std::map<proto::NodeId, std::chrono::steady_clock::time_point> suspect_until_;
  std::uint64_t next_request_id_ = 1;
};

bool is_retryable(proto::Status status);

}  // namespace relay::transport
