// relay-client: talks to a Relay-Raft cluster. It writes and reads keys
// (put, get, del, cas), appends to and reads the ordered stream (send, read),
// and asks every node for its status. Each request goes to a random node
// (followers relay it to the leader); the reply says which node received it,
// whether it was relayed, and at which log index the leader answered.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <limits>
#include <thread>

#include "client/output.hpp"
#include "config/config.hpp"
#include "proto/codec.hpp"
#include "transport/client_session.hpp"
#include "util/cli.hpp"
#include "util/logging.hpp"
#include "util/random.hpp"
#include "util/signals.hpp"
#include "util/words.hpp"

namespace {

using relay::proto::ClientRequest;
using relay::proto::Op;

// Everything the request commands take from the command line.
struct RequestArgs {
  std::vector<std::string> words;  // send: the message
  std::string key;
  std::string value;     // put: the value; cas: the new value
  std::string expected;  // cas: the value the key must hold now
  std::uint64_t from = 1;
  std::uint64_t count = 0;  // send: how many (0 = 1); read: how many messages (0 = the node's default)
  std::uint32_t node = 0;
  std::uint32_t interval_ms = 0;
};

// What a run of one command needs besides its arguments.
struct Context {
  const relay::config::Cluster& cluster;
  relay::transport::ClientSession& session;
  std::optional<relay::proto::NodeId> pin;
  bool json;
  const std::atomic<bool>& stop;
};

std::string random_client_id() {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(relay::util::os_seed()));
  return buffer;
}

// put, get, del and cas: one request, one line.
int run_single(Context& context, ClientRequest request) {
  const auto outcome = context.session.send(std::move(request), context.pin, context.stop);
  relay::client::print_outcome(outcome, context.json);
  return relay::client::succeeded(outcome) ? 0 : 1;
}

// send: `count` appends, one line each, then a summary.
int run_send(Context& context, const RequestArgs& args) {
  std::string text;
  for (const auto& word : args.words) text += (text.empty() ? "" : " ") + word;
  if (text.empty()) text = "hello";
  const std::uint64_t count = std::max<std::uint64_t>(args.count, 1);
  relay::client::Summary summary;
  for (std::uint64_t i = 1; i <= count && !context.stop.load(); ++i) {
    const auto message = count > 1 ? text + " #" + std::to_string(i) : text;
    const auto outcome = context.session.append(message, context.pin, context.stop);
    if (context.stop.load() && !outcome.answered) break;
    relay::client::print_outcome(outcome, context.json);
    ++summary.sent;
    if (relay::client::succeeded(outcome)) {
      ++summary.ok;
      summary.relayed += outcome.reply.relayed_by != 0 ? 1 : 0;
      summary.latencies_us.push_back(outcome.latency_us);
    } else {
      ++summary.failed;
    }
    if (args.interval_ms != 0 && i < count) {
      std::this_thread::sleep_for(std::chrono::milliseconds(args.interval_ms));
    }
  }
  summary.interrupted = context.stop.load();
  relay::client::print_summary(summary, context.json);
  return summary.failed == 0 && summary.sent == count ? 0 : 1;
}

// read: without --count one request (the node's default number of
// messages); with --count N as many requests as it takes to get N messages
// or reach the end of the stream (a node caps one reply's size).
int run_read(Context& context, const RequestArgs& args) {
  std::uint64_t next = args.from;
  std::uint64_t got = 0;
  relay::transport::RequestOutcome last;
  while (!context.stop.load()) {
    ClientRequest request;
    request.op = Op::read;
    request.from = next;
    if (args.count != 0) {
      request.count = static_cast<std::uint32_t>(
          std::min<std::uint64_t>(args.count - got, std::numeric_limits<std::uint32_t>::max()));
    }
    last = context.session.send(std::move(request), context.pin, context.stop);
    relay::client::print_read_page(last, context.json);
    if (!relay::client::succeeded(last)) break;
    const auto page = last.reply.values.size();
    got += page;
    next += page;
    if (page == 0 || args.count == 0 || got >= args.count) break;
  }
  if (!context.json) relay::client::print_read_end(last, args.from, got);
  return relay::client::succeeded(last) ? 0 : 1;
}

// status: every node, or with --node only that one; it fails (a line on
// stderr, exit 1) when none of them answers.
int run_status(Context& context) {
  std::vector<relay::proto::NodeId> asked;
  for (const auto& node : context.cluster.nodes) {
    if (!context.pin || *context.pin == node.id) asked.push_back(node.id);
  }
  int answered = 0;
  for (const auto id : asked) {
    const auto status = context.session.status(id, std::chrono::milliseconds(500));
    answered += status ? 1 : 0;
    relay::client::print_status(id, status, context.json);
  }
  if (answered > 0) return 0;
  std::string names;
  for (const auto id : asked) names += (names.empty() ? "" : ", ") + std::to_string(id);
  std::fprintf(stderr, "relay-client: status failed: no answer from %s %s\n",
               relay::util::noun(asked.size(), "node").c_str(), names.c_str());
  return 1;
}

// Keys and values are checked here so that a wrong one is a usage error
// (exit 2) instead of a bad_request from the cluster (exit 1).
CLI::Validator bytes_at_most(std::size_t max, std::size_t min = 0) {
  return CLI::Validator(
      [max, min](std::string& text) {
        if (text.size() < min) return std::string("must not be empty");
        if (text.size() > max) return "must be at most " + std::to_string(max) + " bytes";
        return std::string();
      },
      "", "");
}

const char* const kFooter =
    "\nThe options of relay-client (--config, --node, --json, --timeout-ms, --retries,\n"
    "--log-level) go before or after the command.\n"
    "\nValues are printed quoted and escaped as in JSON strings, with each byte that is not\n"
    "UTF-8 as \\xNN. With --json a value (key, value, expected, each of values) is a JSON\n"
    "string when it is valid UTF-8, otherwise an object {\"base64\":\"...\"} holding its bytes,\n"
    "so that every value reads back exactly.\n"
    "\nExit status: 0 when every request was answered ok (a get of a missing key, a del of one\n"
    "and a cas that did not swap are answers too), 1 when a request failed (no ok answer by the\n"
    "deadline, or bad_request; a line on stderr says why), 2 for a usage or configuration error.";

struct Commands {
  CLI::App* put;
  CLI::App* get;
  CLI::App* del;
  CLI::App* cas;
  CLI::App* send;
  CLI::App* read;
  CLI::App* status;
};

Commands add_commands(CLI::App& app, RequestArgs& args) {
  const auto key = bytes_at_most(relay::proto::kMaxKeyBytes, 1);
  const auto value = bytes_at_most(relay::proto::kMaxMessageBytes);
  Commands c{};
  c.put = app.add_subcommand("put", "set KEY to VALUE; prints the log index it was applied at");
  c.put->add_option("KEY", args.key, "the key")->required()->check(key);
  c.put->add_option("VALUE", args.value, "the value")->required()->check(value);
  c.get = app.add_subcommand("get", "print the value of KEY, or \"not found\" (exit status 0 either way)");
  c.get->add_option("KEY", args.key, "the key")->required()->check(key);
  c.del = app.add_subcommand("del", "remove KEY; says whether it existed");
  c.del->add_option("KEY", args.key, "the key")->required()->check(key);
  c.cas = app.add_subcommand("cas", "set KEY to NEW if it holds OLD now; says whether it did, and "
                                    "what the key holds");
  c.cas->add_option("KEY", args.key, "the key")->required()->check(key);
  c.cas->add_option("OLD", args.expected, "the value KEY must hold")->required()->check(value);
  c.cas->add_option("NEW", args.value, "the value to set")->required()->check(value);
  c.send = app.add_subcommand("send", "append MESSAGE (default \"hello\") to the ordered stream; "
                                      "prints its stream position");
  c.send->add_option("MESSAGE", args.words, "the text; several words are joined with spaces");
  c.send->add_option("--count", args.count, "send N messages, numbered \"MESSAGE #i\", and a summary")
      ->check(CLI::Range(1ULL, 100'000'000ULL));
  c.send->add_option("--interval-ms", args.interval_ms, "pause between messages");
  c.read = app.add_subcommand("read", "print the stream's messages from position FROM (the first "
                                      "is 1), one per line with its position");
  c.read->add_option("FROM", args.from, "the first position wanted")
      ->required()
      ->check(CLI::Range(std::uint64_t{1}, std::numeric_limits<std::uint64_t>::max()));
  c.read->add_option("--count", args.count, "at most N messages (default: as many as a node sends in one reply)")
      ->check(CLI::Range(1ULL, 100'000'000ULL));
  c.status = app.add_subcommand("status", "ask every node (with --node, that node) for its role, "
                                          "term, leader and log indexes");
  // The program's options are the parent's; fallthrough lets them follow
  // the command too ("put k v --node 2" as well as "--node 2 put k v").
  for (auto* command : {c.put, c.get, c.del, c.cas, c.send, c.read, c.status}) {
    command->fallthrough()->footer(kFooter);
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each reply's line leaves at once, also into a pipe
  CLI::App app{"relay-client: use a Relay-Raft cluster as a replicated key-value store and message\n"
               "stream. Each request goes to a random node; a follower relays it to the leader, which\n"
               "answers once the write is committed (or, for get and read, once it has confirmed it\n"
               "still leads). A request that gets no answer, or a retryable one (timeout, unknown,\n"
               "not_leader, unavailable, overloaded), is tried again on another node with the same\n"
               "request id, so a write is applied at most once."};
  app.require_subcommand(1);
  app.footer(kFooter);
  std::string config_path = "config/cluster.ini";
  std::string log_level = "warn";
  bool json = false;
  std::uint32_t timeout_ms = 0;
  std::uint32_t retries = 3;
  RequestArgs args;
  app.add_option("--config", config_path, "cluster configuration file (INI)")->capture_default_str();
  app.add_option("--log-level", log_level, std::string("one of ") + relay::util::kLogLevels)
      ->check(CLI::IsMember(relay::util::kLogLevelNames))
      ->capture_default_str();
  app.add_option("--timeout-ms", timeout_ms,
                 "deadline of each request, retries included (default: request_timeout_ms of the file)");
  app.add_option("--node", args.node,
                 "send each request to this node instead of a random one (and retry there); status: ask only it");
  app.add_option("--retries", retries, "how many times a request is tried again on another node")
      ->capture_default_str();
  app.add_flag("--json", json, "one JSON object per request (and per node for status), fields named as in "
                               "docs/protocol.md");

  const Commands commands = add_commands(app, args);
  if (auto exit_status = relay::util::parse_command_line(app, "relay-client", argc, argv)) return *exit_status;

  if (!relay::util::setup_logging("client", log_level)) {
    std::fprintf(stderr, "relay-client: unknown --log-level '%s' (use %s)\n", log_level.c_str(),
                 relay::util::kLogLevels);
    return 2;
  }
  auto loaded = relay::config::load(config_path);
  if (auto* error = std::get_if<relay::config::ConfigError>(&loaded)) {
    std::fprintf(stderr, "relay-client: %s\n", error->message.c_str());
    return 2;
  }
  const auto& cluster = std::get<relay::config::Cluster>(loaded);
  if (args.node != 0 && cluster.find(args.node) == nullptr) {
    std::fprintf(stderr, "relay-client: --node %u is not in %s (see --help)\n", args.node, cluster.source.c_str());
    return 2;
  }
  const auto& stop = relay::util::install_stop_signals();
  relay::transport::ClientOptions options;
  options.client_id = random_client_id();
  options.attempts = retries + 1;
  options.timeout_ms = timeout_ms != 0 ? timeout_ms : cluster.request_timeout_ms;
  options.seed = relay::util::os_seed();
  relay::transport::ClientSession session(cluster, std::move(options));
  Context context{cluster, session, args.node != 0 ? std::optional(args.node) : std::nullopt, json, stop};

  ClientRequest request;
  request.key = args.key;
  if (*commands.put) {
    request.op = Op::put;
    request.value = args.value;
  } else if (*commands.get) {
    request.op = Op::get;
  } else if (*commands.del) {
    request.op = Op::del;
  } else if (*commands.cas) {
    request.op = Op::cas;
    request.expected = args.expected;
    request.value = args.value;
  } else if (*commands.send) {
    return run_send(context, args);
  } else if (*commands.read) {
    return run_read(context, args);
  } else {
    return run_status(context);
  }
  return run_single(context, std::move(request));
}
