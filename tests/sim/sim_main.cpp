// relay-sim: the deterministic simulator. For each seed it builds a cluster,
// runs a fault phase (random delays, loss, duplication, late delivery,
// partitions including one-way ones, crashes also in the middle of a step,
// restarts) with the safety checker after every step, then a healed phase that
// must reach one leader agreed by every node, answer every outstanding client
// request within a bound, and keep that leader while clients go on and a
// follower restarts.
//
// Environment:
//   RELAY_SIM_SEED=N        replay seed N alone and print its full trace
//   RELAY_SIM_SEEDS=N       how many seeds to run (default 500)
//   RELAY_SIM_FIRST_SEED=N  the first seed (default 1)
//   RELAY_SIM_KEEP_GOING=1  report every failing seed in one line and go on
// On a failure it prints the seed, the reason and the last 300 trace lines,
// and exits 1. docs/simulator.md explains what is checked.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "sim/checker.hpp"
#include "sim/cluster.hpp"

namespace relay::sim {
namespace {

constexpr std::size_t kTraceTailLines = 300;

// Everything a seed decides before the first millisecond.
struct Scenario {
  std::uint64_t seed = 0;
  ClusterConfig config;
  std::uint64_t fault_ms = 0;

  std::string describe() const {
    const auto& t = config.timing;
    return std::to_string(config.nodes) + " nodes, heartbeat " + std::to_string(t.heartbeat_ms) +
           " ms, election timeout " + std::to_string(t.election_timeout_ms) + " ms, request timeout " +
           std::to_string(t.request_timeout_ms) + " ms, " + std::to_string(config.clients) +
           " clients, fault phase " + std::to_string(fault_ms) + " ms";
  }
};

// Mostly the production shape (3 nodes, 50/300 ms); a fraction of seeds use
// the other cluster sizes and ten-times-faster timers.
Scenario scenario_for(std::uint64_t seed, core::Random& random) {
  Scenario s;
  s.seed = seed;
  const std::size_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 5, 5, 5};
  const auto size_draw = random.between(0, 20);
  s.config.nodes = size_draw < 10 ? sizes[size_draw] : 3;
  if (random.between(0, 4) == 0) s.config.timing = Timing{10, 100, 700};
  s.config.clients = static_cast<std::size_t>(random.between(1, 4));
  s.fault_ms = s.config.timing.election_timeout_ms * random.between(15, 50);
  return s;
}

// The link behaviour of the fault phase, one profile at a time.
Faults random_faults(core::Random& random, const Timing& timing) {
  const auto h = timing.heartbeat_ms;
  const auto e = timing.election_timeout_ms;
  Faults f;
  f.max_delay_ms = h / 10;
  switch (random.between(0, 6)) {
    case 0: break;  // calm
    case 1: f.max_delay_ms = random.between(h / 2, 2 * h); break;  // slow
    case 2: f.drop_per_mille = static_cast<std::uint32_t>(random.between(100, 500)); break;
    case 3: f.duplicate_per_mille = static_cast<std::uint32_t>(random.between(100, 400)); break;
    case 4:  // late: stale messages arrive long after newer ones
      f.late_per_mille = static_cast<std::uint32_t>(random.between(50, 300));
      f.late_delay_ms = random.between(e / 2, 2 * e);
      break;
    default:  // everything at once
      f.drop_per_mille = static_cast<std::uint32_t>(random.between(0, 300));
      f.duplicate_per_mille = static_cast<std::uint32_t>(random.between(0, 300));
      f.late_per_mille = static_cast<std::uint32_t>(random.between(0, 200));
      f.late_delay_ms = random.between(0, 2 * e);
      f.max_delay_ms = random.between(0, h);
      break;
  }
  return f;
}

NodeId pick(core::Random& random, const std::vector<NodeId>& from) {
  return from.at(random.between(0, from.size()));
}

void inject_fault(Cluster& cluster, core::Random& random, const Timing& timing) {
  const auto& members = cluster.members();
  std::vector<NodeId> up, down;
  for (NodeId id : members) (cluster.is_up(id) ? up : down).push_back(id);
  const auto draw = random.between(0, 100);
  if (draw < 20) {
    const auto f = random_faults(random, timing);
    cluster.network().set_faults(f);
    cluster.note("fault: links drop=" + std::to_string(f.drop_per_mille) + "‰ dup=" +
                 std::to_string(f.duplicate_per_mille) + "‰ late=" + std::to_string(f.late_per_mille) +
                 "‰ (+" + std::to_string(f.late_delay_ms) + " ms) delay<=" +
                 std::to_string(f.max_delay_ms) + " ms");
  } else if (draw < 32) {
    std::vector<NodeId> side;
    for (NodeId id : members) {
      if (random.between(0, 2) == 0) side.push_back(id);
    }
    cluster.network().split(side);
  } else if (draw < 42) {
    const auto cuts = random.between(1, 4);
    for (std::uint64_t i = 0; i < cuts; ++i) cluster.network().cut(pick(random, members), pick(random, members));
  } else if (draw < 47) {
    cluster.network().isolate(pick(random, members));
  } else if (draw < 52) {
    // A false connection hint: a blip, or a monitor event of an old connection.
    const NodeId node = pick(random, members), peer = pick(random, members);
    const bool connected = random.between(0, 2) == 0;
    cluster.hint_connection(node, peer, connected);
    cluster.note("fault: hint to n" + std::to_string(node) + ": connection to n" + std::to_string(peer) +
                 (connected ? " up" : " closed"));
    return;
  } else if (draw < 62) {
    cluster.network().heal();
  } else if (draw < 80 && !up.empty()) {
    const NodeId victim = pick(random, up);
    const bool mid_step = random.between(0, 10) < 3;
    cluster.crash(victim, mid_step);
    if (!mid_step && random.between(0, 4) == 0) cluster.restart(victim);  // a quick restart
    return;
  } else if (!down.empty()) {
    cluster.restart(pick(random, down));
    return;
  } else {
    cluster.network().heal();
  }
  if (draw >= 20) cluster.note("fault: cut links " + cluster.network().describe_cuts());
}

class Run {
 public:
  Run(const Scenario& scenario, core::Random& random, Trace& trace)
      : scenario_(scenario),
        random_(random),
        checker_(member_ids(scenario.config.nodes), scenario.config.timing.request_timeout_ms),
        cluster_(scenario.config, random, trace, checker_) {}

  // Empty on success, otherwise what went wrong.
  std::string run() {
    fault_phase();
    if (failure_.empty() && !checker_.failed()) healed_phase();
    if (checker_.failed()) return "safety: " + checker_.failure();
    if (!failure_.empty()) return failure_;
    // Rule "linearizable": the clients' history, replies and all, fits one
    // order of the operations that respects real time.
    cluster_.finish_history();
    const auto verdict = check::check(cluster_.history());
    if (!verdict.linearizable && !verdict.exhausted) return "linearizability: " + verdict.explanation;
    return {};
  }

  const Cluster& cluster() const { return cluster_; }
  const Checker& checker() const { return checker_; }

 private:
  static std::vector<NodeId> member_ids(std::size_t nodes) {
    std::vector<NodeId> ids;
    for (std::size_t i = 1; i <= nodes; ++i) ids.push_back(static_cast<NodeId>(i));
    return ids;
  }

  const Timing& timing() const { return scenario_.config.timing; }

  // Runs until `done` or `bound_ms` passed; false if the bound passed first.
  template <typename Done>
  bool run_until(std::uint64_t bound_ms, Done done) {
    const auto until = cluster_.now_ms() + bound_ms;
    while (cluster_.now_ms() < until && !checker_.failed()) {
      if (done()) return true;
      cluster_.advance_ms();
    }
    return done() && !checker_.failed();
  }

  void fault_phase() {
    const auto e = timing().election_timeout_ms;
    auto next_fault_ms = random_.between(e / 4, 3 * e);
    while (cluster_.now_ms() < scenario_.fault_ms && !checker_.failed()) {
      if (cluster_.now_ms() >= next_fault_ms) {
        inject_fault(cluster_, random_, timing());
        next_fault_ms = cluster_.now_ms() + random_.between(e / 4, 3 * e);
      }
      cluster_.advance_ms();
    }
  }

  void heal() {
    cluster_.network().heal();
    Faults calm;
    calm.max_delay_ms = timing().heartbeat_ms / 10;
    cluster_.network().set_faults(calm);
    cluster_.cancel_mid_step_crashes();
    for (NodeId id : cluster_.members()) cluster_.restart(id);
  }

  void healed_phase() {
    const auto e = timing().election_timeout_ms;
    const auto request_ms = timing().request_timeout_ms;
    cluster_.note("healed: every node up, links whole, only small delays");
    heal();
    cluster_.set_clients_active(false);
    const auto settle_bound_ms = 2 * request_ms + 20 * e;
    const auto settled = [&] { return cluster_.agreed_leader() && cluster_.clients_idle(); };
    const auto healed_at_ms = cluster_.now_ms();
    if (!run_until(settle_bound_ms, settled)) {
      return fail_liveness("no agreed leader with every request answered within " +
                           std::to_string(settle_bound_ms) + " ms of healing");
    }
    // Right after healing, nodes may agree on a leader that has not heard a
    // majority for an election timeout (it was cut off until now): its
    // check-quorum may still, rightly, make it step down. Two heartbeat rounds
    // after healing it has heard everyone again. No longer: packets delayed in
    // the fault phase still arrive, and a healthy cluster must shrug them off.
    const auto round_trip_ms = 2 * (timing().heartbeat_ms + cluster_.network().faults().max_delay_ms + 1);
    if (cluster_.now_ms() < healed_at_ms + round_trip_ms) {
      run_until(healed_at_ms + round_trip_ms - cluster_.now_ms(), [] { return false; });
    }
    if (!checker_.failed() && !run_until(settle_bound_ms, settled)) {
      return fail_liveness("no agreed leader again within " + std::to_string(settle_bound_ms) +
                           " ms after a first agreement " +
                           std::to_string(cluster_.now_ms() - healed_at_ms) + " ms after healing");
    }
    stability_window();
  }

  // Rule "stability": a healthy cluster keeps its leader, also while clients
  // are busy and a follower restarts.
  void stability_window() {
    const auto e = timing().election_timeout_ms;
    const NodeId leader = *cluster_.agreed_leader();
    const Term term = cluster_.node(leader)->term();
    cluster_.note("agreed: n" + std::to_string(leader) + " leads term " + std::to_string(term));
    cluster_.set_clients_active(true);
    const auto window_ms = 20 * e;
    const auto restart_at_ms = cluster_.now_ms() + window_ms / 2;
    const auto end_ms = cluster_.now_ms() + window_ms;
    bool restarted = cluster_.members().size() == 1;
    while (cluster_.now_ms() < end_ms && !checker_.failed()) {
      if (!restarted && cluster_.now_ms() >= restart_at_ms) {
        NodeId follower;
        do follower = pick(random_, cluster_.members()); while (follower == leader);
        cluster_.note("stability: restarting follower n" + std::to_string(follower));
        cluster_.crash(follower, false);
        cluster_.restart(follower);
        restarted = true;
      }
      cluster_.advance_ms();
      const auto* node = cluster_.node(leader);
      if (node->role() != proto::Role::leader || node->term() != term) {
        return fail_liveness("the leader n" + std::to_string(leader) + " of term " +
                             std::to_string(term) + " lost its leadership in a healthy cluster");
      }
    }
    cluster_.set_clients_active(false);
    const auto drain_bound_ms = timing().request_timeout_ms + 10 * e;
    if (!run_until(drain_bound_ms, [&] {
          return cluster_.clients_idle() && cluster_.agreed_leader() == leader;
        })) {
      return fail_liveness("requests sent to a stable cluster not all answered within " +
                           std::to_string(drain_bound_ms) + " ms");
    }
  }

  void fail_liveness(const std::string& what) {
    if (checker_.failed()) return;
    failure_ = "liveness: " + what + "; nodes: " + cluster_.describe_nodes() +
               "; waiting clients: " + cluster_.describe_busy_clients();
  }

  const Scenario& scenario_;
  core::Random& random_;
  Checker checker_;
  Cluster cluster_;
  std::string failure_;
};

std::optional<std::uint64_t> env_number(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  const auto value = std::strtoull(text, &end, 10);
  if (*end != '\0') {
    std::fprintf(stderr, "relay-sim: %s=%s is not a number\n", name, text);
    std::exit(2);
  }
  return value;
}

struct Totals {
  std::uint64_t simulated_ms = 0;
  std::uint64_t leaders = 0;
  std::uint64_t executions = 0;
  std::uint64_t accepted = 0;
  std::uint64_t attempts = 0;
  std::uint64_t steps = 0;
};

// Runs one seed; prints a report and returns false on failure.
bool run_seed(std::uint64_t seed, bool replay, bool brief, Totals& totals) {
  core::Random random(seed);
  const auto scenario = scenario_for(seed, random);
  Trace trace(replay ? 0 : kTraceTailLines, replay);
  if (replay) std::printf("relay-sim: seed %llu: %s\n", static_cast<unsigned long long>(seed),
                          scenario.describe().c_str());
  Run run(scenario, random, trace);
  const auto failure = run.run();
  const auto& cluster = run.cluster();
  totals.simulated_ms += cluster.now_ms();
  totals.leaders += run.checker().stats().terms_with_leader;
  totals.executions += run.checker().stats().executions;
  totals.accepted += cluster.client_stats().accepted;
  totals.attempts += cluster.client_stats().attempts;
  totals.steps += run.checker().stats().steps;
  if (failure.empty()) {
    if (replay) std::printf("relay-sim: seed %llu passed\n", static_cast<unsigned long long>(seed));
    return true;
  }
  if (brief) {
    std::printf("relay-sim: seed %llu FAILED at %llu ms: %s\n", static_cast<unsigned long long>(seed),
                static_cast<unsigned long long>(cluster.now_ms()), failure.c_str());
    return false;
  }
  if (!replay) {
    std::printf("relay-sim: last %zu trace lines of seed %llu:\n", kTraceTailLines,
                static_cast<unsigned long long>(seed));
    trace.dump_tail();
  }
  std::printf("relay-sim: seed %llu FAILED at %llu ms: %s\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(cluster.now_ms()), failure.c_str());
  std::printf("relay-sim: scenario: %s\n", scenario.describe().c_str());
  std::printf("relay-sim: replay with RELAY_SIM_SEED=%llu\n", static_cast<unsigned long long>(seed));
  return false;
}

}  // namespace
}  // namespace relay::sim

int main() {
  using namespace relay::sim;
  Totals totals;
  if (const auto seed = env_number("RELAY_SIM_SEED")) {
    return run_seed(*seed, true, false, totals) ? 0 : 1;
  }
  const auto count = env_number("RELAY_SIM_SEEDS").value_or(500);
  const auto first = env_number("RELAY_SIM_FIRST_SEED").value_or(1);
  const bool keep_going = env_number("RELAY_SIM_KEEP_GOING").value_or(0) != 0;
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t failed = 0;
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    if (run_seed(seed, false, keep_going, totals)) continue;
    ++failed;
    if (!keep_going) return 1;
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  if (failed != 0) {
    std::printf("relay-sim: %llu of %llu seeds FAILED (%.1f s)\n", static_cast<unsigned long long>(failed),
                static_cast<unsigned long long>(count), took.count());
    return 1;
  }
  std::printf(
      "relay-sim: %llu seeds (%llu..%llu) passed in %.1f s: %.0f s simulated, %llu steps, "
      "%llu leaders elected, %llu executions, %llu client requests accepted (%llu attempts)\n",
      static_cast<unsigned long long>(count), static_cast<unsigned long long>(first),
      static_cast<unsigned long long>(first + count - 1), took.count(),
      static_cast<double>(totals.simulated_ms) / 1000.0, static_cast<unsigned long long>(totals.steps),
      static_cast<unsigned long long>(totals.leaders), static_cast<unsigned long long>(totals.executions),
      static_cast<unsigned long long>(totals.accepted), static_cast<unsigned long long>(totals.attempts));
  return 0;
}
