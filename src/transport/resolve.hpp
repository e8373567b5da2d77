// Host names in endpoints, resolved once at start-up.
//
// ZeroMQ's bind reads the host of a TCP endpoint as an interface name or an
// address, never as a host name. And libzmq reports socket events with the address it connected to, which after
// a reconnection is the resolved one ("tcp://127.0.0.1:5553", never
// "tcp://localhost:5553"). Connecting to the resolved address from the start
// makes every event of a connection name the same endpoint.
#pragma once

#include <string>

namespace relay::transport {

// "tcp://HOST:PORT" with HOST a name becomes "tcp://A.B.C.D:PORT" (the first
// IPv4 address of the name). Numeric hosts, ipc:// endpoints and names that
// do not resolve are returned unchanged: the connect reports those.
std::string resolve_endpoint(const std::string& endpoint);

}  // namespace relay::transport
