"""Integration-test harness: real relay-node processes on loopback.

A `Cluster` writes a configuration file into a fresh temporary directory,
with ports picked at run time and a temporary data_dir, starts `relay-node`
processes from it (or `relay-cluster`), captures every process's output to a
file, and always cleans up: processes are killed through `addCleanup`, so a
failing or erroring test leaves nothing running. When a test fails, the
output of every process it started is printed.

Nothing here sleeps for a fixed time: every wait is `wait_until(condition,
timeout, what)`, a condition polled until a deadline.

Environment:
  RELAY_BIN_DIR   directory with relay-node, relay-client, relay-cluster
                  (set by CTest; defaults to ../../build)
  RELAY_KEEP_TMP  if set, temporary directories are kept and their paths printed
"""

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import shutil
import time
import unittest
from pathlib import Path

import zmq

import relay_proto as proto

HERE = Path(__file__).resolve().parent
BIN_DIR = Path(os.environ.get("RELAY_BIN_DIR", HERE.parent.parent / "build")).resolve()
ENDPOINT_KEYS = ("client", "peer", "election", "monitor")


def binary(name):
    path = BIN_DIR / name
    if not path.exists():
        raise unittest.SkipTest(f"{path} is not built (set RELAY_BIN_DIR)")
    return str(path)


def report(text):
    """A measured figure or other information worth seeing in the test log."""
    print(f"    [measure] {text}", file=sys.stderr, flush=True)


def wait_until(condition, timeout, what, interval=0.01, detail=None):
    """Polls `condition()` until it returns something truthy, and returns
    that; fails the test after `timeout` seconds naming `what` (and, if given,
    `detail()`, e.g. the last state seen)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"; last seen: {detail()}" if detail else ""
            raise AssertionError(f"timed out after {timeout:.2f} s waiting for {what}{extra}")
        time.sleep(interval)


def observe(duration, check, interval=0.02):
    """Calls `check()` (which asserts) repeatedly for `duration` seconds: an
    observation window in which something must keep holding."""
    end = time.monotonic() + duration
    count = 0
    while True:
        check()
        count += 1
        if time.monotonic() >= end:
            return count
        time.sleep(interval)


# ---- ports ----

_handed_out = set()


def _ephemeral_range():
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_ports(count):
    """`count` distinct loopback TCP ports that are free now.

    Binding to port 0 would hand out ports from the kernel's ephemeral range,
    and the nodes' own outgoing connections (to each other, started a few
    milliseconds earlier) draw their source ports from that same range: a
    node could then find its port taken by a sibling's connection. So the
    ports are drawn at random from below (or above) the ephemeral range and
    each is proven free by binding it, all held until the set is complete.
    """
    low, high = _ephemeral_range()
    pool = (10000, low - 1) if low - 1 - 10000 >= 5000 else (high + 1, 65535)
    rng = random.SystemRandom()
    held = []
    try:
        while len(held) < count:
            port = rng.randint(*pool)
            if port in _handed_out:
                continue
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                probe.close()
                continue
            held.append(probe)
            _handed_out.add(port)
        return [probe.getsockname()[1] for probe in held]
    finally:
        for probe in held:
            probe.close()


def tcp(port):
    return f"tcp://127.0.0.1:{port}"


# ---- processes ----

def children_of(pid):
    """Direct children of a process, from /proc."""
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            found.extend(int(child) for child in text.split())
    except OSError:
        pass
    return found


def is_alive(pid):
    """True if `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class Process:
    """One program started by a test, output captured to a file, in its own
    process group so that cleanup reaches its children too."""

    def __init__(self, name, args, log_path, stderr_path=None, env=None):
        self.name = name
        self.args = [str(a) for a in args]
        self.log_path = Path(log_path)
        self.stderr_path = Path(stderr_path) if stderr_path else None
        with open(self.log_path, "ab") as log:
            log.write(f"=== {time.strftime('%H:%M:%S')} {' '.join(self.args)}\n".encode())
        self._log = open(self.log_path, "ab")
        self._err = open(self.stderr_path, "ab") if self.stderr_path else None
        self.started_at = time.monotonic()
        self.popen = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=self._err or subprocess.STDOUT,
                                      start_new_session=True, env=env)
        self.pid = self.popen.pid

    def running(self):
        return self.popen.poll() is None

    @property
    def returncode(self):
        return self.popen.poll()

    def send_signal(self, sig):
        if self.running():
            self.popen.send_signal(sig)

    def wait_exit(self, timeout, what=None):
        """Waits (polling, with a deadline) for the process to exit; returns
        its exit code."""
        wait_until(lambda: self.popen.poll() is not None, timeout,
                   what or f"{self.name} (pid {self.pid}) to exit", interval=0.005)
        return self.popen.returncode

    def kill_group(self):
        """SIGKILL to the process group this process leads (its own children
        included), then reap it."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.close_files()

    def close_files(self):
        for f in (self._log, self._err):
            if f and not f.closed:
                f.close()

    def output(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stderr(self):
        if not self.stderr_path:
            return self.output()
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""


def run_program(args, timeout=15, input_text=None):
    """Runs a program to completion (bounded) and returns the CompletedProcess."""
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL if input_text is None else None, input=input_text)


# ---- the cluster ----

class Cluster:
    """A configuration file with `size` nodes (plus `spare` configured slots
    that the test may use for its own sockets), in a temporary directory."""

    def __init__(self, test, size=3, spare=0, heartbeat_ms=50, election_ms=300,
                 request_timeout_ms=2000):
        self.test = test
        self.dir = Path(tempfile.mkdtemp(prefix="relay-it-"))
        test.keep_dir(self.dir)
        self.ids = list(range(1, size + 1))
        self.all_ids = list(range(1, size + spare + 1))
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.request_timeout_ms = request_timeout_ms
        ports = iter(free_ports(len(self.all_ids) * len(ENDPOINT_KEYS)))
        self.endpoints = {i: {key: tcp(next(ports)) for key in ENDPOINT_KEYS} for i in self.all_ids}
        self.data_dir = self.dir / "data"
        self.config = self.dir / "cluster.ini"
        self.config.write_text(self.config_text())
        self.nodes = {}  # id -> Process (the latest one started for that id)
        self.processes = []  # every Process ever started, for cleanup and logs
        self.context = zmq.Context()
        self._connections = {}
        self._status_ids = iter(range(1, 1 << 62))
        test.addCleanup(self.close)
        test.clusters.append(self)

    def config_text(self):
        lines = ["[cluster]",
                 f"heartbeat_interval_ms = {self.heartbeat_ms}",
                 f"election_timeout_ms = {self.election_ms}",
                 f"request_timeout_ms = {self.request_timeout_ms}",
                 "data_dir = data", ""]
        for i in self.all_ids:
            lines.append(f"[node.{i}]")
            lines.extend(f"{key} = {self.endpoints[i][key]}" for key in ENDPOINT_KEYS)
            lines.append("")
        return "\n".join(lines)

    def endpoint(self, node, key="client"):
        return self.endpoints[node][key]

    def state_file(self, node):
        return self.data_dir / f"node-{node}" / "state"

    # -- processes --

    def start(self, *ids, seed=None, log_level="info", extra_args=()):
        """Starts relay-node for each id (default: all `size` nodes)."""
        for i in ids or self.ids:
            assert i not in self.nodes or not self.nodes[i].running(), f"node {i} already running"
            args = [binary("relay-node"), "--config", self.config, "--id", i, "--log-level", log_level]
            if seed is not None:
                args += ["--seed", seed]
            args += list(extra_args)
            process = Process(f"node {i}", args, self.dir / f"node-{i}.log")
            self.nodes[i] = process
            self.processes.append(process)
        return [self.nodes[i] for i in ids or self.ids]

    def start_cluster_program(self, nodes=None, log_level="info"):
        """Starts relay-cluster on this file; stdout and stderr to separate files."""
        args = [binary("relay-cluster"), "--config", self.config, "--log-level", log_level]
        if nodes:
            args += ["--nodes", ",".join(str(n) for n in nodes)]
        count = sum(1 for p in self.processes if p.name.startswith("relay-cluster"))
        process = Process(f"relay-cluster#{count}", args, self.dir / f"relay-cluster-{count}.out",
                          stderr_path=self.dir / f"relay-cluster-{count}.err")
        self.processes.append(process)
        return process

    def running(self, node):
        return node in self.nodes and self.nodes[node].running()

    def send_signal(self, node, sig):
        self.nodes[node].send_signal(sig)

    def kill(self, node):
        """SIGKILL, and wait until it is gone."""
        self.nodes[node].send_signal(signal.SIGKILL)
        return self.nodes[node].wait_exit(5)

    def stop(self, node, sig=signal.SIGTERM, timeout=5):
        """A clean stop; returns (exit code, seconds it took)."""
        process = self.nodes[node]
        started = time.monotonic()
        process.send_signal(sig)
        code = process.wait_exit(timeout, f"node {node} to exit after {signal.Signals(sig).name}")
        return code, time.monotonic() - started

    def pause(self, node):
        self.nodes[node].send_signal(signal.SIGSTOP)

    def resume(self, node):
        self.nodes[node].send_signal(signal.SIGCONT)

    def close(self):
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()
        for process in self.processes:
            process.kill_group()
        self.context.destroy(linger=0)

    # -- talking to nodes (the Python client of relay_proto) --

    def connect(self, node, kind="dealer", routing_id=None, key="client"):
        """A new socket to a node's endpoint; closed at cleanup."""
        connection = proto.Connection(self.context, self.endpoint(node, key), kind, routing_id)
        self._connections[id(connection)] = connection
        return connection

    def status(self, node, timeout=0.3):
        """The node's status_reply as a dict, or None if it did not answer in time."""
        if node not in self._connections:
            self._connections[node] = proto.Connection(self.context, self.endpoint(node))
        try:
            return self._connections[node].status(next(self._status_ids), timeout)
        except proto.ProtocolError:
            return None

    def statuses(self, ids=None, timeout=0.3):
        return {i: self.status(i, timeout) for i in (ids or self.ids)}

    def agreement(self, ids=None):
        """(leader, term, rows) if every node of `ids` answers, exactly one is
        leader, and all name it as leader in its term; otherwise None."""
        rows = self.statuses(ids)
        if any(row is None for row in rows.values()):
            return None
        leaders = [i for i, row in rows.items() if row["role"] == "leader"]
        if len(leaders) != 1:
            return None
        leader = leaders[0]
        term = rows[leader]["term"]
        for i, row in rows.items():
            if row["leader"] != leader or row["term"] != term:
                return None
            if i != leader and row["role"] != "follower":
                return None
        return leader, term, rows

    def wait_for_leader(self, ids=None, timeout=5.0, what=None):
        """Waits until `ids` (default: the running nodes) agree on one leader;
        returns (leader, term)."""
        ids = ids or [i for i in self.ids if self.running(i)]
        last = {}

        def agreed():
            result = self.agreement(ids)
            if result is None:
                last["rows"] = self.statuses(ids, timeout=0.1)
                return None
            return result

        leader, term, _ = wait_until(agreed, timeout, what or f"nodes {ids} to agree on one leader",
                                     detail=lambda: summarize(last.get("rows")))
        return leader, term

    # -- the programs --

    def run_client(self, *args, timeout=60):
        """relay-client --config FILE ARGS..., to completion; output kept for the failure log."""
        result = run_program([binary("relay-client"), "--config", self.config, *args], timeout=timeout)
        self.test.note(f"relay-client {' '.join(map(str, args))} (exit {result.returncode})",
                       result.stdout[-4000:] + result.stderr[-4000:])
        return result

    def client_status(self):
        """`relay-client --json status` rows, by id."""
        import json
        result = self.run_client("--json", "status", timeout=30)
        rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        return {row["id"]: row for row in rows}, result


def summarize(rows):
    if not rows:
        return "nothing"
    parts = []
    for i, row in sorted(rows.items()):
        if row is None:
            parts.append(f"{i}: no answer")
        else:
            parts.append(f"{i}: {row['role']} term {row['term']} leader {row['leader']}")
    return ", ".join(parts)


class ClusterTest(unittest.TestCase):
    """Base class: tracks clusters and notes; when a test fails, prints every
    captured output, then removes the temporary directories."""

    def cluster(self, size=3, **options):
        return Cluster(self, size, **options)

    def keep_dir(self, path):
        self._dirs.append(Path(path))

    def note(self, title, text):
        self.notes.append((title, text))

    def temp_dir(self):
        path = Path(tempfile.mkdtemp(prefix="relay-it-"))
        self.keep_dir(path)
        return path

    def run(self, result=None):
        result = result or self.defaultTestResult()
        problems_before = len(result.failures) + len(result.errors)
        self.clusters, self.notes, self._dirs = [], [], []
        try:
            return super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > problems_before:
                self._dump()
            keep = os.environ.get("RELAY_KEEP_TMP")
            for path in self._dirs:
                if keep:
                    print(f"kept {path}", file=sys.stderr)
                else:
                    shutil.rmtree(path, ignore_errors=True)

    def _dump(self):
        out = sys.stderr
        print(f"\n======== output of {self.id()} ========", file=out)
        for cluster in self.clusters:
            print(f"---- config {cluster.config}\n{cluster.config_text()}", file=out)
            for process in cluster.processes:
                text = process.output()
                if len(text) > 20000:
                    text = "[... cut ...]\n" + text[-20000:]
                print(f"---- {process.name}: {' '.join(process.args[1:])} "
                      f"(exit {process.returncode})\n{text}", file=out)
                if process.stderr_path:
                    print(f"---- {process.name} stderr\n{process.stderr()}", file=out)
        for title, text in self.notes:
            print(f"---- {title}\n{text}", file=out)
        print("======== end ========", file=out, flush=True)
