// The msgpack codec. Every message is described once, as a list of fields in
// wire order (fields_of below); the same list drives encode, decode and the
// error messages, so the two directions cannot drift apart.
//
// Frame: one msgpack array [version, type, field1, field2, ...]. Nested
// structs (the request inside a relay, the reply inside a relay reply) are a
// nested array of their own fields, without version and type.
#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#ifndef MSGPACK_DEFAULT_API_VERSION
#define MSGPACK_DEFAULT_API_VERSION 3
#endif

#include "proto/codec.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <msgpack.hpp>
#include <new>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "proto/describe.hpp"

namespace relay::proto {
namespace {

// What a field may hold on the wire, beyond what its C++ type says.
enum class Kind : std::uint8_t {
  u64,
  u32,
  node,             // 0..kMaxNodeId
  role,             // a Role code
  status,           // a Status code
  client_id,        // 1..kMaxClientIdBytes bytes
  reply_client_id,  // 0..kMaxClientIdBytes: a reply to an undecodable frame has none
  op,               // an Op code
  flag,             // 0 or 1
  key,              // 0..kMaxKeyBytes
  payload,          // arbitrary bytes, sent as bin
  text,             // any other string
  nested,           // a struct as an array of its fields
  list,             // a vector: an array of 0..kMaxListItems elements
};

template <typename M, typename T>
struct Field {
  T M::*member;
  Kind kind;
  const char* name;
};

template <typename M>
using Of = std::type_identity<M>;

constexpr auto fields_of(Of<PreVote>) {
  return std::tuple{Field{&PreVote::term, Kind::u64, "term"},
                    Field{&PreVote::from, Kind::node, "from"},
                    Field{&PreVote::last_log_term, Kind::u64, "last_log_term"},
                    Field{&PreVote::last_log_index, Kind::u64, "last_log_index"}};
}

constexpr auto fields_of(Of<PreVoteGrant>) {
  return std::tuple{Field{&PreVoteGrant::term, Kind::u64, "term"},
                    Field{&PreVoteGrant::from, Kind::node, "from"},
                    Field{&PreVoteGrant::to, Kind::node, "to"}};
}

constexpr auto fields_of(Of<Ballot>) {
  return std::tuple{Field{&Ballot::term, Kind::u64, "term"},
                    Field{&Ballot::from, Kind::node, "from"},
                    Field{&Ballot::ballot, Kind::u64, "ballot"},
                    Field{&Ballot::last_log_term, Kind::u64, "last_log_term"},
                    Field{&Ballot::last_log_index, Kind::u64, "last_log_index"}};
}

constexpr auto fields_of(Of<Vote>) {
  return std::tuple{Field{&Vote::term, Kind::u64, "term"}, Field{&Vote::from, Kind::node, "from"},
                    Field{&Vote::candidate, Kind::node, "candidate"}};
}

constexpr auto fields_of(Of<Heartbeat>) {
  return std::tuple{
      Field{&Heartbeat::term, Kind::u64, "term"}, Field{&Heartbeat::from, Kind::node, "from"},
      Field{&Heartbeat::role, Kind::role, "role"}, Field{&Heartbeat::leader, Kind::node, "leader"}};
}

constexpr auto fields_of(Of<ClientRequest>) {
  return std::tuple{Field{&ClientRequest::client_id, Kind::client_id, "client_id"},
                    Field{&ClientRequest::request_id, Kind::u64, "request_id"},
                    Field{&ClientRequest::timeout_ms, Kind::u32, "timeout_ms"},
                    Field{&ClientRequest::op, Kind::op, "op"},
                    Field{&ClientRequest::key, Kind::key, "key"},
                    Field{&ClientRequest::value, Kind::payload, "value"},
                    Field{&ClientRequest::expected, Kind::payload, "expected"},
                    Field{&ClientRequest::from, Kind::u64, "from"},
                    Field{&ClientRequest::count, Kind::u32, "count"}};
}

constexpr auto fields_of(Of<ClientReply>) {
  using R = ClientReply;
  return std::tuple{Field{&R::client_id, Kind::reply_client_id, "client_id"},
                    Field{&R::request_id, Kind::u64, "request_id"},
                    Field{&R::status, Kind::status, "status"},
                    Field{&R::received_by, Kind::node, "received_by"},
                    Field{&R::relayed_by, Kind::node, "relayed_by"},
                    Field{&R::answered_by, Kind::node, "answered_by"},
                    Field{&R::term, Kind::u64, "term"},
                    Field{&R::index, Kind::u64, "index"},
                    Field{&R::leader_hint, Kind::node, "leader_hint"},
                    Field{&R::message, Kind::payload, "message"},
                    Field{&R::found, Kind::flag, "found"},
                    Field{&R::value, Kind::payload, "value"},
                    Field{&R::position, Kind::u64, "position"},
                    Field{&R::values, Kind::list, "values"}};
}

constexpr auto fields_of(Of<StatusRequest>) {
  return std::tuple{Field{&StatusRequest::request_id, Kind::u64, "request_id"}};
}

constexpr auto fields_of(Of<StatusReply>) {
  using S = StatusReply;
  return std::tuple{Field{&S::request_id, Kind::u64, "request_id"},
                    Field{&S::id, Kind::node, "id"},
                    Field{&S::role, Kind::role, "role"},
                    Field{&S::term, Kind::u64, "term"},
                    Field{&S::leader, Kind::node, "leader"},
                    Field{&S::voted_for, Kind::node, "voted_for"},
                    Field{&S::elections, Kind::u64, "elections"},
                    Field{&S::leader_changes, Kind::u64, "leader_changes"},
                    Field{&S::leaderless_ms, Kind::u64, "leaderless_ms"},
                    Field{&S::heartbeat_age_ms, Kind::u64, "heartbeat_age_ms"},
                    Field{&S::requests, Kind::u64, "requests"},
                    Field{&S::relayed, Kind::u64, "relayed"},
                    Field{&S::executed, Kind::u64, "executed"},
                    Field{&S::pending, Kind::u64, "pending"},
                    Field{&S::last_index, Kind::u64, "last_index"},
                    Field{&S::commit_index, Kind::u64, "commit_index"},
                    Field{&S::applied_index, Kind::u64, "applied_index"}};
}

constexpr auto fields_of(Of<Relay>) {
  return std::tuple{Field{&Relay::from, Kind::node, "from"},
                    Field{&Relay::relay_id, Kind::u64, "relay_id"},
                    Field{&Relay::remaining_ms, Kind::u32, "remaining_ms"},
                    Field{&Relay::request, Kind::nested, "request"}};
}

constexpr auto fields_of(Of<RelayReply>) {
  return std::tuple{Field{&RelayReply::relay_id, Kind::u64, "relay_id"},
                    Field{&RelayReply::reply, Kind::nested, "reply"}};
}

constexpr auto fields_of(Of<Entry>) {
  return std::tuple{Field{&Entry::index, Kind::u64, "index"},
                    Field{&Entry::term, Kind::u64, "term"},
                    Field{&Entry::op, Kind::op, "op"},
                    Field{&Entry::client_id, Kind::reply_client_id, "client_id"},
                    Field{&Entry::request_id, Kind::u64, "request_id"},
                    Field{&Entry::key, Kind::key, "key"},
                    Field{&Entry::value, Kind::payload, "value"},
                    Field{&Entry::expected, Kind::payload, "expected"}};
}

constexpr auto fields_of(Of<Append>) {
  return std::tuple{Field{&Append::term, Kind::u64, "term"},
                    Field{&Append::leader, Kind::node, "leader"},
                    Field{&Append::prev_index, Kind::u64, "prev_index"},
                    Field{&Append::prev_term, Kind::u64, "prev_term"},
                    Field{&Append::commit_index, Kind::u64, "commit_index"},
                    Field{&Append::round, Kind::u64, "round"},
                    Field{&Append::entries, Kind::list, "entries"}};
}

constexpr auto fields_of(Of<AppendReply>) {
  return std::tuple{Field{&AppendReply::term, Kind::u64, "term"},
                    Field{&AppendReply::from, Kind::node, "from"},
                    Field{&AppendReply::ok, Kind::flag, "ok"},
                    Field{&AppendReply::last_index, Kind::u64, "last_index"},
                    Field{&AppendReply::round, Kind::u64, "round"}};
}

constexpr auto fields_of(Of<Snapshot>) {
  return std::tuple{Field{&Snapshot::term, Kind::u64, "term"},
                    Field{&Snapshot::leader, Kind::node, "leader"},
                    Field{&Snapshot::last_index, Kind::u64, "last_index"},
                    Field{&Snapshot::last_term, Kind::u64, "last_term"},
                    Field{&Snapshot::offset, Kind::u64, "offset"},
                    Field{&Snapshot::done, Kind::flag, "done"},
                    Field{&Snapshot::chunk, Kind::payload, "chunk"}};
}

constexpr auto fields_of(Of<SnapshotReply>) {
  return std::tuple{Field{&SnapshotReply::term, Kind::u64, "term"},
                    Field{&SnapshotReply::from, Kind::node, "from"},
                    Field{&SnapshotReply::last_index, Kind::u64, "last_index"},
                    Field{&SnapshotReply::next_offset, Kind::u64, "next_offset"}};
}

constexpr auto fields_of(Of<Tap>) {
  return std::tuple{
      Field{&Tap::node, Kind::node, "node"},       Field{&Tap::seq, Kind::u64, "seq"},
      Field{&Tap::time_us, Kind::u64, "time_us"},  Field{&Tap::kind, Kind::text, "kind"},
      Field{&Tap::channel, Kind::text, "channel"}, Field{&Tap::peer, Kind::node, "peer"},
      Field{&Tap::size, Kind::u32, "size"},        Field{&Tap::text, Kind::text, "text"}};
}

template <typename M>
constexpr std::size_t field_count = std::tuple_size_v<decltype(fields_of(Of<M>{}))>;

// The envelope's two leading elements: version and type.
constexpr std::size_t kEnvelopeFields = 2;
// Any longer array is rejected by the parser before it allocates room for the
// elements: the widest message with its envelope, or the longest list.
constexpr std::size_t kMaxArrayElements =
    std::max(kEnvelopeFields + field_count<StatusReply>, kMaxListItems);
// The frame, a nested struct or list, and the structs or strings in a list
// (a relay reply's read values are the deepest).
constexpr std::size_t kMaxDepth = 3;

// ---- encode ----

// msgpack's packer writes into anything with write(); a std::string avoids a
// copy out of msgpack's own buffer.
struct StringSink {
  void write(const char* data, std::size_t size) { bytes.append(data, size); }
  std::string bytes;
};

using Packer = msgpack::packer<StringSink>;

template <typename M>
void pack_fields(Packer& packer, const M& message);

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};

// The kind of a list's elements.
template <typename T>
constexpr Kind element_kind() {
  return std::is_same_v<T, std::string> ? Kind::payload : Kind::nested;
}

template <typename T>
void pack_value(Packer& packer, Kind kind, const T& value) {
  if constexpr (IsVector<T>::value) {
    packer.pack_array(static_cast<std::uint32_t>(value.size()));
    for (const auto& element : value) {
      pack_value(packer, element_kind<typename T::value_type>(), element);
    }
  } else if constexpr (std::is_same_v<T, std::string>) {
    const auto size = static_cast<std::uint32_t>(value.size());
    if (kind == Kind::payload) {
      packer.pack_bin(size).pack_bin_body(value.data(), size);
    } else {
      packer.pack_str(size).pack_str_body(value.data(), size);
    }
  } else if constexpr (std::is_enum_v<T>) {
    packer.pack_uint8(static_cast<std::uint8_t>(value));
  } else if constexpr (std::is_integral_v<T>) {
    packer.pack_uint64(value);  // msgpack picks the shortest encoding
  } else {
    packer.pack_array(static_cast<std::uint32_t>(field_count<T>));
    pack_fields(packer, value);
  }
}

template <typename M>
void pack_fields(Packer& packer, const M& message) {
  std::apply(
      [&](const auto&... field) { (pack_value(packer, field.kind, message.*field.member), ...); },
      fields_of(Of<M>{}));
}

// ---- decode ----

constexpr std::uint64_t max_value_of(Kind kind) {
  switch (kind) {
    case Kind::u32: return std::numeric_limits<std::uint32_t>::max();
    case Kind::node: return kMaxNodeId;
    case Kind::role: return static_cast<std::uint64_t>(Role::leader);
    case Kind::status: return static_cast<std::uint64_t>(Status::unknown);
    case Kind::op: return static_cast<std::uint64_t>(Op::read);
    case Kind::flag: return 1;
    default: return std::numeric_limits<std::uint64_t>::max();
  }
}

struct SizeRange {
  std::size_t min;
  std::size_t max;
};

constexpr SizeRange size_range_of(Kind kind) {
  switch (kind) {
    case Kind::client_id: return {1, kMaxClientIdBytes};
    case Kind::reply_client_id: return {0, kMaxClientIdBytes};
    case Kind::key: return {0, kMaxKeyBytes};
    case Kind::payload: return {0, kMaxMessageBytes};
    default: return {0, kMaxTextBytes};
  }
}

// Reads the fields of one struct out of a msgpack array, checking each
// field's wire type and range. The first failure is kept in `error` and stops
// the read; nothing is thrown.
class FieldReader {
 public:
  FieldReader(const msgpack::object_array& items, std::size_t first, std::string context)
      : items_(items), first_(first), context_(std::move(context)) {}

  template <typename M>
  bool read(M& out) {
    const std::size_t got = items_.size - first_;
    if (got != field_count<M>) {
      error = context_ + ": expected " + std::to_string(field_count<M>) + " fields, got " +
              std::to_string(got);
      return false;
    }
    std::size_t number = 0;
    return std::apply(
        [&](const auto&... field) {
          return (read_field(number++, field.name, field.kind, out.*field.member) && ...);
        },
        fields_of(Of<M>{}));
  }

  std::string error;

 private:
  template <typename T>
  bool read_field(std::size_t index, const char* name, Kind kind, T& out) {
    index_ = index;
    name_ = name;
    const msgpack::object& item = items_.ptr[first_ + index];
    if constexpr (IsVector<T>::value) {
      return read_list(item, out);
    } else if constexpr (std::is_same_v<T, std::string>) {
      return read_string(item, kind, out);
    } else if constexpr (std::is_class_v<T>) {
      return read_nested(item, context_ + "." + name, out);
    } else {
      std::uint64_t value = 0;
      if (!read_unsigned(item, max_value_of(kind), value)) return false;
      out = static_cast<T>(value);  // in range: checked against max_value_of
      return true;
    }
  }

  bool read_unsigned(const msgpack::object& item, std::uint64_t max, std::uint64_t& out) {
    if (item.type != msgpack::type::POSITIVE_INTEGER) {
      return fail("must be an unsigned integer");
    }
    if (item.via.u64 > max) {
      return fail("must be at most " + std::to_string(max) + ", got " +
                  std::to_string(item.via.u64));
    }
    out = item.via.u64;
    return true;
  }

  // Payloads are bin on the wire, but clients in languages without a clear
  // bytes/text split send str; both are accepted for every string field.
  bool read_string(const msgpack::object& item, Kind kind, std::string& out) {
    const char* data = nullptr;
    std::size_t size = 0;
    if (item.type == msgpack::type::STR) {
      data = item.via.str.ptr;
      size = item.via.str.size;
    } else if (item.type == msgpack::type::BIN) {
      data = item.via.bin.ptr;
      size = item.via.bin.size;
    } else {
      return fail("must be a string (str or bin)");
    }
    const SizeRange range = size_range_of(kind);
    if (size < range.min || size > range.max) {
      return fail("must be " + std::to_string(range.min) + ".." + std::to_string(range.max) +
                  " bytes, got " + std::to_string(size));
    }
    out = size == 0 ? std::string() : std::string(data, size);
    return true;
  }

  template <typename T>
  bool read_list(const msgpack::object& item, std::vector<T>& out) {
    if (item.type != msgpack::type::ARRAY) return fail("must be an array");
    const auto& elements = item.via.array;
    if (elements.size > kMaxListItems) {
      return fail("must have at most " + std::to_string(kMaxListItems) + " elements");
    }
    out.resize(elements.size);
    for (std::size_t i = 0; i < elements.size; ++i) {
      if constexpr (std::is_same_v<T, std::string>) {
        if (!read_string(elements.ptr[i], element_kind<T>(), out[i])) return false;
      } else {
        const std::string context = context_ + "." + name_ + "[" + std::to_string(i) + "]";
        if (!read_nested(elements.ptr[i], context, out[i])) return false;
      }
    }
    return true;
  }

  template <typename M>
  bool read_nested(const msgpack::object& item, std::string context, M& out) {
    if (item.type != msgpack::type::ARRAY) return fail("must be an array");
    FieldReader nested(item.via.array, 0, std::move(context));
    if (nested.read(out)) return true;
    error = std::move(nested.error);
    return false;
  }

  // The reason is built only on failure: decoding a good frame allocates no text.
  bool fail(const std::string& what) {
    error = context_ + ": field " + std::to_string(index_ + 1) + " (" + name_ + ") " + what;
    return false;
  }

  const msgpack::object_array& items_;
  std::size_t first_;
  std::string context_;
  std::size_t index_ = 0;  // of the field being read, counted from 0
  const char* name_ = "";  // of the field being read
};

template <typename M>
DecodeResult decode_body(const msgpack::object_array& items, MessageType type) {
  M message;
  FieldReader reader(items, kEnvelopeFields, to_string(type));
  if (!reader.read(message)) return DecodeError{std::move(reader.error)};
  return Message{std::move(message)};
}

using BodyDecoder = DecodeResult (*)(const msgpack::object_array&, MessageType);

struct TypeEntry {
  MessageType type;
  BodyDecoder decoder;
};

// One entry per alternative of Message; the type codes come from type_of so
// that the struct-to-code mapping is written in one place only.
template <std::size_t... I>
std::array<TypeEntry, sizeof...(I)> make_type_table(std::index_sequence<I...>) {
  return {TypeEntry{type_of(Message{std::in_place_index<I>}),
                    &decode_body<std::variant_alternative_t<I, Message>>}...};
}

const auto& type_table() {
  static const auto table =
      make_type_table(std::make_index_sequence<std::variant_size_v<Message>>{});
  return table;
}

DecodeResult decode_envelope(const msgpack::object& root) {
  if (root.type != msgpack::type::ARRAY) return DecodeError{"frame must be a msgpack array"};
  const msgpack::object_array& items = root.via.array;
  if (items.size < kEnvelopeFields) {
    return DecodeError{"frame must start with version and type"};
  }
  const msgpack::object& version = items.ptr[0];
  if (version.type != msgpack::type::POSITIVE_INTEGER) {
    return DecodeError{"version must be an unsigned integer"};
  }
  if (version.via.u64 != kProtocolVersion) {
    return DecodeError{"unknown protocol version " + std::to_string(version.via.u64)};
  }
  const msgpack::object& type = items.ptr[1];
  if (type.type != msgpack::type::POSITIVE_INTEGER) {
    return DecodeError{"message type must be an unsigned integer"};
  }
  for (const TypeEntry& entry : type_table()) {
    if (static_cast<std::uint64_t>(entry.type) == type.via.u64)
      return entry.decoder(items, entry.type);
  }
  return DecodeError{"unknown message type " + std::to_string(type.via.u64)};
}

// Names what msgpack objected to; called from inside a catch block.
std::string reason_of_current_exception() {
  try {
    throw;
  } catch (const msgpack::insufficient_bytes&) {
    return "truncated frame";
  } catch (const msgpack::parse_error&) {
    return "malformed msgpack";
  } catch (const msgpack::array_size_overflow&) {
    return "array longer than " + std::to_string(kMaxArrayElements) + " elements";
  } catch (const msgpack::map_size_overflow&) {
    return "maps are not part of the protocol";
  } catch (const msgpack::str_size_overflow&) {
    return "str longer than " + std::to_string(kMaxMessageBytes) + " bytes";
  } catch (const msgpack::bin_size_overflow&) {
    return "bin longer than " + std::to_string(kMaxMessageBytes) + " bytes";
  } catch (const msgpack::ext_size_overflow&) {
    return "ext values are not part of the protocol";
  } catch (const msgpack::depth_size_overflow&) {
    return "arrays nested deeper than " + std::to_string(kMaxDepth);
  } catch (const std::bad_alloc&) {
    return "out of memory while decoding";
  } catch (...) {
    return "undecodable frame";
  }
}

}  // namespace

std::string encode(const Message& message) {
  StringSink sink;
  Packer out(sink);
  const auto type = static_cast<std::uint8_t>(type_of(message));
  std::visit(
      [&out, type](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        out.pack_array(static_cast<std::uint32_t>(kEnvelopeFields + field_count<M>));
        out.pack_uint32(kProtocolVersion);
        out.pack_uint8(type);
        pack_fields(out, m);
      },
      message);
  return std::move(sink.bytes);
}

DecodeResult decode(std::string_view frame) {
  // Checked before parsing so that the parser never sees more than a frame's worth.
  if (frame.size() > kMaxFrameBytes) {
    return DecodeError{"frame of " + std::to_string(frame.size()) + " bytes exceeds " +
                       std::to_string(kMaxFrameBytes)};
  }
  if (frame.empty()) return DecodeError{"empty frame"};
  try {
    // Limits are checked by the parser when a header announces a size, before
    // it allocates; maps and ext are never used, hence zero.
    const msgpack::unpack_limit limit(kMaxArrayElements, 0, kMaxMessageBytes, kMaxMessageBytes, 0,
                                      kMaxDepth);
    // Strings point into `frame` instead of being copied into the handle's
    // zone: both live until decode_envelope has copied the fields out.
    const auto reference_frame = [](msgpack::type::object_type, std::size_t, void*) {
      return true;
    };
    std::size_t offset = 0;
    const msgpack::object_handle handle =
        msgpack::unpack(frame.data(), frame.size(), offset, reference_frame, nullptr, limit);
    if (offset != frame.size()) return DecodeError{"trailing bytes after message"};
    return decode_envelope(handle.get());
  } catch (...) {
    return DecodeError{reason_of_current_exception()};
  }
}

}  // namespace relay::proto
