"""Nothing acknowledged is lost: the replicated log on real processes.

Writers put unique values and append unique messages while nodes are killed
with SIGKILL, restarted, starved of disk space or left far behind; afterwards
every acknowledged write must read back, and the whole client history must be
linearizable (checked by relay-lincheck). Also: a torn log tail is cut off and
reported at start, and corruption before the tail stops the node with an error
naming the file and offset.
"""
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import unittest
from pathlib import Path

import harness
import relay_proto as rp
from harness import wait_until


def limit_file_size(pid, size):
    """No file of process `pid` may grow past `size` bytes (EFBIG, as on a
    full disk); None lifts the limit."""
    limit = "unlimited" if size is None else str(size)
    subprocess.run(["prlimit", f"--pid={pid}", f"--fsize={limit}:unlimited"], check=True)


class StoreCluster(harness.Cluster):
    """A cluster whose [cluster] section also sets fsync and snapshot_bytes."""

    def __init__(self, test, fsync="batch", snapshot_bytes=None, **options):
        self.fsync = fsync
        self.snapshot_bytes = snapshot_bytes
        super().__init__(test, **options)

    def config_text(self):
        text = super().config_text()
        extra = f"fsync = {self.fsync}\n"
        if self.snapshot_bytes:
            extra += f"snapshot_bytes = {self.snapshot_bytes}\n"
        return text.replace("data_dir = data\n", "data_dir = data\n" + extra, 1)

    def log_dir(self, node):
        return self.data_dir / f"node-{node}" / "log"


class History:
    """Every operation the writers issued, for relay-lincheck (JSON lines)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.operations = []

    def run(self, client, op, **fields):
        invoked = time.monotonic_ns()
        reply = client.request(op, **fields)
        completed = time.monotonic_ns()
        entry = {"id": 0, "client": client.client_id, "op": op, "invoked": invoked}
        for name in ("key", "value", "expected"):
            if name in fields:
                value = fields[name]
                entry[name] = value.decode() if isinstance(value, bytes) else value
        if "from_" in fields:
            entry["from"] = fields["from_"]
            entry["count"] = fields.get("count", 0)
        if reply is not None and reply["status"] == "ok":
            entry.update(outcome="ok", completed=completed, found=bool(reply["found"]),
                         result_value=reply["value"].decode(), position=reply["position"],
                         values=[v.decode() for v in reply["values"]])
        elif reply is not None and reply["status"] == "bad_request":
            entry.update(outcome="failed", completed=completed)
        else:
            entry.update(outcome="unknown")
        with self.lock:
            entry["id"] = len(self.operations) + 1
            self.operations.append(entry)
        return reply

    def check(self, test, directory):
        path = Path(directory) / "history.jsonl"
        with open(path, "w") as out:
            for entry in self.operations:
                out.write(json.dumps(entry) + "\n")
        result = subprocess.run([harness.binary("relay-lincheck"), str(path)], capture_output=True,
                                text=True, timeout=120)
        test.note("relay-lincheck", result.stdout + result.stderr)
        test.assertEqual(result.returncode, 0, f"history not linearizable:\n{result.stdout}{result.stderr}")


class Writers:
    """Threads that each put unique values to their own keys and append unique
    messages to the stream, until stopped; they remember what was acknowledged."""

    def __init__(self, test, cluster, history, count=3):
        self.cluster = cluster
        self.history = history
        self.stop = threading.Event()
        self.acked_puts = {}      # key -> value acknowledged last
        self.acked_appends = {}   # message -> position its reply named
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(count)]
        test.addCleanup(self.finish)

    def start(self):
        for thread in self.threads:
            thread.start()

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def acknowledged(self):
        with self.lock:
            return len(self.acked_puts) + len(self.acked_appends)

    def _run(self, number):
        endpoints = [self.cluster.endpoint(i) for i in self.cluster.ids]
        with rp.Client(self.cluster.context, endpoints, client_id=f"writer{number}",
                       timeout_ms=3000, attempts=6, seed=number) as client:
            sequence = 0
            while not self.stop.is_set():
                sequence += 1
                if sequence % 3:
                    key, value = f"w{number}-k{sequence % 7}", f"w{number}-v{sequence}"
                    reply = self.history.run(client, "put", key=key, value=value)
                    if reply is not None and reply["status"] == "ok":
                        with self.lock:
                            self.acked_puts[key] = value
                else:
                    message = f"w{number}-m{sequence}"
                    reply = self.history.run(client, "append", value=message)
                    if reply is not None and reply["status"] == "ok":
                        with self.lock:
                            self.acked_appends[message] = reply["position"]


class DurabilityTest(harness.ClusterTest):

    def read_everything(self, cluster, writers, history):
        """Every acknowledged put reads back its value (or a later put of the
        same writer that was in flight when the nodes died); every
        acknowledged append is in the stream once, at the position its reply
        named."""
        endpoints = [cluster.endpoint(i) for i in cluster.ids if cluster.running(i)]
        with rp.Client(cluster.context, endpoints, client_id="reader", timeout_ms=5000, attempts=8) as reader:
            for key, value in sorted(writers.acked_puts.items()):
                reply = history.run(reader, "get", key=key)
                self.assertIsNotNone(reply, f"no answer reading {key}")
                self.assertEqual(reply["status"], "ok", reply)
                self.assertTrue(reply["found"], f"acknowledged key {key} is gone")
                # The last acknowledged value, or a later put of the same writer
                # whose outcome it never learned (the nodes died under it).
                got = reply["value"].decode()
                self.assertEqual(got.split("-v")[0], value.split("-v")[0], f"key {key}: {got}")
                self.assertGreaterEqual(int(got.split("-v")[1]), int(value.split("-v")[1]),
                                        f"key {key} lost its acknowledged value {value}: {got}")
            stream = []
            while True:
                reply = history.run(reader, "read", from_=len(stream) + 1, count=1000)
                self.assertIsNotNone(reply)
                self.assertEqual(reply["status"], "ok", reply)
                if not reply["values"]:
                    break
                stream.extend(v.decode() for v in reply["values"])
        positions = {}
        for position, message in enumerate(stream, start=1):
            self.assertNotIn(message, positions, f"{message} appended twice")
            positions[message] = position
        for message, position in writers.acked_appends.items():
            self.assertEqual(positions.get(message), position, f"acknowledged append {message}")
        return len(writers.acked_puts), len(stream)

    def test_killing_the_leader_and_then_every_node_loses_no_acknowledged_write(self):
        cluster = StoreCluster(self, fsync="batch")
        cluster.start()
        cluster.wait_for_leader()
        history = History()
        writers = Writers(self, cluster, history)
        writers.start()
        wait_until(lambda: writers.acknowledged() >= 100, 30, "100 acknowledged writes")
        leader, _ = cluster.wait_for_leader()
        cluster.kill(leader)
        before = writers.acknowledged()
        wait_until(lambda: writers.acknowledged() >= before + 100, 30, "100 more writes after the leader died")
        cluster.start(leader)
        wait_until(lambda: writers.acknowledged() >= before + 200, 30, "writes with the old leader back")
        for node in cluster.ids:  # every node dies at once, mid-write
            cluster.kill(node)
        writers.finish()
        cluster.start()
        cluster.wait_for_leader(timeout=10)
        puts, stream = self.read_everything(cluster, writers, history)
        self.note("read back", f"{puts} keys, {stream} stream messages, {len(history.operations)} operations")
        history.check(self, cluster.dir)

    def test_always_mode_survives_the_same(self):
        cluster = StoreCluster(self, fsync="always")
        cluster.start()
        cluster.wait_for_leader()
        history = History()
        writers = Writers(self, cluster, history, count=2)
        writers.start()
        wait_until(lambda: writers.acknowledged() >= 60, 30, "60 acknowledged writes")
        for node in cluster.ids:
            cluster.kill(node)
        writers.finish()
        cluster.start()
        cluster.wait_for_leader(timeout=10)
        self.read_everything(cluster, writers, history)
        history.check(self, cluster.dir)

    def test_a_follower_far_behind_catches_up_through_a_snapshot(self):
        cluster = StoreCluster(self, snapshot_bytes=4096)
        cluster.start()
        leader, _ = cluster.wait_for_leader()
        behind = next(i for i in cluster.ids if i != leader)
        cluster.stop(behind)
        history = History()
        with rp.Client(cluster.context, [cluster.endpoint(i) for i in cluster.ids if i != behind],
                       client_id="bulk", timeout_ms=3000) as client:
            for i in range(400):
                reply = history.run(client, "put", key=f"bulk{i % 50}", value=f"value-{i}-" + "x" * 40)
                self.assertEqual(reply["status"], "ok", reply)
        leader_status = cluster.status(leader)
        self.assertGreater(leader_status["commit_index"], 400)
        snapshots = [p.name for p in cluster.log_dir(leader).iterdir() if p.name.startswith("snapshot")]
        self.assertTrue(snapshots, "the leader took no snapshot past snapshot_bytes")
        cluster.start(behind)
        wait_until(lambda: (cluster.status(behind) or {}).get("applied_index", 0) >= leader_status["commit_index"],
                   15, f"node {behind} catching up")
        self.assertTrue(any(p.name.startswith("snapshot") for p in cluster.log_dir(behind).iterdir()),
                        "the follower caught up without the snapshot")
        # The caught-up node must hold the data: leave it with one other node.
        cluster.kill(leader)
        cluster.wait_for_leader(ids=[i for i in cluster.ids if i != leader], timeout=10)
        with rp.Client(cluster.context, [cluster.endpoint(behind)], client_id="check", timeout_ms=3000) as client:
            for k in range(50):
                reply = history.run(client, "get", key=f"bulk{k}")
                self.assertEqual(reply["status"], "ok", reply)
                last = max(i for i in range(400) if i % 50 == k)
                self.assertEqual(reply["value"].decode(), f"value-{last}-" + "x" * 40)
        history.check(self, cluster.dir)

    def stopped_node_with_log(self, writes=30):
        cluster = StoreCluster(self)
        cluster.start()
        cluster.wait_for_leader()
        with rp.Client(cluster.context, [cluster.endpoint(i) for i in cluster.ids], client_id="fill") as client:
            for i in range(writes):
                self.assertEqual(client.put(f"k{i}", f"v{i}")["status"], "ok")
        leader, _ = cluster.wait_for_leader()
        victim = next(i for i in cluster.ids if i != leader)
        wait_until(lambda: (cluster.status(victim) or {}).get("last_index", 0) >= writes, 5, "the follower's log")
        cluster.stop(victim)
        segments = sorted(cluster.log_dir(victim).glob("*.seg"))
        self.assertTrue(segments)
        return cluster, victim, segments[-1]

    def test_a_torn_tail_is_cut_off_and_reported(self):
        cluster, victim, segment = self.stopped_node_with_log()
        size = segment.stat().st_size
        with open(segment, "r+b") as f:  # the last record loses its end, as after a crash mid-write
            f.truncate(size - 5)
        cluster.start(victim)
        log = cluster.nodes[victim]
        wait_until(lambda: "torn" in log.output().lower() or "truncat" in log.output().lower(), 5,
                   "a report of the torn tail", detail=log.output)
        wait_until(lambda: (cluster.status(victim) or {}).get("last_index", 0) >= 31, 10, "the follower repaired")
        self.assertTrue(log.running())

    def test_corruption_before_the_tail_stops_the_node_with_a_clear_error(self):
        cluster, victim, segment = self.stopped_node_with_log()
        with open(segment, "r+b") as f:  # a byte in the middle of an early record
            f.seek(40)
            byte = f.read(1)
            f.seek(40)
            f.write(bytes([byte[0] ^ 0xFF]))
        cluster.start(victim)
        log = cluster.nodes[victim]
        log.wait_exit(10, "the node refusing a corrupt log")
        self.assertNotEqual(log.returncode, 0)
        text = log.output() + log.stderr()
        self.assertIn(segment.name, text)
        self.assertIn("offset", text)
        # The others keep serving.
        others = [i for i in cluster.ids if i != victim]
        with rp.Client(cluster.context, [cluster.endpoint(i) for i in others], client_id="after") as client:
            self.assertEqual(client.put("after", "corruption")["status"], "ok")

    def test_a_node_whose_disk_is_full_steps_down_and_keeps_serving(self):
        cluster = StoreCluster(self)
        cluster.start()
        leader, _ = cluster.wait_for_leader()
        history = History()
        with rp.Client(cluster.context, [cluster.endpoint(leader)], client_id="fill") as client:
            for i in range(40):
                self.assertEqual(history.run(client, "put", key=f"fill{i}", value="x" * 100)["status"], "ok")
        pid = cluster.nodes[leader].popen.pid
        # The log can grow no more (writes past the segment's size fail with
        # EFBIG, as on a full disk); the small state file still fits.
        segment = max(cluster.log_dir(leader).glob("*.seg"))
        limit_file_size(pid, segment.stat().st_size)
        with rp.Client(cluster.context, [cluster.endpoint(i) for i in cluster.ids], client_id="full",
                       timeout_ms=3000, attempts=6) as client:
            for i in range(20):
                reply = history.run(client, "put", key=f"f{i}", value=f"v{i}")
                self.assertEqual(reply["status"], "ok", reply)
        new_leader, _ = cluster.wait_for_leader()
        self.assertNotEqual(new_leader, leader, "a leader that cannot write must not keep leading")
        self.assertTrue(cluster.nodes[leader].running())
        # It still answers its clients (relaying to the new leader).
        with rp.Client(cluster.context, [cluster.endpoint(leader)], client_id="via-full", timeout_ms=3000) as client:
            reply = history.run(client, "get", key="f19")
            self.assertEqual(reply["status"], "ok", reply)
            self.assertEqual(reply["value"], b"v19")
        limit_file_size(pid, None)
        target = cluster.status(new_leader)["commit_index"]
        wait_until(lambda: (cluster.status(leader) or {}).get("applied_index", 0) >= target, 10,
                   "the node catching up once it can write")
        self.assertIn("cannot write", cluster.nodes[leader].output())
        history.check(self, cluster.dir)

    def test_a_node_that_cannot_store_its_term_goes_quiet_and_comes_back(self):
        cluster = StoreCluster(self)
        cluster.start()
        leader, term = cluster.wait_for_leader()
        history = History()
        with rp.Client(cluster.context, [cluster.endpoint(leader)], client_id="before") as client:
            self.assertEqual(history.run(client, "put", key="before", value="v")["status"], "ok")
        quiet, other = [i for i in cluster.ids if i != leader]
        pid = cluster.nodes[quiet].popen.pid
        # No file can grow past 16 bytes: the state file (term and vote) cannot
        # be written, nor the log (nor the node's own output file, so what it
        # says about it is read afterwards).
        limit_file_size(pid, 16)
        cluster.kill(leader)
        log = cluster.nodes[quiet]
        # It hears the other survivor's ballot of a later term, adopts the term
        # in memory and cannot store it.
        wait_until(lambda: (cluster.status(quiet) or {}).get("term", 0) > term, 10,
                   "the node hearing of a later term")
        # The other survivor needs its vote, which it may not give: no leader.
        row = cluster.status(other)
        self.assertNotEqual(row and row["role"], "leader", row)
        self.assertTrue(log.running(), "a node that cannot store its term must keep running")
        self.assertIsNotNone(cluster.status(quiet), "it still answers its clients")
        stored = int(re.search(r"^term (\d+)$", cluster.state_file(quiet).read_text(), re.M).group(1))
        self.assertEqual(stored, term, "the state file changed although it could not be written")
        limit_file_size(pid, None)
        new_leader, new_term = cluster.wait_for_leader([quiet, other], timeout=10)
        self.assertGreater(new_term, term)
        wait_until(lambda: "speaking to its peers again" in log.output(), 5, "the node speaking again",
                   detail=log.output)
        with rp.Client(cluster.context, [cluster.endpoint(quiet)], client_id="after", timeout_ms=3000) as client:
            self.assertEqual(history.run(client, "put", key="after", value="w")["status"], "ok")
            reply = history.run(client, "get", key="before")
            self.assertEqual((reply["status"], reply["value"]), ("ok", b"v"), reply)
        stored = int(re.search(r"^term (\d+)$", cluster.state_file(quiet).read_text(), re.M).group(1))
        self.assertGreaterEqual(stored, new_term)
        history.check(self, cluster.dir)

    def test_a_cluster_of_one_never_shows_a_write_its_disk_refused(self):
        """Room for a noop but not for the put: the put fails, is retried
        (same request id) into a new term whose noop does fit, and must still
        fail — never be applied, answered ok, or read back."""
        cluster = StoreCluster(self, fsync="always", size=1)
        cluster.start()
        cluster.wait_for_leader()
        history = History()
        with rp.Client(cluster.context, [cluster.endpoint(1)], client_id="one", timeout_ms=1500,
                       attempts=4) as client:
            self.assertEqual(history.run(client, "put", key="k", value="v1")["status"], "ok")
            segment = max(cluster.log_dir(1).glob("*.seg"))
            pid = cluster.nodes[1].popen.pid
            limit_file_size(pid, segment.stat().st_size + 100)
            reply = history.run(client, "put", key="k", value="v2-" + "x" * 120)
            self.assertNotEqual(reply and reply["status"], "ok", reply)
            reply = history.run(client, "get", key="k")
            if reply is not None and reply["status"] == "ok":
                self.assertEqual(reply["value"], b"v1", "a write the disk refused is visible")
            limit_file_size(pid, None)
            reply = wait_until(lambda: (lambda r: r if r and r["status"] == "ok" else None)(
                history.run(client, "get", key="k")), 10, "the node serving again")
            self.assertEqual(reply["value"], b"v1")
        self.assertEqual(cluster.stop(1)[0], 0)
        cluster.start(1)
        cluster.wait_for_leader()
        with rp.Client(cluster.context, [cluster.endpoint(1)], client_id="after", timeout_ms=3000) as client:
            reply = history.run(client, "get", key="k")
            self.assertEqual((reply["status"], reply["value"]), ("ok", b"v1"), reply)
        history.check(self, cluster.dir)


if __name__ == "__main__":
    unittest.main()
