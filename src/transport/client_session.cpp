#include "transport/client_session.hpp"

#include <algorithm>
#include <thread>
#include <vector>

#include "proto/codec.hpp"
#include "transport/framing.hpp"

namespace relay::transport {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How much longer than the node's deadline the client waits, so that the
// node's own "timeout"/"unavailable" answer reaches it first.
constexpr milliseconds kGrace{50};
constexpr milliseconds kRetryPause{10};
// How long a node that let an attempt time out is passed over by the random
// choice (unless every node is).
constexpr milliseconds kSuspicion{2000};

}  // namespace

bool is_retryable(proto::Status status) {
  return status != proto::Status::ok && status != proto::Status::bad_request;
}

ClientSession::ClientSession(const config::Cluster& cluster, ClientOptions options)
    : cluster_(cluster), options_(std::move(options)), random_(options_.seed) {
  options_.attempts = std::max<std::uint32_t>(1, options_.attempts);
}

zmq::socket_t& ClientSession::socket_for(proto::NodeId node) {
  auto it = sockets_.find(node);
  if (it != sockets_.end()) return it->second;
  zmq::socket_t socket(context_, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  // No ZMQ_IMMEDIATE: the first request must wait for the connection, not
  // fail. A request queued for a node that is down is dropped with the
  // socket when its attempt times out (see send()).
  socket.connect(cluster_.find(node)->client);
  return sockets_.emplace(node, std::move(socket)).first->second;
}

// A random node other than `avoid`, preferring nodes that have not just
// failed to answer: after a node dies, requests stop paying a whole attempt
// timeout each time the draw falls on it. When every node is suspect, any
// will do (the suspicion may be stale).
proto::NodeId ClientSession::pick_node(proto::NodeId avoid) {
  std::vector<proto::NodeId> candidates;
  std::vector<proto::NodeId> fallback;
  const auto now = Clock::now();
  for (const auto& node : cluster_.nodes) {
    if (node.id == avoid && cluster_.nodes.size() > 1) continue;
    fallback.push_back(node.id);
    const auto suspect = suspect_until_.find(node.id);
    if (suspect == suspect_until_.end() || suspect->second <= now) candidates.push_back(node.id);
  }
  const auto& pool = candidates.empty() ? fallback : candidates;
  return pool[random_.between(0, pool.size())];
}

RequestOutcome ClientSession::append(const std::string& message, std::optional<proto::NodeId> pin,
                                     const std::atomic<bool>& stop) {
  proto::ClientRequest request;
  request.op = proto::Op::append;
  request.value = message;
  return send(std::move(request), pin, stop);
}

RequestOutcome ClientSession::send(proto::ClientRequest request, std::optional<proto::NodeId> pin,
                                   const std::atomic<bool>& stop) {
  RequestOutcome outcome;
  request.client_id = options_.client_id;
  request.request_id = next_request_id_++;
  outcome.request_id = request.request_id;
  const auto started = Clock::now();
  const auto deadline = started + milliseconds(options_.timeout_ms);
  const auto per_attempt = std::max(milliseconds(options_.timeout_ms / options_.attempts), milliseconds(20));

  proto::NodeId previous = proto::kNoNode;
  proto::NodeId answered_node = proto::kNoNode;
  std::string last_error;  // of the last attempt, when it got no answer
  for (std::uint32_t attempt = 1; attempt <= options_.attempts && !stop.load(); ++attempt) {
    const auto node = pin ? *pin : pick_node(previous);
    previous = node;
    outcome.sent_to = node;
    outcome.tried.push_back(node);
    outcome.attempts = attempt;
    const auto attempt_end = std::min(deadline, Clock::now() + per_attempt);
    request.timeout_ms = static_cast<std::uint32_t>(
        std::max<std::int64_t>(1, std::chrono::duration_cast<milliseconds>(attempt_end - Clock::now()).count()));
    last_error.clear();
    if (!send_single(socket_for(node), proto::encode(request))) {
      last_error = "node " + std::to_string(node) + " is not reachable";
      std::this_thread::sleep_for(kRetryPause);
      continue;
    }
    auto reply = await_reply(request.request_id, attempt_end + kGrace, stop);
    if (!reply) {
      last_error = "no answer from node " + std::to_string(node) + " in time";
      // Drop the connection with whatever is still queued on it: a request
      // waiting for a node that is down must not reach it when it comes back
      // (a new leader would execute it a second time).
      sockets_.erase(node);
      suspect_until_[node] = Clock::now() + kSuspicion;
      continue;
    }
    outcome.answered = true;
    outcome.reply = std::move(*reply);
    suspect_until_.erase(node);
    answered_node = node;
    if (!is_retryable(outcome.reply.status)) break;
    if (Clock::now() + kRetryPause >= deadline) break;
    std::this_thread::sleep_for(kRetryPause);
  }
  finish(outcome, answered_node, last_error, started);
  outcome.request = std::move(request);
  return outcome;
}

// Fills in what the outcome says about the request as a whole: the node of the
// answered attempt, the time taken, and why it failed, in words. A node's
// answer says more than a later attempt's silence, so it comes first.
void ClientSession::finish(RequestOutcome& outcome, proto::NodeId answered_node, const std::string& last_error,
                           Clock::time_point started) {
  outcome.latency_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count());
  if (!outcome.answered) {
    outcome.error = last_error.empty() ? "interrupted" : last_error;
    return;
  }
  const auto& reply = outcome.reply;
  outcome.sent_to = reply.received_by != proto::kNoNode ? reply.received_by : answered_node;
  if (reply.status == proto::Status::ok) {
    outcome.error.clear();
    return;
  }
  outcome.error = std::string(proto::to_string(reply.status)) + (reply.message.empty() ? "" : ": " + reply.message);
  if (!last_error.empty()) outcome.error += "; then " + last_error;
}

// Waits for the reply to `request_id` on any node's socket: a late answer to
// an earlier attempt of the same request is as good as any. Replies to other
// requests (earlier ones that were given up) are dropped.
std::optional<proto::ClientReply> ClientSession::await_reply(std::uint64_t request_id,
                                                             Clock::time_point deadline,
                                                             const std::atomic<bool>& stop) {
  std::vector<zmq::pollitem_t> items;
  std::vector<zmq::socket_t*> sockets;
  for (auto& [id, socket] : sockets_) {
    items.push_back({socket.handle(), 0, ZMQ_POLLIN, 0});
    sockets.push_back(&socket);
  }
  while (!stop.load()) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    try {
      zmq::poll(items, std::min(left, milliseconds(100)));
    } catch (const zmq::error_t& error) {
      if (error.num() == EINTR) continue;
      throw;
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      std::string frame_error;
      while (auto frame = receive_single(*sockets[i], frame_error)) {
        auto decoded = proto::decode(*frame);
        auto* message = std::get_if<proto::Message>(&decoded);
        auto* reply = message ? std::get_if<proto::ClientReply>(message) : nullptr;
        if (reply && reply->request_id == request_id && reply->client_id == options_.client_id) {
          return std::move(*reply);
        }
      }
    }
  }
  return std::nullopt;
}

std::optional<proto::StatusReply> ClientSession::status(proto::NodeId node, milliseconds timeout) {
  auto& socket = socket_for(node);
  const auto request_id = next_request_id_++;
  if (!send_single(socket, proto::encode(proto::StatusRequest{request_id}))) return std::nullopt;
  const auto deadline = Clock::now() + timeout;
  std::string frame_error;
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  while (true) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    try {
      zmq::poll(&item, 1, left);
    } catch (const zmq::error_t& error) {
      if (error.num() != EINTR) throw;
    }
    while (auto frame = receive_single(socket, frame_error)) {
      auto decoded = proto::decode(*frame);
      auto* message = std::get_if<proto::Message>(&decoded);
      auto* reply = message ? std::get_if<proto::StatusReply>(message) : nullptr;
      if (reply && reply->request_id == request_id) return *reply;
    }
  }
}

}  // namespace relay::transport
