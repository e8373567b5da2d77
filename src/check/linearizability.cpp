// The linearizability search (Lowe's just-in-time Wing–Gong) per object, and
// the shrinking of a violation to a smallest set of operations.
#include "check/linearizability.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "util/words.hpp"

namespace relay::check {
namespace {

using proto::is_read;
using proto::Op;
using StateId = std::uint32_t;

// Strings as small integers, so that model states compare as integers.
class Interner {
 public:
  std::uint32_t id(const std::string& text) {
    const auto [it, inserted] = ids_.try_emplace(text, static_cast<std::uint32_t>(ids_.size() + 1));
    return it->second;
  }

 private:
  std::unordered_map<std::string, std::uint32_t> ids_;
};

// One operation of one object, with its strings interned.
struct Prepared {
  const Operation* source = nullptr;
  bool unknown = false;  // the outcome was unknown: optional, result unchecked
  std::uint32_t value = 0, expected = 0, result = 0;
  std::vector<std::uint32_t> values;  // read
};

// The sequential specification of one object. A register's state is 0 when
// the key is absent, else the id of its value. The stream's state is a node of
// a trie of append sequences, hash-consed, so equal streams have equal ids.
class Model {
 public:
  explicit Model(bool stream) : stream_(stream) { nodes_.push_back({0, 0, 0}); }

  // The state after `op` from `state`, or nothing if the op cannot come next.
  // A relaxed op takes effect without its reply being checked.
  std::optional<StateId> step(StateId state, const Prepared& p, bool relaxed) {
    const Operation& op = *p.source;
    const bool check = !relaxed;
    switch (op.op) {
      case Op::put:
        if (check && op.found != (state != 0)) return std::nullopt;
        return p.value;
      case Op::del:
        if (check && op.found != (state != 0)) return std::nullopt;
        return StateId{0};
      case Op::get:
        if (op.found != (state != 0) || (op.found && state != p.result)) return std::nullopt;
        return state;
      case Op::cas: {
        const bool swapped = state != 0 && state == p.expected;
        const StateId after = swapped ? p.value : state;
        if (check && (op.found != swapped || (after == 0 ? !op.result_value.empty() : after != p.result))) return std::nullopt;
        return after;
      }
      case Op::append:
        if (check && op.position != nodes_[state].depth + 1) return std::nullopt;
        return child(state, p.value);
      case Op::read:
        if (!read_fits(state, p)) return std::nullopt;
        return state;
      case Op::noop: return state;
    }
    return std::nullopt;
  }
  bool stream() const { return stream_; }
  std::uint64_t length(StateId state) const { return stream_ ? nodes_[state].depth : 0; }

 private:
  struct Node {
    StateId parent;
    std::uint32_t message;
    std::uint64_t depth;  // the stream's length
  };

  StateId child(StateId parent, std::uint32_t message) {
    const std::uint64_t edge = (std::uint64_t{parent} << 32) | message;
    const auto [it, inserted] = children_.try_emplace(edge, static_cast<StateId>(nodes_.size()));
    if (inserted) nodes_.push_back({parent, message, nodes_[parent].depth + 1});
    return it->second;
  }

  // The values of a read must be the stream from `from` on, at least one
  // message if there is one, at most `count` (the node may return fewer, to
  // stay under its byte limit).
  bool read_fits(StateId state, const Prepared& p) const {
    const Operation& op = *p.source;
    const std::uint64_t from = std::max<std::uint64_t>(op.from, 1);
    const std::uint64_t length = nodes_[state].depth;
    const std::uint64_t got = p.values.size();
    if (from > length) return got == 0;
    if (got == 0 || op.position != from || (op.count != 0 && got > op.count) || from + got - 1 > length) return false;
    StateId node = state;
    for (std::uint64_t depth = length; depth > from + got - 1; --depth) node = nodes_[node].parent;
    for (std::uint64_t i = got; i-- > 0;) {
      if (nodes_[node].message != p.values[i]) return false;
      node = nodes_[node].parent;
    }
    return true;
  }

  bool stream_;
  std::vector<Node> nodes_;
  std::unordered_map<std::uint64_t, StateId> children_;
};

// What the replies on the stream fix in advance, used to cut the search: a
// state that breaks one of these can never lead to a linearization.
//  - Every known append has its position: once the stream is longer than the
//    position of a known append not yet linearized, that append never can be.
//  - A message a known read saw at position p is at p in every linearization
//    (and a message appended once, seen at p, is appended at p).
//  - Nothing checked looks past `horizon_` (the last position a known append
//    took or a known read saw); a longer stream only makes empty reads harder,
//    so open appends past it are left out.
// Together these keep appends of unknown outcome from being tried at every
// position: they only fit the holes the known appends leave, as seen by reads.
class StreamPruning {
 public:
  StreamPruning(const std::vector<Prepared>& ops, const std::vector<bool>& relaxed, bool stream) {
    if (!stream) return;
    known_.assign(ops.size(), false);
    // message -> the append that carries it, or kShared if several do
    constexpr std::uint32_t kShared = UINT32_MAX;
    std::unordered_map<std::uint32_t, std::uint32_t> append_of;
    for (std::uint32_t i = 0; i < ops.size(); ++i) {
      const Operation& op = *ops[i].source;
      const bool checked = !relaxed[i] && !ops[i].unknown;
      if (op.op == Op::append) {
        const auto [it, first] = append_of.try_emplace(ops[i].value, i);
        if (!first) it->second = kShared;
      }
      if (!checked) continue;
      if (op.op == Op::append && op.position != 0 && op.position <= ops.size()) {
        known_[i] = true;
        if (claimed_.size() <= op.position) claimed_.resize(op.position + 1, 0);
        ++claimed_[op.position];
        horizon_ = std::max(horizon_, op.position);
      }
      if (op.op == Op::read && !ops[i].values.empty()) {
        const std::uint64_t first = std::max<std::uint64_t>(op.from, 1);
        for (std::size_t k = 0; k < ops[i].values.size(); ++k) seen_at_.try_emplace(first + k, ops[i].values[k]);
        horizon_ = std::max(horizon_, first + ops[i].values.size() - 1);
      }
    }
    for (std::size_t p = 1; p < claimed_.size(); ++p) claimed_[p] += claimed_[p - 1];
    pinned_.assign(ops.size(), 0);
    for (const auto& [position, message] : seen_at_) {
      const auto it = append_of.find(message);
      if (it != append_of.end() && it->second != kShared) pinned_[it->second] = position;
    }
    ops_ = &ops;
  }

  bool known_append(std::uint32_t op) const { return !known_.empty() && known_[op]; }

  // May op `op`, taking the stream to `length` with `known_appends` known
  // appends linearized (it included), lead anywhere?
  bool viable(std::uint32_t op, std::uint64_t length, std::uint32_t known_appends) const {
    if (ops_ == nullptr) return true;
    if (length > horizon_) return false;
    if (!claimed_.empty() && claimed_[std::min<std::uint64_t>(length, claimed_.size() - 1)] != known_appends) return false;
    if ((*ops_)[op].source->op != Op::append) return true;
    if (pinned_[op] != 0 && pinned_[op] != length) return false;
    const auto seen = seen_at_.find(length);
    return seen == seen_at_.end() || seen->second == (*ops_)[op].value;
  }

 private:
  const std::vector<Prepared>* ops_ = nullptr;
  std::vector<bool> known_;
  std::vector<std::uint32_t> claimed_;  // claimed_[p]: known appends at positions <= p
  std::unordered_map<std::uint64_t, std::uint32_t> seen_at_;  // position -> message a read saw there
  std::vector<std::uint64_t> pinned_;   // op -> the only position its message can be at, or 0
  std::uint64_t horizon_ = 0;
};

// A visited search state: which ops are linearized, and the model state.
struct Visited {
  std::vector<std::uint64_t> bits;
  StateId state;
  std::uint64_t hash;
  bool operator==(const Visited& other) const { return state == other.state && bits == other.bits; }
};
struct VisitedHash {
  std::size_t operator()(const Visited& v) const { return static_cast<std::size_t>(v.hash); }
};

enum class Result { linearizable, violation, exhausted };

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb3f97a1b34ceull;
  return x ^ (x >> 33);
}

// One object's operations, searched with some of them relaxed: a relaxed
// read is left out, a relaxed write may or may not take effect at any time
// after its invocation, its reply unchecked (as if its outcome were unknown).
class Search {
 public:
  Search(std::vector<Prepared> ops, bool stream) : ops_(std::move(ops)), stream_(stream) {}
  std::size_t size() const { return ops_.size(); }
  const Prepared& op(std::size_t i) const { return ops_[i]; }

  Result run(const std::vector<bool>& relaxed, std::uint64_t& budget) const;

 private:
  std::vector<Prepared> ops_;
  bool stream_;
};

Result Search::run(const std::vector<bool>& relaxed, std::uint64_t& budget) const {
  // Events: a call and a return per op, in time order, calls first on ties
  // (an op that completes at the instant another is invoked overlaps it).
  struct Event {
    std::uint64_t time;
    bool is_return;
    bool open;  // the return of an op that may never take effect
    std::uint32_t op;
  };
  std::vector<Event> events;
  for (std::uint32_t i = 0; i < ops_.size(); ++i) {
    const Prepared& p = ops_[i];
    const bool is_read = p.source->op == Op::get || p.source->op == Op::read;
    if (relaxed[i] && is_read) continue;
    const bool open = relaxed[i] || p.unknown;
    events.push_back({p.source->invoked_at, false, open, i});
    events.push_back({open ? kNever : p.source->completed_at, true, open, i});
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.is_return != b.is_return) return !a.is_return;
    return !a.open && b.open;  // open returns after every other
  });
  // A doubly linked list over the events (head = n), so that linearizing an
  // op lifts its call and return out in O(1) and backtracking puts them back.
  const std::size_t n = events.size();
  const std::size_t head = n, end = n + 1;
  std::vector<std::size_t> next(n + 2), prev(n + 2), match(n);
  std::vector<std::size_t> call_of(ops_.size());
  for (std::size_t e = 0; e < n; ++e) {
    if (!events[e].is_return) call_of[events[e].op] = e;
    else match[call_of[events[e].op]] = e;
  }
  std::size_t last = head;
  for (std::size_t e = 0; e < n; ++e) next[last] = e, prev[e] = last, last = e;
  next[last] = end;
  prev[end] = last;
  const auto unlink = [&](std::size_t e) { next[prev[e]] = next[e], prev[next[e]] = prev[e]; };
  const auto relink = [&](std::size_t e) { next[prev[e]] = e, prev[next[e]] = e; };

  const StreamPruning pruning(ops_, relaxed, stream_);
  std::uint32_t known_appends = 0;  // linearized so far
  Model model(stream_);

  std::vector<std::uint64_t> bits((ops_.size() + 63) / 64);
  std::uint64_t bits_hash = 0;
  std::unordered_set<Visited, VisitedHash> seen;
  struct Frame {
    std::size_t call;
    StateId state;
    bool forced;  // a read taken as soon as it fit: no alternative to try here
  };
  std::vector<Frame> stack;
  StateId state = 0;
  const auto mark = [&](std::uint32_t op) {
    bits[op / 64] ^= std::uint64_t{1} << (op % 64);
    bits_hash ^= mix(op + 1);
  };
  // Undoes frames until one leaves an alternative to try; returns the event
  // to continue from, or `end` when none is left (a violation).
  const auto backtrack = [&]() -> std::size_t {
    while (!stack.empty()) {
      const Frame top = stack.back();
      stack.pop_back();
      const std::uint32_t undone = events[top.call].op;
      mark(undone);
      state = top.state;
      if (pruning.known_append(undone)) --known_appends;
      relink(match[top.call]);
      relink(top.call);
      if (!top.forced) return next[top.call];
    }
    return end;
  };

  std::size_t e = next[head];
  while (e != end) {
    if (budget == 0) return Result::exhausted;
    --budget;
    const std::uint32_t i = events[e].op;
    if (events[e].is_return) {
      // Only open ops remain from here on: leave them out.
      if (events[e].open) return Result::linearizable;
      e = backtrack();
      if (e == end) return Result::violation;
      continue;
    }
    const auto after = model.step(state, ops_[i], relaxed[i] || ops_[i].unknown);
    if (!after || !pruning.viable(i, model.length(*after), known_appends + (pruning.known_append(i) ? 1 : 0))) {
      e = next[e];
      continue;
    }
    // A read that fits now is taken now and never postponed: it changes no
    // state, so any linearization that places it later can place it here
    // instead (every op that had to precede it already has). This removes
    // the interleavings of concurrent reads from the search.
    const bool forced = is_read(ops_[i].source->op);
    mark(i);
    if (seen.insert(Visited{bits, *after, bits_hash ^ mix(std::uint64_t{*after} << 32 | 0x9e37)}).second) {
      stack.push_back({e, state, forced});
      state = *after;
      if (pruning.known_append(i)) ++known_appends;
      unlink(e);
      unlink(match[e]);
      e = next[head];
      continue;
    }
    mark(i);
    // Seen before: that state failed. For a forced read, so does this one.
    if (forced) {
      e = backtrack();
      if (e == end) return Result::violation;
      continue;
    }
    e = next[e];
  }
  return Result::linearizable;
}

std::string quoted(const std::string& text) {
  constexpr std::size_t kShown = 40;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kShown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
    else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (text.size() > kShown) out += "...(" + std::to_string(text.size()) + " bytes)";
  return out + "\"";
}

std::string object_name(const Operation& op) {
  return op.op == Op::append || op.op == Op::read ? std::string("the stream") : "key " + quoted(op.key);
}

// Relaxes as many ops as possible while the object stays non-linearizable
// (ddmin-style: halves first, then single ops). Relaxing only ever makes a
// history easier to linearize, so an op that could not be relaxed once can
// never be, and one pass at single ops leaves a set in which every op matters.
// Returns false if the budget ran out before the end.
bool shrink(const Search& search, std::vector<bool>& relaxed, std::uint64_t& budget) {
  std::vector<std::size_t> known;
  for (std::size_t i = 0; i < search.size(); ++i) {
    if (!relaxed[i] && !search.op(i).unknown) known.push_back(i);
  }
  for (std::size_t chunk = std::max<std::size_t>(known.size() / 2, 1);; chunk /= 2) {
    for (std::size_t start = 0; start < known.size(); start += chunk) {
      std::vector<bool> trial = relaxed;
      bool changed = false;
      for (std::size_t k = start; k < std::min(start + chunk, known.size()); ++k) {
        changed = changed || !trial[known[k]];
        trial[known[k]] = true;
      }
      if (!changed) continue;
      const Result result = search.run(trial, budget);
      if (result == Result::violation) relaxed = std::move(trial);
      if (result == Result::exhausted) return false;
    }
    if (chunk == 1) return true;
  }
}

std::string explain(const std::string& object, const Search& search, const std::vector<bool>& relaxed, bool minimal) {
  std::vector<const Operation*> core;
  for (std::size_t i = 0; i < search.size(); ++i) {
    if (!relaxed[i] && !search.op(i).unknown) core.push_back(search.op(i).source);
  }
  std::sort(core.begin(), core.end(), [](const Operation* a, const Operation* b) {
    return a->invoked_at != b->invoked_at ? a->invoked_at < b->invoked_at : a->id < b->id;
  });
  const std::size_t others = search.size() - core.size();
  const bool one = core.size() == 1;
  std::string text = object + ": no sequential order of " +
                     (one ? "this operation matches its reply"
                          : "these " + util::counted(core.size(), "operation") + " matches their replies") +
                     " and real-time order";
  text += others == 0 ? std::string(":")
                      : ", whatever the other " + util::counted(others, "operation") + " on it did (" +
                            (others == 1 ? "it" : "any of them") +
                            " may or may not have taken effect, at any time after its invocation):";
  if (!minimal) text += " (not the smallest such set: the search budget ran out while shrinking it)";
  for (const Operation* op : core) text += "\n  " + describe(*op);
  return text;
}

}  // namespace

const char* to_string(Operation::Outcome outcome) {
  switch (outcome) {
    case Operation::Outcome::ok: return "ok";
    case Operation::Outcome::failed: return "failed";
    case Operation::Outcome::unknown: return "unknown";
  }
  return "invalid";
}

std::string describe(const Operation& op) {
  std::string text = "#" + std::to_string(op.id) + " " + (op.client.empty() ? "?" : op.client) + " " + proto::to_string(op.op);
  switch (op.op) {
    case Op::put: text += " " + quoted(op.key) + " " + quoted(op.value); break;
    case Op::get:
    case Op::del: text += " " + quoted(op.key); break;
    case Op::cas: text += " " + quoted(op.key) + " " + quoted(op.expected) + " -> " + quoted(op.value); break;
    case Op::append: text += " " + quoted(op.value); break;
    case Op::read: text += " from " + std::to_string(op.from) + " count " + std::to_string(op.count); break;
    case Op::noop: break;
  }
  const bool ok = op.outcome == Operation::Outcome::ok;
  text += " [" + std::to_string(op.invoked_at) + ", " + (ok ? std::to_string(op.completed_at) + "]" : std::string("never)"));
  if (!ok) return text + " " + to_string(op.outcome);
  switch (op.op) {
    case Op::put:
    case Op::del: return text + " => found=" + (op.found ? "true" : "false");
    case Op::get: return text + (op.found ? " => " + quoted(op.result_value) : std::string(" => not found"));
    case Op::cas: return text + " => " + (op.found ? "swapped" : "not swapped") + ", now " + quoted(op.result_value);
    case Op::append: return text + " => position " + std::to_string(op.position);
    case Op::read: {
      text += " => position " + std::to_string(op.position) + " [";
      for (std::size_t i = 0; i < op.values.size(); ++i) text += (i == 0 ? "" : ", ") + quoted(op.values[i]);
      return text + "]";
    }
    case Op::noop: break;
  }
  return text;
}

Verdict check(const std::vector<Operation>& history, const Options& options) {
  Verdict verdict;
  // Objects in a stable order (keys sorted, the stream last), so the verdict
  // does not depend on hashing.
  std::map<std::pair<bool, std::string>, std::vector<const Operation*>> objects;
  for (const Operation& op : history) {
    if (op.outcome == Operation::Outcome::failed || op.op == Op::noop) continue;
    if (op.outcome == Operation::Outcome::ok && op.completed_at < op.invoked_at) {
      verdict.explanation = "operation #" + std::to_string(op.id) + " completes before it is invoked";
      return verdict;
    }
    const bool stream = op.op == Op::append || op.op == Op::read;
    objects[{stream, stream ? std::string() : op.key}].push_back(&op);
    ++verdict.operations;
  }
  verdict.objects = objects.size();
  std::string undecided;
  for (const auto& [name, ops] : objects) {
    Interner strings;
    std::vector<Prepared> prepared;
    for (const Operation* op : ops) {
      const bool unknown = op->outcome == Operation::Outcome::unknown;
      // An unknown read changes nothing and constrains nothing.
      if (unknown && (op->op == Op::get || op->op == Op::read)) continue;
      Prepared p{op, unknown, strings.id(op->value), strings.id(op->expected), strings.id(op->result_value), {}};
      for (const auto& v : op->values) p.values.push_back(strings.id(v));
      prepared.push_back(std::move(p));
    }
    const Search search(std::move(prepared), name.first);
    std::vector<bool> relaxed(search.size(), false);
    std::uint64_t budget = options.max_steps;
    const Result result = search.run(relaxed, budget);
    if (result == Result::exhausted && undecided.empty()) {
      undecided = object_name(*ops.front()) + ": the search gave up after " +
                  util::counted(options.max_steps, "step") + " over " + util::counted(search.size(), "operation") +
                  "; linearizability is undecided";
    }
    if (result != Result::violation) continue;
    std::uint64_t shrink_budget = options.max_steps;
    const bool minimal = shrink(search, relaxed, shrink_budget);
    verdict.explanation = explain(object_name(*ops.front()), search, relaxed, minimal);
    return verdict;
  }
  verdict.exhausted = !undecided.empty();
  verdict.linearizable = undecided.empty();
  verdict.explanation = undecided;
  return verdict;
}

}  // namespace relay::check
