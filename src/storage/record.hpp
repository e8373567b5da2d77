// The log record codec and its checksum. A record is
//   [length u32][crc32c u32][index u64][term u64][payload]
// little-endian; `length` counts the bytes after the crc field (16 + payload)
// and the crc32c covers exactly those bytes. The payload is
//   [op u8][request_id u64][client_id][key][value][expected]
// where each string is [size u32][bytes]. The snapshot file codec lives here
// too: ["RRSNAP01"][crc32c u32][last_index u64][last_term u64][size u64][data].
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/messages.hpp"

namespace relay::storage {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven.
// `crc` continues an earlier result: crc32c(b, crc32c(a)) == crc32c(a + b).
std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0);

inline constexpr std::size_t kRecordHeaderBytes = 24;       // length, crc, index, term
inline constexpr std::uint32_t kMaxRecordLength = 1u << 30;  // a bigger length field is corrupt

// Bytes the record of `entry` takes on disk.
std::size_t record_bytes(const proto::Entry& entry);

// Appends the record of `entry` to `out`. The caller checks record_bytes()
// against kMaxRecordLength first.
void encode_record(const proto::Entry& entry, std::string& out);

enum class RecordStatus {
  ok,
  cut_short,     // the bytes end before the record does
  bad_length,    // the length field is below the header size or above kMaxRecordLength
  bad_checksum,  // the crc32c does not match
  bad_payload,   // checksum fine, but the payload does not decode
};

struct RecordRead {
  RecordStatus status = RecordStatus::ok;
  std::size_t bytes = 0;  // the whole record's size, once the length field was readable and sane
  proto::Entry entry;     // valid when status == ok
};

// Decodes the record at the start of `bytes` (which runs to the end of the file).
RecordRead decode_record(std::string_view bytes);

// The index field of a record that would start at `bytes`, unchecked; needs
// bytes.size() >= kRecordHeaderBytes. For scanning damaged files cheaply.
std::uint64_t record_index_field(std::string_view bytes);

const char* to_string(RecordStatus status);

// The header of a snapshot file holding `data` (written right after it).
std::string encode_snapshot_header(std::uint64_t last_index, proto::Term last_term, std::string_view data);
// Decodes a snapshot file's bytes; returns the reason when they are not valid.
std::optional<std::string> decode_snapshot(std::string_view bytes, std::uint64_t& last_index, proto::Term& last_term,
                                           std::string& data);

}  // namespace relay::storage
