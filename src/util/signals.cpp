#include "util/signals.hpp"

#include <csignal>

namespace relay::util {

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void on_stop_signal(int) { stop_requested.store(true); }

}  // namespace

const std::atomic<bool>& install_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocking call returns so the flag is seen
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGHUP, &action, nullptr);  // the terminal went away: stop as cleanly as on Ctrl-C
  std::signal(SIGPIPE, SIG_IGN);
  // A write past RLIMIT_FSIZE must come back as EFBIG, which the node handles
  // like a full disk, not kill the process.
  std::signal(SIGXFSZ, SIG_IGN);
  return stop_requested;
}

}  // namespace relay::util
