"""Client requests and relaying (README "The programs"; docs/protocol.md, rule "relay").

`relay-client` is checked against its JSON contract; the Python client of
relay_proto.py (written from docs/protocol.md) talks to every node through
DEALER and REQ sockets.
"""

import json
import time
import unittest

import harness
import relay_proto as proto
from harness import report, wait_until

REPLY_KEYS = ("request_id", "sent_to", "answered_by", "relayed", "term", "status", "latency_us")


def parse_json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class RelayTest(harness.ClusterTest):

    def running_cluster(self, size=3):
        cluster = self.cluster(size)
        cluster.start()
        leader, term = cluster.wait_for_leader(timeout=5.0)
        return cluster, leader, term

    def assert_ok_reply(self, reply, *, client_id, request_id, message, received_by, leader, term):
        self.assertIsNotNone(reply, f"no reply from node {received_by}")
        self.assertEqual(reply["type"], "client_reply")
        self.assertEqual(reply["status"], "ok", reply)
        self.assertEqual(reply["client_id"], client_id)
        self.assertEqual(reply["request_id"], request_id)
        self.assertEqual(reply["message"], message)
        self.assertEqual(reply["received_by"], received_by, reply)
        self.assertEqual(reply["answered_by"], leader, reply)
        self.assertEqual(reply["relayed_by"], 0 if received_by == leader else received_by, reply)
        self.assertEqual(reply["term"], term, reply)
        self.assertEqual(reply["leader_hint"], leader, reply)
        self.assertGreaterEqual(reply["seq"], 1, reply)

    # -- relay-client send --count 1000 --

    def test_thousand_requests_to_random_nodes(self):
        cluster, leader, term = self.running_cluster(3)
        started = time.monotonic()
        result = cluster.run_client("--json", "send", "--count", "1000", "req", timeout=120)
        elapsed = time.monotonic() - started
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        lines = parse_json_lines(result.stdout)
        summary = lines[-1]
        replies = lines[:-1]
        self.assertTrue(summary.get("summary"), summary)
        self.assertEqual((summary["sent"], summary["ok"], summary["failed"]), (1000, 1000, 0), summary)
        self.assertEqual(len(replies), 1000)
        for line in replies:
            for key in REPLY_KEYS:
                self.assertIn(key, line, line)
            self.assertEqual(line["status"], "ok", line)
            self.assertEqual(line["answered_by"], leader, line)
            self.assertEqual(line["term"], term, line)
            self.assertIn(line["sent_to"], cluster.ids, line)
            self.assertEqual(line["relayed"], line["sent_to"] != leader, line)
            self.assertIsInstance(line["latency_us"], int, line)
            self.assertGreater(line["latency_us"], 0, line)
        self.assertEqual([line["request_id"] for line in replies], list(range(1, 1001)),
                         "one reply per request, in order")
        # The leader numbers what it executes, strictly increasing without
        # gaps within its term; this client was its only one.
        seqs = [line["seq"] for line in replies]
        first = seqs[0]
        self.assertGreaterEqual(first, 1)
        gaps = [(i, a, b) for i, (a, b) in enumerate(zip(seqs, seqs[1:])) if b != a + 1]
        self.assertEqual(gaps, [], "seq must grow by one per request within the term")
        relayed = sum(1 for line in replies if line["relayed"])
        fraction = relayed / len(replies)
        self.assertEqual(summary.get("relayed"), relayed, summary)
        report(f"1000 requests to random nodes of 3: {elapsed:.2f} s wall "
               f"({1000 / elapsed:.0f}/s including process start), relayed {fraction:.3f}, "
               f"p50 {summary.get('p50_us')} us, p99 {summary.get('p99_us')} us")
        self.assertTrue(0.55 <= fraction <= 0.78, f"relayed fraction {fraction} (2/3 expected)")
        leader_row = cluster.status(leader)
        self.assertGreaterEqual(leader_row["executed"], 1000, leader_row)

    # -- a Python client of our own --

    def test_python_dealer_and_req_clients_get_ok_from_every_node(self):
        cluster, leader, term = self.running_cluster(3)
        seqs = []
        for kind in ("dealer", "req"):
            client_id = proto.new_client_id(kind)
            for request_id, node in enumerate(cluster.ids, start=1):
                # Arbitrary bytes, NULs included, must come back unchanged.
                payload = f"{kind} to {node} ".encode() + bytes(range(256))
                with cluster.connect(node, kind) as connection:
                    reply = connection.request(client_id, request_id, payload, timeout_ms=2000)
                self.assert_ok_reply(reply, client_id=client_id, request_id=request_id, message=payload,
                                     received_by=node, leader=leader, term=term)
                seqs.append(reply["seq"])
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(len(set(seqs)), len(seqs), f"seq reused: {seqs}")

    def test_status_request_from_python_client(self):
        cluster, leader, term = self.running_cluster(3)
        for kind in ("dealer", "req"):
            for node in cluster.ids:
                with cluster.connect(node, kind) as connection:
                    row = connection.status(77, 2.0)
                self.assertIsNotNone(row, f"{kind}: no status from node {node}")
                self.assertEqual((row["request_id"], row["id"], row["term"], row["leader"]),
                                 (77, node, term, leader))
                self.assertEqual(row["role"], "leader" if node == leader else "follower")

    def test_retry_with_the_same_id_is_executed_once(self):
        """Exactly once (§6.7): a retry of (client_id, request_id) on another
        node gets the original answer, with the original seq."""
        cluster, leader, term = self.running_cluster(3)
        followers = [i for i in cluster.ids if i != leader]
        client_id = proto.new_client_id("retry")
        executed_before = cluster.status(leader)["executed"]
        first = cluster.connect(followers[0]).request(client_id, 5, b"once", timeout_ms=2000)
        self.assert_ok_reply(first, client_id=client_id, request_id=5, message=b"once",
                             received_by=followers[0], leader=leader, term=term)
        for node in (followers[1], leader, followers[0]):
            again = cluster.connect(node).request(client_id, 5, b"once", timeout_ms=2000)
            self.assert_ok_reply(again, client_id=client_id, request_id=5, message=b"once",
                                 received_by=node, leader=leader, term=term)
            self.assertEqual(again["seq"], first["seq"], f"retry via node {node} was executed again")
        # Two copies in flight at once, through two different followers.
        a, b = cluster.connect(followers[0]), cluster.connect(followers[1])
        a.send(proto.client_request(client_id, 6, 2000, b"twice"))
        b.send(proto.client_request(client_id, 6, 2000, b"twice"))
        reply_a, reply_b = a.recv(3.0), b.recv(3.0)
        self.assertIsNotNone(reply_a)
        self.assertIsNotNone(reply_b)
        self.assertEqual((reply_a["status"], reply_b["status"]), ("ok", "ok"))
        self.assertEqual(reply_a["seq"], reply_b["seq"], "concurrent duplicates executed twice")
        self.assertEqual(cluster.status(leader)["executed"], executed_before + 2,
                         "the leader executed a retried request more than once")

    def test_node_option_pins_every_request(self):
        cluster, leader, term = self.running_cluster(3)
        follower = next(i for i in cluster.ids if i != leader)
        for node, relayed in ((follower, True), (leader, False)):
            result = cluster.run_client("--json", "send", "--count", "40", "--node", node, "pinned")
            self.assertEqual(result.returncode, 0, result.stderr)
            lines = parse_json_lines(result.stdout)
            self.assertEqual(lines[-1]["ok"], 40, lines[-1])
            for line in lines[:-1]:
                self.assertEqual(line["sent_to"], node, line)
                self.assertEqual(line["relayed"], relayed, line)
                self.assertEqual(line["answered_by"], leader, line)
        result = cluster.run_client("send", "--node", "9", "x")
        self.assertNotEqual(result.returncode, 0, "--node of a node not in the file must fail")
        self.assertIn("9", result.stderr)

    # -- leader change --

    def test_requests_held_across_a_leader_change_are_not_lost(self):
        """§6.6: requests a follower relayed to a leader that froze are re-sent
        to the next leader or answered with an explicit retryable status,
        never left unanswered."""
        cluster, leader, term = self.running_cluster(3)
        followers = [i for i in cluster.ids if i != leader]
        cluster.pause(leader)
        client_id = proto.new_client_id("failover")
        connections = {node: cluster.connect(node) for node in followers}
        for request_id, node in enumerate(followers * 3, start=1):
            connections[node].send(proto.client_request(client_id, request_id, 4000, b"across"))
        replies = {}
        deadline = time.monotonic() + 4.0 + 1.0
        while len(replies) < len(followers) * 3 and time.monotonic() < deadline:
            for node, connection in connections.items():
                reply = connection.recv(0.02)
                if reply is not None:
                    replies[reply["request_id"]] = reply
        new_leader, new_term = cluster.wait_for_leader(followers)
        cluster.resume(leader)
        missing = sorted(set(range(1, len(followers) * 3 + 1)) - set(replies))
        self.assertEqual(missing, [], "requests left unanswered across the leader change")
        statuses = sorted(reply["status"] for reply in replies.values())
        report(f"leader {leader} frozen, node {new_leader} took over (term {new_term}): "
               f"held requests answered {statuses}")
        for reply in replies.values():
            if reply["status"] == "ok":
                self.assertEqual((reply["answered_by"], reply["term"]), (new_leader, new_term), reply)
            else:
                self.assertIn(reply["status"], proto.RETRYABLE, reply)
        # A retry with the same id (what a client does with a retryable
        # status) is answered by the new leader.
        with cluster.connect(new_leader) as connection:
            for request_id, reply in sorted(replies.items()):
                retry = connection.request(client_id, request_id, b"across", timeout_ms=2000)
                self.assertEqual(retry and retry["status"], "ok", retry)
                self.assertEqual(retry["answered_by"], new_leader, retry)
                if reply["status"] == "ok":
                    self.assertEqual(retry["seq"], reply["seq"], "an executed request ran twice")

    # -- no leader --

    def test_request_without_leader_is_unavailable_at_its_deadline(self):
        """§6.6: a follower that knows no leader holds the request until its
        deadline and then answers `unavailable` (retryable)."""
        cluster = self.cluster(3)
        cluster.start(1)
        wait_until(lambda: cluster.status(1), 3.0, "node 1 to answer")
        timeout_ms = 800
        client_id = proto.new_client_id("noleader")
        with cluster.connect(1) as connection:
            started = time.monotonic()
            reply = connection.request(client_id, 1, b"anyone?", timeout_ms=timeout_ms, wait_s=5.0)
            elapsed = time.monotonic() - started
        self.assertIsNotNone(reply, "no reply at all within 5 s")
        report(f"no leader: `{reply['status']}` after {elapsed * 1000:.0f} ms "
               f"(deadline {timeout_ms} ms): {reply['message']!r}")
        self.assertEqual(reply["status"], "unavailable", reply)
        self.assertIn(reply["status"], proto.RETRYABLE)
        self.assertEqual((reply["client_id"], reply["request_id"]), (client_id, 1))
        self.assertEqual((reply["received_by"], reply["answered_by"], reply["seq"]), (1, 0, 0), reply)
        self.assertTrue(reply["message"], "a reason is expected")
        self.assertGreaterEqual(elapsed, timeout_ms / 1000 - 0.02, "answered before the deadline")
        self.assertLess(elapsed, timeout_ms / 1000 + 0.7, "answered long after the deadline")

        for args, statuses in ((("--node", "1"), {"unavailable"}), ((), {"unavailable", "no_answer"})):
            started = time.monotonic()
            result = cluster.run_client("--json", "--timeout-ms", "600", "send", *args, "anyone?",
                                        timeout=30)
            elapsed = time.monotonic() - started
            self.assertNotEqual(result.returncode, 0, "a failed request must make the exit non-zero")
            lines = parse_json_lines(result.stdout)
            self.assertEqual(len(lines), 2, result.stdout)
            self.assertIn(lines[0]["status"], statuses, lines[0])
            self.assertEqual((lines[1]["sent"], lines[1]["ok"], lines[1]["failed"]), (1, 0, 1), lines[1])
            self.assertLess(elapsed, 5.0, "relay-client must give up near its deadline")


if __name__ == "__main__":
    unittest.main()
