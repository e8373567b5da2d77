#!/usr/bin/env python3
"""Failover benchmark (not a test): how long a 3-node cluster is unable to
answer when its leader fails.

For each timing (the defaults, 50 ms heartbeat / 300 ms election timeout, and
a fast one, 10 ms / 100 ms) and each way of failing (the leader's process is
killed with SIGKILL; the leader is frozen with SIGSTOP, its sockets still
open), it starts a fresh cluster, waits for a leader, fails it, and measures
from the failure to the next `ok` reply to a request sent to a random
surviving node (retried at once on any other answer). Prints median and
worst of RUNS runs and their ratio to the configured election timeout.

Usage:  /usr/bin/python3 bench/failover.py [RUNS]      (default 10)
        RELAY_BIN_DIR=build-dir to use other binaries.
"""

import random
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
import harness  # noqa: E402
import relay_proto as proto  # noqa: E402


class Session:
    """What harness.Cluster expects of its owner, outside a unittest."""

    def __init__(self):
        self.clusters = []
        self._cleanups = []

    def keep_dir(self, path):
        pass

    def addCleanup(self, function, *args):
        self._cleanups.append((function, args))

    def note(self, title, text):
        pass

    def close(self):
        while self._cleanups:
            function, args = self._cleanups.pop()
            function(*args)


def first_ok_after_failure(cluster, failed, rng):
    """Seconds from now until a request to a random survivor is answered ok."""
    survivors = [i for i in cluster.ids if i != failed]
    connections = {i: cluster.connect(i) for i in survivors}
    client_id = proto.new_client_id("bench")
    request_id = 0
    started = time.monotonic()
    while time.monotonic() - started < 10:
        request_id += 1
        node = rng.choice(survivors)
        reply = connections[node].request(client_id, request_id, b"probe",
                                          timeout_ms=2 * cluster.election_ms)
        if reply is not None and reply["status"] == "ok":
            return time.monotonic() - started
    raise RuntimeError("no ok reply within 10 s of the failure")


def one_run(heartbeat_ms, election_ms, how, rng):
    session = Session()
    try:
        cluster = harness.Cluster(session, 3, heartbeat_ms=heartbeat_ms, election_ms=election_ms)
        cluster.start(log_level="warn")
        leader, _ = cluster.wait_for_leader(timeout=10)
        # Let the connections settle (every node connected to every other).
        harness.wait_until(lambda: all(cluster.status(i)["heartbeat_age_ms"] < heartbeat_ms * 2
                                       for i in cluster.ids if i != leader), 5, "steady heartbeats")
        for i in cluster.ids:  # pre-connect, so connection set-up is not measured
            if i != leader:
                cluster.connect(i).status(1, 1.0)
        if how == "kill":
            cluster.send_signal(leader, signal.SIGKILL)
        else:
            cluster.pause(leader)
        elapsed = first_ok_after_failure(cluster, leader, rng)
        if how == "stop":
            cluster.resume(leader)
        return elapsed
    finally:
        session.close()


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    rng = random.Random(2026)
    print(f"failover of a 3-node cluster on loopback, {runs} runs each")
    print(f"{'timing':<22} {'failure':<16} {'median ms':>10} {'worst ms':>10} {'median/ET':>10} {'worst/ET':>9}")
    for heartbeat_ms, election_ms in ((50, 300), (10, 100)):
        for how, label in (("kill", "kill -9 leader"), ("stop", "SIGSTOP leader")):
            samples = [one_run(heartbeat_ms, election_ms, how, rng) * 1000 for _ in range(runs)]
            median = statistics.median(samples)
            worst = max(samples)
            print(f"{f'hb {heartbeat_ms} / et {election_ms} ms':<22} {label:<16} {median:>10.1f} {worst:>10.1f} "
                  f"{median / election_ms:>10.2f} {worst / election_ms:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
