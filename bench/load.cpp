// relay-load — one closed-loop put workload for Relay-Raft and for etcd, so
// that bench/etcd_compare.sh measures both systems with the same client.
//
// Each client is one connection to one member (members are dealt out
// round-robin, so every member gets clients) and has at most one request in
// flight: it sends a put of a random key from a fixed keyspace, waits for the
// answer, and sends the next. All clients of a thread share one epoll loop
// (a ZeroMQ DEALER is watched through its ZMQ_FD, a plain TCP socket
// directly), so the generator's own cost is the same loop for both systems,
// and a wake-up costs in proportion to the clients that have something to
// do, not to all of them: the generator shares the CPUs with the cluster it
// measures.
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
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <barrier>
#include <cerrno>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "config/endpoint.hpp"
#include "proto/codec.hpp"
#include "proto/messages.hpp"
#include "util/words.hpp"

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

// One thread's epoll set. Each connection registers the descriptor it waits
// on, tagged with its client's index, so that a wake-up names the clients
// that have something to do and costs nothing for the others. Registrations
// are level-triggered, like poll: a descriptor left readable wakes the loop
// again rather than being forgotten.
class Waiter {
 public:
  Waiter() : fd_(epoll_create1(EPOLL_CLOEXEC)) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  }
  ~Waiter() { ::close(fd_); }
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  void watch(int fd, std::uint32_t events, std::size_t tag) { control(EPOLL_CTL_ADD, fd, events, tag); }
  void change(int fd, std::uint32_t events, std::size_t tag) { control(EPOLL_CTL_MOD, fd, events, tag); }
  // Called before `fd` is closed. A failure needs no handling: closing the
  // last reference to a descriptor takes it out of the set anyway.
  void forget(int fd) noexcept { epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr); }

  // Waits up to `timeout` and returns the ready descriptors' events, each
  // descriptor once, its tag in data.u64. Valid until the next call.
  std::span<const epoll_event> wait(milliseconds timeout) {
    const auto timeout_ms = static_cast<int>(
        std::min<milliseconds::rep>(timeout.count(), std::numeric_limits<int>::max()));
    const int n = epoll_wait(fd_, ready_.data(), static_cast<int>(ready_.size()), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) return {};
      throw std::system_error(errno, std::generic_category(), "epoll_wait");
    }
    return {ready_.data(), static_cast<std::size_t>(n)};
  }

 private:
  void control(int op, int fd, std::uint32_t events, std::size_t tag) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = tag;
    if (epoll_ctl(fd_, op, fd, &event) != 0) {
      throw std::system_error(errno, std::generic_category(), "epoll_ctl");
    }
  }

  int fd_;
  // More ready descriptors than this are reported by the next wait, at once.
  std::array<epoll_event, 256> ready_{};
};

constexpr auto kReadable = static_cast<std::uint32_t>(EPOLLIN);
constexpr auto kWritable = static_cast<std::uint32_t>(EPOLLOUT);

// One client's connection, to either system. Implementations keep at most
// one request in flight, and register with the thread's Waiter whatever
// descriptor tells them that on_readable has something to read.
class Connection {
 public:
  virtual ~Connection() = default;
  // Sends a put; `retry` means the same request as the last one. Returns
  // what on_readable would return now: usually none, but a ZeroMQ send can
  // take in the notice of a reply that arrived meanwhile, and then the
  // descriptor will not say so.
  virtual Outcome send_put(const std::string& key, const std::string& value, bool retry,
                           std::string& why) = 0;
  // Reads what is there; says whether the request in flight was answered.
  virtual Outcome on_readable(std::string& why) = 0;
  // The attempt got no answer in time: make the connection usable again.
  virtual void abandon() = 0;
};

// ---- Relay-Raft ----

class RelayConnection final : public Connection {
 public:
  RelayConnection(zmq::context_t& context, Waiter& waiter, std::size_t tag,
                  const std::string& endpoint, std::string client_id, std::uint32_t timeout_ms)
      : socket_(context, zmq::socket_type::dealer),
        client_id_(std::move(client_id)),
        timeout_ms_(timeout_ms) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint);
    // ZMQ_FD is not the connection: it becomes readable when the socket has
    // news of any kind, and stays so until a call into the socket takes the
    // news in. on_readable reads until recv fails with EAGAIN, which takes
    // it all in; a send can take it in too, hence the read after each send.
    waiter.watch(socket_.get(zmq::sockopt::fd), kReadable, tag);
  }

  Outcome send_put(const std::string& key, const std::string& value, bool retry,
                   std::string& why) override {
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
    return on_readable(why);
  }

  // Reads until the socket has nothing more (recv fails with EAGAIN), except
  // that it returns at an ok; what is queued behind that is read by the next
  // call, which the loop makes at once (the send of the next request reads,
  // and an ok with nothing in flight makes the loop read on).
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
  HttpConnection(Waiter& waiter, std::size_t tag, HostPort where)
      : waiter_(waiter), tag_(tag), where_(std::move(where)) {
    open();
  }
  ~HttpConnection() override { close_fd(); }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  Outcome send_put(const std::string& key, const std::string& value, bool retry,
                   std::string& why) override {
    (void)retry;  // a put is idempotent: sending it again is the retry
    (void)why;    // a plain socket's readiness survives a send
    if (fd_ < 0) open();
    const std::string body =
        R"({"key":")" + base64(key) + R"(","value":")" + base64(value) + R"("})";
    out_ = "POST /v3/kv/put HTTP/1.1\r\nHost: " + where_.host + ":" + where_.port +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
    flush();
    return Outcome::none;
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
    waiter_.watch(fd_, kReadable, tag_);
    watching_writes_ = false;
  }
  void close_fd() {
    if (fd_ >= 0) {
      waiter_.forget(fd_);
      ::close(fd_);
    }
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
      if (n <= 0) break;  // EAGAIN: EPOLLOUT will call again; errors show up in recv
      out_.erase(0, static_cast<std::size_t>(n));
    }
    // Ask for EPOLLOUT only while a request is half sent: a writable socket
    // would otherwise wake the loop all the time.
    const bool want_writes = !out_.empty();
    if (fd_ >= 0 && want_writes != watching_writes_) {
      waiter_.change(fd_, kReadable | (want_writes ? kWritable : 0u), tag_);
      watching_writes_ = want_writes;
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

  Waiter& waiter_;
  std::size_t tag_;
  HostPort where_;
  int fd_ = -1;
  bool watching_writes_ = false;  // fd_ is registered for EPOLLOUT too
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

// One thread's clients and the loop that drives them. A wake-up costs in
// proportion to the clients that have something to do: the Waiter names the
// connections with input, and a heap of timers names the clients whose
// attempt has run out of time or whose pause after an error is over.
class ClientLoop {
 public:
  ClientLoop(const Options& options, int first, int count, zmq::context_t& context);

  // Runs until `stop`; counts what completes in [measure_from, stop). A
  // request in flight at `stop` stays in flight for the next run.
  void run(Clock::time_point measure_from, Clock::time_point stop, Result& result);

  const std::vector<Client>& clients() const { return clients_; }

 private:
  // When a client must act unless something else happens first: its
  // attempt's deadline while in flight, the end of its pause otherwise.
  // Stale once the client's attempt number has moved on.
  struct Timer {
    Clock::time_point at;
    std::size_t client;
    std::uint64_t attempt;
    // For a min-heap, earliest first; equal times by client, so the first
    // round of sends goes in client order.
    bool operator>(const Timer& other) const {
      return at != other.at ? at > other.at : client > other.client;
    }
  };

  void arm(std::size_t index, Clock::time_point at);
  Clock::time_point next_timer();
  void on_input(std::size_t index, Clock::time_point now);
  void on_timer(std::size_t index, Clock::time_point now);
  Outcome send(std::size_t index, bool retry, Clock::time_point now, std::string& why);
  void settle(std::size_t index, Outcome outcome, std::string& why, Clock::time_point now);

  const Options& options_;
  const milliseconds timeout_;
  const milliseconds pause_;
  Workload workload_;
  Waiter waiter_;  // declared before clients_: their connections unregister from it
  std::vector<Client> clients_;
  std::vector<std::uint64_t> attempts_;  // per client: the number a live Timer carries
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  // The run in progress.
  Clock::time_point measure_from_;
  Clock::time_point stop_;
  Result* result_ = nullptr;
};

ClientLoop::ClientLoop(const Options& options, int first, int count, zmq::context_t& context)
    : options_(options),
      timeout_(options.timeout_ms),
      pause_(options.retry_pause_ms),
      workload_(options, 0x5eed0000u + static_cast<std::uint64_t>(first)),
      clients_(static_cast<std::size_t>(count)),
      attempts_(clients_.size(), 0) {
  for (std::size_t i = 0; i < clients_.size(); ++i) {
    const int n = first + static_cast<int>(i);
    const std::string& endpoint =
        options.endpoints[static_cast<std::size_t>(n) % options.endpoints.size()];
    Client& client = clients_[i];
    client.endpoint = endpoint;
    if (options.target == "relay") {
      const std::string id = "load-" + std::to_string(getpid()) + "-" + std::to_string(n);
      client.connection = std::make_unique<RelayConnection>(context, waiter_, i, endpoint, id,
                                                            options.timeout_ms);
    } else {
      client.connection = std::make_unique<HttpConnection>(waiter_, i, *parse_http_endpoint(endpoint));
    }
    arm(i, client.resume_at);  // the epoch: the first send is due at once
  }
}

void ClientLoop::run(Clock::time_point measure_from, Clock::time_point stop, Result& result) {
  measure_from_ = measure_from;
  stop_ = stop;
  result_ = &result;
  for (Clock::time_point now = Clock::now(); now < stop; now = Clock::now()) {
    // Round the wait up, so that the loop does not wake just before a deadline.
    const auto wait = std::chrono::ceil<milliseconds>(std::min(stop, next_timer()) - now);
    const auto ready = waiter_.wait(std::max(wait, milliseconds(0)));
    now = Clock::now();
    for (const epoll_event& event : ready) on_input(static_cast<std::size_t>(event.data.u64), now);
    while (!timers_.empty() && timers_.top().at <= now) {
      const Timer timer = timers_.top();
      timers_.pop();
      if (timer.attempt == attempts_[timer.client]) on_timer(timer.client, now);
    }
  }
  result_ = nullptr;
}

// Every change of a client's timer goes through here: the one armed before
// becomes stale, and stays in the heap until it reaches the top.
void ClientLoop::arm(std::size_t index, Clock::time_point at) {
  timers_.push(Timer{at, index, ++attempts_[index]});
}

// The time of the earliest live timer (the far future if there is none);
// stale ones on top are dropped on the way.
Clock::time_point ClientLoop::next_timer() {
  while (!timers_.empty() && timers_.top().attempt != attempts_[timers_.top().client]) {
    timers_.pop();
  }
  return timers_.empty() ? Clock::time_point::max() : timers_.top().at;
}

void ClientLoop::on_input(std::size_t index, Clock::time_point now) {
  Client& c = clients_[index];
  std::string why;
  Outcome outcome = c.connection->on_readable(why);
  // An ok with nothing in flight (a late answer to an attempt that already
  // failed) changes nothing; read on, as a DEALER may hold more behind it
  // and its ZMQ_FD will not say so again.
  while (outcome == Outcome::ok && !c.in_flight) outcome = c.connection->on_readable(why);
  settle(index, outcome, why, now);
}

void ClientLoop::on_timer(std::size_t index, Clock::time_point now) {
  Client& c = clients_[index];
  std::string why;
  if (c.in_flight) {  // the attempt's deadline
    c.connection->abandon();
    why = "no answer within " + std::to_string(options_.timeout_ms) + " ms";
    settle(index, Outcome::error, why, now);
    return;
  }
  // The pause is over (or this is the very first send).
  const bool retry = c.first_sent != Clock::time_point{};
  const Outcome outcome = send(index, retry, now, why);
  if (outcome != Outcome::none) settle(index, outcome, why, Clock::now());
}

// Sends the client's put: a new one, or the same again.
Outcome ClientLoop::send(std::size_t index, bool retry, Clock::time_point now, std::string& why) {
  Client& c = clients_[index];
  if (!retry) {
    workload_.fill(c);
    c.first_sent = now;
  }
  c.deadline = now + timeout_;
  c.in_flight = true;
  arm(index, c.deadline);
  return c.connection->send_put(c.key, c.value, retry, why);
}

// What an answer does: an ok completes the request and sends the next at
// once, an error pauses before the same request is sent again. An answer with
// nothing in flight changes nothing.
void ClientLoop::settle(std::size_t index, Outcome outcome, std::string& why, Clock::time_point now) {
  Client& c = clients_[index];
  while (outcome == Outcome::ok && c.in_flight) {
    c.ready = true;
    if (now >= measure_from_ && now < stop_) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - c.first_sent);
      result_->latencies_us.push_back(static_cast<std::uint32_t>(us.count()));
    }
    outcome = send(index, false, now, why);
    // Answered while it was being sent: time that answer from now, not from
    // the wake-up, or it would count as taking no time at all.
    if (outcome != Outcome::none) now = Clock::now();
  }
  if (outcome == Outcome::error && c.in_flight) {
    if (now >= measure_from_) ++result_->errors;
    if (result_->first_error.empty()) result_->first_error = why;
    c.last_error = why;
    c.in_flight = false;
    c.resume_at = now + pause_;
    arm(index, c.resume_at);
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
  ClientLoop loop(options, first, count, context);
  // Readiness: run (nothing counted) until every client has had an ok.
  Result ignored;
  const auto all_ok = [&] {
    return std::all_of(loop.clients().begin(), loop.clients().end(),
                       [](const Client& c) { return c.ready; });
  };
  for (auto now = Clock::now(); now < ready_by && !all_ok(); now = Clock::now()) {
    loop.run(ready_by, std::min(ready_by, now + milliseconds(50)), ignored);
  }
  for (const Client& c : loop.clients()) {
    if (c.ready) continue;
    if (result.not_ready++ == 0) {
      result.first_error = c.endpoint + ": " + (c.last_error.empty() ? "no answer" : c.last_error);
    }
  }
  wait_for_all();
  if (!window.abort) loop.run(window.measure_from, window.stop, result);
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
    if (options.target == "relay") {
      if (const auto problem = relay::config::endpoint_problem(endpoint)) {
        std::fprintf(stderr, "relay-load: endpoint '%s': %s (see --help)\n", endpoint.c_str(), problem->c_str());
        return 2;
      }
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
    std::fprintf(stderr, "relay-load: %s: %llu of %s got no ok within %.1f s (%s)\n", options.label.c_str(),
                 static_cast<unsigned long long>(total.not_ready),
                 relay::util::counted(static_cast<std::uint64_t>(options.clients), "client").c_str(),
                 options.ready_timeout_s, total.first_error.c_str());
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
