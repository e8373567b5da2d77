"""Client requests, relaying and the replicated state machine (README "The programs";
docs/protocol.md, rules "relay" and "exactly once", "Operations and their results").

`relay-client` is checked against its JSON contract; the Python client of
relay_proto.py (written from docs/protocol.md) talks to every node through
DEALER and REQ sockets. Protocol v2: a write is answered once a majority holds
it, with the log `index` it was applied at; reads see every acknowledged write.
"""

import itertools
import json
import os
import random
import time
import unittest

import harness
import relay_proto as proto
from harness import report, wait_until

REPLY_KEYS = ("request_id", "op", "sent_to", "received_by", "answered_by", "relayed", "term", "index",
              "status", "attempts", "latency_us")


def parse_json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def fresh_seed():
    """RELAY_TEST_SEED replays a run; otherwise a fresh seed, shown on failure."""
    return int(os.environ.get("RELAY_TEST_SEED") or random.SystemRandom().randrange(1 << 31))


class RelayTest(harness.ClusterTest):

    def running_cluster(self, size=3):
        cluster = self.cluster(size)
        cluster.start()
        leader, term = cluster.wait_for_leader(timeout=5.0)
        return cluster, leader, term

    def assert_ok_reply(self, reply, *, client_id, request_id, received_by, leader, term):
        """Common to every ok answer; the result fields are the caller's to check."""
        self.assertIsNotNone(reply, f"no reply from node {received_by}")
        self.assertEqual(reply["type"], "client_reply")
        self.assertEqual(reply["status"], "ok", reply)
        self.assertEqual(reply["client_id"], client_id)
        self.assertEqual(reply["request_id"], request_id)
        self.assertEqual(reply["message"], b"", "an ok reply carries no reason (and echoes nothing)")
        self.assertEqual(reply["received_by"], received_by, reply)
        self.assertEqual(reply["answered_by"], leader, reply)
        self.assertEqual(reply["relayed_by"], 0 if received_by == leader else received_by, reply)
        self.assertEqual(reply["term"], term, reply)
        self.assertEqual(reply["leader_hint"], leader, reply)
        self.assertGreaterEqual(reply["index"], 1, reply)

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
            # --count numbers the messages, so each is told apart in the stream.
            self.assertEqual((line["status"], line["op"], line["value"]),
                             ("ok", "append", f"req #{line['request_id']}"), line)
            self.assertEqual(line["answered_by"], leader, line)
            self.assertEqual(line["term"], term, line)
            self.assertIn(line["sent_to"], cluster.ids, line)
            self.assertEqual(line["received_by"], line["sent_to"], line)
            self.assertEqual(line["relayed"], line["sent_to"] != leader, line)
            self.assertIsInstance(line["latency_us"], int, line)
            self.assertGreater(line["latency_us"], 0, line)
        self.assertEqual([line["request_id"] for line in replies], list(range(1, 1001)),
                         "one reply per request, in order")
        # This client was the only writer of a fresh cluster and waited for
        # each answer: its messages are the stream's first 1000, in order, and
        # its writes are consecutive log entries (the term's noop came before).
        self.assertEqual([line["position"] for line in replies], list(range(1, 1001)),
                         "stream positions must be 1..1000 without gaps")
        indexes = [line["index"] for line in replies]
        gaps = [(i, a, b) for i, (a, b) in enumerate(zip(indexes, indexes[1:])) if b != a + 1]
        self.assertEqual(gaps, [], "each write must take the next log index")
        relayed = sum(1 for line in replies if line["relayed"])
        fraction = relayed / len(replies)
        self.assertEqual(summary.get("relayed"), relayed, summary)
        report(f"1000 appends to random nodes of 3: {elapsed:.2f} s wall "
               f"({1000 / elapsed:.0f}/s including process start), relayed {fraction:.3f}, "
               f"p50 {summary.get('p50_us')} us, p99 {summary.get('p99_us')} us")
        self.assertTrue(0.55 <= fraction <= 0.78, f"relayed fraction {fraction} (2/3 expected)")
        # Every node holds and has applied the committed log (followers learn
        # the commit index with the next append, hence a wait).
        last = indexes[-1]

        def applied_everywhere():
            rows = cluster.statuses()
            if all(row and row["applied_index"] >= last and row["commit_index"] >= last
                   and row["last_index"] >= last for row in rows.values()):
                return rows
            return None

        rows = wait_until(applied_everywhere, 5.0, f"every node to apply index {last}",
                          detail=lambda: {i: r and (r["last_index"], r["commit_index"], r["applied_index"])
                                          for i, r in cluster.statuses().items()})
        self.assertGreaterEqual(rows[leader]["executed"], 1000, rows[leader])

    # -- a Python client of our own --

    def test_python_dealer_and_req_clients_get_ok_from_every_node(self):
        cluster, leader, term = self.running_cluster(3)
        written = []  # (position, payload)
        indexes = []
        for kind in ("dealer", "req"):
            client_id = proto.new_client_id(kind)
            for request_id, node in enumerate(cluster.ids, start=1):
                # Arbitrary bytes, NULs included, must be stored unchanged.
                payload = f"{kind} to {node} ".encode() + bytes(range(256))
                with cluster.connect(node, kind) as connection:
                    reply = connection.request(client_id, request_id, payload, timeout_ms=2000)
                self.assert_ok_reply(reply, client_id=client_id, request_id=request_id,
                                     received_by=node, leader=leader, term=term)
                self.assertEqual(reply["values"], [], reply)
                written.append((reply["position"], payload))
                indexes.append(reply["index"])
        self.assertEqual(indexes, sorted(set(indexes)), f"indexes must grow: {indexes}")
        self.assertEqual([p for p, _ in written], list(range(1, len(written) + 1)))
        # Read back through each node, with both socket kinds.
        for kind in ("dealer", "req"):
            for node in cluster.ids:
                with cluster.connect(node, kind) as connection:
                    reply = connection.read(1, count=100, timeout_ms=2000)
                self.assertEqual(reply and reply["status"], "ok", reply)
                self.assertEqual(reply["position"], 1, reply)
                self.assertEqual(reply["values"], [payload for _, payload in written],
                                 f"read via {kind} to node {node}")
                self.assertGreaterEqual(reply["index"], indexes[-1], "a read must see acknowledged writes")

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
                # The new leader's noop is committed before anything is answered.
                self.assertGreaterEqual(row["last_index"], row["commit_index"], row)
                self.assertGreaterEqual(row["commit_index"], row["applied_index"], row)

    # -- the replicated state machine --

    def test_writes_then_reads_through_random_nodes_return_the_written_values(self):
        """Every op (put, get, del, cas, append, read) to a random node, checked
        against a model: writes answer with what they found and a log index
        above every earlier write's; reads, wherever they go, see every write
        acknowledged before them."""
        cluster, leader, term = self.running_cluster(3)
        seed = fresh_seed()
        self.note("seed (RELAY_TEST_SEED replays it)", str(seed))
        rng = random.Random(seed)
        connections = {node: cluster.connect(node) for node in cluster.ids}
        client_id = proto.new_client_id("model")
        request_ids = itertools.count(1)
        last_write = [0]
        kv, stream = {}, []

        def call(op, **fields):
            node = rng.choice(cluster.ids)
            request_id = next(request_ids)
            reply = connections[node].request(client_id, request_id, op=op, timeout_ms=2000, **fields)
            what = f"{op} {fields} via node {node} (seed {seed})"
            self.assertIsNotNone(reply, f"{what}: no answer")
            self.assertEqual(reply["status"], "ok", f"{what}: {reply}")
            self.assert_ok_reply(reply, client_id=client_id, request_id=request_id, received_by=node,
                                 leader=leader, term=term)
            if op in proto.READS:
                self.assertGreaterEqual(reply["index"], last_write[0], f"{what}: a stale read index")
            else:
                self.assertGreater(reply["index"], last_write[0], f"{what}: the log index must grow")
                last_write[0] = reply["index"]
            return reply, what

        def put(key, value):
            reply, what = call("put", key=key, value=value)
            self.assertEqual(reply["found"], key in kv, what)
            kv[key] = value

        def get(key):
            reply, what = call("get", key=key)
            self.assertEqual((reply["found"], reply["value"]), (key in kv, kv.get(key, b"")), what)

        def delete(key):
            reply, what = call("del", key=key)
            self.assertEqual(reply["found"], key in kv, what)
            kv.pop(key, None)

        def cas(key, expected, value):
            reply, what = call("cas", key=key, expected=expected, value=value)
            swapped = key in kv and kv[key] == expected
            if swapped:
                kv[key] = value
            self.assertEqual((reply["found"], reply["value"]), (swapped, kv.get(key, b"")), what)

        def append(message):
            reply, what = call("append", value=message)
            stream.append(message)
            self.assertEqual(reply["position"], len(stream), what)

        def read(from_, count):
            reply, what = call("read", from_=from_, count=count)
            first = max(from_, 1)
            expected = stream[first - 1:first - 1 + (count or 100)]
            self.assertEqual((reply["position"], reply["values"]), (first, expected), what)

        # Each op's cases once, in an order that exercises them ...
        get("k1")                                  # missing
        put("k1", b"v1")                           # new
        get("k1")
        put("k1", b"v2")                           # replaced
        get("k1")
        cas("k1", b"v1", b"v3")                    # wrong expected: not swapped
        cas("k1", b"v2", b"v3")                    # swapped
        get("k1")
        cas("missing", b"", b"x")                  # a cas never creates a key
        get("missing")
        delete("k1")
        delete("k1")                               # already gone: still ok
        get("k1")
        put("bin\x00key", bytes(range(256)))       # keys and values are bytes, NULs included
        get("bin\x00key")
        read(1, 10)                                # empty stream
        for n in range(5):
            append(f"m{n}".encode())
        append(b"")                                # an empty message is a message
        read(0, 0)                                 # from 0 means 1; count 0 the default
        read(2, 2)
        read(6, 5)
        read(7, 5)                                 # past the end: nothing
        # ... then a random mix.
        keys = ["a", "b", "c"]
        for step in range(80):
            key = rng.choice(keys)
            value = f"{step}".encode()
            choice = rng.randrange(6)
            if choice == 0:
                put(key, value)
            elif choice == 1:
                get(key)
            elif choice == 2:
                delete(key)
            elif choice == 3:
                cas(key, kv.get(key, b"none") if rng.random() < 0.7 else b"stale", value)
            elif choice == 4:
                append(value)
            else:
                read(rng.randrange(0, len(stream) + 2), rng.randrange(0, 4))
        # Everything is in every node's state machine: reads through each node agree.
        for node, connection in connections.items():
            for key in keys + ["k1", "missing", "bin\x00key"]:
                reply = connection.get(key, timeout_ms=2000)
                self.assertEqual((reply["status"], reply["found"], reply["value"]),
                                 ("ok", key in kv, kv.get(key, b"")), f"get {key} via node {node}")
            reply = connection.read(1, count=1000, timeout_ms=2000)
            self.assertEqual(reply["values"], stream, f"the stream via node {node}")

    def test_bad_operations_get_bad_request(self):
        """An empty key for put, get, del or cas, and the op noop, are refused
        with bad_request and a reason (docs/protocol.md)."""
        cluster, leader, term = self.running_cluster(3)
        follower = next(i for i in cluster.ids if i != leader)
        client_id = proto.new_client_id("badop")
        request_ids = itertools.count(1)
        for node in (leader, follower):
            connection = cluster.connect(node)
            for op in ("put", "get", "del", "cas", "noop"):
                reply = connection.request(client_id, next(request_ids), op=op, key="", value=b"v",
                                           timeout_ms=2000)
                self.assertIsNotNone(reply, f"{op} via node {node}: no answer")
                self.assertEqual(reply["status"], "bad_request", f"{op} via node {node}: {reply}")
                self.assertTrue(reply["message"], f"{op}: a reason is expected")
                self.assertEqual(reply["received_by"], node, reply)
        reply = cluster.connect(follower).get("nothing", timeout_ms=2000)
        self.assertEqual((reply["status"], reply["found"]), ("ok", False), reply)

    def test_retry_with_the_same_id_is_executed_once(self):
        """Exactly once: a retry of (client_id, request_id) on any node gets the
        original answer, with the original log index and result, and is not
        applied again."""
        cluster, leader, term = self.running_cluster(3)
        followers = [i for i in cluster.ids if i != leader]
        client_id = proto.new_client_id("retry")
        executed_before = cluster.status(leader)["executed"]
        first = cluster.connect(followers[0]).request(client_id, 5, b"once", timeout_ms=2000)
        self.assert_ok_reply(first, client_id=client_id, request_id=5, received_by=followers[0],
                             leader=leader, term=term)
        for node in (followers[1], leader, followers[0]):
            again = cluster.connect(node).request(client_id, 5, b"once", timeout_ms=2000)
            self.assert_ok_reply(again, client_id=client_id, request_id=5, received_by=node,
                                 leader=leader, term=term)
            self.assertEqual((again["index"], again["position"]), (first["index"], first["position"]),
                             f"retry via node {node} was applied again")
        # Two copies in flight at once, through two different followers.
        a, b = cluster.connect(followers[0]), cluster.connect(followers[1])
        a.send(proto.client_request(client_id, 6, 2000, b"twice"))
        b.send(proto.client_request(client_id, 6, 2000, b"twice"))
        reply_a, reply_b = a.recv(3.0), b.recv(3.0)
        self.assertIsNotNone(reply_a)
        self.assertIsNotNone(reply_b)
        self.assertEqual((reply_a["status"], reply_b["status"]), ("ok", "ok"))
        self.assertEqual(reply_a["index"], reply_b["index"], "concurrent duplicates applied twice")
        self.assertEqual(reply_a["position"], first["position"] + 1, reply_a)
        # A put retried after the key changed gets its original result and does
        # not overwrite the newer value.
        leader_connection = cluster.connect(leader)
        put = leader_connection.request(client_id, 7, op="put", key="r", value=b"old", timeout_ms=2000)
        newer = leader_connection.request(client_id, 8, op="put", key="r", value=b"new", timeout_ms=2000)
        self.assertEqual((put["status"], put["found"], newer["status"], newer["found"]), ("ok", False, "ok", True))
        retry = cluster.connect(followers[1]).request(client_id, 7, op="put", key="r", value=b"old",
                                                      timeout_ms=2000)
        self.assertEqual((retry["status"], retry["index"], retry["found"]), ("ok", put["index"], False), retry)
        value = leader_connection.get("r", timeout_ms=2000)
        self.assertEqual(value["value"], b"new", "a retried put was applied again")
        stream = leader_connection.read(1, timeout_ms=2000)
        self.assertEqual(stream["values"], [b"once", b"twice"])
        self.assertEqual(cluster.status(leader)["executed"], executed_before + 4,
                         "the leader applied a retried request more than once")

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
        """Requests a follower relayed to a leader that froze are re-sent to
        the next leader or answered with an explicit retryable status, never
        left unanswered; retried with the same ids, each is applied once."""
        cluster, leader, term = self.running_cluster(3)
        followers = [i for i in cluster.ids if i != leader]
        cluster.pause(leader)
        client_id = proto.new_client_id("failover")
        connections = {node: cluster.connect(node) for node in followers}
        count = len(followers) * 3
        message = {request_id: f"across {request_id}".encode() for request_id in range(1, count + 1)}
        for request_id, node in enumerate(followers * 3, start=1):
            connections[node].send(proto.client_request(client_id, request_id, 4000, message[request_id]))
        replies = {}
        deadline = time.monotonic() + 4.0 + 1.0
        while len(replies) < count and time.monotonic() < deadline:
            for node, connection in connections.items():
                reply = connection.recv(0.02)
                if reply is not None:
                    replies[reply["request_id"]] = reply
        new_leader, new_term = cluster.wait_for_leader(followers)
        cluster.resume(leader)
        missing = sorted(set(message) - set(replies))
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
        # status) is answered by the new leader, at the original index if the
        # first attempt was applied.
        with cluster.connect(new_leader) as connection:
            for request_id, reply in sorted(replies.items()):
                retry = connection.request(client_id, request_id, message[request_id], timeout_ms=2000)
                self.assertEqual(retry and retry["status"], "ok", retry)
                self.assertEqual(retry["answered_by"], new_leader, retry)
                if reply["status"] == "ok":
                    self.assertEqual((retry["index"], retry["position"]), (reply["index"], reply["position"]),
                                     "an applied request was applied again")
            stream = connection.read(1, count=1000, timeout_ms=2000)
        self.assertEqual(stream and stream["status"], "ok", stream)
        self.assertEqual(sorted(stream["values"]), sorted(message.values()),
                         "each request must be in the stream exactly once")

    # -- no leader --

    def test_request_without_leader_is_unavailable_at_its_deadline(self):
        """A follower that knows no leader holds the request until its
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
        self.assertEqual((reply["received_by"], reply["answered_by"], reply["index"]), (1, 0, 0), reply)
        self.assertEqual((reply["found"], reply["value"], reply["position"], reply["values"]),
                         (False, b"", 0, []), "no result fields when not ok")
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
