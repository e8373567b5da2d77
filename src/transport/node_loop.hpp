// relay::transport::NodeLoop — the ZeroMQ shell around one core::Node.
//
// One thread (the caller of run()) owns every socket of the node: the
// election PUB and the SUB to every peer's election PUB, the client ROUTER,
// the peer ROUTER and a DEALER to each peer, and the monitor XPUB. One poll
// loop turns frames into core events and carries out the core's actions in
// order. Bad frames are dropped, counted and logged (rate-limited); a client
// whose frame does not decode gets a bad_request reply. Nothing blocks: every
// send is non-blocking and the loop never waits longer than the next timer.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <zmq.hpp>

#include "config/config.hpp"
#include "core/node.hpp"
#include "storage/log_store.hpp"
#include "transport/state_file.hpp"
#include "util/logging.hpp"

namespace relay::transport {

// Counters of what the shell dropped, for logs and tests.
struct ShellCounters {
  std::uint64_t bad_frames = 0;     // did not decode, or a wrong envelope
  std::uint64_t unroutable = 0;     // a reply whose recipient was gone
  std::uint64_t send_failures = 0;  // a queue was full or a peer unreachable
  std::uint64_t taps = 0;           // events published on the monitor channel
};

class NodeLoop {
 public:
  // Binds and connects everything. On failure returns one line saying what
  // and where (e.g. which endpoint is already in use); nothing stays bound.
  static std::variant<std::unique_ptr<NodeLoop>, std::string> create(const config::Cluster& cluster,
                                                                     proto::NodeId self,
                                                                     std::uint64_t seed);

  // Runs until `stop` becomes true, then closes every socket without
  // lingering. Returns an error line if the node had to stop on its own
  // (its state could not be stored), empty otherwise.
  std::string run(const std::atomic<bool>& stop);

  NodeLoop(const NodeLoop&) = delete;
  NodeLoop& operator=(const NodeLoop&) = delete;
  ~NodeLoop();

 private:
  NodeLoop(const config::Cluster& cluster, proto::NodeId self, core::Restored restored,
           storage::LogStore store, std::uint64_t seed);
  void open_sockets(const config::Cluster& cluster);
  void poll_once();
  void advance_time();
  void read_election();
  void read_client();
  void read_peer_router();
  void read_dealer(proto::NodeId peer, zmq::socket_t& dealer);
  void read_monitor_subscriptions();
  void read_socket_events();
  void step(const core::Event& event);
  void carry_out(const core::Action& action);
  void store(const core::Action& action);
  void send(const core::Action& action);
  void end_batch();
  void sync_and_release();
  void confirm_synced_writes();
  void refuse_after_failure(const core::Action& action);
  bool store_state(const core::DurableState& state);
  void retry_unsaved_state();
  void send_client_reply(const core::ClientAddress& to, const proto::Message& reply);
  void log_publication(const proto::Message& message);
  void tap(const char* kind, const char* channel, proto::NodeId peer, std::size_t size,
           const proto::Message& message);
  void tap_text(const char* kind, std::string text);
  void flush_taps();
  void note_bad_frame(const char* channel, const std::string& reason);

  proto::NodeId self_;
  core::Node node_;
  StateFile state_file_;
  storage::LogStore log_store_;
  config::Fsync fsync_;  // always: sync after each event; batch: once per loop iteration
  std::string fatal_;  // set when the node must stop

  // Group commit: messages that follow a log write not yet synced wait here
  // until the end of the loop iteration, when one sync covers every write.
  std::vector<core::Action> outbox_;
  bool write_failed_ = false;  // in the current step: drop what depends on it
  // Term and vote that could not be stored (a full disk, no file descriptor
  // left). Until a retry stores them the node says nothing to its peers and
  // writes nothing to its log: whatever it would say may rest on them.
  std::optional<core::DurableState> unsaved_state_;
  std::chrono::steady_clock::time_point next_state_retry_{};
  std::vector<core::Event> storage_events_;  // to report after the current step
  // Failed writes not yet stepped into the core (popped from storage_events_
  // or not): until it has heard them, it must not count its own writes.
  int unreported_failures_ = 0;

  zmq::context_t context_{1};
  zmq::socket_t election_pub_;
  zmq::socket_t election_sub_;
  zmq::socket_t client_router_;
  zmq::socket_t peer_router_;
  zmq::socket_t monitor_pub_;  // an XPUB, so the loop knows whether anyone listens
  std::map<proto::NodeId, zmq::socket_t> dealers_;
  zmq::socket_t sub_events_;  // zmq_socket_monitor of election_sub_: peers' connections
  std::map<std::string, proto::NodeId> election_endpoints_;  // to name the peer of an event

  std::vector<core::Event> undeliverable_;  // to report to the core after the current batch
  std::map<proto::MessageType, std::string> last_published_;  // for log_publication
  bool monitor_listening_ = false;
  std::uint64_t tap_seq_ = 0;
  std::vector<proto::Tap> pending_taps_;  // built during an iteration of the loop, sent at its end
  std::chrono::steady_clock::time_point last_tick_;
  ShellCounters counters_;
  util::RateLimit bad_frame_log_;
  util::RateLimit send_failure_log_;
  util::RateLimit storage_failure_log_;  // a follower whose disk is full is asked again every heartbeat
};

}  // namespace relay::transport
