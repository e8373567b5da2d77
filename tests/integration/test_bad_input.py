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


def hostile_client_frames():
    """(name, body, words one of which the reason must contain or None)."""
    rng = random.Random(20240917)
    valid = proto.client_request("hostile", 1, 1000, b"hello")
    cases = [
        ("empty frame", b"", None),
        ("truncated valid frame", valid[:-3], None),
        ("truncated after the array header", valid[:1], None),
        ("wrong version 2", pack([2, 10, "c", 1, 0, b"x"]), ["version"]),
        ("wrong version 0", pack([0, 10, "c", 1, 0, b"x"]), ["version"]),
        ("version as a string", pack(["1", 10, "c", 1, 0, b"x"]), ["version"]),
        ("unknown type 99", pack([1, 99, "c", 1, 0, b"x"]), ["type"]),
        ("unknown type 0", pack([1, 0]), ["type"]),
        ("envelope only", pack([1]), None),
        ("not an array", pack(42), None),
        ("a map", pack({"version": 1, "type": 10}), None),
        ("client_id is an integer", pack([1, 10, 5, 1, 0, b"x"]), ["client_id"]),
        ("request_id is a string", pack([1, 10, "c", "1", 0, b"x"]), ["request_id"]),
        ("request_id is negative", pack([1, 10, "c", -1, 0, b"x"]), ["request_id"]),
        ("request_id is nil", pack([1, 10, "c", None, 0, b"x"]), ["request_id"]),
        ("request_id is a float", pack([1, 10, "c", 1.5, 0, b"x"]), ["request_id"]),
        ("request_id is a bool", pack([1, 10, "c", True, 0, b"x"]), ["request_id"]),
        ("timeout_ms over 32 bits", pack([1, 10, "c", 1, 1 << 32, b"x"]), ["timeout_ms"]),
        ("message is an array", pack([1, 10, "c", 1, 0, [1]]), ["message"]),
        ("empty client_id", pack([1, 10, "", 1, 0, b"x"]), ["client_id"]),
        ("65-byte client_id", pack([1, 10, "c" * 65, 1, 0, b"x"]), ["client_id"]),
        ("too few fields", pack([1, 10, "c", 1, 0]), ["field"]),
        ("too many fields", pack([1, 10, "c", 1, 0, b"x", 7]), ["field"]),
        ("trailing bytes", valid + b"\x00", None),
        ("two messages in one frame", valid + valid, None),
        ("5 bytes announcing 2^32-1 array elements", b"\xdd\xff\xff\xff\xff", None),
        ("5 bytes announcing a 4 GiB str", b"\xdb\xff\xff\xff\xff", None),
        ("5 bytes announcing a 4 GiB bin", b"\xc6\xff\xff\xff\xff", None),
        ("5 bytes announcing a 2^32-1 map", b"\xdf\xff\xff\xff\xff", None),
        ("array of 17 elements", pack([1, 10] + [0] * 15), None),
        ("deeply nested arrays (100000)", b"\x91" * 100_000 + b"\xc0", None),
        ("nested 3 deep in a relay", pack([1, 20, 1, 1, 1, [[["c"]], 1, 0, b"x"]]), None),
        ("ext value", b"\x96\x01\x0a\xd4\x01\x00\x01\x00\xc4\x00", None),
        ("payload over 256 KiB", pack([1, 10, "c", 1, 0, b"x" * (300 << 10)]), None),
        ("frame just over 1 MiB", pack([1, 10, "c", 1, 0, b"x" * ((1 << 20) + 8)]), None),
        # Valid messages of the wrong kind for a client port.
        ("a ballot", proto.encode("ballot", 1, 1, 12345), None),
        ("a heartbeat", proto.heartbeat(99, 1, "leader", 1), None),
        ("a client_reply", proto.encode("client_reply", "c", 1, 0, 1, 0, 1, 1, 1, 1, b"x"), None),
        ("a relay", proto.encode("relay", 1, 1, 1000, ["c", 1, 0, b"x"]), None),
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
        self.assertEqual((reply["answered_by"], reply["seq"]), (0, 0), f"{case}: {reply}")
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
                connection.send(pack([1, 10, "c", 1, 0, b"x" * (2 << 20)]))
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
        return [
            b"",
            b"\xdd\xff\xff\xff\xff",
            random.Random(7).randbytes(200),
            pack([1, 21, 1, ["c", 1, 0, 1, 1, 1, 1, 1, 1, b"x"]]),  # relay_reply with a field short
            proto.encode("relay_reply", 1, ["c", 1, 0, 1, 1, 1, 99, 1, 1, b"forged"]),
            proto.encode("relay_reply", 999999, ["c", 1, 0, 1, 1, 1, 99, 1, 1, b"forged"]),
            proto.heartbeat(1000, sender, "leader", sender),
            [b"two", b"frames"],
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

    def assert_logged_drop(self, cluster, node):
        wait_until(lambda: re.search(r"dropped bad peer frame", cluster.nodes[node].output()), 2.0,
                   f"node {node} to log the dropped peer frames (proof that they arrived)")

    def send_all(self, connection, frames):
        for frame in frames:
            connection.send(frame)

    def test_garbage_from_an_unknown_node_id_is_dropped(self):
        cluster, leader, term = self.running_cluster()
        for node in cluster.ids:
            with cluster.connect(node, "dealer", routing_id=b"node-99", key="peer") as intruder:
                self.send_all(intruder, self.garbage(99))
                intruder.send(proto.encode("relay", 99, 1, 1000, ["intruder", 1, 1000, b"run me"]))
                self.assertIsNone(intruder.recv(0.3), "a node answered a peer that is not configured")
            self.assert_logged_drop(cluster, node)
        self.assert_unchanged_and_serving(cluster, leader, term)
        self.assertEqual(cluster.status(leader)["executed"], len(cluster.ids),
                         "the leader executed a relay from an unknown node")

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
                intruder.send(proto.encode("relay", 99, 1, 1000, ["intruder", 1, 1000, b"run me"]))
                self.assertIsNone(intruder.recv(0.3), "a node answered a relay from an unknown node")
                member = next(i for i in cluster.ids if i != node)
                intruder.send(proto.encode("relay", member, 2, 1000, ["intruder", 2, 1000, b"run me"]))
                reply = intruder.recv(2.0)
                self.assertIsNotNone(reply, "a relay naming a member got no answer on its connection")
                self.assertEqual(reply["type"], "relay_reply")
                self.assertEqual(reply["relay_id"], 2)
            self.assert_logged_drop(cluster, node)
        self.assert_unchanged_and_serving(cluster, leader, term)

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
            pack([1, 5, high, 99, 3]),
            pack([1, 5, high, 99, 7, 99]),                 # role code out of range
            proto.heartbeat(high, 99, "leader", 99),       # unknown node id
            proto.heartbeat(high, 0, "leader", 0),         # "no node"
            proto.heartbeat(high, 1_000_000, "leader", 1_000_000),
            pack([1, 5, high, 2_000_000, 3, 2_000_000]),   # id beyond the limit
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
