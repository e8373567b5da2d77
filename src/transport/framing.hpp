// All multipart framing of Relay-Raft in one place (docs/protocol.md,
// "Frames and encoding"):
//   client ROUTER  in: [route][body] (DEALER) or [route][""][body] (REQ)
//                 out: the same envelope back
//   peer ROUTER    in: [route][body] (route chosen by the ROUTER), out: [route][body]
//   DEALER, PUB, SUB: [body]
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "core/events.hpp"

namespace relay::transport {

inline constexpr std::size_t kMaxFramesPerMessage = 4;

// What a ROUTER received: the sender's routing id, whether it used a REQ
// envelope, and the body. `error` is set (and the body meaningless) when the
// envelope itself is malformed; route and has_delimiter still say how to
// answer.
struct RouterMessage {
  std::string route;
  bool has_delimiter = false;
  std::string body;
  std::string error;
};

// Reads one whole multipart message from a ROUTER without blocking. Returns
// nothing when no message is waiting. Extra frames beyond the limit are read
// and dropped so that the socket never holds half a message.
std::optional<RouterMessage> receive_from_router(zmq::socket_t& socket);

// Reads one single-frame message (DEALER, SUB) without blocking; a message
// of several frames is read whole and reported through `error`.
std::optional<std::string> receive_single(zmq::socket_t& socket, std::string& error);

// Sends without blocking. Return false when the message could not be queued:
// the peer is unknown or gone (ROUTER_MANDATORY), or its queue is full.
bool send_to_route(zmq::socket_t& router, const core::ClientAddress& to, std::string_view body);
bool send_single(zmq::socket_t& socket, std::string_view body);

}  // namespace relay::transport
