"""Hostile input on every socket a node listens on (docs/architecture.md, "Errors": bad
input is dropped, counted and logged; a client gets an error reply).

Client port: each hostile frame that can be answered gets a `client_reply`
with status `bad_request` and a reason; the node keeps serving. Peer port and
election channel: garbage and forgeries from outside the cluster are dropped;
the node keeps serving and the leader stays the same.
"""

import random
import re
import time
import unittest

import msgpack
import zmq

import harness
import relay_proto as proto
from harness import observe, report, wait_until

pack = proto.pack


# A well-formed client_request's nine fields (an append of b"x"); the cases
# below break one field at a time.
REQUEST = {"client_id": "c", "request_id": 1, "timeout_ms": 0, "op": proto.OP["append"], "key": "",
           "value": b"x", "expected": b"", "from": 0, "count": 0}


def run_me(request_id):
    """The request inside an intruder's relay: an append of b"run me"."""
    return proto.request_fields("intruder", request_id, 1000, "append", value=b"run me")


def request_body(version=proto.VERSION, **changes):
    fields = dict(REQUEST, **changes)
    return pack([version, proto.TYPE["client_request"], *fields.values()])


def hostile_client_frames():
    """(name, body, words one of which the reason must contain or None)."""
    rng = random.Random(20240917)
    valid = proto.client_request("hostile", 1, 1000, b"hello")
    fields = list(REQUEST.values())
    cases = [
        ("empty frame", b"", None),
        ("truncated valid frame", valid[:-3], None),
        ("truncated after the array header", valid[:1], None),
        ("version 1 (before the replicated log)", pack([1, 10, "c", 1, 0, b"x"]), ["version"]),
        ("a v2 request under version 1", request_body(version=1), ["version"]),
        ("wrong version 3", request_body(version=3), ["version"]),
        ("wrong version 0", request_body(version=0), ["version"]),
        ("version as a string", request_body(version="2"), ["version"]),
        ("unknown type 99", pack([2, 99, *fields]), ["type"]),
        ("unknown type 0", pack([2, 0]), ["type"]),
        ("envelope only", pack([2]), None),
        ("not an array", pack(42), None),
        ("a map", pack({"version": 2, "type": 10}), None),
        ("client_id is an integer", request_body(client_id=5), ["client_id"]),
        ("request_id is a string", request_body(request_id="1"), ["request_id"]),
        ("request_id is negative", request_body(request_id=-1), ["request_id"]),
        ("request_id is nil", request_body(request_id=None), ["request_id"]),
        ("request_id is a float", request_body(request_id=1.5), ["request_id"]),
        ("request_id is a bool", request_body(request_id=True), ["request_id"]),
        ("timeout_ms over 32 bits", request_body(timeout_ms=1 << 32), ["timeout_ms"]),
        ("op out of range (7)", request_body(op=7), ["op"]),
        ("op out of range (255)", request_body(op=255), ["op"]),
        ("op as a name", request_body(op="put"), ["op"]),
        ("op negative", request_body(op=-1), ["op"]),
        ("key is an integer", request_body(op=2, key=7), ["key"]),
        ("key over 1024 bytes", request_body(op=2, key="k" * 1025), ["key"]),
        ("value is an array", request_body(value=[1]), ["value"]),
        ("expected is nil", request_body(op=5, key="k", expected=None), ["expected"]),
        ("from is a string", request_body(op=6, **{"from": "1"}), ["from"]),
        ("count over 32 bits", request_body(op=6, count=1 << 32), ["count"]),
        ("empty client_id", request_body(client_id=""), ["client_id"]),
        ("65-byte client_id", request_body(client_id="c" * 65), ["client_id"]),
        ("too few fields", pack([2, 10, *fields[:-1]]), ["field"]),
        ("too many fields", pack([2, 10, *fields, 7]), ["field"]),
        ("a version-1 request body under version 2", pack([2, 10, "c", 1, 0, b"x"]), ["field"]),
        ("trailing bytes", valid + b"\x00", None),
        ("two messages in one frame", valid + valid, None),
        ("5 bytes announcing 2^32-1 array elements", b"\xdd\xff\xff\xff\xff", None),
        ("5 bytes announcing a 4 GiB str", b"\xdb\xff\xff\xff\xff", None),
        ("5 bytes announcing a 4 GiB bin", b"\xc6\xff\xff\xff\xff", None),
        ("5 bytes announcing a 2^32-1 map", b"\xdf\xff\xff\xff\xff", None),
        ("array of 20 elements", pack([2, 10] + [0] * 18), ["field"]),
        ("array of 4097 elements", pack([2, 10] + [0] * 4095), None),
        ("deeply nested arrays (100000)", b"\x91" * 100_000 + b"\xc0", None),
        ("nested 4 deep in a relay", pack([2, 20, 1, 1, 1, [[[["c"]]], *fields[1:]]]), None),
        ("ext value", b"\x9b\x02\x0a\xd4\x01\x00\x01\x00\x01\xa0\xc4\x00\xc4\x00\x00\x00", None),
        ("payload over 256 KiB", request_body(value=b"x" * (300 << 10)), None),
        ("frame just over 1 MiB", request_body(value=b"x" * ((1 << 20) + 8)), None),
        # Valid messages of the wrong kind for a client port.
        ("a ballot", proto.encode("ballot", 1, 1, 12345, 0, 0), None),
        ("a heartbeat", proto.heartbeat(99, 1, "leader", 1), None),
        ("a client_reply", proto.encode("client_reply", "c", 1, 0, 1, 0, 1, 1, 1, 1, b"", 1, b"x", 0, []), None),
        ("a relay", proto.encode("relay", 1, 1, 1000, fields), None),
        ("an append", proto.encode("append", 1, 1, 0, 0, 0, 0, [[1, 1, 2, "c", 1, "k", b"v", b""]]), None),
        ("an append_reply", proto.encode("append_reply", 1, 1, 1, 5, 0), None),
        ("a snapshot", proto.encode("snapshot", 1, 1, 5, 1, 0, 1, b"x"), None),
        ("a tap", proto.encode("tap", 1, 1, 1, "in", "client", 0, 1, "x"), None),
    ]
    for length in (1, 7, 64, 1000, 70_000):
        cases.append((f"{length} random bytes", rng.randbytes(length), None))
    return cases


class ClientPortTest(harness.ClusterTest):

    def running_cluster(self):
        cluster = self.cluster(3)
        cluster.start()
        leader, term = cluster.wait_for_leader(timeout=5.0)
        return cluster, leader, term

    def assert_bad_request(self, reply, case, node):
        self.assertIsNotNone(reply, f"{case}: no reply from node {node} within the deadline")
        self.assertEqual(reply["type"], "client_reply", f"{case}: {reply}")
        self.assertEqual(reply["status"], "bad_request", f"{case}: {reply}")
        self.assertEqual(reply["received_by"], node, f"{case}: {reply}")
        self.assertEqual((reply["answered_by"], reply["index"]), (0, 0), f"{case}: {reply}")
        self.assertEqual((reply["found"], reply["value"], reply["position"], reply["values"]),
                         (False, b"", 0, []), f"{case}: no result fields in a refusal")
        reason = reply["message"].decode("utf-8", "replace")
        self.assertTrue(reason.strip(), f"{case}: the reply must give a reason")
        self.assertTrue(reason.isprintable() and len(reason) < 400, f"{case}: reason {reason!r}")
        return reason

    def assert_still_serving(self, cluster, leader, term):
        agreed = cluster.agreement()
        self.assertIsNotNone(agreed, harness.summarize(cluster.statuses()))
        self.assertEqual(agreed[:2], (leader, term), "the leader or term changed")
        client_id = proto.new_client_id("after")
        for request_id, node in enumerate(cluster.ids, start=1):
            with cluster.connect(node) as connection:
                reply = connection.request(client_id, request_id, b"still there?", timeout_ms=2000)
            self.assertIsNotNone(reply, f"node {node} no longer answers")
            self.assertEqual(reply["status"], "ok", reply)
            self.assertEqual(reply["answered_by"], leader, reply)
            self.assertGreaterEqual(reply["index"], 1, reply)

    def test_hostile_frames_get_bad_request_with_a_reason(self):
        cluster, leader, term = self.running_cluster()
        follower = next(i for i in cluster.ids if i != leader)
        reasons = {}
        for node in (leader, follower):
            for kind in ("dealer", "req"):
                for case, body, words in hostile_client_frames():
                    with cluster.connect(node, kind) as connection:
                        connection.send(body)
                        reply = connection.recv(2.0)
                    what = f"{case} via {kind} to node {node}"
                    reason = self.assert_bad_request(reply, what, node)
                    self.assertEqual((reply["client_id"], reply["request_id"]), ("", 0), what)
                    if words:
                        self.assertTrue(any(w in reason for w in words), f"{what}: reason {reason!r}")
                    reasons[case] = reason
        for case, reason in reasons.items():
            report(f"{case:45} -> {reason}")
        self.assert_still_serving(cluster, leader, term)

    def test_one_reply_per_hostile_frame_when_pipelined(self):
        """All hostile frames back to back on one DEALER, then a good request:
        exactly one bad_request per frame, in order, then the good answer."""
        cluster, leader, term = self.running_cluster()
        follower = next(i for i in cluster.ids if i != leader)
        cases = hostile_client_frames()
        with cluster.connect(follower) as connection:
            for _, body, _ in cases:
                connection.send(body)
            connection.send(proto.client_request("pipelined", 1, 2000, b"good"))
            for case, _, _ in cases:
                self.assert_bad_request(connection.recv(3.0), case, follower)
            reply = connection.recv(3.0)
            self.assertIsNotNone(reply, "no answer to the good request after the bad ones")
            self.assertEqual((reply["status"], reply["client_id"]), ("ok", "pipelined"), reply)
            self.assertIsNone(connection.recv(0.2), "an extra reply arrived")
        self.assert_still_serving(cluster, leader, term)

    def test_five_frame_message_gets_bad_request(self):
        """A message of 5 frames is not a Relay-Raft envelope, but the sender
        is known (the ROUTER has its routing id), so it can be answered."""
        cluster, leader, term = self.running_cluster()
        valid = proto.client_request("five", 1, 1000, b"x")
        failures = []
        for node in cluster.ids:
            for kind in ("dealer", "req"):
                with cluster.connect(node, kind) as connection:
                    connection.send([valid, b"b", b"c", b"d", b"e"])
                    reply = connection.recv(1.0)
                if reply is None:
                    failures.append(f"{kind} to node {node}: no reply")
                    continue
                self.assert_bad_request(reply, f"5 frames via {kind}", node)
        self.assert_still_serving(cluster, leader, term)
        self.assertEqual(failures, [], "a 5-frame message from a client got no bad_request reply")

    def test_oversized_frame_is_refused_and_the_node_survives(self):
        """A 2 MiB frame is over the socket's maximum message size: ZeroMQ
        drops the connection before the node sees it, so it cannot be
        answered; the client's DEALER reconnects and is served again."""
        cluster, leader, term = self.running_cluster()
        for node in cluster.ids:
            with cluster.connect(node) as connection:
                connection.send(b"\x00" * (2 << 20))
                connection.send(request_body(value=b"x" * (2 << 20)))
                reply = connection.recv(0.5)
                if reply is not None:
                    self.assert_bad_request(reply, "2 MiB frame", node)
                client_id = proto.new_client_id("big")
                request_ids = iter(range(1, 1000))

                def served():
                    r = connection.request(client_id, next(request_ids), b"small", timeout_ms=500,
                                           wait_s=0.8)
                    return r if r and r["status"] == "ok" else None

                wait_until(served, 5.0, f"node {node} to serve the same DEALER after a 2 MiB frame")
        self.assert_still_serving(cluster, leader, term)


class PeerPortTest(harness.ClusterTest):
    """The peer ROUTER only takes relays from configured nodes ("node-N")."""

    def running_cluster(self):
        cluster = self.cluster(3)
        cluster.start()
        leader, term = cluster.wait_for_leader(timeout=5.0)
        return cluster, leader, term

    def garbage(self, sender):
        forged_reply = ["c", 1, 0, 1, 1, 1, 99, 1, 1, b"", 1, b"forged", 7, [b"forged"]]
        return [
            b"",
            b"\xdd\xff\xff\xff\xff",
            random.Random(7).randbytes(200),
            pack([2, 21, 1, forged_reply[:-1]]),  # relay_reply with a field short
            pack([1, 21, 1, forged_reply]),       # version 1
            # Only relays, append replies and snapshot replies come in on the
            # peer port; a leader answers relays on a follower's connection.
            proto.encode("relay_reply", 1, forged_reply),
            proto.encode("relay_reply", 999999, forged_reply),
            proto.heartbeat(1000, sender, "leader", sender),
            proto.encode("append", 1000, sender, 0, 0, 1 << 40, 0, [[1, 1000, 2, "c", 1, "k", b"forged", b""]]),
            proto.encode("snapshot", 1000, sender, 1 << 40, 1000, 0, 1, b"forged"),
            [b"two", b"frames"],
        ]

    def forged_replies(self, term):
        """Append and snapshot replies that name no member: they must be
        dropped before they reach the leader's bookkeeping."""
        return [
            proto.encode("append_reply", term, 99, 1, 1 << 40, 1 << 40),       # unknown node
            proto.encode("append_reply", term, 0, 1, 1 << 40, 1 << 40),        # "no node"
            proto.encode("append_reply", term + 1000, 99, 0, 0, 0),            # unknown, higher term
            proto.encode("append_reply", term, 1_000_000, 1, 1 << 40, 0),      # the largest id
            pack([2, 23, term, 2_000_000, 1, 5, 0]),                            # id beyond the limit
            pack([2, 23, term, 99, 2, 5, 0]),                                   # flag out of range
            pack([2, 23, term, 99, 1, 5]),                                      # a field short
            proto.encode("snapshot_reply", term, 99, 1 << 40, 1 << 40),        # unknown node
        ]

    def garbage_appends(self, term, leader):
        """Appends that do not decode, as a leader's peer ROUTER could send them."""
        entry = [1, term, 2, "c", 1, "k", b"v", b""]
        return [
            b"",
            random.Random(11).randbytes(300),
            pack([2, 22, term, leader, 0, 0, 0, 0, 5]),                          # entries not an array
            pack([2, 22, term, leader, 0, 0, 0, 0, b"entries"]),                 # entries a bin
            pack([2, 22, term, leader, 0, 0, 0, 0, [5]]),                        # an entry not an array
            pack([2, 22, term, leader, 0, 0, 0, 0, [entry[:6]]]),                # an entry two fields short
            pack([2, 22, term, leader, 0, 0, 0, 0, [entry + [0]]]),              # an entry a field long
            pack([2, 22, term, leader, 0, 0, 0, 0, [[1, term, 9, *entry[3:]]]]),  # op out of range
            pack([2, 22, term, leader, 0, 0, 0, 0, [entry] * 4097]),             # too many entries
            pack([2, 22, term, leader, 0, 0, 0, 0, [[[[entry]]]]]),              # nested too deep
            pack([2, 22, term, leader, 0, 0, 0, [entry]]),                       # a field short
            pack([1, 22, term, leader, 0, 0, 0, 0, [entry]]),                    # version 1
            pack([2, 22, term, leader, -1, 0, 0, 0, [entry]]),                   # negative prev_index
            [pack([2, 22, term, leader, 0, 0, 0, 0, []]), b"second frame"],
        ]

    def assert_unchanged_and_serving(self, cluster, leader, term, deadline_s=5.0):
        agreed = cluster.agreement()
        self.assertIsNotNone(agreed, harness.summarize(cluster.statuses()))
        self.assertEqual(agreed[:2], (leader, term), "the leader or term changed")
        client_id = proto.new_client_id("peer")
        request_ids = iter(range(1, 100000))
        for node in cluster.ids:
            connection = cluster.connect(node)

            def ok():
                reply = connection.request(client_id, next(request_ids), b"fine?", timeout_ms=500, wait_s=1.0)
                return reply if reply and reply["status"] == "ok" else None

            reply = wait_until(ok, deadline_s, f"node {node} to serve requests again")
            self.assertEqual((reply["answered_by"], reply["term"]), (leader, term), reply)

    def assert_logged_drop(self, cluster, node, pattern=r"dropped bad peer frame"):
        wait_until(lambda: re.search(pattern, cluster.nodes[node].output()), 2.0,
                   f"node {node} to log the dropped peer frames (proof that they arrived)")

    def assert_state_intact(self, cluster, stream_before):
        """Nothing forged reached the state machine: the stream is what the
        clients appended and no forged key exists."""
        connection = cluster.connect(cluster.ids[0])
        stream = connection.read(1, count=1000, timeout_ms=2000)
        self.assertEqual(stream and stream["status"], "ok", stream)
        self.assertEqual(stream["values"][:len(stream_before)], stream_before)
        self.assertNotIn(b"forged", stream["values"])
        for key in ("k", "c"):
            reply = connection.get(key, timeout_ms=2000)
            self.assertEqual((reply["status"], reply["found"]), ("ok", False), f"forged key {key}: {reply}")

    def send_all(self, connection, frames):
        for frame in frames:
            connection.send(frame)

    def test_garbage_from_an_unknown_node_id_is_dropped(self):
        cluster, leader, term = self.running_cluster()
        for node in cluster.ids:
            with cluster.connect(node, "dealer", routing_id=b"node-99", key="peer") as intruder:
                self.send_all(intruder, self.garbage(99))
                intruder.send(proto.encode("relay", 99, 1, 1000, run_me(1)))
                self.assertIsNone(intruder.recv(0.3), "a node answered a peer that is not configured")
            self.assert_logged_drop(cluster, node)
        self.assert_unchanged_and_serving(cluster, leader, term)
        self.assertEqual(cluster.status(leader)["executed"], len(cluster.ids),
                         "the leader executed a relay from an unknown node")
        self.assert_state_intact(cluster, [])

    def test_forged_append_replies_naming_no_member_are_dropped(self):
        """An append_reply or snapshot_reply naming an unknown node (or none)
        on any node's peer port is dropped and logged; the leader keeps its
        followers' progress, its commit index and its term, and serves."""
        cluster, leader, term = self.running_cluster()
        before = cluster.connect(leader).append(b"before", timeout_ms=2000)
        self.assertEqual(before["status"], "ok", before)
        for node in [leader] + [i for i in cluster.ids if i != leader]:
            with cluster.connect(node, "dealer", key="peer") as intruder:
                for _ in range(3):
                    self.send_all(intruder, self.forged_replies(term))
                self.assertIsNone(intruder.recv(0.3), "a node answered a forged append_reply")
            self.assert_logged_drop(cluster, node, r"dropped bad peer frame: (message from an unknown node|only relay)")
        self.assert_unchanged_and_serving(cluster, leader, term)
        rows = cluster.statuses()
        for node, row in rows.items():
            self.assertLess(row["commit_index"], 1 << 40, f"node {node} took a forged index: {row}")
            self.assertLessEqual(row["commit_index"], rows[leader]["last_index"], row)
        self.assert_state_intact(cluster, [b"before"])

    def test_garbage_appends_from_a_members_address_are_dropped(self):
        """Followers take appends on their own connections to every other
        member's peer port. A fourth configured member's peer endpoint is
        bound by the test, so the three nodes connect to it; garbage sent down
        those connections is dropped and logged, and the cluster keeps its
        leader and its data."""
        cluster = self.cluster(3, spare=1)
        cluster.start()
        leader, term = cluster.wait_for_leader(timeout=5.0)
        first = cluster.connect(leader).append(b"before", timeout_ms=2000)
        self.assertEqual(first["status"], "ok", first)
        # A DEALER, bound: it deals each frame to the next connected node.
        impostor = cluster.context.socket(zmq.DEALER)
        impostor.setsockopt(zmq.LINGER, 0)
        self.addCleanup(impostor.close, 0)
        impostor.bind(cluster.endpoint(4, "peer"))
        frames = self.garbage_appends(term, 4)

        for node in cluster.ids:
            self.assertNotIn("dropped bad peer frame", cluster.nodes[node].output(), "before any garbage")

        def every_node_dropped():
            for frame in frames:
                for _ in cluster.ids:  # once per connected node, round robin
                    try:
                        if isinstance(frame, list):
                            impostor.send_multipart(frame, zmq.NOBLOCK)
                        else:
                            impostor.send(frame, zmq.NOBLOCK)
                    except zmq.Again:  # no node connected yet
                        return False
            return all("dropped bad peer frame" in cluster.nodes[node].output() for node in cluster.ids)

        wait_until(every_node_dropped, 5.0, "all three nodes to drop garbage appends from node 4's address",
                   interval=0.05)
        self.assert_unchanged_and_serving(cluster, leader, term)
        self.assert_state_intact(cluster, [b"before"])
        rows = cluster.statuses()
        for node, row in rows.items():
            self.assertEqual(row["term"], term, row)
            self.assertLess(row["last_index"], 1 << 40, row)

    def test_garbage_without_a_routing_id_is_dropped(self):
        """Peers connect without routing ids; a relay names its sender. A
        stranger's garbage and a relay from a node id that is not in the
        configuration are dropped; a relay that names a member is answered on
        the stranger's own connection (peers are not authenticated in this
        version, docs/protocol.md "Security") and never disturbs the cluster."""
        cluster, leader, term = self.running_cluster()
        for node in cluster.ids:
            with cluster.connect(node, "dealer", key="peer") as intruder:
                self.send_all(intruder, self.garbage(1))
                intruder.send(proto.encode("relay", 99, 1, 1000, run_me(1)))
                self.assertIsNone(intruder.recv(0.3), "a node answered a relay from an unknown node")
                member = next(i for i in cluster.ids if i != node)
                intruder.send(proto.encode("relay", member, 2, 1000, run_me(2)))
                # The leader takes the connection a relay came on as the route
                # to the member it names, so the member's appends may come
                # here too until the member's next hello; skip them.
                received = []

                def relay_reply():
                    message = intruder.recv(0.05)
                    if message is not None:
                        received.append(message["type"])
                    return message if message and message["type"] == "relay_reply" else None

                reply = wait_until(relay_reply, 2.0, "a relay naming a member to be answered on its connection",
                                   detail=lambda: received)
                self.assertEqual(reply["relay_id"], 2)
                self.assertEqual(reply["reply"]["request_id"], 2)
                self.assertEqual(set(received) - {"append", "relay_reply"}, set(), received)
                if node == leader:
                    self.assertEqual((reply["reply"]["status"], reply["reply"]["answered_by"]), ("ok", leader))
                else:
                    self.assertEqual(reply["reply"]["status"], "not_leader", reply)
            self.assert_logged_drop(cluster, node)
        self.assert_unchanged_and_serving(cluster, leader, term)
        # A follower whose appends went astray catches up once it says hello again.
        last = cluster.status(leader)["last_index"]
        wait_until(lambda: all(row and row["applied_index"] >= last for row in cluster.statuses().values()),
                   5.0, f"every node to apply the leader's log up to {last}",
                   detail=lambda: {i: r and r["applied_index"] for i, r in cluster.statuses().items()})

    def test_garbage_from_an_impersonated_member_is_dropped(self):
        """A socket that presents a follower's old-style name ("node-F") on
        the leader's peer port and sends garbage: names carry no meaning on
        the peer port (the ROUTER tells connections apart, a relay names its
        sender), so the real follower's relays work while the impostor is
        connected and after it has gone."""
        cluster, leader, term = self.running_cluster()
        follower = next(i for i in cluster.ids if i != leader)
        with cluster.connect(leader, "dealer", routing_id=f"node-{follower}".encode(),
                             key="peer") as impostor:
            self.send_all(impostor, self.garbage(follower))
            self.assertIsNone(impostor.recv(0.2))
            self.assert_unchanged_and_serving(cluster, leader, term)
        self.assert_unchanged_and_serving(cluster, leader, term)
        # And the other way round: the leader's name on a follower's peer port.
        with cluster.connect(follower, "dealer", routing_id=f"node-{leader}".encode(),
                             key="peer") as impostor:
            self.send_all(impostor, self.garbage(leader))
            self.assert_unchanged_and_serving(cluster, leader, term)
        self.assert_unchanged_and_serving(cluster, leader, term)


class ElectionChannelTest(harness.ClusterTest):
    """A fourth configured node's election endpoint is bound by the test's
    own PUB, which the three running nodes subscribe to like any peer's."""

    def test_garbage_and_forged_election_messages_are_ignored(self):
        cluster = self.cluster(3, spare=1)
        cluster.start()
        leader, term = cluster.wait_for_leader(timeout=5.0)
        publisher = cluster.context.socket(zmq.XPUB)
        publisher.setsockopt(zmq.LINGER, 0)
        publisher.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.addCleanup(publisher.close, 0)
        publisher.bind(cluster.endpoint(4, "election"))
        subscriptions = []

        def all_subscribed():
            while publisher.poll(0, zmq.POLLIN):
                subscriptions.append(publisher.recv())
            return len(subscriptions) >= len(cluster.ids)

        wait_until(all_subscribed, 5.0, "the three nodes to subscribe to node 4's election endpoint")
        high = term + 1000
        forged = [
            b"",
            b"\x00",
            b"\xdd\xff\xff\xff\xff",
            b"\x91" * 50_000 + b"\xc0",
            random.Random(3).randbytes(512),
            pack([2, 5, high, 99, 3, 99]),
            pack([3, 5, high, 99, 3, 99]),
            pack([2, 5, high, 99, 3]),
            pack([2, 5, high, 99, 7, 99]),                 # role code out of range
            proto.heartbeat(high, 99, "leader", 99),       # unknown node id
            proto.heartbeat(high, 0, "leader", 0),         # "no node"
            proto.heartbeat(high, 1_000_000, "leader", 1_000_000),
            pack([2, 5, high, 2_000_000, 3, 2_000_000]),   # id beyond the limit
            proto.heartbeat(high, 99, "follower", 99),
            proto.encode("pre_vote", high, 99),
            proto.encode("pre_vote_grant", term + 1, 99, leader),
            proto.encode("ballot", high, 99, (1 << 64) - 1),
            proto.encode("vote", high, 99, 99),
            proto.encode("vote", term + 1, 99, 1),
            proto.client_request("c", 1, 0, b"x"),
            proto.encode("status_request", 1),
        ]
        rounds = 20
        for _ in range(rounds):
            for frame in forged:
                publisher.send(frame)
            publisher.send_multipart([b"multi", b"part"])
        for node in cluster.ids:
            wait_until(lambda: "dropped bad election frame" in cluster.nodes[node].output(), 2.0,
                       f"node {node} to log the dropped election frames (proof that they arrived)")

        def unchanged():
            agreed = cluster.agreement()
            self.assertIsNotNone(agreed, harness.summarize(cluster.statuses()))
            self.assertEqual(agreed[:2], (leader, term), "forged election messages changed the leader")
            rows = cluster.statuses()
            for row in rows.values():
                self.assertEqual(row["term"], term, row)

        # Past two election timeouts: nothing forged may have started one.
        observe(2 * cluster.election_ms / 1000 + 0.1, unchanged, interval=0.05)
        client_id = proto.new_client_id("election")
        for request_id, node in enumerate(cluster.ids, start=1):
            reply = cluster.connect(node).request(client_id, request_id, b"ok?", timeout_ms=2000)
            self.assertIsNotNone(reply)
            self.assertEqual((reply["status"], reply["answered_by"], reply["term"]), ("ok", leader, term))
        report(f"{rounds * (len(forged) + 1)} forged election messages: leader {leader} kept term {term}")


if __name__ == "__main__":
    unittest.main()
