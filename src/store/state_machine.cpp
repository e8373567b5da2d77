// The replicated state machine: applying entries, answering reads, and the
// snapshot encoding (little-endian, length-prefixed, checksummed).
#include "store/state_machine.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace relay::store {
namespace {

using proto::ClientReply;
using proto::Op;
using proto::Status;

// "RSM1" then a format version: a snapshot from a future format is refused
// rather than misread.
constexpr std::uint32_t kSnapshotMagic = 0x314d5352;
constexpr std::uint32_t kSnapshotVersion = 1;
constexpr std::size_t kChecksumBytes = 8;
// A guess at the bookkeeping of one remembered reply beyond its strings (the
// deque slot, the hash node, the reply's integers); it only needs to be stable.
constexpr std::size_t kRememberedOverheadBytes = 128;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "relay::store: %s\n", what);
  std::abort();
}

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

// Appends fixed-width little-endian integers and length-prefixed strings.
class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void str(std::string_view s) {
    if (s.size() > UINT32_MAX) fail("a string too long for a snapshot");
    u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  std::string take() {
    u64(fnv1a64(out_));
    return std::move(out_);
  }

 private:
  void put(std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

// Reads what Writer wrote. Every read checks the bytes left first; after the
// first failure `ok()` stays false and every read returns zero or empty.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  std::size_t left() const { return in_.size(); }
  std::uint8_t u8() { return static_cast<std::uint8_t>(get(1)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(get(4)); }
  std::uint64_t u64() { return get(8); }
  std::string str() {
    const std::uint32_t size = u32();
    if (!ok_ || size > in_.size()) return bad(), std::string();
    std::string s(in_.substr(0, size));
    in_.remove_prefix(size);
    return s;
  }
  // A count of items each at least `min_item_bytes` long: a count that cannot
  // fit in what is left is refused before anything is allocated for it.
  std::uint64_t count(std::size_t min_item_bytes) {
    const std::uint64_t n = u64();
    if (ok_ && n > in_.size() / min_item_bytes) bad();
    return ok_ ? n : 0;
  }

 private:
  void bad() { ok_ = false; }
  std::uint64_t get(int bytes) {
    if (!ok_ || in_.size() < static_cast<std::size_t>(bytes)) return bad(), 0;
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= std::uint64_t{static_cast<unsigned char>(in_[static_cast<std::size_t>(i)])} << (8 * i);
    in_.remove_prefix(static_cast<std::size_t>(bytes));
    return v;
  }
  std::string_view in_;
  bool ok_ = true;
};

void write_reply(Writer& w, const ClientReply& r) {
  w.str(r.client_id);
  w.u64(r.request_id);
  w.u8(static_cast<std::uint8_t>(r.status));
  w.u64(r.index);
  w.u8(r.found ? 1 : 0);
  w.str(r.value);
  w.u64(r.position);
  w.str(r.message);
  w.u64(r.values.size());
  for (const auto& v : r.values) w.str(v);
}

std::optional<std::string> read_reply(Reader& r, ClientReply& reply) {
  reply.client_id = r.str();
  reply.request_id = r.u64();
  const std::uint8_t status = r.u8();
  reply.index = r.u64();
  const std::uint8_t found = r.u8();
  reply.value = r.str();
  reply.position = r.u64();
  reply.message = r.str();
  const std::uint64_t values = r.count(4);
  for (std::uint64_t i = 0; i < values && r.ok(); ++i) reply.values.push_back(r.str());
  if (!r.ok()) return "snapshot is cut short inside a remembered reply";
  if (status > static_cast<std::uint8_t>(Status::unknown)) return "remembered reply has an invalid status " + std::to_string(status);
  if (found > 1) return "remembered reply has an invalid found flag " + std::to_string(found);
  reply.status = static_cast<Status>(status);
  reply.found = found == 1;
  return std::nullopt;
}

ClientReply bad_request(ClientReply reply, std::string why) {
  reply.status = Status::bad_request;
  reply.message = std::move(why);
  return reply;
}

}  // namespace

StateMachine::StateMachine(Limits limits) : limits_(limits) {
  // Sized for a full table up front: no rehash while serving.
  dedup_seq_.reserve(std::min<std::size_t>(limits_.dedup_capacity, std::size_t{1} << 20));
}

std::uint64_t StateMachine::dedup_hash(std::string_view client_id, std::uint64_t request_id) {
  // The client id's hash, then the request id mixed in (a SplitMix64 finaliser),
  // so that consecutive request ids of one client spread over the buckets.
  std::uint64_t x = std::hash<std::string_view>{}(client_id) ^ (request_id + 0x9e3779b97f4a7c15ULL);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

StateMachine::SeqIndex::const_iterator StateMachine::find_remembered(std::string_view client_id,
                                                                     std::uint64_t request_id) const {
  auto [it, end] = dedup_seq_.equal_range(dedup_hash(client_id, request_id));
  for (; it != end; ++it) {
    const auto& reply = dedup_[it->second - dedup_first_seq_].reply;
    if (reply.request_id == request_id && reply.client_id == client_id) return it;
  }
  return dedup_seq_.end();
}

// Appends `item` to the table as its newest entry; a request remembered
// before is then found at its new place only.
void StateMachine::index_remembered(Remembered item) {
  const auto seq = dedup_first_seq_ + dedup_.size();
  if (auto old = find_remembered(item.reply.client_id, item.reply.request_id); old != dedup_seq_.end()) {
    dedup_seq_.erase(old);
  }
  dedup_seq_.emplace(item.hash, seq);
  dedup_bytes_ += item.bytes;
  dedup_.push_back(std::move(item));
}

std::size_t StateMachine::cost_of(const ClientReply& reply) {
  std::size_t bytes = kRememberedOverheadBytes + 2 * (reply.client_id.size() + 8) + reply.value.size() + reply.message.size();
  for (const auto& v : reply.values) bytes += v.size() + sizeof(std::string);
  return bytes;
}

ClientReply StateMachine::apply(const proto::Entry& entry) {
  if (entry.index != applied_index_ + 1) fail("an entry applied out of order");
  applied_index_ = entry.index;
  applied_term_ = entry.term;
  // A noop has no client; a write without a client id cannot be retried, so
  // there is nothing to remember it by.
  const bool identified = !entry.client_id.empty();
  if (identified) {
    if (auto earlier = answered(entry.client_id, entry.request_id)) return *std::move(earlier);
  }
  ClientReply reply = execute(entry);
  if (identified) remember(reply);
  return reply;
}

ClientReply StateMachine::execute(const proto::Entry& entry) {
  ClientReply reply;
  reply.client_id = entry.client_id;
  reply.request_id = entry.request_id;
  reply.index = entry.index;
  reply.status = Status::ok;
  const bool keyed = entry.op == Op::put || entry.op == Op::del || entry.op == Op::cas;
  if (keyed && entry.key.empty()) return bad_request(std::move(reply), "a write needs a key");
  switch (entry.op) {
    case Op::noop: return reply;
    case Op::put: {
      auto [it, inserted] = kv_.try_emplace(entry.key, entry.value);
      if (!inserted) it->second = entry.value;
      reply.found = !inserted;
      return reply;
    }
    case Op::del: reply.found = kv_.erase(entry.key) == 1; return reply;
    case Op::cas: {
      const auto it = kv_.find(entry.key);
      reply.found = it != kv_.end() && it->second == entry.expected;
      if (reply.found) it->second = entry.value;
      reply.value = it != kv_.end() ? it->second : std::string();
      return reply;
    }
    case Op::append:
      stream_.push_back(entry.value);
      reply.position = stream_.size();
      return reply;
    case Op::get:
    case Op::read: return bad_request(std::move(reply), "a read is not a log entry");
  }
  return bad_request(std::move(reply), "unknown op " + std::to_string(static_cast<int>(entry.op)));
}

void StateMachine::remember(const ClientReply& reply) {
  index_remembered(Remembered{dedup_hash(reply.client_id, reply.request_id), reply, cost_of(reply)});
  evict_to_limits();
}

void StateMachine::evict_to_limits() {
  while (!dedup_.empty() && (dedup_.size() > limits_.dedup_capacity || dedup_bytes_ > limits_.dedup_bytes)) {
    // Only the index entry that points here: a later copy of the same
    // request (remembered again) keeps its own.
    auto [it, end] = dedup_seq_.equal_range(dedup_.front().hash);
    while (it != end && it->second != dedup_first_seq_) ++it;
    if (it != end) dedup_seq_.erase(it);
    dedup_bytes_ -= dedup_.front().bytes;
    dedup_.pop_front();
    ++dedup_first_seq_;
  }
}

std::optional<ClientReply> StateMachine::answered(std::string_view client_id, std::uint64_t request_id) const {
  const auto it = find_remembered(client_id, request_id);
  if (it == dedup_seq_.end()) return std::nullopt;
  return dedup_[it->second - dedup_first_seq_].reply;
}

ClientReply StateMachine::read(const proto::ClientRequest& request) const {
  ClientReply reply;
  reply.client_id = request.client_id;
  reply.request_id = request.request_id;
  reply.index = applied_index_;
  reply.status = Status::ok;
  if (request.op == Op::read) return read_stream(request, std::move(reply));
  if (request.op != Op::get) return bad_request(std::move(reply), "only get and read are answered without the log");
  if (request.key.empty()) return bad_request(std::move(reply), "a get needs a key");
  if (const auto it = kv_.find(request.key); it != kv_.end()) {
    reply.found = true;
    reply.value = it->second;
  }
  return reply;
}

ClientReply StateMachine::read_stream(const proto::ClientRequest& request, ClientReply reply) const {
  const std::uint64_t from = std::max<std::uint64_t>(request.from, 1);
  std::uint32_t count = request.count == 0 ? limits_.default_read_count : request.count;
  count = std::min(count, limits_.max_read_count);
  reply.position = from;
  std::size_t bytes = 0;
  for (std::uint64_t i = from; i <= stream_.size() && reply.values.size() < count; ++i) {
    const std::string& message = stream_[i - 1];
    // The first message is returned whatever its size, so a reader always
    // makes progress.
    if (!reply.values.empty() && bytes + message.size() > limits_.max_read_bytes) break;
    bytes += message.size();
    reply.values.push_back(message);
  }
  return reply;
}

std::string StateMachine::snapshot() const {
  Writer w;
  w.u32(kSnapshotMagic);
  w.u32(kSnapshotVersion);
  w.u64(applied_index_);
  w.u64(applied_term_);
  std::vector<const std::pair<const std::string, std::string>*> pairs;
  pairs.reserve(kv_.size());
  for (const auto& pair : kv_) pairs.push_back(&pair);
  std::sort(pairs.begin(), pairs.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  w.u64(pairs.size());
  for (const auto* pair : pairs) {
    w.str(pair->first);
    w.str(pair->second);
  }
  w.u64(stream_.size());
  for (const auto& message : stream_) w.str(message);
  w.u64(dedup_.size());
  for (const auto& item : dedup_) write_reply(w, item.reply);
  return w.take();
}

std::variant<StateMachine, std::string> StateMachine::restore(std::string_view bytes, Limits limits) {
  if (bytes.size() < 8 + kChecksumBytes) return std::string("snapshot is too short (") + std::to_string(bytes.size()) + " bytes)";
  const std::string_view body = bytes.substr(0, bytes.size() - kChecksumBytes);
  Reader trailer(bytes.substr(body.size()));
  if (trailer.u64() != fnv1a64(body)) return std::string("snapshot checksum does not match (truncated or corrupted)");

  Reader r(body);
  if (r.u32() != kSnapshotMagic) return std::string("not a state machine snapshot (bad magic)");
  if (const std::uint32_t version = r.u32(); version != kSnapshotVersion) {
    return "unsupported snapshot version " + std::to_string(version);
  }
  StateMachine machine(limits);
  machine.applied_index_ = r.u64();
  machine.applied_term_ = r.u64();

  const std::uint64_t keys = r.count(8);
  machine.kv_.reserve(keys);
  std::string previous;
  for (std::uint64_t i = 0; i < keys && r.ok(); ++i) {
    std::string key = r.str();
    std::string value = r.str();
    if (!r.ok()) break;
    // Keys are written in order, each once; anything else was not written by snapshot().
    if (key.empty() || (i > 0 && !(previous < key))) {
      return "snapshot key " + std::to_string(i) + " is empty, repeated or out of order";
    }
    previous = key;
    machine.kv_.emplace(std::move(key), std::move(value));
  }
  const std::uint64_t messages = r.count(4);
  machine.stream_.reserve(messages);
  for (std::uint64_t i = 0; i < messages && r.ok(); ++i) machine.stream_.push_back(r.str());
  if (!r.ok()) return std::string("snapshot is cut short in the key-value map or the stream");

  const std::uint64_t remembered = r.count(4 + 8 + 1 + 8 + 1 + 4 + 8 + 4 + 8);
  for (std::uint64_t i = 0; i < remembered && r.ok(); ++i) {
    ClientReply reply;
    if (auto error = read_reply(r, reply)) return *std::move(error);
    if (machine.answered(reply.client_id, reply.request_id)) return "snapshot remembers request " + std::to_string(i) + " twice";
    const auto hash = dedup_hash(reply.client_id, reply.request_id);
    const auto cost = cost_of(reply);
    machine.index_remembered(Remembered{hash, std::move(reply), cost});
  }
  if (!r.ok()) return std::string("snapshot is cut short in the exactly-once table");
  if (r.left() != 0) return "snapshot has " + std::to_string(r.left()) + " bytes after its end";
  machine.evict_to_limits();
  return machine;
}

}  // namespace relay::store
