// The JSON lines the programs print must always parse, whatever bytes a
// message carries.
#include <doctest/doctest.h>

#include <string>

#include "util/json.hpp"

using relay::util::append_escaped;
using relay::util::append_json_bytes;
using relay::util::append_json_string;
using relay::util::is_utf8;
using relay::util::JsonObject;

namespace {

std::string quoted(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

std::string escaped(std::string_view text) {
  std::string out;
  append_escaped(out, text);
  return out;
}

std::string bytes(std::string_view text) {
  std::string out;
  append_json_bytes(out, text);
  return out;
}

}  // namespace

TEST_CASE("JSON strings: valid UTF-8 passes unchanged") {
  CHECK(quoted("h\xc3\xa9llo") == "\"h\xc3\xa9llo\"");
  CHECK(quoted("\xe2\x82\xac 5") == "\"\xe2\x82\xac 5\"");
  CHECK(quoted("\xf0\x9f\x98\x80") == "\"\xf0\x9f\x98\x80\"");
}

TEST_CASE("JSON strings: bytes that are not UTF-8 become U+FFFD") {
  CHECK(quoted("a\xff" "b") == "\"a\\ufffdb\"");
  CHECK(quoted("\xc3") == "\"\\ufffd\"");                 // cut short
  CHECK(quoted("\xc0\x80") == "\"\\ufffd\\ufffd\"");      // overlong
  CHECK(quoted("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
}

TEST_CASE("JSON strings: quotes, backslashes and control characters are escaped") {
  CHECK(quoted("a\"b\\c\nd\te\x01") == "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
  CHECK(quoted(std::string_view("\0", 1)) == "\"\\u0000\"");
}

TEST_CASE("JSON objects: fields in order, numbers and booleans bare") {
  JsonObject object;
  object.field("id", std::uint64_t{7}).field("ok", true).field("name", "n\"1").null_field("leader");
  CHECK(object.str() == R"({"id":7,"ok":true,"name":"n\"1","leader":null})");
}

TEST_CASE("UTF-8 check: what JSON strings pass unchanged, and nothing else") {
  CHECK(is_utf8(""));
  CHECK(is_utf8("plain"));
  CHECK(is_utf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK_FALSE(is_utf8("a\xff"));
  CHECK_FALSE(is_utf8("\xc3"));            // cut short
  CHECK_FALSE(is_utf8("\xc0\x80"));        // overlong
  CHECK_FALSE(is_utf8("\xed\xa0\x80"));    // surrogate
  CHECK_FALSE(is_utf8("\xf4\x90\x80\x80"));  // beyond U+10FFFF
}

TEST_CASE("Escaped text: bytes that are not UTF-8 become \\xNN, everything else as in JSON") {
  CHECK(escaped("a\xff" "b") == "\"a\\xffb\"");
  CHECK(escaped("\xc3") == "\"\\xc3\"");
  CHECK(escaped("\xed\xa0\x80") == "\"\\xed\\xa0\\x80\"");
  CHECK(escaped("h\xc3\xa9 \"q\" \\x41\n") == "\"h\xc3\xa9 \\\"q\\\" \\\\x41\\n\"");  // a typed \\x stays apart
}

TEST_CASE("JSON bytes: a string when UTF-8, base64 in an object otherwise") {
  CHECK(bytes("h\xc3\xa9llo") == "\"h\xc3\xa9llo\"");
  CHECK(bytes("") == "\"\"");
  // RFC 4648 test vectors, with a byte that is not UTF-8 in front.
  CHECK(bytes("\xff") == R"({"base64":"/w=="})");
  CHECK(bytes("\xff" "f") == R"({"base64":"/2Y="})");
  CHECK(bytes("\xff" "fo") == R"({"base64":"/2Zv"})");
  CHECK(bytes("\xff" "foobar") == R"({"base64":"/2Zvb2Jhcg=="})");
  CHECK(bytes(std::string_view("\0\xfe\x80", 3)) == R"({"base64":"AP6A"})");
  JsonObject object;
  object.bytes_field("value", "v\xff").bytes_field("key", "k");
  CHECK(object.str() == R"({"value":{"base64":"dv8="},"key":"k"})");
}
