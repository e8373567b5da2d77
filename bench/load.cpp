// relay-load — one closed-loop put workload for Relay-Raft and for etcd, so
// that bench/etcd_compare.sh measures both systems with the same client.
//
// Each client is one connection to one member (members are dealt out
// round-robin, so every member gets clients) and has at most one request in
// flight: it sends a put of a random key from a fixed keyspace, waits for the
// answer, and sends the next. All clients of a thread share one zmq_poll loop
// (a ZeroMQ DEALER or a plain TCP socket are both poll items), so the
// generator's own cost is the same loop for both systems.
//
//   Relay-Raft: a DEALER per client, protocol v2 frames through the project's
//     codec: ClientRequest{op = put}. `ok` counts; any other status, or no
//     answer by the deadline, is an error and the same request id is sent again
//     after a short pause.
//   etcd: HTTP/1.1 keep-alive to the v3 JSON gateway, POST /v3/kv/put with
//     base64 key and value. 200 counts; anything else is an error and the put
//     is sent again; a broken or timed-out connection is reopened.
//
// Before the clock starts every client must get one answer `ok` (the cluster
// has a leader and every connection is up), then a warm-up whose requests are
// not counted, then the measured run. Latency is from a request's first send
// to its `ok`, retries included.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cerrno>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "proto/codec.hpp"
#include "proto/messages.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Options {
  std::string target;                  // "relay" or "etcd"
  std::vector<std::string> endpoints;  // one per member
  std::string label;                   // the system's name in the output
  int clients = 1;
  int threads = 1;
  double duration_s = 10;
  double warmup_s = 1;
  double ready_timeout_s = 15;
  std::size_t key_bytes = 16;
  std::size_t value_bytes = 64;
  std::uint32_t keyspace = 10000;
  std::uint32_t timeout_ms = 2000;  // per attempt
  std::uint32_t retry_pause_ms = 10;
  bool json = false;
};

// What became of one attempt.
enum class Outcome { none, ok, error };

// One client's connection, to either system. Implementations keep at most
// one request in flight.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual zmq::pollitem_t poll_item() = 0;
  // Sends a put; `retry` means the same request as the last one.
  virtual void send_put(const std::string& key, const std::string& value, bool retry) = 0;
  // Reads what is there; says whether the request in flight was answered.
  virtual Outcome on_readable(std::string& why) = 0;
  // The attempt got no answer in time: make the connection usable again.
  virtual void abandon() = 0;
};

// ---- Relay-Raft ----

class RelayConnection final : public Connection {
 public:
  RelayConnection(zmq::context_t& context, const std::string& endpoint, std::string client_id,
                  std::uint32_t timeout_ms)
      : socket_(context, zmq::socket_type::dealer),
        client_id_(std::move(client_id)),
        timeout_ms_(timeout_ms) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint);
  }

  zmq::pollitem_t poll_item() override {
    return {static_cast<void*>(socket_), 0, ZMQ_POLLIN, 0};
  }

  void send_put(const std::string& key, const std::string& value, bool retry) override {
    if (!retry) ++request_id_;
    relay::proto::ClientRequest request;
    request.client_id = client_id_;
    request.request_id = request_id_;
    request.timeout_ms = timeout_ms_;
    request.op = relay::proto::Op::put;
    request.key = key;
    request.value = value;
    const std::string frame = relay::proto::encode(request);
    socket_.send(zmq::buffer(frame), zmq::send_flags::dontwait);
  }

  Outcome on_readable(std::string& why) override {
    Outcome outcome = Outcome::none;
    zmq::message_t frame;
    while (socket_.recv(frame, zmq::recv_flags::dontwait)) {
      auto decoded = relay::proto::decode(frame.to_string_view());
      if (auto* error = std::get_if<relay::proto::DecodeError>(&decoded)) {
        why = "undecodable reply: " + error->reason;
        outcome = Outcome::error;
        continue;
      }
      auto* reply = std::get_if<relay::proto::ClientReply>(&std::get<relay::proto::Message>(decoded));
      // A late answer to an earlier attempt of an earlier request is not ours.
      if (reply == nullptr || reply->request_id != request_id_) continue;
      if (reply->status == relay::proto::Status::ok) return Outcome::ok;
      why = std::string("status ") + relay::proto::to_string(reply->status) +
            (reply->message.empty() ? "" : ": " + reply->message);
      outcome = Outcome::error;
    }
    return outcome;
  }

  void abandon() override {}  // a DEALER just sends the same request again

 private:
  zmq::socket_t socket_;
  std::string client_id_;
  std::uint32_t timeout_ms_;
  std::uint64_t request_id_ = 0;
};

// ---- etcd, HTTP/1.1 over a plain socket ----

std::string base64(const std::string& in) {
  static constexpr char kTable[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i]) << 16 |
                                              static_cast<unsigned char>(in[i + 1]) << 8 |
                                              static_cast<unsigned char>(in[i + 2]));
    for (int shift : {18, 12, 6, 0}) out += kTable[(n >> shift) & 63];
  }
  if (i < in.size()) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i]) << 16);
    if (i + 1 < in.size()) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1]) << 8);
    out += kTable[(n >> 18) & 63];
    out += kTable[(n >> 12) & 63];
    out += i + 1 < in.size() ? kTable[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

struct HostPort {
  std::string host;
  std::string port;
};

// "http://HOST:PORT" (a trailing path is ignored).
std::optional<HostPort> parse_http_endpoint(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return std::nullopt;
  std::string rest = url.substr(scheme.size());
  rest = rest.substr(0, rest.find('/'));
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) return std::nullopt;
  return HostPort{rest.substr(0, colon), rest.substr(colon + 1)};
}

class HttpConnection final : public Connection {
 public:
  explicit HttpConnection(HostPort where) : where_(std::move(where)) { open(); }
  ~HttpConnection() override { close_fd(); }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  zmq::pollitem_t poll_item() override {
    const short events = static_cast<short>(ZMQ_POLLIN | (out_.empty() ? 0 : ZMQ_POLLOUT));
    return {nullptr, fd_, events, 0};
  }

  void send_put(const std::string& key, const std::string& value, bool retry) override {
    (void)retry;  // a put is idempotent: sending it again is the retry
    if (fd_ < 0) open();
    const std::string body =
        R"({"key":")" + base64(key) + R"(","value":")" + base64(value) + R"("})";
    out_ = "POST /v3/kv/put HTTP/1.1\r\nHost: " + where_.host + ":" + where_.port +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
    flush();
  }

  Outcome on_readable(std::string& why) override {
    flush();
    char chunk[16384];
    for (;;) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        in_.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        why = n == 0 ? "connection closed by the server" : std::string("recv: ") + strerror(errno);
        reopen();
        return Outcome::error;
      }
      if (errno != EINTR) break;
    }
    return parse_response(why);
  }

  void abandon() override { reopen(); }

 private:
  void open() {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(where_.host.c_str(), where_.port.c_str(), &hints, &found) != 0) return;
    fd_ = ::socket(found->ai_family, SOCK_STREAM, 0);
    if (fd_ >= 0 && ::connect(fd_, found->ai_addr, found->ai_addrlen) != 0) close_fd();
    freeaddrinfo(found);
    if (fd_ < 0) return;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  void close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void reopen() {
    close_fd();
    in_.clear();
    out_.clear();
    open();
  }
  void flush() {
    while (!out_.empty() && fd_ >= 0) {
      const ssize_t n = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // EAGAIN: POLLOUT will call again; errors show up in recv
      out_.erase(0, static_cast<std::size_t>(n));
    }
  }

  // One complete response at the front of in_, if there is one.
  Outcome parse_response(std::string& why) {
    const auto head_end = in_.find("\r\n\r\n");
    if (head_end == std::string::npos) return Outcome::none;
    std::string head = in_.substr(0, head_end);
    std::transform(head.begin(), head.end(), head.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const int status = head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
    std::size_t body_begin = head_end + 4;
    std::size_t end = 0;
    if (head.find("transfer-encoding: chunked") != std::string::npos) {
      std::size_t at = body_begin;  // sizes in hex, each chunk followed by CRLF, 0 ends
      for (;;) {
        const auto line_end = in_.find("\r\n", at);
        if (line_end == std::string::npos) return Outcome::none;
        const auto size = std::strtoul(in_.c_str() + at, nullptr, 16);
        at = line_end + 2 + size + 2;
        if (at > in_.size()) return Outcome::none;
        if (size == 0) break;
      }
      end = at;
    } else {
      const auto length_at = head.find("content-length:");
      const std::size_t length =
          length_at == std::string::npos ? 0 : std::strtoul(head.c_str() + length_at + 15, nullptr, 10);
      end = body_begin + length;
      if (end > in_.size()) return Outcome::none;
    }
    const std::string body = in_.substr(body_begin, std::min<std::size_t>(end - body_begin, 200));
    in_.erase(0, end);
    if (head.find("connection: close") != std::string::npos) reopen();
    if (status == 200) return Outcome::ok;
    why = "HTTP " + std::to_string(status) + ": " + body;
    return Outcome::error;
  }

  HostPort where_;
  int fd_ = -1;
  std::string in_;
  std::string out_;
};

// ---- the closed loop ----

struct Client {
  std::unique_ptr<Connection> connection;
  bool in_flight = false;
  bool ready = false;                // answered ok at least once
  Clock::time_point first_sent;      // of the current request, for its latency
  Clock::time_point deadline;        // of the current attempt
  Clock::time_point resume_at;       // after an error, when to send again
  std::string key, value;
  std::string endpoint;
  std::string last_error;
};

struct Result {
  std::vector<std::uint32_t> latencies_us;  // of the ok answers in the measured window
  std::uint64_t errors = 0;                 // in the measured window
  std::uint64_t not_ready = 0;              // clients that never got an ok before the clock
  std::string first_error;
};

class Workload {
 public:
  Workload(const Options& options, std::uint64_t seed) : options_(options), rng_(seed) {}

  void fill(Client& client) {
    // "k" and the key's number, zero-padded to key_bytes (at least 6 bytes, and
    // the keyspace has at most 6 digits, so the number always fits).
    std::uniform_int_distribution<std::uint32_t> key_of(0, options_.keyspace - 1);
    const std::string digits = std::to_string(key_of(rng_));
    client.key.assign("k");
    client.key.append(options_.key_bytes - 1 - digits.size(), '0');
    client.key.append(digits);
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::uniform_int_distribution<std::size_t> letter(0, sizeof kAlphabet - 2);
    client.value.resize(options_.value_bytes);
    for (char& c : client.value) c = kAlphabet[letter(rng_)];
  }

 private:
  const Options& options_;
  std::mt19937_64 rng_;
};

void send_new(Client& client, Workload& workload, Clock::time_point now, milliseconds timeout) {
  workload.fill(client);
  client.first_sent = now;
  client.deadline = now + timeout;
  client.in_flight = true;
  client.connection->send_put(client.key, client.value, false);
}

// Runs `clients` until `stop`; counts what completes in [measure_from, stop).
void run_loop(std::vector<Client>& clients, Workload& workload, const Options& options,
              Clock::time_point measure_from, Clock::time_point stop, Result& result) {
  const milliseconds timeout(options.timeout_ms);
  const milliseconds pause(options.retry_pause_ms);
  std::vector<zmq::pollitem_t> items(clients.size());
  for (Clock::time_point now = Clock::now(); now < stop; now = Clock::now()) {
    Clock::time_point wake = stop;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      Client& c = clients[i];
      if (!c.in_flight && now >= c.resume_at) {
        if (c.first_sent == Clock::time_point{}) {
          send_new(c, workload, now, timeout);
        } else {  // the retry of a request that failed
          c.deadline = now + timeout;
          c.in_flight = true;
          c.connection->send_put(c.key, c.value, true);
        }
      }
      wake = std::min(wake, c.in_flight ? c.deadline : c.resume_at);
      items[i] = c.connection->poll_item();
    }
    const auto wait = std::chrono::duration_cast<milliseconds>(wake - now) + milliseconds(1);
    zmq::poll(items.data(), items.size(), std::max(wait, milliseconds(0)));
    now = Clock::now();
    const bool measuring = now >= measure_from;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      Client& c = clients[i];
      std::string why;
      Outcome outcome = Outcome::none;
      if (items[i].revents != 0) outcome = c.connection->on_readable(why);
      if (outcome == Outcome::none && c.in_flight && now >= c.deadline) {
        c.connection->abandon();
        why = "no answer within " + std::to_string(options.timeout_ms) + " ms";
        outcome = Outcome::error;
      }
      if (outcome == Outcome::ok && c.in_flight) {
        c.ready = true;
        if (measuring && now < stop) {
          const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - c.first_sent);
          result.latencies_us.push_back(static_cast<std::uint32_t>(us.count()));
        }
        send_new(c, workload, now, timeout);
      } else if (outcome == Outcome::error && c.in_flight) {
        if (measuring) ++result.errors;
        if (result.first_error.empty()) result.first_error = why;
        c.last_error = why;
        c.in_flight = false;
        c.resume_at = now + pause;
      }
    }
  }
}

// The run's schedule, shared by the threads: set once every thread's
// clients have had their first ok (or have given up), so that all threads
// measure the same window.
struct Window {
  Clock::time_point measure_from;
  Clock::time_point stop;
  bool abort = false;  // some client never got an ok: there is nothing to measure
};

// One thread's share of the clients, from connecting to the end of the run.
void run_thread(const Options& options, int first, int count, Clock::time_point ready_by,
                const std::function<void()>& wait_for_all, const Window& window,
                Result& result) {
  zmq::context_t context(1);
  Workload workload(options, 0x5eed0000u + static_cast<std::uint64_t>(first));
  std::vector<Client> clients(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    const int n = first + i;
    const std::string& endpoint =
        options.endpoints[static_cast<std::size_t>(n) % options.endpoints.size()];
    auto& client = clients[static_cast<std::size_t>(i)];
    client.endpoint = endpoint;
    if (options.target == "relay") {
      const std::string id = "load-" + std::to_string(getpid()) + "-" + std::to_string(n);
      client.connection = std::make_unique<RelayConnection>(context, endpoint, id, options.timeout_ms);
    } else {
      client.connection = std::make_unique<HttpConnection>(*parse_http_endpoint(endpoint));
    }
  }
  // Readiness: run (nothing counted) until every client has had an ok.
  Result ignored;
  const auto all_ok = [&] {
    return std::all_of(clients.begin(), clients.end(), [](const Client& c) { return c.ready; });
  };
  for (auto now = Clock::now(); now < ready_by && !all_ok(); now = Clock::now()) {
    run_loop(clients, workload, options, ready_by, std::min(ready_by, now + milliseconds(50)),
             ignored);
  }
  for (const Client& c : clients) {
    if (c.ready) continue;
    if (result.not_ready++ == 0) {
      result.first_error = c.endpoint + ": " + (c.last_error.empty() ? "no answer" : c.last_error);
    }
  }
  wait_for_all();
  if (!window.abort) run_loop(clients, workload, options, window.measure_from, window.stop, result);
}

double percentile_ms(const std::vector<std::uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest latency that at least p of the requests met.
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1] / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"relay-load: a closed-loop put workload against Relay-Raft or etcd"};
  app.add_option("--target", options.target, "relay or etcd")
      ->required()
      ->check(CLI::IsMember({"relay", "etcd"}));
  app.add_option("--endpoints", options.endpoints,
                 "members' client endpoints, comma-separated (tcp://H:P for relay, http://H:P for etcd)")
      ->required()
      ->delimiter(',');
  app.add_option("--label", options.label, "the system's name in the output (default: the target)");
  app.add_option("--clients", options.clients, "concurrent clients, one connection each")
      ->check(CLI::Range(1, 4096));
  app.add_option("--threads", options.threads, "threads sharing the clients")->check(CLI::Range(1, 64));
  app.add_option("--duration", options.duration_s, "measured seconds")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--warmup", options.warmup_s, "seconds run before measuring")->check(CLI::Range(0.0, 600.0));
  app.add_option("--ready-timeout", options.ready_timeout_s,
                 "seconds every client may take to get its first ok")
      ->check(CLI::Range(0.1, 600.0));
  app.add_option("--key-bytes", options.key_bytes, "key size")->check(CLI::Range(6, 1024));
  app.add_option("--value-bytes", options.value_bytes, "value size")->check(CLI::Range(0, 200000));
  app.add_option("--keyspace", options.keyspace, "distinct keys")->check(CLI::Range(1, 100000));
  app.add_option("--timeout-ms", options.timeout_ms, "one attempt's deadline")->check(CLI::Range(1, 600000));
  app.add_option("--retry-pause-ms", options.retry_pause_ms, "pause after an error");
  app.add_flag("--json", options.json, "one JSON object instead of a line");
  app.failure_message([](const CLI::App*, const CLI::Error& error) {
    return std::string("relay-load: ") + error.what() + " (see --help)\n";
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  if (options.label.empty()) options.label = options.target;
  for (const std::string& endpoint : options.endpoints) {
    if (options.target == "etcd" && !parse_http_endpoint(endpoint)) {
      std::fprintf(stderr, "relay-load: '%s' is not http://HOST:PORT (see --help)\n", endpoint.c_str());
      return 2;
    }
  }
  options.threads = std::min(options.threads, options.clients);

  const auto seconds = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  const auto ready_by = Clock::now() + seconds(options.ready_timeout_s);
  Window window;
  std::vector<Result> results(static_cast<std::size_t>(options.threads));
  const auto schedule = [&]() noexcept {
    window.abort = std::any_of(results.begin(), results.end(),
                               [](const Result& r) { return r.not_ready > 0; });
    window.measure_from = Clock::now() + seconds(options.warmup_s);
    window.stop = window.measure_from + seconds(options.duration_s);
  };
  std::barrier all_ready(options.threads, schedule);
  const std::function<void()> wait_for_all = [&] { all_ready.arrive_and_wait(); };
  std::vector<std::thread> threads;
  int first = 0;
  for (int t = 0; t < options.threads; ++t) {
    const int count = options.clients / options.threads + (t < options.clients % options.threads ? 1 : 0);
    threads.emplace_back([&, t, first, count] {
      run_thread(options, first, count, ready_by, wait_for_all, window, results[static_cast<std::size_t>(t)]);
    });
    first += count;
  }
  for (auto& thread : threads) thread.join();

  Result total;
  for (Result& r : results) {
    total.latencies_us.insert(total.latencies_us.end(), r.latencies_us.begin(), r.latencies_us.end());
    total.errors += r.errors;
    total.not_ready += r.not_ready;
    if (total.first_error.empty()) total.first_error = r.first_error;
  }
  if (total.not_ready > 0) {
    std::fprintf(stderr, "relay-load: %s: %llu of %d clients got no ok within %.1f s (%s)\n",
                 options.label.c_str(), static_cast<unsigned long long>(total.not_ready),
                 options.clients, options.ready_timeout_s,
                 total.first_error.c_str());
    return 1;
  }
  std::sort(total.latencies_us.begin(), total.latencies_us.end());
  const auto ops = total.latencies_us.size();
  const double throughput = static_cast<double>(ops) / options.duration_s;
  const double p50 = percentile_ms(total.latencies_us, 0.50);
  const double p99 = percentile_ms(total.latencies_us, 0.99);
  if (options.json) {
    std::printf("{\"system\":\"%s\",\"target\":\"%s\",\"clients\":%d,\"duration_s\":%.3f,"
                "\"ops\":%zu,\"throughput_ops_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
                "\"errors\":%llu}\n",
                options.label.c_str(), options.target.c_str(), options.clients, options.duration_s,
                ops, throughput, p50, p99, static_cast<unsigned long long>(total.errors));
  } else {
    std::printf("%-14s clients %3d  ops %8zu  %9.1f ops/s  p50 %7.3f ms  p99 %7.3f ms  errors %llu\n",
                options.label.c_str(), options.clients, ops, throughput, p50, p99,
                static_cast<unsigned long long>(total.errors));
  }
  if (total.errors > 0 && !total.first_error.empty()) {
    std::fprintf(stderr, "relay-load: %s: first error: %s\n", options.label.c_str(),
                 total.first_error.c_str());
  }
  return 0;
}
