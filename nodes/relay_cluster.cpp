// relay-cluster: runs nodes of one configuration file on this machine as
// child processes, prefixes their output with coloured node names, reports a
// node that dies, and stops them all on Ctrl-C (SIGINT) or SIGTERM.
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "util/cli.hpp"
#include "util/logging.hpp"
#include "util/signals.hpp"

namespace {

struct Child {
  std::uint32_t id = 0;
  pid_t pid = -1;
  int output = -1;     // read end of the child's stdout and stderr
  std::string partial;  // an unfinished line
  bool running = true;
};

const char* colour(std::uint32_t id) {
  static const char* palette[] = {"\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[31m"};
  return palette[(id - 1) % (sizeof palette / sizeof *palette)];
}

void print_line(const Child& child, const std::string& line, bool tty) {
  if (tty) {
    std::printf("%s[node %u]\033[0m %s\n", colour(child.id), child.id, line.c_str());
  } else {
    std::printf("[node %u] %s\n", child.id, line.c_str());
  }
  std::fflush(stdout);
}

std::filesystem::path node_binary() {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::filesystem::path("relay-node") : self.parent_path() / "relay-node";
}

bool spawn(Child& child, const std::string& binary, const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return false;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    // A node must not outlive its supervisor, however the supervisor ends.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // it ended before the line above took effect
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    std::fprintf(stderr, "cannot run %s: %s\n", binary.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  child.pid = pid;
  child.output = pipe_fds[0];
  return true;
}

// Reads what a child wrote and prints every complete line; at end of file
// prints what is left.
void pump(Child& child, bool tty) {
  char buffer[4096];
  const auto n = ::read(child.output, buffer, sizeof buffer);
  if (n <= 0) {
    if (n < 0 && errno == EINTR) return;
    if (!child.partial.empty()) print_line(child, child.partial, tty);
    child.partial.clear();
    ::close(child.output);
    child.output = -1;
    return;
  }
  child.partial.append(buffer, static_cast<std::size_t>(n));
  for (auto end = child.partial.find('\n'); end != std::string::npos; end = child.partial.find('\n')) {
    print_line(child, child.partial.substr(0, end), tty);
    child.partial.erase(0, end + 1);
  }
}

void reap(std::vector<Child>& children, bool stopping) {
  for (auto& child : children) {
    if (!child.running) continue;
    int status = 0;
    if (::waitpid(child.pid, &status, WNOHANG) != child.pid) continue;
    child.running = false;
    if (stopping && WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    const auto how = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                         : "exited with status " + std::to_string(WEXITSTATUS(status));
    std::fprintf(stderr, "relay-cluster: node %u (pid %d) %s\n", child.id, child.pid, how.c_str());
  }
}

void run(std::vector<Child>& children, const std::atomic<bool>& stop, bool tty) {
  while (!stop.load()) {
    std::vector<pollfd> fds;
    std::vector<Child*> owners;
    for (auto& child : children) {
      if (child.output < 0) continue;
      fds.push_back({child.output, POLLIN, 0});
      owners.push_back(&child);
    }
    ::poll(fds.data(), fds.size(), 100);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0) pump(*owners[i], tty);
    }
    reap(children, false);
    bool any = false;
    for (const auto& child : children) any = any || child.running;
    if (!any) return;
  }
}

// SIGTERM to every child, a grace period for them to exit cleanly, then
// SIGKILL for any that did not.
void stop_all(std::vector<Child>& children, bool tty) {
  for (auto& child : children) {
    if (child.running) ::kill(child.pid, SIGTERM);
  }
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < give_up) {
    for (auto& child : children) {
      if (child.output >= 0) {
        pollfd fd{child.output, POLLIN, 0};
        if (::poll(&fd, 1, 0) > 0) pump(child, tty);
      }
    }
    reap(children, true);
    bool any = false;
    for (const auto& child : children) any = any || child.running;
    if (!any) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& child : children) {
    if (!child.running) continue;
    std::fprintf(stderr, "relay-cluster: node %u did not stop in time; killing it\n", child.id);
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);
    child.running = false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"relay-cluster: run the nodes of a configuration file on this machine, with their\n"
               "output prefixed by node, until Ctrl-C."};
  std::string config_path = "config/cluster.ini";
  std::vector<std::uint32_t> ids;
  std::string log_level = "info";
  app.add_option("--config", config_path, "cluster configuration file (INI)")->capture_default_str();
  app.add_option("--nodes", ids, "which nodes to start, e.g. 1,2,3 (default: all)")->delimiter(',');
  app.add_option("--log-level", log_level, std::string("passed on to every node: ") + relay::util::kLogLevels)
      ->check(CLI::IsMember(relay::util::kLogLevelNames))
      ->capture_default_str();
  if (auto exit_status = relay::util::parse_command_line(app, "relay-cluster", argc, argv)) return *exit_status;

  auto loaded = relay::config::load(config_path);
  if (auto* error = std::get_if<relay::config::ConfigError>(&loaded)) {
    std::fprintf(stderr, "relay-cluster: %s\n", error->message.c_str());
    return 2;
  }
  const auto& cluster = std::get<relay::config::Cluster>(loaded);
  if (ids.empty()) {
    for (const auto& node : cluster.nodes) ids.push_back(node.id);
  }
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
    std::fprintf(stderr, "relay-cluster: --nodes names a node twice\n");
    return 2;
  }
  for (const auto id : ids) {
    if (cluster.find(id) == nullptr) {
      std::fprintf(stderr, "relay-cluster: node %u is not in %s\n", id, config_path.c_str());
      return 2;
    }
  }
  const auto& stop = relay::util::install_stop_signals();
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  const auto binary = node_binary().string();
  std::vector<Child> children(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    children[i].id = ids[i];
    if (!spawn(children[i], binary,
               {"--config", config_path, "--id", std::to_string(ids[i]), "--log-level", log_level})) {
      std::fprintf(stderr, "relay-cluster: cannot start node %u: %s\n", ids[i], std::strerror(errno));
      children.resize(i);
      stop_all(children, tty);
      return 1;
    }
  }
  run(children, stop, tty);
  stop_all(children, tty);
  return stop.load() ? 0 : 1;
}
