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
  std::string str() const { return text_ + "}"; }

 private:
  void key(std::string_view name);
  std::string text_ = "{";
};

// Appends `value` to `out` as a quoted JSON string. Valid UTF-8 passes as it
// is; a byte that is not part of valid UTF-8 becomes U+FFFD, so the output
// always parses and text in any language reads back unchanged.
void append_json_string(std::string& out, std::string_view value);

}  // namespace relay::util
