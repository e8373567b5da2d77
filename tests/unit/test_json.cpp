// The JSON lines the programs print must always parse, whatever bytes a
// message carries.
#include <doctest/doctest.h>

#include <string>

#include "util/json.hpp"

using relay::util::append_json_string;
using relay::util::JsonObject;

namespace {

std::string quoted(std::string_view text) {
  std::string out;
  append_json_string(out, text);
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
