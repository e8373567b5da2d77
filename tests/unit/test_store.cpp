// The replicated state machine: each command's effect and result, the
// exactly-once table and its bounds, read limits, and snapshots (round trip,
// and refusal of truncated or garbled bytes).
#include <doctest/doctest.h>

#include <string>
#include <variant>

#include "store/state_machine.hpp"

using relay::proto::ClientReply;
using relay::proto::ClientRequest;
using relay::proto::Entry;
using relay::proto::Op;
using relay::proto::Status;
using relay::store::Limits;
using relay::store::StateMachine;

namespace {

// Feeds entries with consecutive indexes, as the log would, each from its own
// request id unless one is given.
struct Driver {
  StateMachine machine;
  std::uint64_t next_request = 1;
  relay::proto::Term term = 1;

  explicit Driver(Limits limits = {}) : machine(limits) {}

  ClientReply write(Op op, std::string key, std::string value = {}, std::string expected = {}, std::string client = "c1",
                    std::uint64_t request = 0) {
    Entry entry;
    entry.index = machine.applied_index() + 1;
    entry.term = term;
    entry.op = op;
    entry.client_id = std::move(client);
    entry.request_id = request != 0 ? request : next_request++;
    entry.key = std::move(key);
    entry.value = std::move(value);
    entry.expected = std::move(expected);
    return machine.apply(entry);
  }
  ClientReply put(std::string key, std::string value) { return write(Op::put, std::move(key), std::move(value)); }
  ClientReply append(std::string message) { return write(Op::append, {}, std::move(message)); }
  ClientReply get(std::string key) const {
    ClientRequest request;
    request.client_id = "reader";
    request.request_id = 7;
    request.op = Op::get;
    request.key = std::move(key);
    return machine.read(request);
  }
  ClientReply read_stream(std::uint64_t from, std::uint32_t count = 0) const {
    ClientRequest request;
    request.op = Op::read;
    request.from = from;
    request.count = count;
    return machine.read(request);
  }
};

StateMachine restored(const std::string& bytes, Limits limits = {}) {
  auto result = StateMachine::restore(bytes, limits);
  if (const auto* error = std::get_if<std::string>(&result)) FAIL("restore failed: " << *error);
  return std::get<StateMachine>(std::move(result));
}

}  // namespace

TEST_CASE("put sets a key and says whether it existed; its result carries the index") {
  Driver d;
  const ClientReply first = d.put("k", "v1");
  CHECK(first.status == Status::ok);
  CHECK_FALSE(first.found);
  CHECK(first.index == 1);
  CHECK(first.client_id == "c1");
  CHECK(first.request_id == 1);
  CHECK(first.received_by == 0);
  const ClientReply second = d.put("k", "v2");
  CHECK(second.found);
  CHECK(second.index == 2);
  CHECK(d.get("k").value == "v2");
  CHECK(d.get("k").found);
  CHECK(d.get("k").index == 2);
  CHECK(d.get("k").client_id == "reader");
  CHECK_FALSE(d.get("other").found);
  CHECK(d.machine.key_count() == 1);
}

TEST_CASE("del removes a key and says whether it existed") {
  Driver d;
  d.put("k", "v");
  CHECK(d.write(Op::del, "k").found);
  CHECK_FALSE(d.get("k").found);
  CHECK_FALSE(d.write(Op::del, "k").found);
  CHECK(d.machine.key_count() == 0);
}

TEST_CASE("cas swaps only when the key holds the expected value, and returns the value after it") {
  Driver d;
  SUBCASE("absent key: no swap, empty value, key stays absent") {
    const ClientReply r = d.write(Op::cas, "k", "new", "");
    CHECK(r.status == Status::ok);
    CHECK_FALSE(r.found);
    CHECK(r.value.empty());
    CHECK_FALSE(d.get("k").found);
  }
  SUBCASE("expected value: swapped") {
    d.put("k", "old");
    const ClientReply r = d.write(Op::cas, "k", "new", "old");
    CHECK(r.found);
    CHECK(r.value == "new");
    CHECK(d.get("k").value == "new");
  }
  SUBCASE("another value: not swapped, the current value returned") {
    d.put("k", "other");
    const ClientReply r = d.write(Op::cas, "k", "new", "old");
    CHECK_FALSE(r.found);
    CHECK(r.value == "other");
    CHECK(d.get("k").value == "other");
  }
}

TEST_CASE("append gives stream positions from 1 and noop changes nothing but the applied index") {
  Driver d;
  CHECK(d.append("a").position == 1);
  CHECK(d.append("b").position == 2);
  const ClientReply noop = d.write(Op::noop, {}, {}, {}, "");
  CHECK(noop.status == Status::ok);
  CHECK(d.machine.stream_length() == 2);
  CHECK(d.machine.applied_index() == 3);
  CHECK(d.machine.remembered_count() == 2);  // the noop has no client to remember
}

TEST_CASE("a write with an empty key is a bad_request that changes nothing") {
  Driver d;
  for (Op op : {Op::put, Op::del, Op::cas}) {
    const ClientReply r = d.write(op, "", "v");
    CHECK(r.status == Status::bad_request);
    CHECK_FALSE(r.message.empty());
  }
  CHECK(d.machine.key_count() == 0);
  CHECK(d.machine.applied_index() == 3);  // the entries still count as applied
  CHECK(d.get("").status == Status::bad_request);
  CHECK(d.write(Op::get, "k").status == Status::bad_request);  // a read in the log is refused
}

TEST_CASE("applied_term follows the last applied entry") {
  Driver d;
  d.put("k", "v");
  d.term = 4;
  d.write(Op::noop, {}, {}, {}, "");
  CHECK(d.machine.applied_term() == 4);
}

TEST_CASE("exactly-once: a repeated request gets the original reply and is applied once") {
  Driver d;
  const ClientReply first = d.write(Op::append, {}, "m", {}, "c1", 42);
  d.put("k", "v");
  const ClientReply again = d.write(Op::append, {}, "m", {}, "c1", 42);
  CHECK(again.position == first.position);
  CHECK(again.index == first.index);  // the original index, not this entry's
  CHECK(d.machine.stream_length() == 1);
  CHECK(d.machine.applied_index() == 3);
  // The same request id from another client is another request.
  CHECK(d.write(Op::append, {}, "m", {}, "c2", 42).position == 2);
  const auto answered = d.machine.answered("c1", 42);
  REQUIRE(answered.has_value());
  CHECK(answered->position == 1);
  CHECK_FALSE(d.machine.answered("c1", 43).has_value());

  // A retried cas must not swap a second time.
  d.put("x", "a");
  const ClientReply swap = d.write(Op::cas, "x", "b", "a", "c3", 9);
  d.put("x", "a");
  const ClientReply retry = d.write(Op::cas, "x", "b", "a", "c3", 9);
  CHECK(retry.found == swap.found);
  CHECK(retry.value == "b");
  CHECK(d.get("x").value == "a");
}

// The table is indexed by a hash of (client, request): ids that a careless
// key would run together ("c1"+23 and "c12"+3) stay distinct requests.
TEST_CASE("exactly-once: many similar client and request ids are remembered apart") {
  Driver d;
  for (std::uint64_t c = 1; c <= 120; ++c) {
    for (std::uint64_t r = 1; r <= 30; ++r) d.write(Op::append, {}, "m", {}, "c" + std::to_string(c), r);
  }
  CHECK(d.machine.stream_length() == 120 * 30);
  std::uint64_t position = 0;
  for (std::uint64_t c = 1; c <= 120; ++c) {
    for (std::uint64_t r = 1; r <= 30; ++r) {
      const auto answered = d.machine.answered("c" + std::to_string(c), r);
      REQUIRE(answered.has_value());
      CHECK(answered->position == ++position);
      CHECK(answered->request_id == r);
    }
  }
  CHECK_FALSE(d.machine.answered("c1", 31).has_value());
  CHECK_FALSE(d.machine.answered("c121", 1).has_value());
}

TEST_CASE("the exactly-once table evicts the oldest reply first, by count") {
  Limits limits;
  limits.dedup_capacity = 3;
  Driver d(limits);
  for (std::uint64_t r = 1; r <= 5; ++r) d.write(Op::append, {}, "m", {}, "c", r);
  CHECK(d.machine.remembered_count() == 3);
  CHECK_FALSE(d.machine.answered("c", 1).has_value());
  CHECK_FALSE(d.machine.answered("c", 2).has_value());
  CHECK(d.machine.answered("c", 3).has_value());
  CHECK(d.machine.answered("c", 5).has_value());
  // An evicted request applied again takes effect again: the table's bound is
  // the price of bounded memory.
  CHECK(d.write(Op::append, {}, "m", {}, "c", 1).position == 6);
}

TEST_CASE("the exactly-once table evicts the oldest reply first, by bytes") {
  Limits limits;
  limits.dedup_bytes = 2000;
  Driver d(limits);
  d.write(Op::cas, "k", std::string(900, 'x'), "", "big", 1);  // absent: value "" remembered
  d.put("k", std::string(900, 'x'));
  d.write(Op::cas, "k", std::string(900, 'y'), std::string(900, 'x'), "big", 2);  // remembers 900 bytes
  d.write(Op::cas, "k", std::string(900, 'z'), std::string(900, 'y'), "big", 3);
  CHECK(d.machine.remembered_bytes() <= 2000);
  CHECK(d.machine.answered("big", 3).has_value());
  CHECK_FALSE(d.machine.answered("big", 1).has_value());
  CHECK_FALSE(d.machine.answered("big", 2).has_value());
}

TEST_CASE("two machines fed the same entries with the same limits evict alike") {
  Limits limits;
  limits.dedup_capacity = 10;
  limits.dedup_bytes = 3000;
  Driver a(limits);
  Driver b(limits);
  for (int i = 0; i < 100; ++i) {
    const std::string value(static_cast<std::size_t>(i * 37 % 500), 'v');
    a.write(Op::cas, "k", value, "", "c" + std::to_string(i % 7));
    b.write(Op::cas, "k", value, "", "c" + std::to_string(i % 7));
  }
  CHECK(a.machine.snapshot() == b.machine.snapshot());
}

TEST_CASE("read returns up to count messages from `from`, within the limits") {
  Limits limits;
  limits.default_read_count = 3;
  limits.max_read_count = 5;
  limits.max_read_bytes = 10;
  Driver d(limits);
  for (int i = 1; i <= 8; ++i) d.append("m" + std::to_string(i));  // 2 bytes each

  SUBCASE("from 0 means 1; count 0 means the default") {
    const ClientReply r = d.read_stream(0);
    CHECK(r.position == 1);
    CHECK(r.values == std::vector<std::string>{"m1", "m2", "m3"});
    CHECK(r.index == 8);
  }
  SUBCASE("count is capped by max_read_count and bytes by max_read_bytes") {
    CHECK(d.read_stream(2, 100).values.size() == 5);  // 10 bytes exactly fit
    CHECK(d.read_stream(2, 2).values == std::vector<std::string>{"m2", "m3"});
  }
  SUBCASE("past the end: nothing, position = from") {
    const ClientReply r = d.read_stream(9, 3);
    CHECK(r.values.empty());
    CHECK(r.position == 9);
    CHECK(d.read_stream(7, 5).values == std::vector<std::string>{"m7", "m8"});
  }
  SUBCASE("a message larger than max_read_bytes still comes alone") {
    d.append(std::string(50, 'L'));
    const ClientReply r = d.read_stream(9, 5);
    REQUIRE(r.values.size() == 1);
    CHECK(r.values[0].size() == 50);
    CHECK(d.read_stream(8, 5).values.size() == 1);  // m8 then the large one would pass the bytes
  }
}

// Nodes compare states by their snapshots (the simulator does), so the same
// state must give the same bytes whatever order the keys were written in.
TEST_CASE("a snapshot is canonical: keys in sorted order whatever the order of writes") {
  Driver forward;
  Driver backward;
  for (int i = 0; i < 200; ++i) forward.put("k" + std::to_string(i), "v");
  for (int i = 199; i >= 0; --i) backward.put("k" + std::to_string(i), "v");
  // The same index, term and remembered replies (a put's reply names no key).
  CHECK(forward.machine.snapshot() == backward.machine.snapshot());
  auto restored = StateMachine::restore(forward.machine.snapshot());
  REQUIRE(std::holds_alternative<StateMachine>(restored));
  CHECK(std::get<StateMachine>(restored).key_count() == 200);
}

TEST_CASE("a snapshot round trip restores the same behaviour, the exactly-once table included") {
  Limits limits;
  limits.dedup_capacity = 4;
  Driver d(limits);
  d.put("a", "1");
  d.put("b", std::string("\0bin\xff", 5));
  d.write(Op::del, "a");
  d.append("m1");
  d.append("m2");
  d.term = 3;
  d.write(Op::cas, "b", "2", std::string("\0bin\xff", 5), "c9", 77);
  const std::string bytes = d.machine.snapshot();

  StateMachine copy = restored(bytes, limits);
  CHECK(copy.snapshot() == bytes);
  CHECK(copy.applied_index() == d.machine.applied_index());
  CHECK(copy.applied_term() == 3);
  CHECK(copy.key_count() == 1);
  CHECK(copy.stream_length() == 2);
  CHECK(copy.remembered_count() == 4);
  CHECK(copy.remembered_bytes() == d.machine.remembered_bytes());

  // The same next entries give the same replies on both.
  Driver e(limits);
  e.machine = std::move(copy);
  e.next_request = d.next_request;
  e.term = 3;
  for (Driver* x : {&d, &e}) {
    const ClientReply retry = x->write(Op::cas, "b", "2", std::string("\0bin\xff", 5), "c9", 77);
    CHECK(retry.found);
    CHECK(retry.index == 6);
    CHECK(x->append("m3").position == 3);
    CHECK(x->get("b").value == "2");
  }
  CHECK(e.machine.snapshot() == d.machine.snapshot());
}

TEST_CASE("restore with smaller limits evicts the oldest remembered replies") {
  Driver d;
  for (int i = 0; i < 6; ++i) d.append("m");
  Limits small;
  small.dedup_capacity = 2;
  const StateMachine copy = restored(d.machine.snapshot(), small);
  CHECK(copy.remembered_count() == 2);
  CHECK(copy.answered("c1", 6).has_value());
  CHECK_FALSE(copy.answered("c1", 4).has_value());
}

TEST_CASE("an empty machine round-trips") {
  const StateMachine empty;
  const StateMachine copy = restored(empty.snapshot());
  CHECK(copy.applied_index() == 0);
  CHECK(copy.snapshot() == empty.snapshot());
}

TEST_CASE("restore refuses truncated, garbled and foreign bytes without crashing") {
  Driver d;
  d.put("key", "value");
  d.append("message");
  d.write(Op::cas, "key", "v2", "value");
  const std::string bytes = d.machine.snapshot();

  for (std::size_t size = 0; size < bytes.size(); ++size) {
    const auto result = StateMachine::restore(std::string_view(bytes).substr(0, size));
    CHECK_MESSAGE(std::holds_alternative<std::string>(result), "a prefix of " << size << " bytes was accepted");
  }
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    std::string garbled = bytes;
    garbled[at] = static_cast<char>(garbled[at] ^ 0x5a);
    const auto result = StateMachine::restore(garbled);
    CHECK_MESSAGE(std::holds_alternative<std::string>(result), "a flip at byte " << at << " was accepted");
  }
  CHECK(std::holds_alternative<std::string>(StateMachine::restore(bytes + "x")));
  CHECK(std::holds_alternative<std::string>(StateMachine::restore(std::string(64, '\0'))));
  const auto error = std::get<std::string>(StateMachine::restore(bytes.substr(0, bytes.size() - 1)));
  CHECK(error.find("checksum") != std::string::npos);
}

namespace {

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (const char c : bytes) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return hash;
}

// `body` with a correct checksum appended, so that restore has to look at it.
std::string sealed(std::string body) {
  const std::uint64_t sum = fnv1a64(body);
  for (int i = 0; i < 8; ++i) body.push_back(static_cast<char>((sum >> (8 * i)) & 0xff));
  return body;
}

}  // namespace

TEST_CASE("restore checks the structure even when the checksum matches") {
  Driver d;
  d.put("key", "value");
  d.append("message");
  const std::string bytes = d.machine.snapshot();
  const std::string body = bytes.substr(0, bytes.size() - 8);
  CHECK(std::holds_alternative<StateMachine>(StateMachine::restore(sealed(body))));

  // Every cut of the body, resealed: never accepted, never a crash.
  for (std::size_t size = 0; size < body.size(); ++size) {
    CHECK(std::holds_alternative<std::string>(StateMachine::restore(sealed(body.substr(0, size)))));
  }
  // Huge counts and lengths are refused before anything is allocated: the key
  // count sits at byte 24 (after magic, version, index and term), the first
  // key's length at byte 32.
  for (std::size_t at : {24, 32}) {
    std::string huge = body;
    for (std::size_t i = 0; i < 4; ++i) huge[at + i] = '\xff';
    CHECK(std::holds_alternative<std::string>(StateMachine::restore(sealed(huge))));
  }
  // Anywhere else, all-ones bytes are refused or read back as exactly what they say.
  for (std::size_t at = 8; at + 8 <= body.size(); ++at) {
    std::string huge = body;
    for (std::size_t i = 0; i < 8; ++i) huge[at + i] = '\xff';
    const auto result = StateMachine::restore(sealed(huge));
    if (const auto* machine = std::get_if<StateMachine>(&result)) CHECK(machine->snapshot() == sealed(huge));
  }
  // A pseudo-random body behind a valid header.
  std::uint64_t x = 12345;
  for (int round = 0; round < 200; ++round) {
    std::string garbage = body.substr(0, 8);
    for (int i = 0; i < 80; ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      garbage.push_back(static_cast<char>((x >> 33) % ((round % 4 == 0) ? 3 : 256)));
    }
    const auto result = StateMachine::restore(sealed(garbage));
    if (const auto* machine = std::get_if<StateMachine>(&result)) CHECK(machine->snapshot() == sealed(garbage));
  }
  // A repeated or empty key, an invalid status: refused with a reason.
  Driver two;
  two.put("a", "1");
  two.put("b", "2");
  std::string repeated = two.machine.snapshot();
  repeated.resize(repeated.size() - 8);
  const auto b_at = repeated.find("b\x01\0\0\0" "2", 0);
  REQUIRE(b_at != std::string::npos);
  repeated[b_at] = 'a';
  CHECK(std::get<std::string>(StateMachine::restore(sealed(repeated))).find("repeated") != std::string::npos);
}
