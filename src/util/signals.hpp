// SIGINT, SIGTERM and SIGHUP only set a flag; the loops that own sockets check it and
// shut down in an orderly way.
#pragma once

#include <atomic>

namespace relay::util {

// Installs the handlers (once) and returns the flag they set.
const std::atomic<bool>& install_stop_signals();

}  // namespace relay::util
