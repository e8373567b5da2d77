// The codec and the text form of messages: round trips of every message with
// edge values, the exact bytes of the documented examples, and the decoder's
// answer to malformed and hostile frames (it must name the problem, never
// throw, never crash). Frames are written as hex here, not built with msgpack,
// so each test shows the bytes a hostile peer would send.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "proto/codec.hpp"
#include "proto/describe.hpp"

namespace relay::proto {
namespace {

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint32_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();

// "95 01 0a" -> the three bytes; spaces are for the reader.
std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); ++i) {
    if (hex[i] == ' ') continue;
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
    ++i;
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (!out.empty()) out += ' ';
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0xf];
  }
  return out;
}

// The reason decode gives, or "decoded" when the frame was accepted.
std::string reason_of(std::string_view frame) {
  const DecodeResult result = decode(frame);
  if (const auto* error = std::get_if<DecodeError>(&result)) return error->reason;
  return "decoded";
}

// Encodes, decodes and checks that nothing changed: the re-encoded bytes and
// the text form must match the original's.
Message round_trip(const Message& original) {
  const std::string frame = encode(original);
  const DecodeResult result = decode(frame);
  INFO("frame: " << to_hex(frame.substr(0, 64)));
  REQUIRE_MESSAGE(std::holds_alternative<Message>(result), reason_of(frame));
  const Message& decoded = std::get<Message>(result);
  CHECK(decoded.index() == original.index());
  CHECK(encode(decoded) == frame);
  CHECK(describe(decoded) == describe(original));
  return decoded;
}

// The request and reply of docs/protocol.md's worked example: a put of k1 = v1
// relayed by node 2 to the leader, node 1, in term 3, applied at log index 42.
ClientRequest sample_request() { return {"c1a2", 17, 2000, Op::put, "k1", "v1", "", 0, 0}; }

ClientReply sample_reply() { return {"c1a2", 17, Status::ok, 2, 2, 1, 3, 42, 1, "", false, "", 0, {}}; }

// A request of `op` with every field set, so a round trip shows each one lands.
ClientRequest request_of(Op op, std::string value) {
  return {"c", 1, 0, op, "key", std::move(value), "", 0, 0};
}

// A reply to a read: three messages from stream position 7.
ClientReply read_reply() {
  return {"c1a2", 18, Status::ok, 3, 3, 1, 3, 44, 1, "", false, "", 7, {"one", "", std::string("t\0o", 3)}};
}

// A put entry and a cas entry, for appends.
std::vector<Entry> sample_entries() {
  return {Entry{43, 3, Op::put, "c1a2", 17, "k1", "v1", ""},
          Entry{44, 3, Op::cas, "c1a2", 18, "k1", "v2", "v1"}};
}

// One ordinary message of every type, for round trips and as fuzz seeds.
std::vector<Message> sample_messages() {
  return {PreVote{4, 2, 3, 44},
          PreVoteGrant{4, 1, 2},
          Ballot{3, 2, 0x1f3a'5b7c'9d0e'2f41, 2, 40},
          Vote{3, 1, 2},
          Heartbeat{3, 1, Role::leader, 1},
          sample_request(),
          sample_reply(),
          StatusRequest{5},
          StatusReply{5, 1, Role::leader, 3, 1, 1, 2, 1, 350, 0, 10, 3, 10, 0, 44, 44, 43},
          Relay{2, 5, 1500, sample_request()},
          RelayReply{5, read_reply()},
          Append{3, 1, 42, 3, 42, 9, sample_entries()},
          AppendReply{3, 2, true, 44, 9},
          Snapshot{3, 1, 40, 2, 65536, false, "chunk"},
          SnapshotReply{3, 2, 40, 65541},
          Tap{1, 42, 1'700'000'000'000'000, "out", "election", 0, 17, "ballot term=3 from=1"}};
}

// A payload with every byte value, NULs included.
std::string binary_payload(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>(i * 7 % 256);
  return out;
}

}  // namespace

TEST_CASE("enum names are the enumerators' spelling") {
  CHECK(std::string(to_string(Role::pre_candidate)) == "pre_candidate");
  CHECK(std::string(to_string(Role::leader)) == "leader");
  CHECK(std::string(to_string(Status::not_leader)) == "not_leader");
  CHECK(std::string(to_string(Status::bad_request)) == "bad_request");
  CHECK(std::string(to_string(MessageType::client_request)) == "client_request");
  CHECK(std::string(to_string(MessageType::pre_vote_grant)) == "pre_vote_grant");
  CHECK(std::string(to_string(MessageType::relay_reply)) == "relay_reply");
  CHECK(std::string(to_string(MessageType::append_reply)) == "append_reply");
  CHECK(std::string(to_string(MessageType::snapshot_reply)) == "snapshot_reply");
  CHECK(std::string(to_string(Op::noop)) == "noop");
  CHECK(std::string(to_string(Op::del)) == "del");
  CHECK(std::string(to_string(Op::read)) == "read");
  CHECK(is_read(Op::get));
  CHECK(is_read(Op::read));
  CHECK_FALSE(is_read(Op::put));
  CHECK_FALSE(is_read(Op::append));
  CHECK_FALSE(is_read(Op::noop));
}

TEST_CASE("type_of gives every message its wire type code") {
  const std::vector<MessageType> expected = {
      MessageType::pre_vote,     MessageType::pre_vote_grant, MessageType::ballot,
      MessageType::vote,         MessageType::heartbeat,      MessageType::client_request,
      MessageType::client_reply, MessageType::status_request, MessageType::status_reply,
      MessageType::relay,        MessageType::relay_reply,    MessageType::append,
      MessageType::append_reply, MessageType::snapshot,       MessageType::snapshot_reply,
      MessageType::tap};
  const std::vector<Message> messages = sample_messages();
  REQUIRE(messages.size() == expected.size());
  for (std::size_t i = 0; i < messages.size(); ++i) CHECK(type_of(messages[i]) == expected[i]);
}

TEST_CASE("every message type survives a round trip") {
  for (const Message& message : sample_messages()) {
    CAPTURE(describe(message));
    round_trip(message);
  }
}

TEST_CASE("every operation survives a round trip") {
  for (const Op op : {Op::noop, Op::append, Op::put, Op::get, Op::del, Op::cas, Op::read}) {
    CAPTURE(to_string(op));
    ClientRequest request{"c", 3, 100, op, "k", "v", "e", 12, 34};
    const Message decoded = round_trip(request);
    const auto& back = std::get<ClientRequest>(decoded);
    CHECK(back.op == op);
    CHECK(back.key == "k");
    CHECK(back.value == "v");
    CHECK(back.expected == "e");
    CHECK(back.from == 12);
    CHECK(back.count == 34);
    Entry entry{5, 2, op, "c", 3, "k", "v", "e"};
    const Message appended = round_trip(Append{2, 1, 4, 2, 4, 0, {entry}});
    CHECK(std::get<Append>(appended).entries.at(0).op == op);
  }
}

TEST_CASE("round trip keeps zero values") {
  // Everything zero or empty except the client id, which must not be empty.
  ClientRequest request;
  request.client_id = "c";
  const std::vector<Message> zeros = {
      PreVote{},       PreVoteGrant{}, Ballot{},        Vote{},        Heartbeat{},
      request,         ClientReply{},  StatusRequest{}, StatusReply{}, Relay{0, 0, 0, request},
      RelayReply{},    Append{},       Append{0, 0, 0, 0, 0, 0, {Entry{}}},
      AppendReply{},   Snapshot{},     SnapshotReply{}, Tap{}};
  for (const Message& message : zeros) {
    CAPTURE(describe(message));
    round_trip(message);
  }
}

TEST_CASE("round trip keeps the largest values") {
  const std::string id64(kMaxClientIdBytes, 'z');
  const std::string payload = binary_payload(kMaxMessageBytes);
  const std::string key(kMaxKeyBytes, 'k');
  const std::string quarter = binary_payload(kMaxMessageBytes / 4);
  const ClientRequest request{id64, kMaxU64, kMaxU32, Op::read, key, payload, "", kMaxU64, kMaxU32};
  const ClientReply reply{id64,       kMaxU64, Status::unknown, kMaxNodeId, kMaxNodeId,
                          kMaxNodeId, kMaxU64, kMaxU64,         kMaxNodeId, payload,
                          true,       "",      kMaxU64,         {}};
  // A read's values fill most of a frame: four quarter payloads.
  const ClientReply read{id64, kMaxU64, Status::ok, kMaxNodeId, kMaxNodeId, kMaxNodeId, kMaxU64, kMaxU64,
                         kMaxNodeId, "", true, "", kMaxU64, {quarter, quarter, quarter, ""}};
  // As many entries as a list may hold.
  const Append wide{kMaxU64, kMaxNodeId, kMaxU64, kMaxU64, kMaxU64, kMaxU64,
                    std::vector<Entry>(kMaxListItems, Entry{kMaxU64, kMaxU64, Op::read, id64, kMaxU64, "k", "", ""})};
  const std::vector<Message> maxima = {
      PreVote{kMaxU64, kMaxNodeId, kMaxU64, kMaxU64},
      PreVoteGrant{kMaxU64, kMaxNodeId, kMaxNodeId},
      Ballot{kMaxU64, kMaxNodeId, kMaxU64, kMaxU64, kMaxU64},
      Vote{kMaxU64, kMaxNodeId, kMaxNodeId},
      Heartbeat{kMaxU64, kMaxNodeId, Role::leader, kMaxNodeId},
      request,
      reply,
      StatusRequest{kMaxU64},
      read,
      StatusReply{kMaxU64, kMaxNodeId, Role::leader, kMaxU64, kMaxNodeId, kMaxNodeId, kMaxU64,
                  kMaxU64, kMaxU64, kMaxU64, kMaxU64, kMaxU64, kMaxU64, kMaxU64, kMaxU64, kMaxU64,
                  kMaxU64},
      Relay{kMaxNodeId, kMaxU64, kMaxU32, request},
      RelayReply{kMaxU64, reply},
      RelayReply{kMaxU64, read},
      wide,
      AppendReply{kMaxU64, kMaxNodeId, true, kMaxU64, kMaxU64},
      Snapshot{kMaxU64, kMaxNodeId, kMaxU64, kMaxU64, kMaxU64, true, payload},
      SnapshotReply{kMaxU64, kMaxNodeId, kMaxU64, kMaxU64},
      Tap{kMaxNodeId, kMaxU64, kMaxU64, std::string(kMaxTextBytes, 'k'), "", kMaxNodeId, kMaxU32,
          std::string(kMaxTextBytes, '\n')}};
  for (const Message& message : maxima) {
    CAPTURE(describe(message));
    round_trip(message);
  }
}

TEST_CASE("binary payloads keep every byte, NULs included") {
  const std::string payload = binary_payload(1000);
  const Message decoded = round_trip(request_of(Op::append, payload));
  CHECK(std::get<ClientRequest>(decoded).value == payload);
  const Message relayed = round_trip(
      RelayReply{9, ClientReply{"c", 1, Status::unknown, 1, 2, 3, 4, 5, 6, std::string("a\0b", 3), false, "", 0, {}}});
  CHECK(std::get<RelayReply>(relayed).reply.message == std::string("a\0b", 3));
  const Message read = round_trip(read_reply());
  CHECK(std::get<ClientReply>(read).values == read_reply().values);
  const Message chunk = round_trip(Snapshot{1, 1, 1, 1, 0, true, payload});
  CHECK(std::get<Snapshot>(chunk).chunk == payload);
  const Message entry = round_trip(Append{1, 1, 0, 0, 0, 0, {Entry{1, 1, Op::cas, "c", 1, std::string("\0k", 2), payload, std::string("\0", 1)}}});
  CHECK(std::get<Append>(entry).entries.at(0).key == std::string("\0k", 2));
  CHECK(std::get<Append>(entry).entries.at(0).value == payload);
  CHECK(std::get<Append>(entry).entries.at(0).expected == std::string("\0", 1));
}

TEST_CASE("decoded fields land in the right members") {
  const Message decoded =
      round_trip(Relay{2, 5, 1500, ClientRequest{"c1a2", 17, 2000, Op::cas, "k", "new", "old", 8, 9}});
  const auto& relay = std::get<Relay>(decoded);
  CHECK(relay.from == 2);
  CHECK(relay.relay_id == 5);
  CHECK(relay.remaining_ms == 1500);
  CHECK(relay.request.client_id == "c1a2");
  CHECK(relay.request.request_id == 17);
  CHECK(relay.request.timeout_ms == 2000);
  CHECK(relay.request.op == Op::cas);
  CHECK(relay.request.key == "k");
  CHECK(relay.request.value == "new");
  CHECK(relay.request.expected == "old");
  CHECK(relay.request.from == 8);
  CHECK(relay.request.count == 9);
}

TEST_CASE("client_reply: the result fields land in the right members") {
  const ClientReply original{"c", 4, Status::ok, 1, 2, 3, 5, 6, 7, "", true, "val", 8, {"a", "bc"}};
  const Message decoded = round_trip(RelayReply{11, original});
  const auto& relay_reply = std::get<RelayReply>(decoded);
  CHECK(relay_reply.relay_id == 11);
  const ClientReply& reply = relay_reply.reply;
  CHECK(reply.client_id == "c");
  CHECK(reply.request_id == 4);
  CHECK(reply.status == Status::ok);
  CHECK(reply.received_by == 1);
  CHECK(reply.relayed_by == 2);
  CHECK(reply.answered_by == 3);
  CHECK(reply.term == 5);
  CHECK(reply.index == 6);
  CHECK(reply.leader_hint == 7);
  CHECK(reply.message.empty());
  CHECK(reply.found);
  CHECK(reply.value == "val");
  CHECK(reply.position == 8);
  CHECK(reply.values == std::vector<std::string>{"a", "bc"});
}

TEST_CASE("append: entries keep their order and every field") {
  const Message decoded = round_trip(Append{3, 1, 42, 2, 41, 9, sample_entries()});
  const auto& append = std::get<Append>(decoded);
  CHECK(append.term == 3);
  CHECK(append.leader == 1);
  CHECK(append.prev_index == 42);
  CHECK(append.prev_term == 2);
  CHECK(append.commit_index == 41);
  CHECK(append.round == 9);
  REQUIRE(append.entries.size() == 2);
  const Entry& cas = append.entries[1];
  CHECK(append.entries[0].index == 43);
  CHECK(append.entries[0].op == Op::put);
  CHECK(cas.index == 44);
  CHECK(cas.term == 3);
  CHECK(cas.op == Op::cas);
  CHECK(cas.client_id == "c1a2");
  CHECK(cas.request_id == 18);
  CHECK(cas.key == "k1");
  CHECK(cas.value == "v2");
  CHECK(cas.expected == "v1");
  // A noop of a new leader: no client, no key.
  const Message noop = round_trip(Append{4, 2, 44, 3, 44, 0, {Entry{45, 4, Op::noop, "", 0, "", "", ""}}});
  CHECK(std::get<Append>(noop).entries.at(0).client_id.empty());
}

TEST_CASE("append_reply, snapshot and snapshot_reply: fields land in the right members") {
  const auto reply = std::get<AppendReply>(round_trip(AppendReply{7, 3, true, 120, 15}));
  CHECK((reply.term == 7 && reply.from == 3 && reply.ok && reply.last_index == 120 && reply.round == 15));
  const auto refused = std::get<AppendReply>(round_trip(AppendReply{7, 3, false, 99, 0}));
  CHECK_FALSE(refused.ok);
  CHECK(refused.last_index == 99);
  const auto chunk = std::get<Snapshot>(round_trip(Snapshot{7, 1, 500, 6, 4096, true, "tail"}));
  CHECK((chunk.term == 7 && chunk.leader == 1 && chunk.last_index == 500 && chunk.last_term == 6));
  CHECK((chunk.offset == 4096 && chunk.done && chunk.chunk == "tail"));
  const auto ack = std::get<SnapshotReply>(round_trip(SnapshotReply{7, 2, 500, 4100}));
  CHECK((ack.term == 7 && ack.from == 2 && ack.last_index == 500 && ack.next_offset == 4100));
}

// These bytes are printed in docs/protocol.md; a client in another language
// is written against them, so they must never change.
TEST_CASE("documented example frames") {
  CHECK(to_hex(encode(sample_request())) ==
        "9b 02 0a a4 63 31 61 32 11 cd 07 d0 02 a2 6b 31 c4 02 76 31 c4 00 00 00");
  CHECK(to_hex(encode(sample_reply())) ==
        "dc 00 10 02 0b a4 63 31 61 32 11 00 02 02 01 03 2a 01 c4 00 00 c4 00 00 90");
  CHECK(to_hex(encode(Relay{2, 5, 1500, sample_request()})) ==
        "96 02 14 02 05 cd 05 dc 99 a4 63 31 61 32 11 cd 07 d0 02 a2 6b 31 c4 02 76 31 c4 00 00 00");
  CHECK(to_hex(encode(Ballot{3, 2, kMaxU64, 0, 0})) ==
        "97 02 03 03 02 cf ff ff ff ff ff ff ff ff 00 00");
}

// Not printed in the documentation, but pinned so that a change of the peer
// messages' layout is a deliberate one.
TEST_CASE("peer message frames") {
  CHECK(to_hex(encode(Append{3, 1, 42, 3, 41, 9, {Entry{43, 3, Op::put, "c", 17, "k", "v", ""}}})) ==
        "99 02 16 03 01 2a 03 29 09 91 98 2b 03 02 a1 63 11 a1 6b c4 01 76 c4 00");
  CHECK(to_hex(encode(AppendReply{3, 2, true, 43, 9})) == "97 02 17 03 02 01 2b 09");
  CHECK(to_hex(encode(Snapshot{3, 1, 40, 2, 0, true, "ab"})) == "99 02 18 03 01 28 02 00 01 c4 02 61 62");
  CHECK(to_hex(encode(SnapshotReply{3, 2, 40, 2})) == "96 02 19 03 02 28 02");
  CHECK(to_hex(encode(read_reply())).ends_with("07 93 c4 03 6f 6e 65 c4 00 c4 03 74 00 6f"));
}

TEST_CASE("decode accepts what other msgpack libraries may send") {
  // The value as str, and the client id and key as bin.
  CHECK(reason_of(from_hex("9b 02 0a a2 63 31 11 00 01 a0 a2 68 69 a0 00 00")) == "decoded");
  CHECK(reason_of(from_hex("9b 02 0a c4 02 63 31 11 00 02 c4 01 6b c4 00 c4 00 00 00")) == "decoded");
  // Small numbers in wide and in signed formats (int64 of 3, uint64 of 2, uint16 of op 2).
  CHECK(reason_of(from_hex("97 02 03 d3 00 00 00 00 00 00 00 03 cf 00 00 00 00 00 00 00 02 05 00 00")) ==
        "decoded");
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 00 cd 00 02 a1 6b c4 00 c4 00 00 00")) == "decoded");
  // A reply with no client id: the answer to a request that could not be read.
  CHECK(reason_of(from_hex("dc 00 10 02 0b a0 00 05 01 00 00 00 00 00 a0 00 a0 00 90")) == "decoded");
  // Lists and the frame itself in wider array formats than they need, values as str.
  CHECK(reason_of(from_hex("dd 00 00 00 10 02 0b a1 63 11 00 01 00 01 01 01 01 c4 00 00 c4 00 01 "
                           "dc 00 02 a1 78 c4 00")) == "decoded");
  CHECK(reason_of(from_hex("99 02 16 03 01 00 00 00 00 dd 00 00 00 01 98 01 03 02 a1 63 11 a1 6b c4 00 c4 00")) ==
        "decoded");
}

TEST_CASE("empty, truncated and oversized frames") {
  CHECK(reason_of("") == "empty frame");
  for (const Message& message : sample_messages()) {
    const std::string frame = encode(message);
    CAPTURE(describe(message));
    for (std::size_t size = 1; size < frame.size(); ++size) {
      CAPTURE(size);
      CHECK(reason_of(frame.substr(0, size)) == "truncated frame");
    }
  }
  CHECK(reason_of(std::string(kMaxFrameBytes + 1, '\x90')) ==
        "frame of 1048577 bytes exceeds 1048576");
  CHECK(reason_of(std::string(2'000'000, '\0')) == "frame of 2000000 bytes exceeds 1048576");
}

TEST_CASE("trailing bytes after a message") {
  CHECK(reason_of(encode(Ballot{3, 2, 1, 0, 0}) + '\0') == "trailing bytes after message");
  CHECK(reason_of(encode(Vote{1, 2, 3}) + encode(Vote{1, 2, 3})) == "trailing bytes after message");
}

TEST_CASE("envelope errors") {
  CHECK(reason_of(from_hex("01")) == "frame must be a msgpack array");
  CHECK(reason_of(from_hex("80")) == "frame must be a msgpack array");
  CHECK(reason_of(from_hex("a3 61 62 63")) == "frame must be a msgpack array");
  CHECK(reason_of(from_hex("90")) == "frame must start with version and type");
  CHECK(reason_of(from_hex("91 02")) == "frame must start with version and type");
  CHECK(reason_of(from_hex("95 07 03 03 02 05")) == "unknown protocol version 7");
  CHECK(reason_of(from_hex("95 00 03 03 02 05")) == "unknown protocol version 0");
  // A version-1 frame (the request of the old worked example) is refused as such.
  CHECK(reason_of(from_hex("96 01 0a a4 63 31 61 32 11 cd 07 d0 c4 05 68 65 6c 6c 6f")) ==
        "unknown protocol version 1");
  CHECK(reason_of(from_hex("95 a1 31 03 03 02 05")) == "version must be an unsigned integer");
  CHECK(reason_of(from_hex("95 ff 03 03 02 05")) == "version must be an unsigned integer");
  CHECK(reason_of(from_hex("92 02 63")) == "unknown message type 99");
  CHECK(reason_of(from_hex("92 02 00")) == "unknown message type 0");
  CHECK(reason_of(from_hex("92 02 1a")) == "unknown message type 26");
  CHECK(reason_of(from_hex("92 02 cd 01 03")) == "unknown message type 259");
  CHECK(reason_of(from_hex("92 02 c0")) == "message type must be an unsigned integer");
  CHECK(reason_of(from_hex("c1")) == "malformed msgpack");
}

TEST_CASE("wrong field count") {
  CHECK(reason_of(from_hex("94 02 03 03 02")) == "ballot: expected 5 fields, got 2");
  CHECK(reason_of(from_hex("98 02 03 03 02 05 00 00 06")) == "ballot: expected 5 fields, got 6");
  CHECK(reason_of(from_hex("92 02 0c")) == "status_request: expected 1 fields, got 0");
  // A version-1 request body under a version-2 envelope.
  CHECK(reason_of(from_hex("96 02 0a a1 63 11 00 c4 00")) == "client_request: expected 9 fields, got 4");
  CHECK(reason_of(from_hex("96 02 14 02 05 64 98 a1 63 11 00 01 a0 c4 00 c4 00 00")) ==
        "relay.request: expected 9 fields, got 8");
  CHECK(reason_of(from_hex("94 02 15 05 9d a1 63 11 00 01 00 01 01 01 01 c4 00 00 c4 00 00")) ==
        "relay_reply.reply: expected 14 fields, got 13");
  CHECK(reason_of(from_hex("96 02 17 03 02 01 2b")) == "append_reply: expected 5 fields, got 4");
  CHECK(reason_of(from_hex("98 02 18 03 01 28 02 00 01")) == "snapshot: expected 7 fields, got 6");
  CHECK(reason_of(from_hex("95 02 19 03 02 28")) == "snapshot_reply: expected 4 fields, got 3");
  // Entries with a field short, and a good entry followed by an empty one.
  CHECK(reason_of(from_hex("99 02 16 03 01 00 00 00 00 91 97 01 03 02 a1 63 11 a1 6b c4 01 76")) ==
        "append.entries[0]: expected 8 fields, got 7");
  CHECK(reason_of(from_hex("99 02 16 03 01 00 00 00 00 92 98 01 03 02 a1 63 11 a1 6b c4 00 c4 00 90")) ==
        "append.entries[1]: expected 8 fields, got 0");
}

TEST_CASE("wrong field types") {
  const std::string expected = "ballot: field 3 (ballot) must be an unsigned integer";
  CHECK(reason_of(from_hex("97 02 03 03 02 a1 78 00 00")) == expected);                       // str
  CHECK(reason_of(from_hex("97 02 03 03 02 ff 00 00")) == expected);                          // -1
  CHECK(reason_of(from_hex("97 02 03 03 02 d3 80 00 00 00 00 00 00 00 00 00")) == expected);  // int64 min
  CHECK(reason_of(from_hex("97 02 03 03 02 cb 3f f0 00 00 00 00 00 00 00 00")) == expected);  // 1.0
  CHECK(reason_of(from_hex("97 02 03 03 02 c0 00 00")) == expected);                          // nil
  CHECK(reason_of(from_hex("97 02 03 03 02 c3 00 00")) == expected);                          // true
  CHECK(reason_of(from_hex("97 02 03 03 02 90 00 00")) == expected);                          // []
  CHECK(reason_of(from_hex("97 02 03 03 02 80 00 00")) == expected);                          // {}
  CHECK(reason_of(from_hex("9b 02 0a 01 11 00 01 a0 c4 00 c4 00 00 00")) ==
        "client_request: field 1 (client_id) must be a string (str or bin)");
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 00 a3 70 75 74 a1 6b c4 00 c4 00 00 00")) ==
        "client_request: field 4 (op) must be an unsigned integer");
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 00 02 90 c4 00 c4 00 00 00")) ==
        "client_request: field 5 (key) must be a string (str or bin)");
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 00 01 a0 00 c4 00 00 00")) ==
        "client_request: field 6 (value) must be a string (str or bin)");
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 00 05 a1 6b c4 00 c0 00 00")) ==
        "client_request: field 7 (expected) must be a string (str or bin)");
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 00 06 a0 c4 00 c4 00 ff 00")) ==
        "client_request: field 8 (from) must be an unsigned integer");
  CHECK(reason_of(from_hex("96 02 14 02 05 64 00")) == "relay: field 4 (request) must be an array");
  CHECK(reason_of(from_hex("96 02 14 02 05 64 99 a1 63 11 00 01 a0 05 c4 00 00 00")) ==
        "relay.request: field 6 (value) must be a string (str or bin)");
  CHECK(reason_of(from_hex("94 02 15 05 a0")) == "relay_reply: field 2 (reply) must be an array");
  // Flags are 0 or 1, never msgpack booleans.
  CHECK(reason_of(from_hex("97 02 17 03 02 c3 2b 09")) ==
        "append_reply: field 3 (ok) must be an unsigned integer");
  CHECK(reason_of(from_hex("99 02 18 03 01 28 02 00 01 00")) ==
        "snapshot: field 7 (chunk) must be a string (str or bin)");
}

TEST_CASE("lists that are not lists of the right things") {
  // Entries: not an array (an integer, a str, a map), or an element that is not an entry.
  CHECK(reason_of(from_hex("99 02 16 03 01 00 00 00 00 05")) == "append: field 7 (entries) must be an array");
  CHECK(reason_of(from_hex("99 02 16 03 01 00 00 00 00 a1 78")) == "append: field 7 (entries) must be an array");
  CHECK(reason_of(from_hex("99 02 16 03 01 00 00 00 00 80")) == "append: field 7 (entries) must be an array");
  CHECK(reason_of(from_hex("99 02 16 03 01 00 00 00 00 91 05")) == "append: field 7 (entries) must be an array");
  // An entry whose fields have the wrong types.
  CHECK(reason_of(from_hex("99 02 16 03 01 00 00 00 00 91 98 01 03 a3 70 75 74 a1 63 11 a1 6b c4 00 c4 00")) ==
        "append.entries[0]: field 3 (op) must be an unsigned integer");
  CHECK(reason_of(from_hex("99 02 16 03 01 00 00 00 00 91 98 01 03 02 a1 63 11 a1 6b 07 c4 00")) ==
        "append.entries[0]: field 7 (value) must be a string (str or bin)");
  // Values of a read: not an array, or an element that is not a string.
  CHECK(reason_of(from_hex("dc 00 10 02 0b a1 63 11 00 01 00 01 01 01 01 c4 00 00 c4 00 00 a1 78")) ==
        "client_reply: field 14 (values) must be an array");
  CHECK(reason_of(from_hex("dc 00 10 02 0b a1 63 11 00 01 00 01 01 01 01 c4 00 00 c4 00 00 05")) ==
        "client_reply: field 14 (values) must be an array");
  CHECK(reason_of(from_hex("dc 00 10 02 0b a1 63 11 00 01 00 01 01 01 01 c4 00 00 c4 00 00 92 c4 00 05")) ==
        "client_reply: field 14 (values) must be a string (str or bin)");
  // A list one longer than allowed is refused by the parser, before it allocates.
  const std::vector<Entry> too_many(kMaxListItems + 1, Entry{1, 1, Op::put, "c", 1, "k", "", ""});
  CHECK(reason_of(encode(Append{1, 1, 0, 0, 0, 0, too_many})) == "array longer than 4096 elements");
  ClientReply wide = read_reply();
  wide.values.assign(kMaxListItems + 1, "v");
  CHECK(reason_of(encode(wide)) == "array longer than 4096 elements");
  CHECK(reason_of(encode(RelayReply{1, wide})) == "array longer than 4096 elements");
  // Exactly as many as allowed is fine.
  wide.values.resize(kMaxListItems);
  CHECK(reason_of(encode(wide)) == "decoded");
}

TEST_CASE("values out of range") {
  CHECK(reason_of(from_hex("97 02 03 03 ce 00 0f 42 41 05 00 00")) ==
        "ballot: field 2 (from) must be at most 1000000, got 1000001");
  CHECK(reason_of(from_hex("96 02 05 03 01 04 01")) ==
        "heartbeat: field 3 (role) must be at most 3, got 4");
  CHECK(reason_of(from_hex("dc 00 10 02 0b a1 63 11 07 01 00 00 00 00 00 a0 00 a0 00 90")) ==
        "client_reply: field 3 (status) must be at most 6, got 7");
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 cf 00 00 00 01 00 00 00 00 01 a0 c4 00 c4 00 00 00")) ==
        "client_request: field 3 (timeout_ms) must be at most 4294967295, got 4294967296");
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 00 06 a0 c4 00 c4 00 00 cf 00 00 00 01 00 00 00 00")) ==
        "client_request: field 9 (count) must be at most 4294967295, got 4294967296");
  // Op codes: 0..6 are defined, nothing else.
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 00 07 a0 c4 00 c4 00 00 00")) ==
        "client_request: field 4 (op) must be at most 6, got 7");
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 00 cc ff a0 c4 00 c4 00 00 00")) ==
        "client_request: field 4 (op) must be at most 6, got 255");
  CHECK(reason_of(from_hex("96 02 14 02 05 64 99 a1 63 11 00 09 a0 c4 00 c4 00 00 00")) ==
        "relay.request: field 4 (op) must be at most 6, got 9");
  CHECK(reason_of(from_hex("99 02 16 03 01 00 00 00 00 91 98 01 03 09 a1 63 11 a1 6b c4 00 c4 00")) ==
        "append.entries[0]: field 3 (op) must be at most 6, got 9");
  // Flags: 0 or 1.
  CHECK(reason_of(from_hex("97 02 17 03 02 02 2b 09")) == "append_reply: field 3 (ok) must be at most 1, got 2");
  CHECK(reason_of(from_hex("99 02 18 03 01 28 02 00 05 c4 00")) ==
        "snapshot: field 6 (done) must be at most 1, got 5");
  CHECK(reason_of(from_hex("dc 00 10 02 0b a1 63 11 00 01 00 01 01 01 01 c4 00 02 c4 00 00 90")) ==
        "client_reply: field 11 (found) must be at most 1, got 2");
  CHECK(reason_of(from_hex("97 02 17 03 ce 00 0f 42 41 01 2b 09")) ==
        "append_reply: field 2 (from) must be at most 1000000, got 1000001");
  // Sizes.
  CHECK(reason_of(from_hex("9b 02 0a a0 11 00 01 a0 c4 00 c4 00 00 00")) ==
        "client_request: field 1 (client_id) must be 1..64 bytes, got 0");
  CHECK(reason_of(encode(ClientRequest{std::string(65, 'c'), 1, 0, Op::append, "", "", "", 0, 0})) ==
        "client_request: field 1 (client_id) must be 1..64 bytes, got 65");
  CHECK(reason_of(encode(ClientRequest{"c", 1, 0, Op::put, std::string(kMaxKeyBytes + 1, 'k'), "", "", 0, 0})) ==
        "client_request: field 5 (key) must be 0..1024 bytes, got 1025");
  CHECK(reason_of(encode(request_of(Op::append, std::string(kMaxMessageBytes + 1, 'm')))) ==
        "bin longer than 262144 bytes");
  CHECK(reason_of(encode(Append{1, 1, 0, 0, 0, 0, {Entry{1, 1, Op::put, std::string(65, 'c'), 1, "k", "", ""}}})) ==
        "append.entries[0]: field 4 (client_id) must be 0..64 bytes, got 65");
  CHECK(reason_of(encode(Tap{1, 1, 1, "in", "peer", 2, 3, std::string(kMaxTextBytes + 1, 't')})) ==
        "tap: field 8 (text) must be 0..4096 bytes, got 4097");
  // A str over the parser's limit is refused by the parser itself.
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 00 01 a0 db 00 04 00 01") + std::string(kMaxMessageBytes + 1, 'm')) ==
        "str longer than 262144 bytes");
}

TEST_CASE("nesting and announced sizes are bounded before allocation") {
  CHECK(reason_of(std::string(100, '\x91') + '\xc0') == "arrays nested deeper than 3");
  CHECK(reason_of(from_hex("96 02 14 02 05 64 99 91 91 90 11 00 01 a0 c4 00 c4 00 00 00")) ==
        "arrays nested deeper than 3");
  CHECK(reason_of(from_hex("99 02 16 03 01 00 00 00 00 91 98 91 90 03 02 a1 63 11 a1 6b c4 00 c4 00")) ==
        "arrays nested deeper than 3");
  // A read's values inside a relay reply are as deep as the protocol goes; one more is refused.
  CHECK(reason_of(encode(RelayReply{1, read_reply()})) == "decoded");
  CHECK(reason_of(from_hex("94 02 15 01 9e a1 63 11 00 01 00 01 01 01 01 c4 00 00 c4 00 00 91 90")) ==
        "arrays nested deeper than 3");
  // A few bytes announcing 2^32-1 elements or bytes: refused, nothing allocated.
  CHECK(reason_of(from_hex("dd ff ff ff ff")) == "array longer than 4096 elements");
  CHECK(reason_of(from_hex("dc ff ff")) == "array longer than 4096 elements");
  CHECK(reason_of(from_hex("dc 10 01")) == "array longer than 4096 elements");
  CHECK(reason_of(from_hex("df ff ff ff ff")) == "maps are not part of the protocol");
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 00 01 a0 db ff ff ff ff")) == "truncated frame");
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 00 01 a0 c6 ff ff ff ff")) == "truncated frame");
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 00 01 a0 c9 ff ff ff ff 01")) == "truncated frame");
  CHECK(reason_of(from_hex("9b 02 0a a1 63 11 00 01 a0 d4 01 02")) == "ext values are not part of the protocol");
  CHECK(reason_of(from_hex("92 02 dd ff ff ff ff")) == "array longer than 4096 elements");
  CHECK(reason_of(from_hex("99 02 16 03 01 00 00 00 00 dd ff ff ff ff")) == "array longer than 4096 elements");
}

TEST_CASE("fuzz: random and mutated frames never throw or crash") {
  constexpr std::uint64_t kSeed = 20261203;
  INFO("seed " << kSeed);
  std::mt19937_64 rng(kSeed);
  auto below = [&rng](std::size_t bound) {
    return static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(bound));
  };
  auto random_byte = [&rng] { return static_cast<char>(rng() & 0xff); };
  std::vector<std::string> seeds;
  for (const Message& message : sample_messages()) seeds.push_back(encode(message));
  // Frames with lists of several elements, where the deepest decoding happens.
  seeds.push_back(encode(Append{3, 1, 0, 0, 0, 0, {sample_entries()[0], sample_entries()[1], Entry{}}}));
  seeds.push_back(encode(ClientReply{"c", 1, Status::ok, 1, 0, 1, 1, 1, 1, "", false, "", 1, {"a", "b", "c", "d"}}));

  std::size_t escaped = 0;
  std::size_t accepted = 0;
  auto try_frame = [&](const std::string& frame) {
    try {
      const DecodeResult result = decode(frame);
      if (const auto* message = std::get_if<Message>(&result)) {
        ++accepted;
        // Whatever is accepted must re-encode to an accepted frame and print as one line.
        const std::string again = encode(*message);
        CHECK(reason_of(again) == "decoded");
        CHECK(describe(*message).find('\n') == std::string::npos);
      }
    } catch (...) {
      ++escaped;
    }
  };
  for (int i = 0; i < 20000; ++i) {
    // Half start like a frame (fixarray, version 2) to get past the envelope.
    std::string frame = i % 2 == 0 ? std::string("\x95\x02", 2) : std::string();
    const std::size_t size = below(48);
    for (std::size_t b = 0; b < size; ++b) frame += random_byte();
    try_frame(frame);
  }
  for (int i = 0; i < 20000; ++i) {
    std::string frame = seeds[below(seeds.size())];
    const std::size_t mutations = 1 + below(4);
    for (std::size_t m = 0; m < mutations && !frame.empty(); ++m) {
      const std::size_t at = below(frame.size());
      switch (below(4)) {
        case 0: frame[at] = random_byte(); break;
        case 1: frame.insert(at, 1, random_byte()); break;
        case 2: frame.erase(at, 1); break;
        default: frame[at] = static_cast<char>(frame[at] ^ (1 << below(8))); break;
      }
    }
    try_frame(frame);
  }
  CHECK(escaped == 0);
  MESSAGE("fuzz accepted " << accepted << " of 40000 frames");
}

TEST_CASE("describe: examples of the stable text form") {
  CHECK(describe(Ballot{3, 2, 0x1f3a'5b7c'9d0e'2f41, 2, 40}) ==
        "ballot term=3 from=2 ballot=0x1f3a5b7c9d0e2f41 last_log_term=2 last_log_index=40");
  CHECK(describe(Ballot{3, 2, 1, 0, 0}) ==
        "ballot term=3 from=2 ballot=0x0000000000000001 last_log_term=0 last_log_index=0");
  CHECK(describe(PreVote{4, 2, 3, 44}) == "pre_vote term=4 from=2 last_log_term=3 last_log_index=44");
  CHECK(describe(sample_request()) ==
        "client_request client=c1a2 req=17 timeout_ms=2000 op=put key=\"k1\" value=\"v1\"");
  CHECK(describe(Heartbeat{3, 1, Role::leader, 1}) ==
        "heartbeat term=3 from=1 role=leader leader=1");
  CHECK(describe(sample_reply()) ==
        "client_reply client=c1a2 req=17 status=ok received_by=2 relayed_by=2 answered_by=1 "
        "term=3 index=42 leader_hint=1 found=0 value=\"\" position=0 values=0");
  CHECK(describe(read_reply()) ==
        "client_reply client=c1a2 req=18 status=ok received_by=3 relayed_by=3 answered_by=1 "
        "term=3 index=44 leader_hint=1 found=0 value=\"\" position=7 values=3");
  // Not ok: the reason, and no result fields.
  CHECK(describe(ClientReply{"c", 1, Status::unavailable, 1, 0, 0, 2, 0, 0, "no leader", false, "", 0, {}}) ==
        "client_reply client=c req=1 status=unavailable received_by=1 relayed_by=0 answered_by=0 "
        "term=2 index=0 leader_hint=0 msg=\"no leader\"");
  CHECK(describe(Relay{2, 5, 1500, sample_request()}) ==
        "relay from=2 relay_id=5 remaining_ms=1500 client=c1a2 req=17 timeout_ms=2000 op=put key=\"k1\" "
        "value=\"v1\"");
  CHECK(describe(Append{3, 1, 42, 3, 42, 9, sample_entries()}) ==
        "append term=3 leader=1 prev_index=42 prev_term=3 commit=42 round=9 entries=2 first=43 last=44");
  CHECK(describe(Append{3, 1, 44, 3, 44, 10, {}}) ==
        "append term=3 leader=1 prev_index=44 prev_term=3 commit=44 round=10 entries=0");
  CHECK(describe(AppendReply{3, 2, true, 44, 9}) == "append_reply term=3 from=2 ok=1 last_index=44 round=9");
  CHECK(describe(Snapshot{3, 1, 40, 2, 65536, false, "chunk"}) ==
        "snapshot term=3 leader=1 last_index=40 last_term=2 offset=65536 done=0 bytes=5");
  CHECK(describe(SnapshotReply{3, 2, 40, 65541}) == "snapshot_reply term=3 from=2 last_index=40 next_offset=65541");
  CHECK(describe(Tap{1, 42, 7, "role", "", 0, 0, "leader"}) ==
        "tap node=1 seq=42 time_us=7 kind=role channel=\"\" peer=0 size=0 text=\"leader\"");
}

TEST_CASE("describe: each operation shows the fields it uses") {
  const auto line = [](Op op) {
    return describe(ClientRequest{"c", 1, 0, op, "k", "v", "e", 7, 3});
  };
  const std::string head = "client_request client=c req=1 timeout_ms=0 ";
  CHECK(line(Op::append) == head + "op=append msg=\"v\"");
  CHECK(line(Op::put) == head + "op=put key=\"k\" value=\"v\"");
  CHECK(line(Op::get) == head + "op=get key=\"k\"");
  CHECK(line(Op::del) == head + "op=del key=\"k\"");
  CHECK(line(Op::cas) == head + "op=cas key=\"k\" expected=\"e\" value=\"v\"");
  CHECK(line(Op::read) == head + "op=read from=7 count=3");
  CHECK(line(Op::noop) == head + "op=noop");
}

TEST_CASE("describe: payloads are escaped and cut") {
  const auto append = [](std::string value) { return describe(request_of(Op::append, std::move(value))); };
  CHECK(append(std::string("a\"b\\c\n\r\t\0\x7f\xff", 11)) ==
        "client_request client=c req=1 timeout_ms=0 op=append msg=\"a\\\"b\\\\c\\n\\r\\t\\x00\\x7f\\xff\"");
  // 40 characters are shown; the rest is counted after the closing quote.
  CHECK(append(std::string(100, 'x')) ==
        "client_request client=c req=1 timeout_ms=0 op=append msg=\"" + std::string(40, 'x') + "\"+60");
  // An escape is never split: nine \xNN fit in 40 characters, the tenth does not.
  CHECK(append(std::string(12, '\0')).ends_with("\\x00\"+2"));
  // Keys are cut and escaped alike.
  CHECK(describe(ClientRequest{"c", 1, 0, Op::get, std::string(50, 'k') + "\n", "", "", 0, 0}) ==
        "client_request client=c req=1 timeout_ms=0 op=get key=\"" + std::string(40, 'k') + "\"+11");
  // A client id that is not a plain token is quoted, so the line still splits on spaces.
  CHECK(describe(StatusRequest{4}) == "status_request req=4");
  CHECK(describe(ClientRequest{"my client", 1, 0, Op::append, "", "", "", 0, 0}) ==
        "client_request client=\"my client\" req=1 timeout_ms=0 op=append msg=\"\"");
}

TEST_CASE("describe: one line for every message, whatever the payload") {
  const std::string nasty = std::string("line one\nline two\r\n\0end", 23) + std::string(300, '\n');
  std::vector<Message> messages = sample_messages();
  messages.push_back(ClientRequest{"c\n1", 1, 0, Op::cas, nasty, nasty, nasty, 0, 0});
  messages.push_back(ClientReply{"c\n", 1, Status::unknown, 1, 0, 0, 1, 1, 0, nasty, false, "", 0, {}});
  messages.push_back(Relay{2, 1, 1, ClientRequest{"c", 1, 0, Op::append, "", nasty, "", 0, 0}});
  messages.push_back(
      RelayReply{1, ClientReply{"c", 1, Status::ok, 1, 0, 0, 1, 1, 0, "", true, nasty, 1, {nasty, nasty}}});
  messages.push_back(Append{1, 1, 0, 0, 0, 0, {Entry{1, 1, Op::put, "c\n", 1, nasty, nasty, nasty}}});
  messages.push_back(Snapshot{1, 1, 1, 1, 0, true, nasty});
  messages.push_back(Tap{1, 1, 1, "in\n", "client\n", 0, 1, nasty});
  for (const Message& message : messages) {
    const std::string line = describe(message);
    CAPTURE(line);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.find('\r') == std::string::npos);
    CHECK(line.find('\0') == std::string::npos);
    CHECK(line.starts_with(to_string(type_of(message))));
  }
}

}  // namespace relay::proto
