#include "util/json.hpp"

#include <cmath>
#include <cstdio>

namespace relay::util {

namespace {

// The length of the valid UTF-8 sequence at the start of `text`, or 0 if it
// does not start with one (overlong forms and surrogates are not valid).
std::size_t utf8_sequence(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const auto lead = byte(0);
  std::size_t length = lead >= 0xf0 && lead <= 0xf4 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 && lead < 0xe0 ? 2 : 0;
  if (length == 0 || text.size() < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
  }
  if (lead == 0xe0 && byte(1) < 0xa0) return 0;   // overlong
  if (lead == 0xed && byte(1) >= 0xa0) return 0;  // UTF-16 surrogate
  if (lead == 0xf0 && byte(1) < 0x90) return 0;   // overlong
  if (lead == 0xf4 && byte(1) >= 0x90) return 0;  // beyond U+10FFFF
  return length;
}

// What to write for a byte that is not part of valid UTF-8.
enum class NotText { replace, hex };

void append_quoted(std::string& out, std::string_view value, NotText not_text) {
  out += '"';
  for (std::size_t i = 0; i < value.size();) {
    const char c = value[i];
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) {
      const auto length = utf8_sequence(value.substr(i));
      if (length != 0) {
        out.append(value.substr(i, length));
        i += length;
      } else if (not_text == NotText::replace) {
        out += "\\ufffd";  // the replacement character, so the line still parses
        ++i;
      } else {
        char buffer[8];
        std::snprintf(buffer, sizeof buffer, "\\x%02x", static_cast<unsigned>(byte));
        out += buffer;
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", byte);
          out += buffer;
        } else {
          out += c;
        }
    }
    ++i;
  }
  out += '"';
}

void append_base64(std::string& out, std::string_view bytes) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto at = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])); };
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) out += kDigits[(group >> shift) & 0x3f];
  }
  const std::size_t left = bytes.size() - i;
  if (left == 0) return;
  const std::uint32_t group = at(i) << 16 | (left == 2 ? at(i + 1) << 8 : 0);
  out += kDigits[(group >> 18) & 0x3f];
  out += kDigits[(group >> 12) & 0x3f];
  out += left == 2 ? kDigits[(group >> 6) & 0x3f] : '=';
  out += '=';
}

}  // namespace

bool is_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const auto length = utf8_sequence(text.substr(i));
    if (length == 0) return false;
    i += length;
  }
  return true;
}

void append_json_string(std::string& out, std::string_view value) { append_quoted(out, value, NotText::replace); }

void append_escaped(std::string& out, std::string_view value) { append_quoted(out, value, NotText::hex); }

void append_json_bytes(std::string& out, std::string_view value) {
  if (is_utf8(value)) {
    append_quoted(out, value, NotText::replace);  // nothing to replace
    return;
  }
  out += "{\"base64\":\"";
  append_base64(out, value);
  out += "\"}";
}

void JsonObject::key(std::string_view name) {
  if (text_.size() > 1) text_ += ',';
  append_json_string(text_, name);
  text_ += ':';
}

JsonObject& JsonObject::field(std::string_view name, std::string_view value) {
  key(name);
  append_json_string(text_, value);
  return *this;
}

JsonObject& JsonObject::bytes_field(std::string_view name, std::string_view value) {
  key(name);
  append_json_bytes(text_, value);
  return *this;
}

JsonObject& JsonObject::field(std::string_view name, std::uint64_t value) {
  key(name);
  text_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::field(std::string_view name, std::int64_t value) {
  key(name);
  text_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::field(std::string_view name, double value) {
  key(name);
  if (!std::isfinite(value)) {
    text_ += "null";
    return *this;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3f", value);
  text_ += buffer;
  return *this;
}

JsonObject& JsonObject::field(std::string_view name, bool value) {
  key(name);
  text_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::null_field(std::string_view name) {
  key(name);
  text_ += "null";
  return *this;
}

}  // namespace relay::util
