#include "transport/framing.hpp"


namespace relay::transport {

namespace {

// Receives the rest of a multipart message after its first frame. ZeroMQ
// delivers a multipart message whole, so these receives never block. Frames
// beyond the array are read into scratch and dropped; the count includes them.
std::size_t receive_rest(zmq::socket_t& socket, zmq::message_t (&parts)[kMaxFramesPerMessage]) {
  std::size_t count = 1;
  bool more = parts[0].more();
  while (more) {
    zmq::message_t scratch;
    auto& target = count < kMaxFramesPerMessage ? parts[count] : scratch;
    if (!socket.recv(target, zmq::recv_flags::none)) break;
    more = target.more();
    ++count;
  }
  return count;
}

}  // namespace

std::optional<RouterMessage> receive_from_router(zmq::socket_t& socket) {
  zmq::message_t parts[kMaxFramesPerMessage];
  if (!socket.recv(parts[0], zmq::recv_flags::dontwait)) return std::nullopt;
  const auto count = receive_rest(socket, parts);
  RouterMessage message;
  message.route = parts[0].to_string();
  message.has_delimiter = count >= 3 && parts[1].size() == 0;
  if (count == 2) {
    message.body = parts[1].to_string();
  } else if (count == 3 && message.has_delimiter) {
    message.body = parts[2].to_string();
  } else {
    message.error = "unexpected envelope of " + std::to_string(count) + " frames";
  }
  return message;
}

std::optional<std::string> receive_single(zmq::socket_t& socket, std::string& error) {
  zmq::message_t parts[kMaxFramesPerMessage];
  if (!socket.recv(parts[0], zmq::recv_flags::dontwait)) return std::nullopt;
  const auto count = receive_rest(socket, parts);
  error.clear();
  if (count != 1) error = "unexpected message of " + std::to_string(count) + " frames";
  return parts[0].to_string();
}

bool send_to_route(zmq::socket_t& router, const core::ClientAddress& to, std::string_view body) {
  try {
    if (!router.send(zmq::buffer(to.route), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return false;
    }
    if (to.has_delimiter) router.send(zmq::message_t{}, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    return router.send(zmq::buffer(body), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {
    return false;  // EHOSTUNREACH under ROUTER_MANDATORY: the peer is gone
  }
}

bool send_single(zmq::socket_t& socket, std::string_view body) {
  try {
    return socket.send(zmq::buffer(body), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

}  // namespace relay::transport
