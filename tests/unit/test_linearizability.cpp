// The linearizability checker: classic register histories that are and are
// not linearizable, cas, operations with unknown outcomes, the stream, the
// smallest explanation of a violation, the step budget, and a large random
// history produced by a sequential simulation with overlapping intervals.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "check/linearizability.hpp"

using relay::check::Operation;
using relay::check::Verdict;
using relay::proto::Op;
using Outcome = Operation::Outcome;

namespace {

// Builds histories line by line; every operation gets the next id.
struct History {
  std::vector<Operation> ops;

  Operation& add(Op op, std::string key, std::uint64_t invoked, std::uint64_t completed, Outcome outcome = Outcome::ok) {
    Operation o;
    o.id = ops.size() + 1;
    o.client = "c" + std::to_string(o.id);
    o.op = op;
    o.key = std::move(key);
    o.invoked_at = invoked;
    o.completed_at = outcome == Outcome::unknown ? relay::check::kNever : completed;
    o.outcome = outcome;
    ops.push_back(std::move(o));
    return ops.back();
  }
  Operation& put(std::string key, std::string value, bool existed, std::uint64_t from, std::uint64_t to, Outcome outcome = Outcome::ok) {
    Operation& o = add(Op::put, std::move(key), from, to, outcome);
    o.value = std::move(value);
    o.found = existed;
    return o;
  }
  Operation& get(std::string key, std::optional<std::string> value, std::uint64_t from, std::uint64_t to) {
    Operation& o = add(Op::get, std::move(key), from, to);
    o.found = value.has_value();
    o.result_value = value.value_or("");
    return o;
  }
  Operation& del(std::string key, bool existed, std::uint64_t from, std::uint64_t to) {
    Operation& o = add(Op::del, std::move(key), from, to);
    o.found = existed;
    return o;
  }
  Operation& cas(std::string key, std::string expected, std::string value, bool swapped, std::string now, std::uint64_t from,
                 std::uint64_t to) {
    Operation& o = add(Op::cas, std::move(key), from, to);
    o.expected = std::move(expected);
    o.value = std::move(value);
    o.found = swapped;
    o.result_value = std::move(now);
    return o;
  }
  Operation& append(std::string message, std::uint64_t position, std::uint64_t from, std::uint64_t to, Outcome outcome = Outcome::ok) {
    Operation& o = add(Op::append, {}, from, to, outcome);
    o.value = std::move(message);
    o.position = position;
    return o;
  }
  Operation& read(std::uint64_t first, std::uint32_t count, std::vector<std::string> values, std::uint64_t from, std::uint64_t to) {
    Operation& o = add(Op::read, {}, from, to);
    o.from = first;
    o.count = count;
    o.position = std::max<std::uint64_t>(first, 1);
    o.values = std::move(values);
    return o;
  }
  Verdict verdict() const { return relay::check::check(ops); }
  bool linearizable() const {
    const Verdict v = verdict();
    CHECK_FALSE(v.exhausted);
    return v.linearizable;
  }
};

bool mentions(const std::string& text, std::uint64_t id) { return text.find("#" + std::to_string(id) + " ") != std::string::npos; }

}  // namespace

TEST_CASE("a read overlapping a write may see either value; later reads agree") {
  History h;
  h.put("x", "1", false, 0, 10);
  h.get("x", std::nullopt, 2, 4);
  h.get("x", "1", 5, 12);
  h.get("x", "1", 20, 30);
  const Verdict v = h.verdict();
  CHECK(v.linearizable);
  CHECK(v.operations == 4);
  CHECK(v.objects == 1);
}

TEST_CASE("a stale read after a completed write is not linearizable, and the explanation names both") {
  History h;
  h.put("x", "1", false, 0, 1);
  h.get("x", std::nullopt, 2, 3);
  const Verdict v = h.verdict();
  CHECK_FALSE(v.linearizable);
  CHECK_FALSE(v.exhausted);
  INFO(v.explanation);
  CHECK(v.explanation.find("key \"x\"") != std::string::npos);
  CHECK(mentions(v.explanation, 1));
  CHECK(mentions(v.explanation, 2));
}

TEST_CASE("two concurrent writes: readers must agree on their order") {
  History h;
  h.put("x", "0", false, 0, 1);
  h.put("x", "1", true, 2, 100);
  h.put("x", "2", true, 2, 100);
  h.get("x", "1", 10, 20);  // reader A sees 1 then 2
  h.get("x", "2", 30, 40);
  SUBCASE("both readers see 1 then 2") {
    h.get("x", "1", 10, 20);
    h.get("x", "2", 30, 40);
    CHECK(h.linearizable());
  }
  SUBCASE("reader B sees 2 then 1: no single order") {
    h.get("x", "2", 10, 20);
    h.get("x", "1", 30, 40);
    const Verdict v = h.verdict();
    CHECK_FALSE(v.linearizable);
    INFO(v.explanation);
    // The four reads are the conflict; the writes may be anywhere in their intervals.
    for (std::uint64_t id : {4, 5, 6, 7}) CHECK(mentions(v.explanation, id));
    CHECK_FALSE(mentions(v.explanation, 1));
  }
}

TEST_CASE("put and del report whether the key existed") {
  History h;
  h.put("x", "1", false, 0, 1);
  SUBCASE("consistent") {
    h.del("x", true, 2, 3);
    h.del("x", false, 4, 5);
    h.put("x", "2", false, 6, 7);
    CHECK(h.linearizable());
  }
  SUBCASE("a put that claims the key existed before any write") {
    h.put("y", "1", true, 0, 1);
    CHECK_FALSE(h.linearizable());
  }
  SUBCASE("two sequential deletes that both removed it") {
    h.del("x", true, 2, 3);
    h.del("x", true, 4, 5);
    CHECK_FALSE(h.linearizable());
  }
}

TEST_CASE("cas: swaps only from the expected value and reports the value after it") {
  History h;
  SUBCASE("absent key: not swapped, empty value") {
    h.cas("x", "a", "b", false, "", 0, 1);
    h.get("x", std::nullopt, 2, 3);
    CHECK(h.linearizable());
  }
  SUBCASE("a swap and a refused swap") {
    h.put("x", "a", false, 0, 1);
    h.cas("x", "a", "b", true, "b", 2, 3);
    h.cas("x", "a", "c", false, "b", 4, 5);
    h.get("x", "b", 6, 7);
    CHECK(h.linearizable());
  }
  SUBCASE("a swap on an absent key") {
    h.cas("x", "a", "b", true, "b", 0, 1);
    CHECK_FALSE(h.linearizable());
  }
  SUBCASE("two concurrent swaps from the same value cannot both win") {
    h.put("x", "a", false, 0, 1);
    h.cas("x", "a", "b", true, "b", 2, 10);
    h.cas("x", "a", "c", true, "c", 2, 10);
    CHECK_FALSE(h.linearizable());
  }
  SUBCASE("concurrent swaps: one wins, the loser sees the winner's value") {
    h.put("x", "a", false, 0, 1);
    h.cas("x", "a", "b", false, "c", 2, 10);
    h.cas("x", "a", "c", true, "c", 2, 10);
    CHECK(h.linearizable());
  }
  SUBCASE("a refused swap that reports a value the key never held") {
    h.put("x", "a", false, 0, 1);
    h.cas("x", "z", "b", false, "q", 2, 3);
    CHECK_FALSE(h.linearizable());
  }
}

TEST_CASE("an unknown write may or may not have taken effect, but only after its invocation") {
  History h;
  h.put("x", "1", false, 0, 0, Outcome::unknown);
  SUBCASE("it took effect") {
    h.get("x", "1", 10, 20);
    CHECK(h.linearizable());
  }
  SUBCASE("it did not") {
    h.get("x", std::nullopt, 10, 20);
    CHECK(h.linearizable());
  }
  SUBCASE("it took effect late") {
    h.get("x", std::nullopt, 10, 20);
    h.get("x", "1", 30, 40);
    CHECK(h.linearizable());
  }
  SUBCASE("it cannot be undone") {
    h.get("x", "1", 10, 20);
    h.get("x", std::nullopt, 30, 40);
    CHECK_FALSE(h.linearizable());
  }
  SUBCASE("it cannot take effect before it was sent") {
    History late;
    late.get("x", "1", 0, 5);
    late.put("x", "1", false, 10, 0, Outcome::unknown);
    CHECK_FALSE(late.linearizable());
  }
  SUBCASE("an unknown read constrains nothing") {
    Operation& read = h.get("x", "nonsense", 10, 20);
    read.outcome = Outcome::unknown;
    CHECK(h.linearizable());
  }
}

TEST_CASE("a failed write is dropped: a read of its value is a violation") {
  History h;
  h.put("x", "1", false, 0, 1, Outcome::failed);
  h.get("x", "1", 2, 3);
  const Verdict v = h.verdict();
  CHECK_FALSE(v.linearizable);
  CHECK(v.operations == 1);
}

TEST_CASE("keys are independent objects") {
  History h;
  h.put("x", "1", false, 0, 1);
  h.put("y", "1", false, 0, 1);
  h.get("y", "1", 2, 3);
  h.get("x", "1", 2, 3);
  const Verdict v = h.verdict();
  CHECK(v.linearizable);
  CHECK(v.objects == 2);
}

TEST_CASE("the stream: append positions and reads") {
  History h;
  h.append("a", 1, 0, 10);
  h.append("b", 2, 0, 10);
  SUBCASE("concurrent appends in either order, reads consistent") {
    h.read(1, 0, {"a", "b"}, 11, 12);
    h.read(2, 5, {"b"}, 11, 12);
    h.read(0, 1, {"a"}, 11, 12);
    h.read(3, 0, {}, 11, 12);
    CHECK(h.linearizable());
  }
  SUBCASE("a read that disagrees with the positions") {
    h.read(1, 0, {"b", "a"}, 11, 12);
    CHECK_FALSE(h.linearizable());
  }
  SUBCASE("a read of more than count") {
    h.read(1, 1, {"a", "b"}, 11, 12);
    CHECK_FALSE(h.linearizable());
  }
  SUBCASE("an empty read where messages exist") {
    h.read(1, 0, {}, 11, 12);
    CHECK_FALSE(h.linearizable());
  }
  SUBCASE("a shorter read (the node's byte limit) is fine") {
    h.read(1, 0, {"a"}, 11, 12);
    CHECK(h.linearizable());
  }
  SUBCASE("two appends at the same position") {
    h.append("c", 2, 11, 12);
    CHECK_FALSE(h.linearizable());
  }
  SUBCASE("an unknown append may fill a position") {
    h.append("c", 0, 11, 0, Outcome::unknown);
    h.append("d", 4, 20, 21);
    CHECK(h.linearizable());
  }
}

TEST_CASE("an explanation counts in words: one operation is not \"these 1 operations\"") {
  History h;
  h.put("x", "1", false, 0, 1);
  h.get("x", "2", 2, 3);  // a value nobody wrote
  const Verdict v = h.verdict();
  REQUIRE_FALSE(v.linearizable);
  INFO(v.explanation);
  CHECK(v.explanation.find("no sequential order of this operation matches its reply") != std::string::npos);
  CHECK(v.explanation.find("whatever the other 1 operation on it did (it may") != std::string::npos);
  CHECK(v.explanation.find("1 operations") == std::string::npos);
}

TEST_CASE("the explanation is shrunk to the operations that matter") {
  History h;
  h.put("x", "1", false, 0, 1);
  for (int i = 0; i < 20; ++i) h.get("x", "1", 2 + static_cast<std::uint64_t>(i), 3 + static_cast<std::uint64_t>(i));
  h.put("x", "2", true, 30, 31);
  h.get("x", "2", 32, 33);
  h.get("x", "1", 34, 35);  // stale
  h.put("y", "1", false, 0, 1);
  const Verdict v = h.verdict();
  REQUIRE_FALSE(v.linearizable);
  INFO(v.explanation);
  // The put of 2 found the key, so the put of 1 came before it, and the read
  // after both cannot see 1: those two replies alone are the contradiction.
  CHECK(v.explanation.find("these 2 operations") != std::string::npos);
  CHECK(mentions(v.explanation, 22));
  CHECK(mentions(v.explanation, 24));
  CHECK_FALSE(mentions(v.explanation, 1));
  CHECK_FALSE(mentions(v.explanation, 25));  // another key
}

TEST_CASE("an operation that completes before it is invoked is refused") {
  History h;
  h.get("x", std::nullopt, 5, 3);
  const Verdict v = h.verdict();
  CHECK_FALSE(v.linearizable);
  CHECK(v.explanation.find("#1") != std::string::npos);
}

namespace {

// A sequential simulation: clients invoke operations, each takes effect at
// one instant on a model (the linearization point), then completes later, so
// intervals overlap but the history is linearizable by construction.
struct Simulation {
  explicit Simulation(std::uint64_t first_seed) : seed(first_seed) {}
  std::uint64_t seed;
  std::uint64_t next() {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return seed >> 33;
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }

  std::map<std::string, std::string> kv;
  std::vector<std::string> stream;
  std::uint64_t values = 0;

  void take_effect(Operation& o) {
    const auto it = kv.find(o.key);
    const bool exists = it != kv.end();
    switch (o.op) {
      case Op::put: o.found = exists; kv[o.key] = o.value; break;
      case Op::get: o.found = exists; o.result_value = exists ? it->second : ""; break;
      case Op::del: o.found = exists; kv.erase(o.key); break;
      case Op::cas:
        o.found = exists && it->second == o.expected;
        if (o.found) it->second = o.value;
        o.result_value = exists ? it->second : "";
        break;
      case Op::append: stream.push_back(o.value); o.position = stream.size(); break;
      case Op::read: {
        const std::uint64_t first = std::max<std::uint64_t>(o.from, 1);
        o.position = first;
        const std::uint64_t limit = o.count == 0 ? 100 : o.count;
        for (std::uint64_t i = first; i <= stream.size() && o.values.size() < limit; ++i) o.values.push_back(stream[i - 1]);
        break;
      }
      case Op::noop: break;
    }
  }

  Operation invent(std::uint64_t id, std::uint64_t now) {
    Operation o;
    o.id = id;
    o.invoked_at = now;
    o.op = static_cast<Op>(1 + below(6));  // append .. read
    o.key = "k" + std::to_string(below(3));
    o.value = "v" + std::to_string(++values);
    const auto it = kv.find(o.key);
    o.expected = (it != kv.end() && below(2) == 0) ? it->second : "v" + std::to_string(below(values + 1));
    o.from = below(stream.size() + 3);
    o.count = static_cast<std::uint32_t>(below(4));
    if (o.op == Op::append || o.op == Op::read) o.key.clear();
    return o;
  }

  std::vector<Operation> run(std::size_t total, std::size_t clients) {
    enum class Phase { idle, invoked, applied };
    std::vector<Phase> phase(clients, Phase::idle);
    std::vector<Operation> current(clients);
    std::vector<Operation> history;
    std::uint64_t now = 0, made = 0;
    while (history.size() < total) {
      ++now;
      const std::size_t c = below(clients);
      Operation& o = current[c];
      if (phase[c] == Phase::idle) {
        o = invent(++made, now);
        o.client = "client" + std::to_string(c);
        phase[c] = Phase::invoked;
      } else if (phase[c] == Phase::invoked) {
        const std::uint64_t fate = below(40);
        if (fate == 0) o.outcome = Outcome::failed;          // never executed
        if (fate == 1) o.outcome = Outcome::unknown;         // lost before it was executed
        if (fate >= 2) take_effect(o);
        if (fate == 2) o.outcome = Outcome::unknown;         // executed, reply lost
        phase[c] = fate < 3 ? Phase::idle : Phase::applied;
        if (fate < 3) o.completed_at = now, history.push_back(o);
      } else {
        o.completed_at = now;
        history.push_back(o);
        phase[c] = Phase::idle;
      }
    }
    // Operations still in flight at the end: one that took effect must be in
    // the history (its reply is simply not known yet).
    for (std::size_t c = 0; c < clients; ++c) {
      if (phase[c] != Phase::applied) continue;
      current[c].outcome = Outcome::unknown;
      history.push_back(current[c]);
    }
    return history;
  }
};

}  // namespace

TEST_CASE("a 2,000-operation random linearizable history is accepted quickly") {
  for (std::uint64_t seed : {1, 2, 3}) {
    CAPTURE(seed);
    Simulation sim(seed);
    std::vector<Operation> history = sim.run(2000, 8);
    const auto start = std::chrono::steady_clock::now();
    const Verdict v = relay::check::check(history);
    const auto took = std::chrono::steady_clock::now() - start;
    INFO(v.explanation);
    CHECK(v.linearizable);
    CHECK(v.objects == 4);
    CHECK(took < std::chrono::seconds(10));

    // One read made to see a value nobody wrote is caught.
    for (Operation& o : history) {
      if (o.op == Op::get && o.outcome == Outcome::ok) {
        o.found = true;
        o.result_value = "never written";
        const Verdict broken = relay::check::check(history);
        CHECK_FALSE(broken.linearizable);
        CHECK_FALSE(broken.exhausted);
        CHECK(mentions(broken.explanation, o.id));
        break;
      }
    }
  }
}

TEST_CASE("a search that runs out of steps is undecided, not a violation") {
  Simulation sim(7);
  const std::vector<Operation> history = sim.run(500, 8);
  relay::check::Options options;
  options.max_steps = 10;
  const Verdict v = relay::check::check(history, options);
  CHECK_FALSE(v.linearizable);
  CHECK(v.exhausted);
  CHECK(v.explanation.find("undecided") != std::string::npos);
}
