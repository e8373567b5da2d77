#include "transport/node_loop.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "proto/codec.hpp"
#include "proto/describe.hpp"
#include "transport/framing.hpp"
#include "transport/resolve.hpp"

namespace relay::transport {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kHighWaterMark = 10'000;
constexpr std::int64_t kMaxFrameBytes = static_cast<std::int64_t>(proto::kMaxFrameBytes) + 1024;
constexpr int kBatch = 256;  // messages read from one socket before looking at the others
constexpr std::chrono::milliseconds kMaxSleep{5};  // pending deadlines are checked this often

// A start-up failure that names the endpoint it concerns.
struct StartupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ZMTP heartbeats on every connection: a peer whose host died without a word,
// or a connection that a long partition silently broke, is closed and
// reconnected within seconds instead of looking alive forever (TCP alone
// would notice only when this side sends, or after many minutes).
constexpr int kZmtpHeartbeatMs = 250;
constexpr int kZmtpTimeoutMs = 2000;

zmq::socket_t make_socket(zmq::context_t& context, zmq::socket_type type) {
  zmq::socket_t socket(context, type);
  socket.set(zmq::sockopt::linger, 0);  // never keep the process alive for queued messages
  socket.set(zmq::sockopt::sndhwm, kHighWaterMark);
  socket.set(zmq::sockopt::rcvhwm, kHighWaterMark);
  socket.set(zmq::sockopt::heartbeat_ivl, kZmtpHeartbeatMs);
  socket.set(zmq::sockopt::heartbeat_timeout, kZmtpTimeoutMs);
  socket.set(zmq::sockopt::heartbeat_ttl, kZmtpTimeoutMs);
  return socket;
}

// ZeroMQ takes the host of a bind address for an interface name, so a host
// name is resolved to its address first ("localhost" is no interface).
void bind(zmq::socket_t& socket, const char* what, const std::string& endpoint) {
  try {
    socket.bind(resolve_endpoint(endpoint));
  } catch (const zmq::error_t& error) {
    throw StartupError(std::string("cannot bind ") + what + " endpoint " + endpoint + ": " + error.what());
  }
}

void connect(zmq::socket_t& socket, const char* what, const std::string& endpoint) {
  try {
    socket.connect(endpoint);
  } catch (const zmq::error_t& error) {
    throw StartupError(std::string("cannot connect to ") + what + " endpoint " + endpoint + ": " +
                       error.what());
  }
}

core::Options core_options(const config::Cluster& cluster, proto::NodeId self) {
  core::Options options;
  options.self = self;
  for (const auto& node : cluster.nodes) options.members.push_back(node.id);
  options.heartbeat_ticks = cluster.heartbeat_interval_ms;
  options.election_timeout_ticks = cluster.election_timeout_ms;
  options.request_timeout_ticks = cluster.request_timeout_ms;
  options.snapshot_bytes = cluster.snapshot_bytes;
  return options;
}


// The start-up error for a data directory that lost one of its two halves.
std::string half_lost(const std::filesystem::path& missing, const std::string& evidence, const char* lost,
                      const std::filesystem::path& node_dir) {
  return missing.string() + " is missing but " + evidence + ": the node's " + lost +
         "; restore it, or (only while every other node is up and healthy) remove " + node_dir.string() +
         " so that the node rejoins empty and catches up from the leader";
}

}  // namespace

std::variant<std::unique_ptr<NodeLoop>, std::string> NodeLoop::create(const config::Cluster& cluster,
                                                                       proto::NodeId self,
                                                                       std::uint64_t seed) {
  if (cluster.find(self) == nullptr) return "node " + std::to_string(self) + " is not in " + cluster.source.string();
  const auto node_dir = cluster.data_dir / ("node-" + std::to_string(self));
  StateFile state_file(node_dir);
  std::error_code ec;
  const bool state_exists = std::filesystem::exists(state_file.path(), ec);
  if (state_exists && !std::filesystem::exists(node_dir / "log", ec)) {
    // The log directory is created before the state file is first written,
    // so it was lost. With an empty log the node could help elect a leader
    // that lacks entries it had acknowledged.
    return half_lost(node_dir / "log", state_file.path().string() + " exists", "log is lost", node_dir);
  }
  // The log comes first: opening it takes the directory's lock, so a second
  // process started with the same id stops here, before it could write an
  // old term or vote back over the running node's state file.
  // The shell decides when to sync (after each event for `always`, once per
  // loop iteration for `batch`), so the store itself syncs only when asked.
  const auto mode = cluster.fsync == config::Fsync::never ? storage::FsyncMode::never : storage::FsyncMode::batch;
  auto opened = storage::LogStore::open(node_dir / "log", mode);
  if (auto* error = std::get_if<std::string>(&opened)) return "cannot open the log: " + *error;
  auto& [log_store, recovery] = std::get<0>(opened);
  if (!state_exists && (recovery.snapshot || !recovery.entries.empty())) {
    // Term and vote are written before any entry, so a log without them means
    // the file was lost; starting at term 0 could vote twice in a term.
    return half_lost(state_file.path(), "the log in " + (node_dir / "log").string() + " holds entries",
                     "term and vote are lost", node_dir);
  }
  auto loaded = state_file.load();
  if (auto* error = std::get_if<std::string>(&loaded)) return *error;
  // Write it back once now: a data directory that cannot be written is a
  // start-up error, not a surprise at the first election.
  if (auto error = state_file.store(std::get<core::DurableState>(loaded))) return *error;
  if (!recovery.report.empty()) spdlog::warn("node {}: {}", self, recovery.report);
  core::Restored restored;
  restored.durable = std::get<core::DurableState>(loaded);
  if (recovery.snapshot) {
    restored.snapshot_index = recovery.snapshot->last_index;
    restored.snapshot_term = recovery.snapshot->last_term;
    restored.snapshot = std::move(recovery.snapshot->data);
  }
  restored.entries = std::move(recovery.entries);
  std::string log_summary;
  if (!restored.entries.empty()) {
    log_summary = "entries " + std::to_string(restored.snapshot_index + 1) + ".." +
                  std::to_string(restored.snapshot_index + restored.entries.size());
  }
  if (restored.snapshot_index > 0) {
    log_summary += (log_summary.empty() ? "" : " after ") + std::string("a snapshot at ") +
                   std::to_string(restored.snapshot_index);
  }
  try {
    std::unique_ptr<NodeLoop> loop(
        new NodeLoop(cluster, self, std::move(restored), std::move(log_store), seed));
    loop->open_sockets(cluster);
    if (!log_summary.empty()) spdlog::info("node {}: log holds {}", self, log_summary);
    return loop;
  } catch (const StartupError& error) {
    return std::string(error.what());
  } catch (const zmq::error_t& error) {
    return std::string("cannot set up sockets: ") + error.what();
  }
}

NodeLoop::NodeLoop(const config::Cluster& cluster, proto::NodeId self, core::Restored restored,
                   storage::LogStore store, std::uint64_t seed)
    : self_(self),
      node_(core_options(cluster, self), std::move(restored), seed),
      state_file_(cluster.data_dir / ("node-" + std::to_string(self))),
      log_store_(std::move(store)),
      fsync_(cluster.fsync),
      last_tick_(Clock::now()) {}

NodeLoop::~NodeLoop() = default;

void NodeLoop::open_sockets(const config::Cluster& cluster) {
  const auto& me = *cluster.find(self_);
  election_pub_ = make_socket(context_, zmq::socket_type::pub);
  bind(election_pub_, "election", me.election);

  client_router_ = make_socket(context_, zmq::socket_type::router);
  client_router_.set(zmq::sockopt::router_mandatory, 1);
  client_router_.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
  bind(client_router_, "client", me.client);

  peer_router_ = make_socket(context_, zmq::socket_type::router);
  peer_router_.set(zmq::sockopt::router_mandatory, 1);
  // Peers' DEALERs do not name themselves: the ROUTER gives each connection
  // its own routing id, and a relay says which node sent it. So a restarted
  // peer, or a connection left over from before a partition, can never
  // block a new one by holding its name.
  peer_router_.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
  bind(peer_router_, "peer", me.peer);

  monitor_pub_ = make_socket(context_, zmq::socket_type::xpub);
  bind(monitor_pub_, "monitor", me.monitor);

  election_sub_ = make_socket(context_, zmq::socket_type::sub);
  election_sub_.set(zmq::sockopt::subscribe, "");
  election_sub_.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
  // Watch the SUB's connections: a peer whose process dies closes them, which
  // lets the core suspect a dead leader at once (docs/protocol.md, "Fast
  // failure detection").
  const auto events_endpoint = "inproc://election-sub-events-" + std::to_string(self_);
  if (zmq_socket_monitor(election_sub_.handle(), events_endpoint.c_str(),
                         ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0) {
    throw StartupError("cannot watch the election connections: " + std::string(zmq_strerror(zmq_errno())));
  }
  sub_events_ = zmq::socket_t(context_, zmq::socket_type::pair);
  sub_events_.set(zmq::sockopt::linger, 0);
  sub_events_.connect(events_endpoint);
  for (const auto& peer : cluster.nodes) {
    if (peer.id == self_) continue;
    const auto election = resolve_endpoint(peer.election);
    connect(election_sub_, "election", election);
    election_endpoints_[election] = peer.id;
    auto dealer = make_socket(context_, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::immediate, 1);  // no queueing for a peer that is not there
    dealer.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
    connect(dealer, "peer", peer.peer);
    dealers_.emplace(peer.id, std::move(dealer));
  }
}

std::string NodeLoop::run(const std::atomic<bool>& stop) {
  spdlog::info("node {} serving (term {}, voted for {})", self_, node_.term(), node_.durable().voted_for);
  while (!stop.load() && fatal_.empty()) {
    try {
      poll_once();
      advance_time();
      retry_unsaved_state();
      end_batch();
      flush_taps();
    } catch (const zmq::error_t& error) {
      // Nothing here should fail; if ZeroMQ does, say so and keep serving.
      std::uint64_t held = 0;
      if (send_failure_log_.allow(held)) spdlog::error("node {}: ZeroMQ error: {}", self_, error.what());
    }
  }
  // Answer every held request before leaving, and give those answers a
  // moment to leave the process (every other socket drops its queue).
  for (const auto& action : node_.shut_down()) carry_out(action);
  end_batch();
  client_router_.set(zmq::sockopt::linger, 200);
  spdlog::info("node {} stopping: {} bad frames, {} unroutable replies, {} send failures", self_,
               counters_.bad_frames, counters_.unroutable, counters_.send_failures);
  return fatal_;
}

void NodeLoop::poll_once() {
  std::vector<zmq::pollitem_t> items{
      {election_sub_.handle(), 0, ZMQ_POLLIN, 0},
      {client_router_.handle(), 0, ZMQ_POLLIN, 0},
      {peer_router_.handle(), 0, ZMQ_POLLIN, 0},
      {monitor_pub_.handle(), 0, ZMQ_POLLIN, 0},
      {sub_events_.handle(), 0, ZMQ_POLLIN, 0},
  };
  for (auto& [id, dealer] : dealers_) items.push_back({dealer.handle(), 0, ZMQ_POLLIN, 0});

  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_tick_);
  const auto due = std::chrono::milliseconds(node_.next_timer() - std::min(node_.next_timer(), node_.now()));
  const auto timeout = std::clamp(due - elapsed, std::chrono::milliseconds(0), kMaxSleep);
  try {
    zmq::poll(items, timeout);
  } catch (const zmq::error_t& error) {
    if (error.num() == EINTR) return;  // a signal: the caller looks at the stop flag
    throw;
  }
  // Time first, messages second: after a pause (SIGSTOP, a stalled VM) the
  // core must learn how long it was away before it acts on what queued up
  // meanwhile — a leader that heard nobody for an election timeout steps
  // down before it could answer a single request as leader.
  advance_time();
  if (items[0].revents & ZMQ_POLLIN) read_election();
  if (items[1].revents & ZMQ_POLLIN) read_client();
  if (items[2].revents & ZMQ_POLLIN) read_peer_router();
  if (items[3].revents & ZMQ_POLLIN) read_monitor_subscriptions();
  if (items[4].revents & ZMQ_POLLIN) read_socket_events();
  std::size_t index = 5;
  for (auto& [id, dealer] : dealers_) {
    if (items[index++].revents & ZMQ_POLLIN) read_dealer(id, dealer);
  }
}

// Turns wall time into ticks of one millisecond.
void NodeLoop::advance_time() {
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_tick_);
  if (elapsed.count() <= 0) return;
  last_tick_ += elapsed;
  step(core::Tick{static_cast<std::uint64_t>(elapsed.count())});
}

void NodeLoop::read_election() {
  std::string error;
  for (int i = 0; i < kBatch; ++i) {
    auto frame = receive_single(election_sub_, error);
    if (!frame) return;
    if (!error.empty()) {
      note_bad_frame("election", error);
      continue;
    }
    auto decoded = proto::decode(*frame);
    if (auto* bad = std::get_if<proto::DecodeError>(&decoded)) {
      note_bad_frame("election", bad->reason);
      continue;
    }
    auto& message = std::get<proto::Message>(decoded);
    tap("in", "election", proto::kNoNode, frame->size(), message);
    step(core::ElectionMessage{std::move(message)});
  }
}

void NodeLoop::read_client() {
  for (int i = 0; i < kBatch; ++i) {
    auto received = receive_from_router(client_router_);
    if (!received) return;
    const core::ClientAddress from{received->route, received->has_delimiter};
    auto decoded = received->error.empty() ? proto::decode(received->body)
                                           : proto::DecodeResult{proto::DecodeError{received->error}};
    if (auto* bad = std::get_if<proto::DecodeError>(&decoded)) {
      note_bad_frame("client", bad->reason);
      proto::ClientReply reply;
      reply.status = proto::Status::bad_request;
      reply.received_by = self_;
      reply.term = node_.term();
      reply.leader_hint = node_.leader();
      reply.message = "malformed request: " + bad->reason;
      send_client_reply(from, reply);
      continue;
    }
    auto& message = std::get<proto::Message>(decoded);
    tap("in", "client", proto::kNoNode, received->body.size(), message);
    step(core::ClientMessage{from, std::move(message)});
  }
}

void NodeLoop::read_peer_router() {
  for (int i = 0; i < kBatch; ++i) {
    auto received = receive_from_router(peer_router_);
    if (!received) return;
    auto decoded = received->error.empty() ? proto::decode(received->body)
                                           : proto::DecodeResult{proto::DecodeError{received->error}};
    if (auto* bad = std::get_if<proto::DecodeError>(&decoded)) {
      note_bad_frame("peer", bad->reason);
      continue;
    }
    auto& message = std::get<proto::Message>(decoded);
    // What arrives here names its sender: relays, and followers' answers to
    // the leader's appends and snapshots.
    proto::NodeId from = proto::kNoNode;
    if (const auto* relay = std::get_if<proto::Relay>(&message)) from = relay->from;
    if (const auto* reply = std::get_if<proto::AppendReply>(&message)) from = reply->from;
    if (const auto* reply = std::get_if<proto::SnapshotReply>(&message)) from = reply->from;
    if (from == proto::kNoNode || !dealers_.contains(from)) {
      note_bad_frame("peer", from == proto::kNoNode
                                 ? std::string("only relay, append_reply and snapshot_reply arrive on the peer port")
                                 : "message from an unknown node " + std::to_string(from));
      continue;
    }
    tap("in", "peer", from, received->body.size(), message);
    step(core::PeerMessage{from, std::move(message), std::move(received->route)});
  }
}

void NodeLoop::read_dealer(proto::NodeId peer, zmq::socket_t& dealer) {
  std::string error;
  for (int i = 0; i < kBatch; ++i) {
    auto frame = receive_single(dealer, error);
    if (!frame) return;
    auto decoded = error.empty() ? proto::decode(*frame) : proto::DecodeResult{proto::DecodeError{error}};
    if (auto* bad = std::get_if<proto::DecodeError>(&decoded)) {
      note_bad_frame("peer", bad->reason);
      continue;
    }
    auto& message = std::get<proto::Message>(decoded);
    tap("in", "peer", peer, frame->size(), message);
    step(core::PeerMessage{peer, std::move(message), {}});
  }
}

// An XPUB hands us subscribe (1) and unsubscribe (0) notices; without
// XPUB_VERBOSE only the first subscriber and the last to leave are reported,
// which is exactly "is anybody listening".
void NodeLoop::read_monitor_subscriptions() {
  std::string error;
  for (int i = 0; i < kBatch; ++i) {
    auto frame = receive_single(monitor_pub_, error);
    if (!frame) return;
    if (!frame->empty()) monitor_listening_ = (*frame)[0] == 1;
  }
}

// Events of zmq_socket_monitor come as two frames: six bytes (event number,
// 32-bit value) and the endpoint they concern.
void NodeLoop::read_socket_events() {
  for (int i = 0; i < kBatch; ++i) {
    zmq::message_t header;
    zmq::message_t address;
    if (!sub_events_.recv(header, zmq::recv_flags::dontwait)) return;
    if (!header.more() || !sub_events_.recv(address, zmq::recv_flags::none) || header.size() < 2) continue;
    std::uint16_t event = 0;
    std::memcpy(&event, header.data(), sizeof event);
    const auto endpoint = address.to_string();
    const auto peer = election_endpoints_.find(endpoint);
    if (peer == election_endpoints_.end()) continue;
    const bool connected = event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
    spdlog::debug("node {}: election connection to node {} {}", self_, peer->second,
                  connected ? "up" : "closed");
    tap_text("socket", "node " + std::to_string(peer->second) + (connected ? " connected" : " disconnected") +
                           " (" + endpoint + ")");
    step(core::PeerConnection{peer->second, connected});
  }
}

}  // namespace relay::transport
