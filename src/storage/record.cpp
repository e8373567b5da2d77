#include "storage/record.hpp"

#include <array>

namespace relay::storage {
namespace {

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1u) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    table[i] = crc;
  }
  return table;
}

constexpr auto kCrcTable = make_crc_table();

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(static_cast<unsigned char>(value >> (8 * i))));
}

std::uint64_t get_le(std::string_view bytes, std::size_t at, int count) {
  std::uint64_t value = 0;
  for (int i = count - 1; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]);
  }
  return value;
}

void put_string(std::string& out, const std::string& text) {
  put_le(out, text.size(), 4);
  out += text;
}

// Reads the payload front to back; any overrun makes it fail, never read past the end.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view bytes) : bytes_(bytes) {}
  bool number(std::uint64_t& value, int count) {
    if (bytes_.size() - at_ < static_cast<std::size_t>(count)) return false;
    value = get_le(bytes_, at_, count);
    at_ += static_cast<std::size_t>(count);
    return true;
  }
  bool text(std::string& value) {
    std::uint64_t size = 0;
    if (!number(size, 4) || bytes_.size() - at_ < size) return false;
    value.assign(bytes_.substr(at_, static_cast<std::size_t>(size)));
    at_ += static_cast<std::size_t>(size);
    return true;
  }
  bool done() const { return at_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t at_ = 0;
};

bool decode_payload(std::string_view payload, proto::Entry& entry) {
  PayloadReader reader(payload);
  std::uint64_t op = 0;
  if (!reader.number(op, 1) || !reader.number(entry.request_id, 8)) return false;
  entry.op = static_cast<proto::Op>(op);
  return reader.text(entry.client_id) && reader.text(entry.key) && reader.text(entry.value) &&
         reader.text(entry.expected) && reader.done();
}

}  // namespace

std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc) {
  crc = ~crc;
  for (const char byte : bytes) crc = kCrcTable[(crc ^ static_cast<unsigned char>(byte)) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

std::size_t record_bytes(const proto::Entry& entry) {
  return kRecordHeaderBytes + 1 + 8 + 4 * 4 + entry.client_id.size() + entry.key.size() + entry.value.size() +
         entry.expected.size();
}

void encode_record(const proto::Entry& entry, std::string& out) {
  const std::size_t start = out.size();
  put_le(out, record_bytes(entry) - 8, 4);
  put_le(out, 0, 4);  // the crc, filled in below
  put_le(out, entry.index, 8);
  put_le(out, entry.term, 8);
  put_le(out, static_cast<std::uint8_t>(entry.op), 1);
  put_le(out, entry.request_id, 8);
  put_string(out, entry.client_id);
  put_string(out, entry.key);
  put_string(out, entry.value);
  put_string(out, entry.expected);
  const std::uint32_t crc = crc32c(std::string_view(out).substr(start + 8));
  for (std::size_t i = 0; i < 4; ++i) out[start + 4 + i] = static_cast<char>(static_cast<unsigned char>(crc >> (8 * i)));
}

std::uint64_t record_index_field(std::string_view bytes) { return get_le(bytes, 8, 8); }

RecordRead decode_record(std::string_view bytes) {
  RecordRead read;
  if (bytes.size() < 8) {
    read.status = RecordStatus::cut_short;
    return read;
  }
  const auto length = static_cast<std::uint32_t>(get_le(bytes, 0, 4));
  if (length < kRecordHeaderBytes - 8 || length > kMaxRecordLength) {
    read.status = RecordStatus::bad_length;
    return read;
  }
  read.bytes = std::size_t{8} + length;
  if (bytes.size() < read.bytes) {
    read.status = RecordStatus::cut_short;
    return read;
  }
  const auto body = bytes.substr(8, length);
  if (crc32c(body) != static_cast<std::uint32_t>(get_le(bytes, 4, 4))) {
    read.status = RecordStatus::bad_checksum;
    return read;
  }
  read.entry.index = get_le(bytes, 8, 8);
  read.entry.term = get_le(bytes, 16, 8);
  if (!decode_payload(body.substr(16), read.entry)) read.status = RecordStatus::bad_payload;
  return read;
}

const char* to_string(RecordStatus status) {
  switch (status) {
    case RecordStatus::ok: return "ok";
    case RecordStatus::cut_short: return "record cut short";
    case RecordStatus::bad_length: return "invalid length field";
    case RecordStatus::bad_checksum: return "checksum mismatch";
    case RecordStatus::bad_payload: return "payload does not decode";
  }
  return "invalid status";
}

namespace {
constexpr std::string_view kSnapshotMagic = "RRSNAP01";
constexpr std::size_t kSnapshotHeaderBytes = 8 + 4 + 8 + 8 + 8;
}  // namespace

std::string encode_snapshot_header(std::uint64_t last_index, proto::Term last_term, std::string_view data) {
  std::string out(kSnapshotMagic);
  put_le(out, 0, 4);
  put_le(out, last_index, 8);
  put_le(out, last_term, 8);
  put_le(out, data.size(), 8);
  const std::uint32_t crc = crc32c(data, crc32c(std::string_view(out).substr(12)));
  for (std::size_t i = 0; i < 4; ++i) out[8 + i] = static_cast<char>(static_cast<unsigned char>(crc >> (8 * i)));
  return out;
}

std::optional<std::string> decode_snapshot(std::string_view bytes, std::uint64_t& last_index, proto::Term& last_term,
                                           std::string& data) {
  if (bytes.size() < kSnapshotHeaderBytes) return "shorter than its header";
  if (bytes.substr(0, 8) != kSnapshotMagic) return "not a snapshot file (bad magic)";
  if (get_le(bytes, 28, 8) != bytes.size() - kSnapshotHeaderBytes) return "size field does not match the file";
  if (crc32c(bytes.substr(12)) != static_cast<std::uint32_t>(get_le(bytes, 8, 4))) return "checksum mismatch";
  last_index = get_le(bytes, 12, 8);
  last_term = get_le(bytes, 20, 8);
  data.assign(bytes.substr(kSnapshotHeaderBytes));
  return std::nullopt;
}

}  // namespace relay::storage
