// Configuration: every error kind names the file, the exact line and the key,
// and a valid file becomes a Cluster with defaults filled in and nodes
// sorted. Texts are built line by line so that line numbers are obvious.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace fs = std::filesystem;
using relay::config::Cluster;
using relay::config::ConfigError;

namespace {

using Lines = std::vector<std::string>;

// A valid node section of five lines: header, client, peer, election, monitor.
Lines node(unsigned id, unsigned first_port) {
  const auto endpoint = [](unsigned port) { return "tcp://127.0.0.1:" + std::to_string(port); };
  return {"[node." + std::to_string(id) + "]", "client = " + endpoint(first_port), "peer = " + endpoint(first_port + 1),
          "election = " + endpoint(first_port + 2), "monitor = " + endpoint(first_port + 3)};
}

std::string join(std::initializer_list<Lines> blocks) {
  std::string text;
  for (const auto& block : blocks) {
    for (const auto& line : block) text += line + "\n";
  }
  return text;
}

std::string error_of(const std::string& text) {
  const auto result = relay::config::parse(text, "test.ini", "/base");
  REQUIRE_MESSAGE(std::holds_alternative<ConfigError>(result), "expected an error for:\n" << text);
  return std::get<ConfigError>(result).message;
}

Cluster cluster_of(const std::string& text, const fs::path& base_dir = "/base") {
  auto result = relay::config::parse(text, "test.ini", base_dir);
  if (const auto* error = std::get_if<ConfigError>(&result)) FAIL("unexpected error: " << error->message);
  return std::get<Cluster>(std::move(result));
}

// The message starts with "test.ini:LINE: key 'KEY': " (or the given prefix)
// and explains itself with `reason`.
void check_error(const std::string& text, const std::string& prefix, const std::string& reason) {
  const std::string message = error_of(text);
  INFO("message: " << message);
  CHECK(message.starts_with(prefix));
  CHECK(message.find(reason) != std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
}

// A scratch directory removed at the end of the test.
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("relay-config-test-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
    return path / name;
  }
};

fs::path shipped(const char* name) { return fs::path(__FILE__).parent_path() / "../../config" / name; }

}  // namespace

TEST_CASE("a minimal one-node file is valid and gets every default") {
  const Cluster cluster = cluster_of(join({node(1, 5551)}));
  CHECK(cluster.heartbeat_interval_ms == 50);
  CHECK(cluster.election_timeout_ms == 300);
  CHECK(cluster.request_timeout_ms == 2000);
  CHECK(cluster.data_dir == fs::path("/base/data"));
  CHECK(cluster.source == fs::path("test.ini"));
  REQUIRE(cluster.nodes.size() == 1);
  CHECK(cluster.nodes[0].id == 1);
  CHECK(cluster.nodes[0].client == "tcp://127.0.0.1:5551");
  CHECK(cluster.nodes[0].peer == "tcp://127.0.0.1:5552");
  CHECK(cluster.nodes[0].election == "tcp://127.0.0.1:5553");
  CHECK(cluster.nodes[0].monitor == "tcp://127.0.0.1:5554");
}

TEST_CASE("every cluster key is read, comments and blank lines are ignored") {
  const Cluster cluster = cluster_of(
      join({{"; a comment", "# another", "", "[cluster]  ; trailing comment", "heartbeat_interval_ms = 10 ; why",
             "election_timeout_ms=20", "request_timeout_ms = 3600000", "data_dir = /var/lib/relay"},
            node(1, 5551)}));
  CHECK(cluster.heartbeat_interval_ms == 10);
  CHECK(cluster.election_timeout_ms == 20);
  CHECK(cluster.request_timeout_ms == 3600000);
  CHECK(cluster.data_dir == fs::path("/var/lib/relay"));
}

TEST_CASE("CRLF line endings, a byte order mark and a missing final newline are accepted") {
  std::string text = "\xEF\xBB\xBF[cluster]\r\nheartbeat_interval_ms = 20\r\n";
  for (const auto& line : node(1, 5551)) text += line + "\r\n";
  text.resize(text.size() - 2);
  const Cluster cluster = cluster_of(text);
  CHECK(cluster.heartbeat_interval_ms == 20);
  CHECK(cluster.nodes.at(0).monitor == "tcp://127.0.0.1:5554");
}

TEST_CASE("nodes are sorted by id whatever the file order, and find() looks them up") {
  const Cluster cluster = cluster_of(join({node(30, 5571), node(1, 5551), node(7, 5561)}));
  REQUIRE(cluster.nodes.size() == 3);
  CHECK(cluster.nodes[0].id == 1);
  CHECK(cluster.nodes[1].id == 7);
  CHECK(cluster.nodes[2].id == 30);
  REQUIRE(cluster.find(7) != nullptr);
  CHECK(cluster.find(7)->client == "tcp://127.0.0.1:5561");
  CHECK(cluster.find(2) == nullptr);
  CHECK(cluster.find(0) == nullptr);
}

TEST_CASE("a relative data_dir is resolved against base_dir, an absolute one is kept") {
  CHECK(cluster_of(join({{"[cluster]", "data_dir = state/x"}, node(1, 5551)}), "/etc/relay").data_dir ==
        fs::path("/etc/relay/state/x"));
  CHECK(cluster_of(join({{"[cluster]", "data_dir = ../state"}, node(1, 5551)}), "/etc/relay").data_dir ==
        fs::path("/etc/state"));
  CHECK(cluster_of(join({{"[cluster]", "data_dir = /srv/relay"}, node(1, 5551)}), "/etc/relay").data_dir ==
        fs::path("/srv/relay"));
  CHECK(cluster_of(join({node(1, 5551)}), "").data_dir == fs::path("data"));
}

TEST_CASE("load() resolves data_dir against the file's directory and records the source") {
  const TempDir dir;
  const fs::path file = dir.write("c.ini", join({{"[cluster]", "data_dir = state"}, node(1, 5551)}));
  const auto result = relay::config::load(file);
  REQUIRE(std::holds_alternative<Cluster>(result));
  CHECK(std::get<Cluster>(result).data_dir == dir.path / "state");
  CHECK(std::get<Cluster>(result).source == file);
}

TEST_CASE("the shipped config/cluster.ini and config/cluster5.ini load") {
  const auto three = relay::config::load(shipped("cluster.ini"));
  if (const auto* error = std::get_if<ConfigError>(&three)) FAIL(error->message);
  const Cluster& cluster = std::get<Cluster>(three);
  REQUIRE(cluster.nodes.size() == 3);
  CHECK(cluster.nodes[0].client == "tcp://127.0.0.1:5551");
  CHECK(cluster.nodes[1].peer == "tcp://127.0.0.1:5562");
  CHECK(cluster.nodes[2].monitor == "tcp://127.0.0.1:5574");
  CHECK(cluster.data_dir == (shipped("cluster.ini").parent_path() / "data").lexically_normal());

  const auto five = relay::config::load(shipped("cluster5.ini"));
  if (const auto* error = std::get_if<ConfigError>(&five)) FAIL(error->message);
  REQUIRE(std::get<Cluster>(five).nodes.size() == 5);
  CHECK(std::get<Cluster>(five).nodes[4].client == "tcp://127.0.0.1:5621");
}

TEST_CASE("15 nodes are accepted, a 16th is rejected at its section line") {
  std::string text;
  for (unsigned id = 1; id <= 15; ++id) text += join({node(id, 10000 + 10 * id)});
  CHECK(cluster_of(text).nodes.size() == 15);
  text += join({node(16, 20000)});
  check_error(text, "test.ini:76: section [node.16]: ", "at most 15");
}

TEST_CASE("error: unknown key") {
  check_error(join({{"[cluster]", "heartbeat_interval_ms = 50", "heartbeat_ms = 50"}, node(1, 5551)}),
              "test.ini:3: key 'heartbeat_ms': ", "unknown key in [cluster]");
  check_error(join({node(1, 5551), {"pub = tcp://127.0.0.1:6000"}}),
              "test.ini:6: key 'pub': ", "unknown key in [node.1]; expected client, peer, election or monitor");
  check_error(join({{"[cluster]", "Data_Dir = x"}, node(1, 5551)}), "test.ini:2: key 'Data_Dir': ", "unknown key");
}

TEST_CASE("error: duplicate key") {
  check_error(join({node(1, 5551), {"client = tcp://127.0.0.1:6000"}}),
              "test.ini:6: key 'client': ", "duplicate key in [node.1] (first on line 2)");
  check_error(join({{"[cluster]", "data_dir = a", "", "data_dir = b"}, node(1, 5551)}),
              "test.ini:4: key 'data_dir': ", "first on line 2");
}

TEST_CASE("error: duplicate section") {
  CHECK(error_of(join({node(1, 5551), node(2, 5561), node(1, 5571)})) ==
        "test.ini:11: section [node.1]: duplicate section (first on line 1)");
  check_error(join({{"[cluster]"}, node(1, 5551), {"[cluster]"}}),
              "test.ini:7: section [cluster]: ", "duplicate section (first on line 1)");
}

TEST_CASE("error: a missing endpoint names the node's section line and the key") {
  Lines incomplete = node(2, 5561);
  incomplete.erase(incomplete.begin() + 3);  // election
  CHECK(error_of(join({node(1, 5551), {""}, incomplete})) ==
        "test.ini:7: key 'election': missing from [node.2]; every node needs client, peer, election and monitor");
  check_error(join({node(1, 5551), {"[node.9]"}}), "test.ini:6: key 'client': ", "missing from [node.9]");
}

TEST_CASE("error: malformed endpoint") {
  const auto with_client = [](const std::string& endpoint) {
    return join({{"[node.1]", "client = " + endpoint, "peer = tcp://127.0.0.1:2", "election = tcp://127.0.0.1:3",
                  "monitor = tcp://127.0.0.1:4"}});
  };
  const std::string prefix = "test.ini:2: key 'client': malformed endpoint ";
  check_error(with_client("tcp://127.0.0.1:*"), prefix + "'tcp://127.0.0.1:*': ", "wildcard port");
  check_error(with_client("tcp://*:*"), prefix, "wildcard port");
  check_error(with_client("tcp://*:5551"), prefix + "'tcp://*:5551': ", "wildcard host '*' cannot be connected to");
  check_error(with_client("tcp://127.0.0.1:0"), prefix, "port '0' is not a number from 1 to 65535");
  check_error(with_client("tcp://127.0.0.1:65536"), prefix, "port '65536'");
  check_error(with_client("tcp://127.0.0.1:05551"), prefix, "port '05551'");
  check_error(with_client("tcp://127.0.0.1:-1"), prefix, "port '-1'");
  check_error(with_client("tcp://127.0.0.1:"), prefix, "port ''");
  check_error(with_client("tcp://127.0.0.1"), prefix, "missing ':PORT'");
  check_error(with_client("tcp://:5551"), prefix, "missing host");
  check_error(with_client("tcp://127.0.0.256:5551"), prefix, "not a valid IPv4 address");
  check_error(with_client("tcp://127.0.0:5551"), prefix, "not a valid IPv4 address");
  check_error(with_client("tcp://[::1]:5551"), prefix, "IPv6");
  check_error(with_client("tcp://::1:5551"), prefix, "IPv6");
  check_error(with_client("tcp://bad_host:5551"), prefix, "host 'bad_host' is not an IPv4 address");
  check_error(with_client("tcp://-a.example:5551"), prefix, "host '-a.example'");
  check_error(with_client("tcp://a..example:5551"), prefix, "host 'a..example'");
  check_error(with_client("tcp://127.0.0.1:5551;x"), prefix, "port '5551;x'");
  check_error(with_client("127.0.0.1:5551"), prefix, "expected tcp://HOST:PORT or ipc://PATH");
  check_error(with_client("inproc://node-1"), prefix, "expected tcp://HOST:PORT or ipc://PATH");
  check_error(with_client("TCP://127.0.0.1:5551"), prefix, "expected tcp://HOST:PORT or ipc://PATH");
  check_error(with_client(""), "test.ini:2: key 'client': malformed endpoint '': ", "expected tcp://");
  check_error(with_client("ipc://"), prefix, "ipc path is empty");
  check_error(with_client("ipc://*"), prefix, "wildcard ipc path");
  check_error(with_client("ipc:///tmp/" + std::string(110, 'x')), prefix, "longer than 107 bytes");
}

TEST_CASE("accepted endpoint forms") {
  const Cluster cluster =
      cluster_of(join({{"[node.1]", "client = tcp://127.0.0.1:5551", "peer = tcp://localhost:5552",
                        "election = tcp://relay-1.example.org:5553", "monitor = ipc:///tmp/relay/node-1.monitor"},
                       {"[node.2]", "client = tcp://0.0.0.0:1", "peer = tcp://10.1.2.3:65535",
                        "election = ipc://relative.sock", "monitor = tcp://h:5554"}}));
  CHECK(cluster.find(1)->client == "tcp://127.0.0.1:5551");
  CHECK(cluster.find(1)->monitor == "ipc:///tmp/relay/node-1.monitor");
  CHECK(cluster.find(2)->peer == "tcp://10.1.2.3:65535");
}

TEST_CASE("error: two endpoints are the same") {
  CHECK(error_of(join({node(1, 5551),
                       {""},
                       {"[node.2]", "client = tcp://127.0.0.1:5561", "peer = tcp://127.0.0.1:5553",
                        "election = tcp://127.0.0.1:5563", "monitor = tcp://127.0.0.1:5564"}})) ==
        "test.ini:9: key 'peer': endpoint 'tcp://127.0.0.1:5553' is already used by node 1 key 'election' (line 4);"
        " every endpoint must be unique");
  // Within one node, and host names compared without case.
  check_error(join({{"[node.1]", "client = tcp://Node-A:1", "peer = tcp://node-a:1", "election = tcp://node-a:3",
                     "monitor = tcp://node-a:4"}}),
              "test.ini:3: key 'peer': ", "already used by node 1 key 'client' (line 2)");
  // The later line is reported even when its node has the smaller id.
  check_error(join({node(5, 5551), node(2, 5551)}),
              "test.ini:7: key 'client': ", "already used by node 5 key 'client' (line 2)");
}

TEST_CASE("error: node id is not a positive integer") {
  for (const std::string id : {"0", "-1", "+1", "01", "x", "", " 1", "1 ", "1.5", "1000001", "99999999999999999999"}) {
    CAPTURE(id);
    check_error(join({node(2, 5561), {"[node." + id + "]"}}),
                "test.ini:6: section [node." + id + "]: ", "is not a positive integer from 1 to 1000000");
  }
  CHECK(cluster_of(join({node(1000000, 5551)})).nodes.at(0).id == 1000000);
}

TEST_CASE("error: unknown section") {
  for (const std::string name : {"nodes.1", "node", "Cluster", "", "general"}) {
    CAPTURE(name);
    check_error(join({node(1, 5551), {"[" + name + "]"}}),
                "test.ini:6: section [" + name + "]: ", "unknown section; expected [cluster] or [node.N]");
  }
  check_error(join({node(1, 5551), {"[node.2] x"}}), "test.ini:6: section [node.2]: ", "unexpected text after ']'");
  check_error(join({node(1, 5551), {"[node.2"}}), "test.ini:6: ", "has no closing ']'");
}

TEST_CASE("error: a number is not a whole number") {
  for (const std::string value : {"abc", "1.5", "-1", "+5", "1e3", "50ms", "0x10", ""}) {
    CAPTURE(value);
    check_error(join({{"[cluster]", "request_timeout_ms = 100", "heartbeat_interval_ms = " + value}, node(1, 5551)}),
                "test.ini:3: key 'heartbeat_interval_ms': '" + value + "' is not a whole number",
                "expected milliseconds from 1 to 60000");
  }
}

TEST_CASE("error: a number is out of range") {
  const auto key_value = [](const std::string& line) { return join({{"[cluster]", line}, node(1, 5551)}); };
  check_error(key_value("heartbeat_interval_ms = 0"),
              "test.ini:2: key 'heartbeat_interval_ms': ", "0 is out of range; expected milliseconds from 1 to 60000");
  check_error(key_value("heartbeat_interval_ms = 60001"), "test.ini:2: key 'heartbeat_interval_ms': ", "out of range");
  check_error(key_value("election_timeout_ms = 1"), "test.ini:2: key 'election_timeout_ms': ", "from 2 to 600000");
  check_error(key_value("election_timeout_ms = 600001"), "test.ini:2: key 'election_timeout_ms': ", "out of range");
  check_error(key_value("request_timeout_ms = 0"), "test.ini:2: key 'request_timeout_ms': ", "from 1 to 3600000");
  check_error(key_value("request_timeout_ms = 3600001"), "test.ini:2: key 'request_timeout_ms': ", "out of range");
  check_error(key_value("request_timeout_ms = 99999999999999999999999"),
              "test.ini:2: key 'request_timeout_ms': ", "out of range");
  // The boundaries themselves are valid.
  const Cluster low =
      cluster_of(join({{"[cluster]", "heartbeat_interval_ms = 1", "election_timeout_ms = 2", "request_timeout_ms = 1"},
                       node(1, 5551)}));
  CHECK(low.election_timeout_ms == 2);
  const Cluster high = cluster_of(join(
      {{"[cluster]", "heartbeat_interval_ms = 60000", "election_timeout_ms = 600000", "request_timeout_ms = 3600000"},
       node(1, 5551)}));
  CHECK(high.heartbeat_interval_ms == 60000);
}

TEST_CASE("fsync: batch by default, and each of always, batch, never is read") {
  CHECK(cluster_of(join({node(1, 5551)})).fsync == relay::config::Fsync::batch);
  const auto fsync_of = [](const std::string& value) {
    return cluster_of(join({{"[cluster]", "fsync = " + value + " ; comment"}, node(1, 5551)})).fsync;
  };
  CHECK(fsync_of("always") == relay::config::Fsync::always);
  CHECK(fsync_of("batch") == relay::config::Fsync::batch);
  CHECK(fsync_of("never") == relay::config::Fsync::never);
}

TEST_CASE("error: fsync that is not always, batch or never") {
  // The message documented in docs/configuration.md, "Errors".
  CHECK(error_of(join({{"[cluster]", "", "", "", "", "fsync = sometimes"}, node(1, 5551)})) ==
        "test.ini:6: key 'fsync': 'sometimes' is not one of always, batch, never");
  // Modes are lowercase words: no other spelling, no number, no empty value.
  for (const std::string value : {"Always", "BATCH", "on", "1", "true", ""}) {
    CAPTURE(value);
    check_error(join({{"[cluster]", "fsync = " + value}, node(1, 5551)}), "test.ini:2: key 'fsync': ",
                "'" + value + "' is not one of always, batch, never");
  }
}

TEST_CASE("snapshot_bytes: 64 MiB by default; 4096 is the smallest value accepted") {
  CHECK(cluster_of(join({node(1, 5551)})).snapshot_bytes == 64ull * 1024 * 1024);
  const auto bytes_of = [](const std::string& value) {
    return cluster_of(join({{"[cluster]", "snapshot_bytes = " + value}, node(1, 5551)})).snapshot_bytes;
  };
  CHECK(bytes_of("4096") == 4096);
  CHECK(bytes_of("67108864") == 67108864);
  CHECK(bytes_of("1000000000000") == 1'000'000'000'000);
}

TEST_CASE("error: snapshot_bytes that is not a whole number of bytes in range") {
  const std::string reason = "is not a whole number of bytes from 4096 to 1099511627776";
  // The message documented in docs/configuration.md, "Errors".
  CHECK(error_of(join({{"[cluster]", "", "", "", "", "", "snapshot_bytes = 64MiB"}, node(1, 5551)})) ==
        "test.ini:7: key 'snapshot_bytes': '64MiB' " + reason);
  for (const std::string value : {"0", "4095", "-4096", "+4096", "4096.0", "1e6", "0x1000", "64 MiB", "",
                                   "1099511627777", "99999999999999", "18446744073709551616",
                                   "99999999999999999999999999"}) {
    CAPTURE(value);
    check_error(join({{"[cluster]", "snapshot_bytes = " + value}, node(1, 5551)}),
                "test.ini:2: key 'snapshot_bytes': '" + value + "' ", reason);
  }
}

TEST_CASE("error: election timeout below twice the heartbeat") {
  CHECK(error_of(join({{"[cluster]", "heartbeat_interval_ms = 100", "election_timeout_ms = 199"}, node(1, 5551)})) ==
        "test.ini:3: key 'election_timeout_ms': 199 must be at least twice heartbeat_interval_ms (2 x 100 = 200)");
  // Only the heartbeat is set: it is the line to blame.
  check_error(join({{"[cluster]", "", "heartbeat_interval_ms = 151"}, node(1, 5551)}),
              "test.ini:3: key 'heartbeat_interval_ms': ", "at most half of election_timeout_ms (300 by default)");
  CHECK(cluster_of(join({{"[cluster]", "heartbeat_interval_ms = 150"}, node(1, 5551)})).heartbeat_interval_ms == 150);
}

TEST_CASE("error: empty data_dir") {
  check_error(join({{"[cluster]", "data_dir =   ; nothing"}, node(1, 5551)}),
              "test.ini:2: key 'data_dir': ", "empty value");
}

TEST_CASE("error: a key before any section") {
  check_error(join({{"", "data_dir = x"}, node(1, 5551)}), "test.ini:2: key 'data_dir': ", "before any section");
}

TEST_CASE("error: no node at all") {
  const std::string expected = "test.ini: no [node.N] section; a cluster needs 1 to 15 nodes";
  CHECK(error_of(join({{"[cluster]", "data_dir = x"}})) == expected);
  CHECK(error_of("") == expected);
}

TEST_CASE("error: a line too long for inih is refused, not split") {
  const std::string padding(197 - std::string("data_dir = ").size(), 'd');
  CHECK(cluster_of(join({{"[cluster]", "data_dir = " + padding}, node(1, 5551)})).data_dir == "/base/" + padding);
  // One byte more would be cut by inih and its tail read as a line of its own.
  CHECK(error_of(join({{"[cluster]", "data_dir = " + padding + "d"}, node(1, 5551)})) ==
        "test.ini:2: line is 198 bytes long; at most 197 are allowed");
  check_error(join({node(1, 5551), {"; " + std::string(300, 'c')}}), "test.ini:6: line is 302 bytes long", "");
}

TEST_CASE("error: syntax error reported by inih") {
  CHECK(error_of(join({node(1, 5551), {"", "client tcp//127.0.0.1"}})) ==
        "test.ini:7: syntax error: 'client tcp//127.0.0.1' is neither [section], key = value nor a comment");
  // inih also accepts ':' as a separator, so a missing '=' may show up as a
  // key with a space in it.
  check_error(join({node(1, 5551), {"", "client tcp://127.0.0.1:6000"}}),
              "test.ini:7: key 'client tcp': ", "is the '=' missing?");
  // The earlier of a syntax error and a rule violation is the one reported.
  check_error(join({{"[cluster]", "oops", "bogus = 1"}, node(1, 5551)}), "test.ini:2: syntax error", "");
}

TEST_CASE("error: indentation, which inih would read as a continuation") {
  check_error(join({{"[node.1]", "client = tcp://127.0.0.1:1", "  peer = tcp://127.0.0.1:2"}}),
              "test.ini:3: ", "indentation is not allowed");
  // Indented comments are fine.
  CHECK(cluster_of(join({{"  ; note"}, node(1, 5551)})).nodes.size() == 1);
}

TEST_CASE("error: control characters never break the one-line message") {
  std::string text = join({node(1, 5551), {"bad = x"}});
  text.replace(text.find("bad"), 3, "b\x1b[d");
  const std::string message = error_of(text);
  CHECK(message.starts_with("test.ini:6: key 'b?[d': unknown key"));
  CHECK(error_of(std::string("[node.1]\nclient = a\0b\n", 23)) == "test.ini:2: line contains a NUL byte");
}

TEST_CASE("error: a missing or unreadable file") {
  const TempDir dir;
  const auto missing = relay::config::load(dir.path / "nope.ini");
  REQUIRE(std::holds_alternative<ConfigError>(missing));
  CHECK(std::get<ConfigError>(missing).message ==
        (dir.path / "nope.ini").string() + ": cannot open: No such file or directory");
  const auto directory = relay::config::load(dir.path);
  REQUIRE(std::holds_alternative<ConfigError>(directory));
  CHECK(std::get<ConfigError>(directory).message.starts_with(dir.path.string() + ": cannot "));
}

TEST_CASE("load() reports errors with the path it was given") {
  const TempDir dir;
  const fs::path file = dir.write("bad.ini", join({node(1, 5551), {"colour = blue"}}));
  const auto result = relay::config::load(file);
  REQUIRE(std::holds_alternative<ConfigError>(result));
  CHECK(std::get<ConfigError>(result).message.starts_with(file.string() + ":6: key 'colour': unknown key"));
}
