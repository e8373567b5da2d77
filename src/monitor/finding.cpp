#include "monitor/finding.hpp"

#include <cstdio>
#include <ctime>

namespace relay::monitor {

Finding make_finding(std::string kind, std::uint64_t time_us, std::string text) {
  Finding finding{std::move(kind), time_us, std::move(text), {}};
  finding.json.field("event", finding.kind).field("time_us", time_us);
  return finding;
}

Finding alarm_finding(const Alarm& alarm) {
  auto finding = make_finding("alarm", alarm.time_us, "ALARM " + alarm.text);
  finding.json.field("alarm", alarm.type).field("node", alarm.node);
  if (alarm.other != proto::kNoNode) finding.json.field("other", alarm.other);
  if (alarm.term != 0) finding.json.field("term", alarm.term);
  if (alarm.type == kTapGap) finding.json.field("missed", alarm.missed);
  if (alarm.type == kSilent) finding.json.field("silent_ms", alarm.missed);
  if (!alarm.request.empty()) finding.json.field("request", alarm.request);
  finding.json.field("text", alarm.text);
  return finding;
}

std::string clock_text(std::uint64_t time_us) {
  const auto seconds = static_cast<std::time_t>(time_us / 1'000'000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::snprintf(text, sizeof text, "%02d:%02d:%02d.%03u", local.tm_hour, local.tm_min, local.tm_sec,
                static_cast<unsigned>(time_us / 1000 % 1000));
  return text;
}

}  // namespace relay::monitor
