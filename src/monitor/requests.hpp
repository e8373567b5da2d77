// relay::monitor::Requests — follows each client request through the
// cluster from the nodes' taps, and notices a request executed twice.
//
// An attempt starts when a node reports a client_request coming in and ends
// when that node reports the client_reply going out; in between, its relay
// and relay_reply taps add the hops (client → 2 → 1 → 2 → client). Only the
// receiving node's taps shape the path, because only they arrive in order. The
// latency is the receiving node's own clock from arrival to answer, so it
// does not depend on clocks agreeing across machines.
//
// Exactly once: a write is applied at one log index, and a retry of it is
// answered from the replicated exactly-once table with that original index,
// by whichever leader it reaches. An ok answer to a write's (client_id,
// request_id) at a different index means it was applied twice. Reads are not
// in the log and a retried read is simply read again (a new read index), so
// they are not checked; neither is a request whose op no tap showed.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "monitor/event.hpp"
#include "monitor/finding.hpp"

namespace relay::monitor {

struct RequestPath {
  std::string client_id;
  std::uint64_t request_id = 0;
  proto::NodeId received_by = proto::kNoNode;
  std::vector<std::string> stops;  // "client", then node ids in the order the request visited them
  std::uint64_t started_us = 0;    // receiving node's clock at arrival
  std::uint64_t latency_us = 0;    // to the answer, same clock
  std::string status;              // of the answer
  proto::NodeId relayed_by = proto::kNoNode;
  proto::NodeId answered_by = proto::kNoNode;
  proto::Term term = 0;
  std::uint64_t index = 0;         // log index of the write, or the read index
  std::string op;                  // append, put, get, del, cas, read (from the request)

  // "client → 2 → 1 → 2 → client"; JSON output uses " -> " (it escapes non-ASCII).
  std::string path_text(std::string_view arrow = " → ") const;
};

class Requests {
 public:
  // One tap event with its text parsed. Appends a finding when a request is
  // answered, and an alarm (also to `alarms`) when one was executed twice.
  void on_tap(const Event& event, const Line& line, std::vector<Finding>& out, std::vector<Alarm>& alarms);

  const std::deque<RequestPath>& completed() const { return completed_; }
  std::size_t in_flight() const { return active_.size(); }

  static constexpr std::size_t kMaxInFlight = 10'000;  // as many as a node may hold
  static constexpr std::size_t kKeptCompleted = 1'000;
  static constexpr std::size_t kRememberedExecutions = 100'000;  // the leaders' table size

 private:
  using Key = std::tuple<std::string, std::uint64_t, proto::NodeId>;  // client, request, receiver
  // The ok answers seen for one (client_id, request_id): the first one, and
  // whether a different index has been reported already.
  struct Executions {
    std::string op;  // from the request's taps; empty until one was seen
    bool answered = false;
    std::uint64_t first_index = 0;
    proto::NodeId first_by = proto::kNoNode;
    proto::Term first_term = 0;
    std::vector<std::uint64_t> alarmed;  // other indexes already raised
  };
  using RequestId = std::pair<std::string, std::uint64_t>;

  void on_arrival(const Event& event, const Line& line);
  void on_relay(const Event& event, const Line& line);
  void on_relay_reply(const Event& event, const Line& line);
  void on_answer(const Event& event, const Line& line, std::vector<Finding>& out);
  void check_execution(const Event& event, const Line& line, std::vector<Finding>& out, std::vector<Alarm>& alarms);
  Executions& executions_of(const RequestId& id);
  void note_op(const Line& line);

  std::map<Key, RequestPath> active_;
  std::deque<RequestPath> completed_;
  std::map<RequestId, Executions> executed_;  // requests seen, with their ok answers
  std::deque<RequestId> executed_order_;      // oldest first, for eviction
};

}  // namespace relay::monitor
