// A minimal writer for the one-object-per-line JSON the programs print.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace relay::util {

class JsonObject {
 public:
  JsonObject& field(std::string_view key, std::string_view value);
  JsonObject& field(std::string_view key, const char* value) { return field(key, std::string_view(value)); }
  JsonObject& field(std::string_view key, std::uint64_t value);
  JsonObject& field(std::string_view key, std::int64_t value);
  JsonObject& field(std::string_view key, std::uint32_t value) { return field(key, std::uint64_t{value}); }
  JsonObject& field(std::string_view key, int value) { return field(key, std::int64_t{value}); }
  JsonObject& field(std::string_view key, double value);
  JsonObject& field(std::string_view key, bool value);
  JsonObject& null_field(std::string_view key);
  // Bytes that need not be text (a stored value): see append_json_bytes.
  JsonObject& bytes_field(std::string_view key, std::string_view value);
  std::string str() const { return text_ + "}"; }

 private:
  void key(std::string_view name);
  std::string text_ = "{";
};

// True when `text` is valid UTF-8 (no overlong forms, surrogates, or code
// points past U+10FFFF).
bool is_utf8(std::string_view text);

// Appends `value` to `out` as a quoted JSON string. Valid UTF-8 passes as it
// is; a byte that is not part of valid UTF-8 becomes U+FFFD, so the output
// always parses and text in any language reads back unchanged. For text
// (names, messages); bytes that must survive go through append_json_bytes.
void append_json_string(std::string& out, std::string_view value);

// Appends `value` as JSON that gives back exactly these bytes: a JSON string
// when they are valid UTF-8 (nearly always), otherwise an object
// {"base64":"..."} holding them in standard base64 (RFC 4648, with padding).
// A JSON string cannot carry such bytes without changing them.
void append_json_bytes(std::string& out, std::string_view value);

// Appends `value` quoted and escaped for people to read: as in a JSON string,
// but a byte that is not part of valid UTF-8 becomes \xNN (two lowercase hex
// digits), so every byte can be read off the screen. Not JSON when it has one.
void append_escaped(std::string& out, std::string_view value);

}  // namespace relay::util
