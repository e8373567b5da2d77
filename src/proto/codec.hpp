// The one codec of the wire protocol: msgpack, framed as described in
// docs/protocol.md. Only this file's implementation includes msgpack.
//
// decode() is the boundary where untrusted bytes enter a node: it never
// throws, checks sizes and nesting before anything is allocated, and copies
// every field into plain structs so no msgpack memory outlives the call.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "proto/messages.hpp"

namespace relay::proto {

struct DecodeError {
  std::string reason;  // one line, safe to log: never echoes the raw bytes
};

using DecodeResult = std::variant<Message, DecodeError>;

std::string encode(const Message& message);
DecodeResult decode(std::string_view frame);

}  // namespace relay::proto
