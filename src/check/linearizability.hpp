// A linearizability checker for client histories of the replicated state
// machine (docs/replication.md, "Checking").
//
// A history is what clients saw: each operation with the time it was invoked,
// the time its reply arrived, and the reply. The history is linearizable when
// every operation can be given one instant between its invocation and its
// completion such that, taken in that order, the operations give exactly the
// replies the clients saw on one sequential state machine (src/store).
//
// Keys are independent objects, and so is the stream, so each is checked on
// its own (linearizability is compositional). Each object is searched with
// Lowe's just-in-time variant of the Wing–Gong algorithm: the next operation to
// linearize is always one whose invocation precedes every pending completion,
// and a memo of (set of linearized operations, model state) prunes states
// already seen. Two reductions keep large histories fast without losing any
// linearization: a read that fits the current state is taken at once (it
// changes nothing, so it never needs to wait), and on the stream the
// positions known appends returned and the messages known reads saw confine
// appends of unknown outcome to the holes they could have filled.
//
// A violation is shrunk before it is reported: operations are relaxed (their
// reply ignored, their effect made optional) as long as the rest still cannot
// be ordered, so the explanation lists only operations whose replies matter.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "proto/messages.hpp"

namespace relay::check {

// Completion time of an operation whose reply never came.
inline constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

struct Operation {
  std::uint64_t id = 0;  // names the operation in explanations
  std::string client;    // likewise; not used by the check itself
  proto::Op op = proto::Op::get;
  std::string key;       // put, get, del, cas
  std::string value;     // put, cas: the new value; append: the message
  std::string expected;  // cas
  std::uint64_t from = 0;   // read: first stream index asked for (0 means 1)
  std::uint32_t count = 0;  // read: the most messages asked for; 0 = the node's default
  std::uint64_t invoked_at = 0;    // any monotonic unit, the same for all operations
  std::uint64_t completed_at = 0;  // ignored (taken as kNever) when the outcome is unknown

  // failed: definitely not executed (it is dropped). unknown: may or may not
  // have taken effect, at any time after its invocation (timeout, unknown, no reply).
  enum class Outcome { ok, failed, unknown } outcome = Outcome::ok;

  // The reply, when ok (as in proto::ClientReply):
  bool found = false;        // get: exists; put, del: existed before; cas: swapped
  std::string result_value;  // get: the value; cas: the value after it
  std::uint64_t position = 0;        // append: stream index; read: of values[0]
  std::vector<std::string> values;   // read: the messages
};

struct Options {
  // Search steps per object before giving up with `exhausted`. Shrinking a
  // counterexample to its smallest set has a budget of the same size.
  std::uint64_t max_steps = 5'000'000;
};

struct Verdict {
  bool linearizable = false;
  // The search ran out of steps on some object without finding a violation:
  // the checker could not decide (linearizable is false).
  bool exhausted = false;
  // On failure: the key (or the stream), the smallest set of operations whose
  // replies and real-time order no sequential order can explain, in words.
  std::string explanation;
  std::size_t operations = 0;  // operations checked (failed ones excluded)
  std::size_t objects = 0;     // distinct keys, the stream counting as one
};

Verdict check(const std::vector<Operation>& history, const Options& options = {});

// A one-line text form of an operation and its reply, used in explanations.
std::string describe(const Operation& operation);

const char* to_string(Operation::Outcome outcome);

}  // namespace relay::check
