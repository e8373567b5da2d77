// Endpoints with host names are resolved once, so that socket events name
// the same address as the connect did.
#include <doctest/doctest.h>

#include "transport/resolve.hpp"

using relay::transport::resolve_endpoint;

TEST_CASE("a host name resolves to its IPv4 address, the port kept") {
  CHECK(resolve_endpoint("tcp://localhost:5553") == "tcp://127.0.0.1:5553");
}

TEST_CASE("numeric hosts, ipc endpoints and unknown names are left as they are") {
  CHECK(resolve_endpoint("tcp://10.1.2.3:1") == "tcp://10.1.2.3:1");
  CHECK(resolve_endpoint("ipc:///tmp/x.sock") == "ipc:///tmp/x.sock");
  CHECK(resolve_endpoint("tcp://no-such-host.invalid:5553") == "tcp://no-such-host.invalid:5553");
}
