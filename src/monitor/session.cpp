#include "monitor/session.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include <zmq.hpp>

#include "monitor/record.hpp"
#include "monitor/subscriber.hpp"

namespace relay::monitor {
namespace {

// The live loop waits at most this long, then judges liveness.
constexpr std::chrono::milliseconds kTimeStep{kLivenessStepUs / 1000};

ViewOptions view_options(const RecordHeader& header, bool messages) {
  ViewOptions options;
  options.nodes = header.nodes;
  options.heartbeat_interval_ms = header.heartbeat_interval_ms;
  options.election_timeout_ms = header.election_timeout_ms;
  options.messages = messages;
  return options;
}

RecordHeader header_of(const config::Cluster& cluster, std::uint64_t started_us) {
  RecordHeader header;
  header.started_us = started_us;
  for (const auto& node : cluster.nodes) header.nodes.push_back(node.id);
  header.heartbeat_interval_ms = cluster.heartbeat_interval_ms;
  header.election_timeout_ms = cluster.election_timeout_ms;
  header.config = cluster.source.string();
  return header;
}

}  // namespace

int run_live(const config::Cluster& cluster, const LiveOptions& options, const std::atomic<bool>& stop) {
  const auto started_us = wall_clock_us();
  const auto header = header_of(cluster, started_us);
  std::optional<RecordWriter> recorder;
  if (options.record) {
    auto opened = RecordWriter::open(*options.record, header);
    if (auto* error = std::get_if<std::string>(&opened)) {
      std::fprintf(stderr, "relay-monitor: %s\n", error->c_str());
      return 1;
    }
    recorder.emplace(std::move(std::get<RecordWriter>(opened)));
  }
  try {
    Subscriber subscriber(cluster);
    ClusterView view(view_options(header, options.messages), started_us);
    Output output(options.mode, cluster.source.string());
    const auto deadline_us = started_us + static_cast<std::uint64_t>(options.duration_s * 1e6);
    while (!stop.load() && (options.duration_s <= 0 || wall_clock_us() < deadline_us)) {
      subscriber.poll(kTimeStep, [&](const Event& event) {
        if (recorder) recorder->write(event);
        output.show(view.on_event(event));
      });
      output.show(view.on_time(wall_clock_us()));
      output.refresh(view);
    }
    output.close(view);
  } catch (const zmq::error_t& error) {
    std::fprintf(stderr, "relay-monitor: cannot subscribe: %s\n", error.what());
    return 1;
  }
  if (recorder && recorder->failed()) {
    std::fprintf(stderr, "relay-monitor: writing %s failed; the recording is incomplete\n",
                 options.record->c_str());
    return 1;
  }
  return 0;
}

// Replays at the recorded pace (divided by the speed). The replay's clock is
// the recorded one, and liveness is judged at the moments the live loop
// judged it, so silence alarms come as they did live.
int run_replay(const std::filesystem::path& recording, const ReplayOptions& options, const std::atomic<bool>& stop) {
  std::optional<ClusterView> view;
  std::optional<Output> output;
  const auto wall_start = std::chrono::steady_clock::now();
  std::uint64_t first_us = 0;
  std::uint64_t last_us = 0;
  auto sleep_until = [&](std::uint64_t recorded_us) {
    if (options.speed <= 0 || recorded_us < first_us) return;
    const auto due = wall_start + std::chrono::microseconds(static_cast<std::int64_t>(
                                      static_cast<double>(recorded_us - first_us) / options.speed));
    while (!stop.load() && std::chrono::steady_clock::now() < due) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(due - std::chrono::steady_clock::now(),
                                                                                kTimeStep));
      output->refresh(*view);
    }
  };
  auto pass_time = [&](std::uint64_t next_us) {
    for (auto at_us : liveness_checks(last_us, next_us)) {
      if (stop.load()) return;
      sleep_until(at_us);
      output->show(view->on_time(at_us));
    }
  };
  const auto title = "replay of " + recording.string() +
                     (options.speed > 0 ? " at " + std::to_string(options.speed).substr(0, 4) + "x" : " (fast)");
  const auto result = read_record(
      recording,
      [&](const RecordHeader& header) {
        first_us = header.started_us;
        view.emplace(view_options(header, options.messages), header.started_us);
        output.emplace(options.mode, title);
      },
      [&](const Event& event) {
        pass_time(event.recv_us);
        sleep_until(event.recv_us);
        output->show(view->on_event(event));
        output->refresh(*view);
        last_us = std::max(last_us, event.recv_us);
        return !stop.load();
      });
  if (output) {
    pass_time(last_us + kSameBatchUs + 1);  // the look after the last batch
    output->refresh(*view, true);
    output->close(*view);
  }
  if (!result.error.empty()) {
    std::fprintf(stderr, "relay-monitor: %s\n", result.error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace relay::monitor
