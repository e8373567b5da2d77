// One stable line of text per message, for logs, the monitor and test traces.
#pragma once

#include <string>

#include "proto/messages.hpp"

namespace relay::proto {

std::string describe(const Message& message);
MessageType type_of(const Message& message);

}  // namespace relay::proto
