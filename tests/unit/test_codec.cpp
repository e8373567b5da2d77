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

ClientRequest sample_request() { return {"c1a2", 17, 2000, "hello"}; }

ClientReply sample_reply() { return {"c1a2", 17, Status::ok, 2, 2, 1, 3, 9, 1, "hello"}; }

// One ordinary message of every type, for round trips and as fuzz seeds.
std::vector<Message> sample_messages() {
  return {PreVote{4, 2},
          PreVoteGrant{4, 1, 2},
          Ballot{3, 2, 0x1f3a'5b7c'9d0e'2f41},
          Vote{3, 1, 2},
          Heartbeat{3, 1, Role::leader, 1},
          sample_request(),
          sample_reply(),
          StatusRequest{5},
          StatusReply{5, 1, Role::leader, 3, 1, 1, 2, 1, 350, 0, 10, 3, 10, 0},
          Relay{2, 5, 1500, sample_request()},
          RelayReply{5, sample_reply()},
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
}

TEST_CASE("type_of gives every message its wire type code") {
  const std::vector<MessageType> expected = {
      MessageType::pre_vote,     MessageType::pre_vote_grant, MessageType::ballot,
      MessageType::vote,         MessageType::heartbeat,      MessageType::client_request,
      MessageType::client_reply, MessageType::status_request, MessageType::status_reply,
      MessageType::relay,        MessageType::relay_reply,    MessageType::tap};
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

TEST_CASE("round trip keeps zero values") {
  // Everything zero or empty except the client id, which must not be empty.
  ClientRequest request;
  request.client_id = "c";
  const std::vector<Message> zeros = {
      PreVote{},    PreVoteGrant{}, Ballot{},        Vote{},        Heartbeat{},
      request,      ClientReply{},  StatusRequest{}, StatusReply{}, Relay{0, 0, 0, request},
      RelayReply{}, Tap{}};
  for (const Message& message : zeros) {
    CAPTURE(describe(message));
    round_trip(message);
  }
}

TEST_CASE("round trip keeps the largest values") {
  const std::string id64(kMaxClientIdBytes, 'z');
  const std::string payload = binary_payload(kMaxMessageBytes);
  const ClientRequest request{id64, kMaxU64, kMaxU32, payload};
  const ClientReply reply{id64,       kMaxU64, Status::unknown, kMaxNodeId, kMaxNodeId,
                          kMaxNodeId, kMaxU64, kMaxU64,         kMaxNodeId, payload};
  const std::vector<Message> maxima = {
      PreVote{kMaxU64, kMaxNodeId},
      PreVoteGrant{kMaxU64, kMaxNodeId, kMaxNodeId},
      Ballot{kMaxU64, kMaxNodeId, kMaxU64},
      Vote{kMaxU64, kMaxNodeId, kMaxNodeId},
      Heartbeat{kMaxU64, kMaxNodeId, Role::leader, kMaxNodeId},
      request,
      reply,
      StatusRequest{kMaxU64},
      StatusReply{kMaxU64, kMaxNodeId, Role::leader, kMaxU64, kMaxNodeId, kMaxNodeId, kMaxU64,
                  kMaxU64, kMaxU64, kMaxU64, kMaxU64, kMaxU64, kMaxU64, kMaxU64},
      Relay{kMaxNodeId, kMaxU64, kMaxU32, request},
      RelayReply{kMaxU64, reply},
      Tap{kMaxNodeId, kMaxU64, kMaxU64, std::string(kMaxTextBytes, 'k'), "", kMaxNodeId, kMaxU32,
          std::string(kMaxTextBytes, '\n')}};
  for (const Message& message : maxima) {
    CAPTURE(describe(message));
    round_trip(message);
  }
}

TEST_CASE("binary payloads keep every byte, NULs included") {
  const std::string payload = binary_payload(1000);
  const Message decoded = round_trip(ClientRequest{"c", 1, 0, payload});
  CHECK(std::get<ClientRequest>(decoded).message == payload);
  const Message relayed = round_trip(
      RelayReply{9, ClientReply{"c", 1, Status::ok, 1, 2, 3, 4, 5, 6, std::string("a\0b", 3)}});
  CHECK(std::get<RelayReply>(relayed).reply.message == std::string("a\0b", 3));
}

TEST_CASE("decoded fields land in the right members") {
  const Message decoded = round_trip(Relay{2, 5, 1500, ClientRequest{"c1a2", 17, 2000, "hi"}});
  const auto& relay = std::get<Relay>(decoded);
  CHECK(relay.from == 2);
  CHECK(relay.relay_id == 5);
  CHECK(relay.remaining_ms == 1500);
  CHECK(relay.request.client_id == "c1a2");
  CHECK(relay.request.request_id == 17);
  CHECK(relay.request.timeout_ms == 2000);
  CHECK(relay.request.message == "hi");
}

// These bytes are printed in docs/protocol.md; a client in another language
// is written against them, so they must never change.
TEST_CASE("documented example frames") {
  CHECK(to_hex(encode(sample_request())) ==
        "96 01 0a a4 63 31 61 32 11 cd 07 d0 c4 05 68 65 6c 6c 6f");
  CHECK(to_hex(encode(sample_reply())) ==
        "9c 01 0b a4 63 31 61 32 11 00 02 02 01 03 09 01 c4 05 68 65 6c 6c 6f");
  CHECK(to_hex(encode(Relay{2, 5, 1500, sample_request()})) ==
        "96 01 14 02 05 cd 05 dc 94 a4 63 31 61 32 11 cd 07 d0 c4 05 68 65 6c 6c 6f");
  CHECK(to_hex(encode(Ballot{3, 2, kMaxU64})) == "95 01 03 03 02 cf ff ff ff ff ff ff ff ff");
}

TEST_CASE("decode accepts what other msgpack libraries may send") {
  // The payload as str, and the client id as bin.
  CHECK(reason_of(from_hex("96 01 0a a2 63 31 11 00 a2 68 69")) == "decoded");
  CHECK(reason_of(from_hex("96 01 0a c4 02 63 31 11 00 c4 00")) == "decoded");
  // Small numbers in wide and in signed formats (int64 of 3, uint64 of 2).
  CHECK(reason_of(from_hex("95 01 03 d3 00 00 00 00 00 00 00 03 cf 00 00 00 00 00 00 00 02 05")) ==
        "decoded");
  // A reply with no client id: the answer to a request that could not be read.
  CHECK(reason_of(from_hex("9c 01 0b a0 00 05 01 00 00 00 00 00 a0")) == "decoded");
}

TEST_CASE("empty, truncated and oversized frames") {
  CHECK(reason_of("") == "empty frame");
  for (const Message& message : sample_messages()) {
    const std::string frame = encode(message);
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
  CHECK(reason_of(encode(Ballot{3, 2, 1}) + '\0') == "trailing bytes after message");
  CHECK(reason_of(encode(Vote{1, 2, 3}) + encode(Vote{1, 2, 3})) == "trailing bytes after message");
}

TEST_CASE("envelope errors") {
  CHECK(reason_of(from_hex("01")) == "frame must be a msgpack array");
  CHECK(reason_of(from_hex("80")) == "frame must be a msgpack array");
  CHECK(reason_of(from_hex("a3 61 62 63")) == "frame must be a msgpack array");
  CHECK(reason_of(from_hex("90")) == "frame must start with version and type");
  CHECK(reason_of(from_hex("91 01")) == "frame must start with version and type");
  CHECK(reason_of(from_hex("95 07 03 03 02 05")) == "unknown protocol version 7");
  CHECK(reason_of(from_hex("95 00 03 03 02 05")) == "unknown protocol version 0");
  CHECK(reason_of(from_hex("95 a1 31 03 03 02 05")) == "version must be an unsigned integer");
  CHECK(reason_of(from_hex("95 ff 03 03 02 05")) == "version must be an unsigned integer");
  CHECK(reason_of(from_hex("92 01 63")) == "unknown message type 99");
  CHECK(reason_of(from_hex("92 01 00")) == "unknown message type 0");
  CHECK(reason_of(from_hex("92 01 cd 01 03")) == "unknown message type 259");
  CHECK(reason_of(from_hex("92 01 c0")) == "message type must be an unsigned integer");
  CHECK(reason_of(from_hex("c1")) == "malformed msgpack");
}

TEST_CASE("wrong field count") {
  CHECK(reason_of(from_hex("94 01 03 03 02")) == "ballot: expected 3 fields, got 2");
  CHECK(reason_of(from_hex("96 01 03 03 02 05 06")) == "ballot: expected 3 fields, got 4");
  CHECK(reason_of(from_hex("92 01 0c")) == "status_request: expected 1 fields, got 0");
  CHECK(reason_of(from_hex("96 01 14 02 05 64 93 a1 63 11 00")) ==
        "relay.request: expected 4 fields, got 3");
}

TEST_CASE("wrong field types") {
  const std::string expected = "ballot: field 3 (ballot) must be an unsigned integer";
  CHECK(reason_of(from_hex("95 01 03 03 02 a1 78")) == expected);                       // str
  CHECK(reason_of(from_hex("95 01 03 03 02 ff")) == expected);                          // -1
  CHECK(reason_of(from_hex("95 01 03 03 02 d3 80 00 00 00 00 00 00 00")) == expected);  // int64 min
  CHECK(reason_of(from_hex("95 01 03 03 02 cb 3f f0 00 00 00 00 00 00")) == expected);  // 1.0
  CHECK(reason_of(from_hex("95 01 03 03 02 c0")) == expected);                          // nil
  CHECK(reason_of(from_hex("95 01 03 03 02 c3")) == expected);                          // true
  CHECK(reason_of(from_hex("95 01 03 03 02 90")) == expected);                          // []
  CHECK(reason_of(from_hex("95 01 03 03 02 80")) == expected);                          // {}
  CHECK(reason_of(from_hex("96 01 0a 01 11 00 c4 00")) ==
        "client_request: field 1 (client_id) must be a string (str or bin)");
  CHECK(reason_of(from_hex("96 01 0a a1 63 11 00 00")) ==
        "client_request: field 4 (message) must be a string (str or bin)");
  CHECK(reason_of(from_hex("96 01 14 02 05 64 00")) == "relay: field 4 (request) must be an array");
  CHECK(reason_of(from_hex("96 01 14 02 05 64 94 a1 63 11 00 05")) ==
        "relay.request: field 4 (message) must be a string (str or bin)");
  CHECK(reason_of(from_hex("94 01 15 05 a0")) == "relay_reply: field 2 (reply) must be an array");
}

TEST_CASE("values out of range") {
  CHECK(reason_of(from_hex("95 01 03 03 ce 00 0f 42 41 05")) ==
        "ballot: field 2 (from) must be at most 1000000, got 1000001");
  CHECK(reason_of(from_hex("96 01 05 03 01 04 01")) ==
        "heartbeat: field 3 (role) must be at most 3, got 4");
  CHECK(reason_of(from_hex("9c 01 0b a1 63 11 07 01 00 00 00 00 00 a0")) ==
        "client_reply: field 3 (status) must be at most 6, got 7");
  CHECK(reason_of(from_hex("96 01 0a a1 63 11 cf 00 00 00 01 00 00 00 00 c4 00")) ==
        "client_request: field 3 (timeout_ms) must be at most 4294967295, got 4294967296");
  CHECK(reason_of(from_hex("96 01 0a a0 11 00 c4 00")) ==
        "client_request: field 1 (client_id) must be 1..64 bytes, got 0");
  CHECK(reason_of(encode(ClientRequest{std::string(65, 'c'), 1, 0, ""})) ==
        "client_request: field 1 (client_id) must be 1..64 bytes, got 65");
  CHECK(reason_of(encode(ClientRequest{"c", 1, 0, std::string(kMaxMessageBytes + 1, 'm')})) ==
        "bin longer than 262144 bytes");
  CHECK(reason_of(encode(Tap{1, 1, 1, "in", "peer", 2, 3, std::string(kMaxTextBytes + 1, 't')})) ==
        "tap: field 8 (text) must be 0..4096 bytes, got 4097");
  // A str over the parser's limit is refused by the parser itself.
  CHECK(reason_of(from_hex("96 01 0a a1 63 11 00 db 00 04 00 01") +
                  std::string(kMaxMessageBytes + 1, 'm')) == "str longer than 262144 bytes");
}

TEST_CASE("nesting and announced sizes are bounded before allocation") {
  CHECK(reason_of(std::string(100, '\x91') + '\xc0') == "arrays nested deeper than 2");
  CHECK(reason_of(from_hex("96 01 14 02 05 64 94 91 90 11 00 c4 00")) ==
        "arrays nested deeper than 2");
  // A few bytes announcing 2^32-1 elements or bytes: refused, nothing allocated.
  CHECK(reason_of(from_hex("dd ff ff ff ff")) == "array longer than 16 elements");
  CHECK(reason_of(from_hex("dc ff ff")) == "array longer than 16 elements");
  CHECK(reason_of(from_hex("df ff ff ff ff")) == "maps are not part of the protocol");
  CHECK(reason_of(from_hex("96 01 0a a1 63 11 00 db ff ff ff ff")) == "truncated frame");
  CHECK(reason_of(from_hex("96 01 0a a1 63 11 00 c6 ff ff ff ff")) == "truncated frame");
  CHECK(reason_of(from_hex("96 01 0a a1 63 11 00 c9 ff ff ff ff 01")) == "truncated frame");
  CHECK(reason_of(from_hex("96 01 0a a1 63 11 00 d4 01 02")) ==
        "ext values are not part of the protocol");
  CHECK(reason_of(from_hex("92 01 dd ff ff ff ff")) == "array longer than 16 elements");
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
    // Half start like a frame (fixarray, version 1) to get past the envelope.
    std::string frame = i % 2 == 0 ? std::string("\x95\x01", 2) : std::string();
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
  CHECK(describe(Ballot{3, 2, 0x1f3a'5b7c'9d0e'2f41}) ==
        "ballot term=3 from=2 ballot=0x1f3a5b7c9d0e2f41");
  CHECK(describe(Ballot{3, 2, 1}) == "ballot term=3 from=2 ballot=0x0000000000000001");
  CHECK(describe(sample_request()) ==
        "client_request client=c1a2 req=17 timeout_ms=2000 msg=\"hello\"");
  CHECK(describe(Heartbeat{3, 1, Role::leader, 1}) ==
        "heartbeat term=3 from=1 role=leader leader=1");
  CHECK(describe(sample_reply()) ==
        "client_reply client=c1a2 req=17 status=ok received_by=2 relayed_by=2 answered_by=1 "
        "term=3 seq=9 leader_hint=1 msg=\"hello\"");
  CHECK(
      describe(Relay{2, 5, 1500, sample_request()}) ==
      "relay from=2 relay_id=5 remaining_ms=1500 client=c1a2 req=17 timeout_ms=2000 msg=\"hello\"");
  CHECK(describe(Tap{1, 42, 7, "role", "", 0, 0, "leader"}) ==
        "tap node=1 seq=42 time_us=7 kind=role channel=\"\" peer=0 size=0 text=\"leader\"");
}

TEST_CASE("describe: payloads are escaped and cut") {
  CHECK(describe(ClientRequest{"c", 1, 0, std::string("a\"b\\c\n\r\t\0\x7f\xff", 11)}) ==
        "client_request client=c req=1 timeout_ms=0 msg=\"a\\\"b\\\\c\\n\\r\\t\\x00\\x7f\\xff\"");
  // 40 characters are shown; the rest is counted after the closing quote.
  CHECK(describe(ClientRequest{"c", 1, 0, std::string(100, 'x')}) ==
        "client_request client=c req=1 timeout_ms=0 msg=\"" + std::string(40, 'x') + "\"+60");
  // An escape is never split: nine \xNN fit in 40 characters, the tenth does not.
  CHECK(describe(ClientRequest{"c", 1, 0, std::string(12, '\0')}).ends_with("\\x00\"+2"));
  // A client id that is not a plain token is quoted, so the line still splits on spaces.
  CHECK(describe(StatusRequest{4}) == "status_request req=4");
  CHECK(describe(ClientRequest{"my client", 1, 0, ""}) ==
        "client_request client=\"my client\" req=1 timeout_ms=0 msg=\"\"");
}

TEST_CASE("describe: one line for every message, whatever the payload") {
  const std::string nasty = std::string("line one\nline two\r\n\0end", 23) + std::string(300, '\n');
  std::vector<Message> messages = sample_messages();
  messages.push_back(ClientRequest{"c\n1", 1, 0, nasty});
  messages.push_back(ClientReply{"c\n", 1, Status::unknown, 1, 0, 0, 1, 1, 0, nasty});
  messages.push_back(Relay{2, 1, 1, ClientRequest{"c", 1, 0, nasty}});
  messages.push_back(RelayReply{1, ClientReply{"c", 1, Status::ok, 1, 0, 0, 1, 1, 0, nasty}});
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
