// The monitor's formats: describe() lines read back, recordings written and
// read (and refused when malformed, with file and line), the terminal screen,
// and the HTML report's data.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "monitor/cluster_view.hpp"
#include "monitor/record.hpp"
#include "monitor/report.hpp"
#include "monitor/screen.hpp"
#include "monitor_events.hpp"

namespace relay::monitor {
namespace {

using testing::ok_reply;
using testing::request;
using testing::Stream;

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("relay-monitor-test-" + std::to_string(getpid()) + "-" + name);
}

void write_text(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }

RecordHeader header() {
  RecordHeader h;
  h.started_us = 1'000'000'000;
  h.nodes = {1, 2, 3};
  h.config = "cluster.ini";
  return h;
}

TEST_CASE("parse_line reads describe() lines back, payloads included") {
  const auto line = parse_line(proto::describe(proto::ClientRequest{"c 1\"x", 17, 2000, proto::Op::append, "", "a \"b\"\n\x01", "", 0, 0}));
  CHECK(line.type == "client_request");
  CHECK(line.text("client") == "c 1\"x");
  CHECK(line.number("req") == 17);
  CHECK(line.text("msg") == "a \"b\"\n\x01");
  const auto ballot = parse_line(proto::describe(proto::Ballot{3, 2, 0xdeadbeef12345678}));
  CHECK(ballot.hex_or_number("ballot") == 0xdeadbeef12345678);
  CHECK(ballot.number("missing") == 0);
}

TEST_CASE("parse_line: a cut payload, and a role change's reason in words") {
  const auto cut = parse_line(proto::describe(proto::ClientRequest{"c", 1, 0, proto::Op::append, "", std::string(100, 'x'), "", 0, 0}));
  CHECK(cut.text("msg") == std::string(40, 'x'));
  CHECK(cut.number("timeout_ms") == 0);
  const auto role = parse_line("leader term=3 leader=1 reason=won the election");
  CHECK(role.type == "leader");
  CHECK(role.number("term") == 3);
  CHECK(role.text("reason") == "won the election");
}

TEST_CASE("a recording reads back the header and every event as written") {
  Stream s;
  const auto path = temp_file("roundtrip.jsonl");
  std::vector<Event> events{s.heartbeat(1, 2, proto::Role::leader, 1),
                            s.tap(2, "in", "client", 0, request("c\xe9", 4)),
                            s.tap_text(2, "socket", "", 0, "node 1 disconnected (tcp://127.0.0.1:5553)")};
  {
    auto opened = RecordWriter::open(path, header());
    auto& writer = std::get<RecordWriter>(opened);
    for (const auto& e : events) writer.write(e);
    CHECK_FALSE(writer.failed());
  }
  RecordHeader seen;
  std::vector<Event> read;
  const auto result = read_record(path, [&](const RecordHeader& h) { seen = h; },
                                  [&](const Event& e) { read.push_back(e); return true; });
  CHECK(result.error.empty());
  CHECK(seen.nodes == std::vector<proto::NodeId>{1, 2, 3});
  CHECK(seen.started_us == 1'000'000'000);
  CHECK(seen.config == "cluster.ini");
  REQUIRE(read.size() == events.size());
  for (std::size_t i = 0; i < read.size(); ++i) {
    CHECK(read[i].recv_us == events[i].recv_us);
    CHECK(read[i].source == events[i].source);
    CHECK(read[i].node == events[i].node);
    CHECK(read[i].seq == events[i].seq);
    CHECK(read[i].kind == events[i].kind);
    CHECK(read[i].channel == events[i].channel);
    CHECK(read[i].text == events[i].text);  // describe() escapes odd bytes, so the text is ASCII
  }
  std::filesystem::remove(path);
}

TEST_CASE("a malformed recording is refused with its file and line") {
  const auto path = temp_file("bad.jsonl");
  const auto head = header_line(header()) + "\n";
  auto error_of = [&](const std::string& text) {
    write_text(path, text);
    return read_record(path, [](const RecordHeader&) {}, [](const Event&) { return true; }).error;
  };
  CHECK(error_of("").find("empty") != std::string::npos);
  CHECK(error_of("not json\n").find(":1: not a JSON object") != std::string::npos);
  CHECK(error_of("{\"relay_monitor_record\":9}\n").find("unsupported recording version 9") != std::string::npos);
  CHECK(error_of(head + "{\"recv_us\":1}\n").find(":2: field 'source'") != std::string::npos);
  CHECK(error_of(head + "{\"source\":\"tap\",\"recv_us\":-1}\n").find(":2: field 'recv_us'") != std::string::npos);
  CHECK(error_of(head + "{\"source\":\"radio\"}\n").find("'source' must be") != std::string::npos);
  std::string nodes = header_line(header());
  nodes.replace(nodes.find("1,2,3"), 5, "1,,x");
  CHECK(error_of(nodes + "\n").find("'nodes'") != std::string::npos);
  CHECK(read_record(temp_file("missing"), [](const RecordHeader&) {}, [](const Event&) { return true; })
            .error.find("cannot open") != std::string::npos);
  std::filesystem::remove(path);
}

TEST_CASE("the screen shows every node's row, the elections, the traffic and the alarms") {
  Stream s;
  ViewOptions options;
  options.nodes = {1, 2, 3};
  ClusterView view(options, s.now_us);
  view.on_event(s.election(1, proto::Ballot{1, 1, 0xabcd000000000000}));
  view.on_event(s.heartbeat(1, 1, proto::Role::leader, 1));
  view.on_event(s.heartbeat(2, 1, proto::Role::leader, 2));  // two leaders: an alarm
  view.on_event(s.tap(1, "in", "client", 0, request("c1", 1)));
  view.on_event(s.tap(1, "out", "client", 0, ok_reply("c1", 1, 1, 0, 1, 1, 1)));
  ScreenOptions screen{40, 100, false, "cluster.ini"};
  const auto text = render_screen(view, screen);
  CHECK(text.find("ROLE") != std::string::npos);
  CHECK(text.find("\n1    leader") != std::string::npos);
  CHECK(text.find("\n3    ?") != std::string::npos);
  CHECK(text.find("term 1: ballots 1=abcd") != std::string::npos);
  CHECK(text.find("client → 1 → client") != std::string::npos);
  CHECK(text.find("ALARM two leaders in term 1") != std::string::npos);
  CHECK(text.find('\x1b') == std::string::npos);  // no colour asked for
  screen.rows = 5;
  screen.columns = 20;
  const auto small = render_screen(view, screen);
  CHECK(std::count(small.begin(), small.end(), '\n') == 4);
}

TEST_CASE("the report page carries lanes, arrows, elections and requests, and no raw </script>") {
  Stream s;
  const auto recording = temp_file("report.jsonl");
  {
    auto opened = RecordWriter::open(recording, header());
    auto& writer = std::get<RecordWriter>(opened);
    writer.write(s.election(2, proto::Ballot{1, 2, 5}));
    writer.write(s.tap(2, "out", "election", 0, proto::Ballot{1, 2, 5}));
    writer.write(s.tap(1, "in", "election", 0, proto::Ballot{1, 2, 5}));
    writer.write(s.heartbeat(2, 1, proto::Role::leader, 2));
    writer.write(s.tap(1, "in", "client", 0, request("</script>", 1)));
    writer.write(s.tap(1, "out", "peer", 2, proto::Relay{1, 1, 100, request("</script>", 1)}));
    writer.write(s.tap(2, "in", "peer", 1, proto::Relay{1, 1, 100, request("</script>", 1)}));
    writer.write(s.tap(2, "out", "peer", 1, proto::RelayReply{1, ok_reply("</script>", 1, 1, 1, 2, 1, 1)}));
    writer.write(s.tap(1, "in", "peer", 2, proto::RelayReply{1, ok_reply("</script>", 1, 1, 1, 2, 1, 1)}));
    writer.write(s.tap(1, "out", "client", 0, ok_reply("</script>", 1, 1, 1, 2, 1, 1)));
    // Heartbeat traffic draws no arrows: an append without entries, and the
    // second of two answers that say the same.
    for (int i = 0; i < 2; ++i) {
      writer.write(s.tap(2, "out", "peer", 1, proto::Append{1, 2, 1, 1, 1, 0, {}}));
      writer.write(s.tap(1, "in", "peer", 2, proto::Append{1, 2, 1, 1, 1, 0, {}}));
      writer.write(s.tap(1, "out", "peer", 2, proto::AppendReply{1, 1, true, 1, 0}));
      writer.write(s.tap(2, "in", "peer", 1, proto::AppendReply{1, 1, true, 1, 0}));
    }
  }
  auto built = build_report_model(recording);
  REQUIRE(std::holds_alternative<ReportModel>(built));
  const auto& model = std::get<ReportModel>(built);
  CHECK(model.clients.size() == 1);
  CHECK(model.requests.size() == 1);
  CHECK(model.elections.size() == 1);
  const auto relays = std::count_if(model.arrows.begin(), model.arrows.end(),
                                    [](const Arrow& a) { return a.type == "relay" && a.delivered && a.to == "node:2"; });
  CHECK(relays == 1);
  CHECK(std::any_of(model.arrows.begin(), model.arrows.end(),
                    [](const Arrow& a) { return a.type == "ballot" && a.from == "node:2" && a.to == "node:1"; }));
  CHECK(std::none_of(model.arrows.begin(), model.arrows.end(), [](const Arrow& a) { return a.type == "append"; }));
  CHECK(std::count_if(model.arrows.begin(), model.arrows.end(),
                      [](const Arrow& a) { return a.type == "append_reply" && a.delivered; }) == 1);
  const auto page = render_report(model);
  CHECK(page.find("/*RELAY_REPORT_DATA*/") == std::string::npos);
  CHECK(page.find("\"requests\":[{") != std::string::npos);
  const auto data = page.substr(page.find("id=\"data\""));
  CHECK(data.find("</script>") == data.find("</script>\n<script>"));  // only the element's own end
  std::filesystem::remove(recording);
}

}  // namespace
}  // namespace relay::monitor
