"""The programs' contracts (docs/configuration.md, README "The programs"): configuration errors, start-up
errors, --help/--version, signals, relay-cluster's supervision, the
durable state file, and relay-client's command line and output.
"""

import base64
import json
import os
import re
import signal
import socket
import time
import unittest

import harness
import relay_proto as proto
from harness import binary, observe, report, run_program, wait_until

PROGRAMS = ("relay-node", "relay-cluster", "relay-client")
# Every program of the README's table: each answers --help and --version.
ALL_PROGRAMS = PROGRAMS + ("relay-monitor", "relay-lincheck")
# The one log line a restarting node writes before it binds its sockets.
RESTORE_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} info  node \d+: "
                          r"log holds (entries \d+\.\.\d+( after a snapshot at \d+)?|a snapshot at \d+)$")


def program_args(program, config):
    """The shortest command line of each program that reads the file."""
    if program == "relay-node":
        return [binary("relay-node"), "--config", config, "--id", "1"]
    if program == "relay-cluster":
        return [binary("relay-cluster"), "--config", config]
    return [binary("relay-client"), "--config", config, "status"]


def run_bounded(test, args, timeout=5):
    """Runs a program that is expected to exit by itself."""
    try:
        result = run_program(args, timeout=timeout)
    except harness.subprocess.TimeoutExpired as expired:
        test.fail(f"{' '.join(map(str, args))} did not exit within {timeout} s "
                  f"(stdout {expired.stdout!r}, stderr {expired.stderr!r})")
    test.note(f"{' '.join(map(str, args))} (exit {result.returncode})",
              f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


class ConfigErrorTest(harness.ClusterTest):
    """Each kind of configuration error: exit non-zero, one line on stderr
    naming the file, the line and the key (or section)."""

    def base_lines(self, ports):
        p = iter(ports)
        return [
            "[cluster]",                                  # 1
            "heartbeat_interval_ms = 50",                 # 2
            "election_timeout_ms = 300",                  # 3
            "data_dir = data",                            # 4
            "",                                           # 5
            "[node.1]",                                   # 6
            f"client = tcp://127.0.0.1:{next(p)}",        # 7
            f"peer = tcp://127.0.0.1:{next(p)}",          # 8
            f"election = tcp://127.0.0.1:{next(p)}",      # 9
            f"monitor = tcp://127.0.0.1:{next(p)}",       # 10
            "",                                           # 11
            "[node.2]",                                   # 12
            f"client = tcp://127.0.0.1:{next(p)}",        # 13
            f"peer = tcp://127.0.0.1:{next(p)}",          # 14
            f"election = tcp://127.0.0.1:{next(p)}",      # 15
            f"monitor = tcp://127.0.0.1:{next(p)}",       # 16
        ]

    def cases(self, ports):
        """(kind, lines, line number, name the message must contain)."""
        base = self.base_lines(ports)

        def edit(index, text):
            lines = list(base)
            lines[index - 1] = text
            return lines

        def insert(index, text):
            lines = list(base)
            lines.insert(index - 1, text)
            return lines

        return [
            ("unknown key in [cluster]", insert(4, "heartbeat_ms = 50"), 4, "heartbeat_ms"),
            ("unknown key in [node.N]", insert(8, "clinet = tcp://127.0.0.1:1"), 8, "clinet"),
            ("duplicate key", insert(9, base[6]), 9, "client"),
            ("duplicate key in [cluster]", insert(3, "heartbeat_interval_ms = 60"), 3,
             "heartbeat_interval_ms"),
            ("duplicate section", base + ["[node.1]"], 17, "node.1"),
            ("duplicate [cluster]", base + ["[cluster]"], 17, "cluster"),
            ("missing endpoint", base[:-1], 12, "monitor"),
            ("malformed endpoint: no scheme", edit(8, "peer = 127.0.0.1:5000"), 8, "peer"),
            ("malformed endpoint: wildcard port", edit(8, "peer = tcp://127.0.0.1:*"), 8, "peer"),
            ("malformed endpoint: port out of range", edit(8, "peer = tcp://127.0.0.1:70000"), 8, "peer"),
            ("malformed endpoint: bad address", edit(8, "peer = tcp://127.0.0.256:5000"), 8, "peer"),
            ("malformed endpoint: udp", edit(8, "peer = udp://127.0.0.1:5000"), 8, "peer"),
            ("shared endpoint across nodes", edit(15, base[6].replace("client", "election")), 15,
             "election"),
            ("shared endpoint within a node", edit(10, base[7].replace("peer", "monitor")), 10,
             "monitor"),
            ("bad node id: zero", edit(12, "[node.0]"), 12, "node.0"),
            ("bad node id: negative", edit(12, "[node.-2]"), 12, "node.-2"),
            ("bad node id: letters", edit(12, "[node.two]"), 12, "node.two"),
            ("bad node id: leading zero", edit(12, "[node.02]"), 12, "node.02"),
            ("bad node id: too large", edit(12, "[node.1000001]"), 12, "node.1000001"),
        ]

    def test_every_config_error_is_one_line_naming_file_line_and_key(self):
        directory = self.temp_dir()
        ports = harness.free_ports(8)
        for index, (kind, lines, line, name) in enumerate(self.cases(ports)):
            path = directory / f"case{index}.ini"
            path.write_text("\n".join(lines) + "\n")
            for program in PROGRAMS:
                with self.subTest(kind=kind, program=program):
                    result = run_bounded(self, program_args(program, path))
                    self.assertNotEqual(result.returncode, 0, f"{program} accepted: {kind}")
                    message = result.stderr.rstrip("\n")
                    self.assertEqual(len(message.splitlines()), 1, f"not one line: {result.stderr!r}")
                    self.assertIn(f"{path}:{line}:", message)
                    self.assertIn(name, message)
                    self.assertEqual(result.stdout, "", f"{program} printed: {result.stdout!r}")
        report(f"example: {message}")

    def test_missing_config_file_is_named(self):
        path = self.temp_dir() / "nowhere.ini"
        for program in PROGRAMS:
            with self.subTest(program=program):
                result = run_bounded(self, program_args(program, path))
                self.assertNotEqual(result.returncode, 0)
                self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
                self.assertIn(str(path), result.stderr)


class StartupErrorTest(harness.ClusterTest):

    def assert_one_error_line(self, stderr, *words):
        """A start-up failure is one line naming what failed ("relay-node:
        ..."), the last one. A node that restarts logs what its log holds
        before it binds (an info line); nothing else may come before the error."""
        lines = stderr.strip().splitlines()
        self.assertTrue(lines, "no error message")
        error = lines[-1]
        self.assertTrue(error.startswith("relay-node: "), stderr)
        for word in words:
            self.assertIn(word, error)
        others = [line for line in lines[:-1] if not RESTORE_LINE.match(line)]
        self.assertEqual(others, [], f"more than the error line: {stderr!r}")

    def test_port_in_use_is_reported_by_endpoint(self):
        cluster = self.cluster(1)
        for restarted in (False, True):
            if restarted:
                # The same node again, now with a log on disk (the noop of its term).
                cluster.start(1)
                cluster.wait_for_leader()
                self.assertEqual(cluster.stop(1)[0], 0)
            for key in harness.ENDPOINT_KEYS:
                endpoint = cluster.endpoint(1, key)
                port = int(endpoint.rsplit(":", 1)[1])
                with self.subTest(key=key, restarted=restarted), socket.socket() as squatter:
                    # The port may be in TIME_WAIT after the run above; a
                    # listener still keeps everyone else off it.
                    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    squatter.bind(("127.0.0.1", port))
                    squatter.listen()
                    result = run_bounded(self, [binary("relay-node"), "--config", cluster.config, "--id", "1"])
                    self.assertNotEqual(result.returncode, 0, f"relay-node started with {key} port taken")
                    self.assert_one_error_line(result.stderr, endpoint)
                    if not restarted:
                        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        report(f"example: {result.stderr.strip().splitlines()[-1]}")

    def test_help_and_version_exit_zero(self):
        versions = set()
        for program in ALL_PROGRAMS:
            with self.subTest(program=program):
                result = run_bounded(self, [binary(program), "--help"])
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertIn("--version", result.stdout)
                if program != "relay-lincheck":  # it reads a history, not the cluster's file
                    self.assertIn("--config", result.stdout)
                result = run_bounded(self, [binary(program), "--version"])
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertRegex(result.stdout, rf"^{program} \d+\.\d+\.\d+\n$")
                versions.add(result.stdout.split()[1])
        self.assertEqual(len(versions), 1, f"the programs disagree on the version: {versions}")

    def test_unknown_log_level_is_an_error(self):
        cluster = self.cluster(1)
        for program in PROGRAMS:
            with self.subTest(program=program):
                args = program_args(program, cluster.config) + ["--log-level", "loud"]
                result = run_bounded(self, args, timeout=10)
                self.assertNotEqual(result.returncode, 0)
                message = result.stderr.strip()
                self.assertEqual(len(message.splitlines()), 1, f"not one line: {result.stderr!r}")
                self.assertIn("loud", message)
                self.assertNotIn("[node", result.stdout, f"{program} started nodes first")

    def test_an_unknown_or_missing_command_names_the_valid_ones(self):
        commands = ("put", "get", "del", "cas", "send", "read", "status")
        for args in (["frobnicate"], ["--json", "frobnicate", "k"], ["--retries", "2", "frobnicate"], []):
            with self.subTest(args=args):
                result = run_bounded(self, [binary("relay-client"), *args])
                self.assertEqual(result.returncode, 2)
                self.assertEqual(result.stdout, "")
                lines = result.stderr.splitlines()
                self.assertEqual(len(lines), 1, f"not one line: {result.stderr!r}")
                self.assertTrue(lines[0].startswith("relay-client: "), lines[0])
                for command in commands:
                    self.assertIn(command, lines[0])
                if args:
                    self.assertIn("unknown command 'frobnicate'", lines[0])
        result = run_bounded(self, [binary("relay-monitor"), "frobnicate"])
        self.assertEqual(result.returncode, 2)
        self.assertRegex(result.stderr, r"^relay-monitor: unknown command 'frobnicate'.*replay, report.*\n$")
        report(f"example: {lines[0]}")

    def test_node_id_not_in_the_file_is_an_error(self):
        cluster = self.cluster(2)
        for args in ([binary("relay-node"), "--config", cluster.config, "--id", "9"],
                     [binary("relay-node"), "--config", cluster.config, "--id", "0"],
                     [binary("relay-cluster"), "--config", cluster.config, "--nodes", "1,9"]):
            with self.subTest(args=args[1:]):
                result = run_bounded(self, args)
                self.assertNotEqual(result.returncode, 0)
                message = result.stderr.strip()
                self.assertEqual(len(message.splitlines()), 1, result.stderr)
                self.assertIn(str(cluster.config), message)
                self.assertRegex(message, r"\b[09]\b")


class SignalTest(harness.ClusterTest):
    """relay-node exits 0 within a second of SIGTERM or SIGINT, whatever it
    is doing."""

    def assert_clean_stop(self, cluster, node, sig):
        code, elapsed = cluster.stop(node, sig)
        report(f"node {node}: {signal.Signals(sig).name} -> exit {code} in {elapsed * 1000:.0f} ms")
        self.assertEqual(code, 0, f"node {node} exit code after {signal.Signals(sig).name}")
        self.assertLess(elapsed, 1.0, f"node {node} took {elapsed:.2f} s to stop")

    def test_sigterm_and_sigint_in_a_healthy_cluster(self):
        cluster = self.cluster(3)
        cluster.start()
        leader, _ = cluster.wait_for_leader()
        follower = next(i for i in cluster.ids if i != leader)
        self.assert_clean_stop(cluster, follower, signal.SIGTERM)
        self.assert_clean_stop(cluster, leader, signal.SIGINT)
        # The last one, alone now: its peers are gone.
        last = next(i for i in cluster.ids if i not in (leader, follower))
        self.assert_clean_stop(cluster, last, signal.SIGTERM)

    def test_stop_while_requests_are_pending(self):
        """A single node of three holds requests (no leader) when the signal comes."""
        cluster = self.cluster(3)
        for sig in (signal.SIGTERM, signal.SIGINT):
            cluster.start(1)
            wait_until(lambda: cluster.status(1), 3.0, "node 1 to answer")
            connection = cluster.connect(1)
            client_id = proto.new_client_id("pending")
            for request_id in range(1, 6):
                connection.send(proto.client_request(client_id, request_id, 10_000, b"held"))
            wait_until(lambda: (cluster.status(1) or {}).get("pending") == 5, 2.0,
                       "node 1 to hold the 5 requests")
            self.assert_clean_stop(cluster, 1, sig)
            answered = []
            while (reply := connection.recv(0.05)) is not None:
                answered.append(reply["status"])
            report(f"{len(answered)} of 5 held requests were answered before exit: {answered}")

    def test_stop_while_a_peer_is_gone(self):
        cluster = self.cluster(3)
        cluster.start()
        leader, _ = cluster.wait_for_leader()
        followers = [i for i in cluster.ids if i != leader]
        # One follower killed outright, the other frozen (its connections stay
        # open but nothing answers).
        cluster.kill(followers[0])
        cluster.pause(followers[1])
        # Requests relayed nowhere and a leader without quorum: stop it anyway.
        with cluster.connect(leader) as connection:
            connection.send(proto.client_request("gone", 1, 5000, b"x"))
            self.assert_clean_stop(cluster, leader, signal.SIGTERM)
        cluster.resume(followers[1])
        self.assert_clean_stop(cluster, followers[1], signal.SIGINT)


class ClusterProgramTest(harness.ClusterTest):

    def children(self, process, count):
        """relay-cluster's children once each has become relay-node (a child
        seen between fork and exec still shows relay-cluster's command line)."""
        def started():
            kids = harness.children_of(process.pid)
            return len(kids) == count and all(self.node_of(pid) for pid in kids) and kids

        return wait_until(started, 5.0, f"relay-cluster to start {count} relay-node children")

    def node_of(self, pid):
        """The --id of a relay-node process, or None (not (yet) a relay-node)."""
        try:
            args = harness.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        return int(args[args.index(b"--id") + 1]) if b"--id" in args[:-1] else None

    def test_sigint_stops_every_child_and_output_is_prefixed(self):
        cluster = self.cluster(3)
        process = cluster.start_cluster_program()
        kids = self.children(process, 3)
        leader, term = cluster.wait_for_leader(cluster.ids)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait_exit(5.0)
        report(f"relay-cluster stopped 3 nodes in {(time.monotonic() - started) * 1000:.0f} ms")
        self.assertEqual(code, 0, process.stderr())
        for pid in kids:
            self.assertFalse(harness.is_alive(pid), f"child {pid} still running after relay-cluster exit")
        lines = [line for line in process.output().splitlines()[1:] if line]
        self.assertTrue(lines, "relay-cluster printed nothing")
        for line in lines:
            self.assertRegex(line, r"^\[node [123]\] ", "every output line is prefixed by its node")
        for node in cluster.ids:
            self.assertTrue(any(line.startswith(f"[node {node}] ") for line in lines),
                            f"no output from node {node}")
        self.assertNotRegex(process.stderr(), r"node \d+ \(pid", "a clean stop is not a death")

    def test_ctrl_c_to_the_process_group(self):
        """What a terminal does on Ctrl-C: SIGINT to relay-cluster and its children at once."""
        cluster = self.cluster(3)
        process = cluster.start_cluster_program()
        kids = self.children(process, 3)
        cluster.wait_for_leader(cluster.ids)
        os.killpg(process.pid, signal.SIGINT)
        self.assertEqual(process.wait_exit(5.0), 0, process.stderr())
        for pid in kids:
            self.assertFalse(harness.is_alive(pid), f"child {pid} still running")
        self.assertNotRegex(process.stderr(), r"node \d+ \(pid", "a clean stop is not a death")

    def test_a_killed_child_is_reported_and_the_others_keep_running(self):
        cluster = self.cluster(3)
        process = cluster.start_cluster_program()
        kids = {self.node_of(pid): pid for pid in self.children(process, 3)}
        leader, term = cluster.wait_for_leader(cluster.ids)
        victim = next(i for i in cluster.ids if i != leader)
        os.kill(kids[victim], signal.SIGKILL)
        wait_until(lambda: re.search(rf"node {victim}\b.*(killed|signal 9|SIGKILL)", process.stderr()),
                   3.0, f"relay-cluster to report that node {victim} was killed",
                   detail=lambda: repr(process.stderr()))
        self.assertTrue(process.running(), "relay-cluster exited when one node died")
        survivors = [i for i in cluster.ids if i != victim]
        for node in survivors:
            self.assertTrue(harness.is_alive(kids[node]), f"node {node} was stopped too")

        def still_led():
            agreed = cluster.agreement(survivors)
            self.assertIsNotNone(agreed, harness.summarize(cluster.statuses(survivors)))
            self.assertEqual(agreed[:2], (leader, term))

        observe(0.5, still_led, interval=0.05)
        reply = cluster.connect(survivors[-1]).request("after-kill", 1, b"x", timeout_ms=2000)
        self.assertEqual(reply and reply["status"], "ok", reply)
        process.send_signal(signal.SIGTERM)
        self.assertEqual(process.wait_exit(5.0), 0, process.stderr())
        for node in survivors:
            self.assertFalse(harness.is_alive(kids[node]), f"node {node} left running")


class StateFileTest(harness.ClusterTest):

    def test_damaged_state_file_is_refused_by_name(self):
        cluster = self.cluster(1)
        cluster.start()
        _, term = cluster.wait_for_leader()
        self.assertEqual(cluster.stop(1)[0], 0)
        path = cluster.state_file(1)
        good = path.read_bytes()
        self.assertIn(f"term {term}".encode(), good, good)
        damages = {
            "empty": b"",
            "truncated": good[: len(good) // 2],
            "term changed, checksum not": good.replace(f"term {term}".encode(), f"term {term + 7}".encode()),
            "checksum line missing": b"\n".join(good.split(b"\n")[:3]) + b"\n",
            "garbage": bytes(range(256)) * 4,
            "wrong header": good.replace(b"relay-raft state v1", b"relay-raft state v9"),
        }
        for kind, content in damages.items():
            with self.subTest(damage=kind):
                path.write_bytes(content)
                result = run_bounded(self, [binary("relay-node"), "--config", cluster.config, "--id", "1"])
                self.assertNotEqual(result.returncode, 0, f"started with a state file that is {kind}")
                self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
                self.assertIn(str(path), result.stderr)
        report(f"example: {result.stderr.strip()}")
        path.write_bytes(good)
        cluster.start(1)
        _, again = cluster.wait_for_leader()
        self.assertGreater(again, term, "a restarted lone node must elect itself in a new term")

    def test_a_second_process_with_a_running_nodes_id_leaves_its_files_alone(self):
        cluster = self.cluster(1)
        cluster.start()
        cluster.wait_for_leader()
        path = cluster.state_file(1)
        before = path.stat()
        result = run_bounded(self, [binary("relay-node"), "--config", cluster.config, "--id", "1"])
        self.assertNotEqual(result.returncode, 0, "a second node 1 started")
        self.assertIn("already open", result.stderr)
        after = path.stat()
        # The state file is replaced by rename when written: same inode, not written.
        self.assertEqual((after.st_ino, after.st_mtime_ns), (before.st_ino, before.st_mtime_ns),
                         "the refused process wrote the running node's state file")
        self.assertTrue(cluster.nodes[1].running())

    def test_a_lost_half_of_the_data_directory_is_refused(self):
        """The log directory is created before the state is first written, and
        the state before any entry: either one alone means the other was lost."""
        remove = {
            "state": lambda node_dir: (node_dir / "state").unlink(),
            "log": lambda node_dir: harness.shutil.rmtree(node_dir / "log"),
        }
        for lost, remover in remove.items():
            with self.subTest(lost=lost):
                cluster = self.cluster(1)
                cluster.start()
                cluster.wait_for_leader()
                with proto.Client(cluster.context, [cluster.endpoint(1)], client_id="before") as client:
                    self.assertEqual(client.put("k", "v")["status"], "ok")
                self.assertEqual(cluster.stop(1)[0], 0)
                node_dir = cluster.state_file(1).parent
                remover(node_dir)
                result = run_bounded(self, [binary("relay-node"), "--config", cluster.config, "--id", "1"])
                self.assertNotEqual(result.returncode, 0, f"started without its {lost}")
                self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
                self.assertIn(f"{node_dir / lost} is missing", result.stderr)
                self.assertFalse((node_dir / lost).exists(), f"the refused start created a fresh {lost}")
                report(f"example: {result.stderr.strip()}")

    def test_restarted_nodes_keep_their_term(self):
        cluster = self.cluster(3)
        cluster.start()
        leader, term = cluster.wait_for_leader()
        follower = next(i for i in cluster.ids if i != leader)
        # A clean restart of a follower: it comes back in the same term.
        self.assertEqual(cluster.stop(follower)[0], 0)
        cluster.start(follower)
        self.assertEqual(cluster.wait_for_leader(cluster.ids), (leader, term))
        # A crash of the leader: the others elect a new one in a later term,
        # and the old leader comes back to follow it, never with a lower term.
        cluster.kill(leader)
        survivors = [i for i in cluster.ids if i != leader]
        new_leader, new_term = cluster.wait_for_leader(survivors)
        self.assertGreater(new_term, term)
        cluster.start(leader)
        self.assertEqual(cluster.wait_for_leader(cluster.ids), (new_leader, new_term))
        # Everyone stops and starts again: terms only grow.
        for node in cluster.ids:
            self.assertEqual(cluster.stop(node)[0], 0)
        for node in cluster.ids:
            text = cluster.state_file(node).read_text()
            stored = int(re.search(r"^term (\d+)$", text, re.M).group(1))
            self.assertGreaterEqual(stored, new_term, f"node {node} stored term {stored}")
        cluster.start()
        _, final_term = cluster.wait_for_leader()
        for node, row in cluster.statuses().items():
            self.assertGreaterEqual(row["term"], new_term, f"node {node}: {row}")
        self.assertGreater(final_term, new_term)
        report(f"terms: {term} -> {new_term} after the leader crashed -> {final_term} after a full restart")


class ClientCommandLineTest(harness.ClusterTest):
    """relay-client as a user types it (README "The programs"): options
    before or after the command, failures on stderr, values that are not
    text."""

    def client(self, cluster, *args, timeout=30):
        """relay-client ARGS... with --config wherever ARGS put it (not first)."""
        return run_bounded(self, [binary("relay-client"), *args], timeout=timeout)

    def assert_one_error_line(self, result, *words):
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, f"not one line on stderr: {result.stderr!r}")
        self.assertTrue(lines[0].startswith("relay-client: "), lines[0])
        for word in words:
            self.assertIn(word, lines[0])
        return lines[0]

    def test_common_options_go_before_or_after_the_command(self):
        cluster = self.cluster(3)
        cluster.start()
        cluster.wait_for_leader()
        config = str(cluster.config)
        common = ["--config", config, "--node", "2", "--json", "--timeout-ms", "3000", "--retries", "2",
                  "--log-level", "warn"]
        placements = {
            "before": common + ["put", "k", "v"],
            "after": ["put", "k", "v"] + common,
            "between": ["put", "--node", "2", "k", "--config", config, "v", "--json"],
            "split": ["--json", "--config", config, "put", "k", "v", "--node", "2"],
        }
        for name, args in placements.items():
            with self.subTest(placement=name):
                result = self.client(cluster, *args)
                self.assertEqual(result.returncode, 0, result.stderr)
                reply = json.loads(result.stdout)
                self.assertEqual((reply["op"], reply["sent_to"], reply["received_by"]), ("put", 2, 2), reply)
        for args in (["--node", "3", "send", "hi", "--count", "2"], ["send", "hi", "--node", "3", "--count", "2"],
                     ["--node", "3", "read", "1", "--count", "2"], ["read", "--node", "3", "1"]):
            with self.subTest(args=args):
                result = self.client(cluster, "--config", config, "--json", *args)
                self.assertEqual(result.returncode, 0, result.stderr)
                replies = [json.loads(line) for line in result.stdout.splitlines()]
                self.assertTrue(all(r["sent_to"] == 3 for r in replies if not r.get("summary")), replies)
        # status --node asks that node only, wherever --node stands.
        for args in (["--node", "2", "status"], ["status", "--node", "2"]):
            with self.subTest(args=args):
                result = self.client(cluster, "--config", config, "--json", *args)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual([json.loads(line)["id"] for line in result.stdout.splitlines()], [2])
        result = self.client(cluster, "--config", config, "put", "k", "v", "--node", "9")
        self.assertEqual(result.returncode, 2)
        self.assert_one_error_line(result, "--node 9")

    def test_a_failed_request_says_why_in_one_line_on_stderr(self):
        cluster = self.cluster(3)  # configured, not started: nobody answers
        config = str(cluster.config)
        quick = ["--config", config, "--timeout-ms", "300"]
        for retries, words in ((0, ["1 attempt:", "node "]), (1, ["2 attempts:", "nodes "])):
            for args in (["put", "k", "v"], ["get", "k"], ["read", "1"]):
                with self.subTest(args=args, retries=retries):
                    result = self.client(cluster, *quick, "--retries", str(retries), *args)
                    self.assertEqual(result.returncode, 1)
                    self.assertEqual(result.stdout, "", "a failure goes to stderr only")
                    line = self.assert_one_error_line(result, f"{args[0]} ", "failed", *words)
                    self.assertNotRegex(line, r"\bnodes \d+;", "one node is not 'nodes'")
                with self.subTest(args=args, retries=retries, json=True):
                    result = self.client(cluster, *quick, "--retries", str(retries), "--json", *args)
                    self.assertEqual(result.returncode, 1)
                    reply = json.loads(result.stdout)
                    self.assertEqual((reply["status"], reply["attempts"]), ("no_answer", retries + 1), reply)
                    self.assert_one_error_line(result, "failed")
        # One line per failed message of a run; the summary stays on stdout.
        result = self.client(cluster, *quick, "--retries", "0", "send", "x", "--count", "2")
        self.assertEqual(result.returncode, 1)
        self.assertEqual([line.split(" failed:")[0] for line in result.stderr.splitlines()],
                         ['relay-client: send "x #1"', 'relay-client: send "x #2"'], result.stderr)
        self.assertRegex(result.stdout, r"^sent 2, ok 0, failed 2")
        for args, asked in ((["status"], "nodes 1, 2, 3"), (["status", "--node", "2"], "node 2")):
            with self.subTest(args=args):
                result = self.client(cluster, "--config", config, *args)
                self.assertEqual(result.returncode, 1)
                self.assertIn("unreachable", result.stdout)
                self.assertTrue(self.assert_one_error_line(result, "status").endswith(asked), result.stderr)
        # A node without a leader answers, but not ok: the same one line.
        cluster.start(1)
        wait_until(lambda: cluster.status(1), 3.0, "node 1 to answer")
        result = self.client(cluster, *quick, "--node", "1", "--retries", "0", "put", "k", "v")
        self.assertEqual(result.returncode, 1)
        line = self.assert_one_error_line(result, "put k failed: ")
        report(f"example: {line}")

    def test_values_that_are_not_utf8_are_escaped_and_round_trip_in_json(self):
        cluster = self.cluster(1)
        cluster.start()
        cluster.wait_for_leader()
        config = str(cluster.config)
        raw = b'a\xff\x01"b\\x41\xc3'  # not UTF-8, a control byte, a quote, a typed backslash-x
        value = raw.decode("utf-8", "surrogateescape")  # argv carries these very bytes
        self.assertEqual(self.client(cluster, "--config", config, "put", "bin", value).returncode, 0)
        self.assertEqual(self.client(cluster, "--config", config, "send", value).returncode, 0)
        result = self.client(cluster, "--config", config, "get", "bin")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('get bin -> "a\\xff\\u0001\\"b\\\\x41\\xc3" (', result.stdout)
        self.assertNotIn("\ufffd", result.stdout)
        result = self.client(cluster, "--config", config, "read", "1")
        self.assertIn('1 "a\\xff\\u0001\\"b\\\\x41\\xc3"\n', result.stdout)

        def decoded(field):
            return field.encode() if isinstance(field, str) else base64.b64decode(field["base64"], validate=True)

        result = self.client(cluster, "--config", config, "--json", "get", "bin")
        reply = json.loads(result.stdout)
        self.assertEqual(decoded(reply["value"]), raw, reply)
        result = self.client(cluster, "--config", config, "--json", "put", value, "text")
        reply = json.loads(result.stdout)
        self.assertEqual((decoded(reply["key"]), decoded(reply["value"])), (raw, b"text"), reply)
        result = self.client(cluster, "--config", config, "--json", "read", "1")
        reply = json.loads(result.stdout)
        self.assertEqual([decoded(v) for v in reply["values"]], [raw], reply)
        # Text in any language stays a plain JSON string.
        self.client(cluster, "--config", config, "put", "word", "h\u00e9llo \u20ac")
        reply = json.loads(self.client(cluster, "--config", config, "--json", "get", "word").stdout)
        self.assertEqual(reply["value"], "h\u00e9llo \u20ac")
        report(f"example: {result.stdout.strip()}")


if __name__ == "__main__":
    unittest.main()
