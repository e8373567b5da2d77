#!/usr/bin/env python3
"""Monitor overhead benchmark (not a test): does a monitor cost the nodes
anything, even a monitor that stopped reading?

A node publishes its taps with non-blocking sends on an XPUB with a bounded
high-water mark, and only while someone subscribes. So a monitor that is
attached but frozen (SIGSTOP) should cost the cluster nothing: once its
queues are full the node drops taps instead of waiting. This measures it.

One 3-node cluster on loopback; in each round, `relay-client send --count N`
(requests to random nodes, so about two thirds are relayed) runs under three
conditions, in an order shuffled per round:
  none     no monitor at all (the nodes produce no taps)
  running  relay-monitor --json attached and reading
  stopped  relay-monitor attached, then SIGSTOPped before the load starts
It prints each run's client latency (p50, p99, mean from the client's own
latency_us), then the median over rounds per condition, the ratios to
`none`, and the run-to-run noise of `none`. After each stopped run the
monitor is resumed; the tap events it lost (its tap_gap alarms) show that
the nodes dropped rather than waited. A last, ten times longer run with the
monitor stopped overflows the nodes' tap queues (10,000 messages each).

Usage:  /usr/bin/python3 bench/monitor_overhead.py [ROUNDS] [COUNT]   (default 5 rounds of 3000)
        RELAY_BIN_DIR=build-dir to use other binaries.
"""

import json
import random
import signal
import statistics
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
import harness  # noqa: E402


class Bench(harness.ClusterTest):
    """harness.ClusterTest used outside a test run: the cluster's owner."""

    def runTest(self):  # unittest wants one; the benchmark drives itself
        pass

    def __init__(self):
        super().__init__()
        self.clusters, self.notes, self._dirs = [], [], []


def latencies(cluster, count):
    result = cluster.run_client("--json", "send", "bench", "--count", str(count), timeout=600)
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    replies = [row for row in rows if not row.get("summary")]
    failed = sum(1 for row in replies if row["status"] != "ok")
    if result.returncode != 0 or failed:
        raise RuntimeError(f"client failed ({failed} failed replies): {result.stderr[-500:]}")
    return sorted(row["latency_us"] for row in replies)


def figures(samples):
    p50 = samples[len(samples) // 2]
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return p50, p99, statistics.fmean(samples)


class Monitor:
    def __init__(self, cluster, number):
        self.out = cluster.dir / f"monitor-{number}.out"
        args = [harness.binary("relay-monitor"), "--config", cluster.config, "--json"]
        self.process = harness.Process(f"monitor {number}", args, self.out, stderr_path=cluster.dir / "m.err")
        cluster.processes.append(self.process)

    def events(self, kind):
        text = self.process.output()
        return [json.loads(line) for line in text.splitlines()
                if line.startswith("{") and json.loads(line)["event"] == kind]

    def wait_tapping(self, cluster):
        """Until the nodes' taps reach us: a request seen end to end on every
        node (a subscription takes a moment to reach a publisher)."""
        def seen_everywhere():
            for node in cluster.ids:
                cluster.run_client("send", "warm-up", "--node", str(node))
            return {r["received_by"] for r in self.events("request")} >= set(cluster.ids)
        harness.wait_until(seen_everywhere, 10, "the monitor to see requests on every node", interval=0.1)

    def missed_taps(self):
        return sum(alarm["missed"] for alarm in self.events("alarm") if alarm["alarm"] == "tap_gap")

    def stop(self):
        self.process.send_signal(signal.SIGCONT)
        self.process.send_signal(signal.SIGINT)
        self.process.wait_exit(10)


def run_condition(cluster, condition, count, number):
    if condition == "none":
        return figures(latencies(cluster, count)), ""
    monitor = Monitor(cluster, number)
    monitor.wait_tapping(cluster)
    note = ""
    if condition == "stopped":
        monitor.process.send_signal(signal.SIGSTOP)
    samples = latencies(cluster, count)
    if condition == "stopped":
        monitor.process.send_signal(signal.SIGCONT)
        time.sleep(1.0)  # let it read what waited in its queues and report the gaps
        note = f"taps lost while stopped: {monitor.missed_taps()}"
    monitor.stop()
    return figures(samples), note


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    bench = Bench()
    try:
        cluster = harness.Cluster(bench, 3)
        cluster.start(log_level="warn")
        cluster.wait_for_leader(timeout=10)
        conditions = ("none", "running", "stopped")
        results = {c: [] for c in conditions}
        print(f"client latency, 3 nodes on loopback, {count} requests to random nodes per run, {rounds} rounds")
        print(f"{'round':>5} {'condition':<9} {'p50 us':>8} {'p99 us':>8} {'mean us':>8}")
        number = 0
        order = random.Random(2026)
        for r in range(1, rounds + 1):
            # A fresh order each round, so that drift in the machine's load
            # does not always favour the same condition.
            for condition in order.sample(conditions, len(conditions)):
                number += 1
                (p50, p99, mean), note = run_condition(cluster, condition, count, number)
                results[condition].append((p50, p99, mean))
                print(f"{r:>5} {condition:<9} {p50:>8} {p99:>8} {mean:>8.0f}  {note}", flush=True)
        print("\nmedian over rounds (ratio to none)")
        base = [statistics.median(x[i] for x in results["none"]) for i in range(3)]
        for condition in conditions:
            medians = [statistics.median(x[i] for x in results[condition]) for i in range(3)]
            ratios = "  ".join(f"{m / b:.3f}" for m, b in zip(medians, base))
            print(f"  {condition:<9} p50 {medians[0]:>6.0f} us  p99 {medians[1]:>6.0f} us  "
                  f"mean {medians[2]:>6.0f} us   ratios p50/p99/mean {ratios}")
        long_count = 10 * count
        (p50, p99, mean), note = run_condition(cluster, "stopped", long_count, number + 1)
        print(f"\none long run with the monitor stopped, {long_count} requests, so that the nodes' tap queues"
              f" overflow:\n  p50 {p50} us  p99 {p99} us  mean {mean:.0f} us  {note}")
        p50s = [x[0] for x in results["none"]]
        print(f"\nrun-to-run noise of 'none': p50 from {min(p50s)} to {max(p50s)} us "
              f"({(max(p50s) - min(p50s)) / statistics.median(p50s) * 100:.1f}% of its median)")
    finally:
        bench.doCleanups()


if __name__ == "__main__":
    main()
