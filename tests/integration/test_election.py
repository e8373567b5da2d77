"""Leader election with real processes (docs/protocol.md).

Every test checks the same outcome: exactly one leader, named by every node
in the same term, as `relay-client --json status` shows it. The time from
the first process start to agreement is printed; only a generous deadline
is asserted (speed is for the benchmark, not for timed tests).
"""

import random
import re
import time
import unittest

import harness
from harness import observe, report, wait_until

AGREEMENT_DEADLINE_S = 5.0


class ElectionTest(harness.ClusterTest):

    def assert_one_leader_everywhere(self, cluster, ids=None):
        """The rows of `relay-client --json status`: one leader, every row
        names it, all in one term. Returns (leader, term)."""
        ids = ids or cluster.ids
        rows, result = cluster.client_status()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(rows), sorted(cluster.all_ids))
        leaders = [i for i in ids if rows[i]["role"] == "leader"]
        self.assertEqual(len(leaders), 1, f"leaders among {ids}: {leaders}; rows {rows}")
        leader = leaders[0]
        term = rows[leader]["term"]
        self.assertGreaterEqual(term, 1)
        for i in ids:
            self.assertEqual(rows[i]["leader"], leader, f"node {i}: {rows[i]}")
            self.assertEqual(rows[i]["term"], term, f"node {i}: {rows[i]}")
            if i != leader:
                self.assertEqual(rows[i]["role"], "follower", f"node {i}: {rows[i]}")
        for i in set(cluster.all_ids) - set(ids):
            self.assertEqual(rows[i]["role"], "unreachable", f"node {i} is not running: {rows[i]}")
        return leader, term

    def start_all_and_measure(self, size):
        cluster = self.cluster(size)
        started = time.monotonic()
        cluster.start()
        leader, term = cluster.wait_for_leader(timeout=AGREEMENT_DEADLINE_S)
        elapsed = time.monotonic() - started
        report(f"{size} node(s) started at once: leader {leader} in term {term} agreed "
               f"after {elapsed * 1000:.0f} ms")
        self.assertEqual(self.assert_one_leader_everywhere(cluster), (leader, term))
        return cluster, leader, term

    # -- all at once --

    def test_one_node_elects_itself(self):
        _, leader, _ = self.start_all_and_measure(1)
        self.assertEqual(leader, 1)

    def test_three_nodes_started_at_once_agree_on_one_leader(self):
        self.start_all_and_measure(3)

    def test_five_nodes_started_at_once_agree_on_one_leader(self):
        self.start_all_and_measure(5)

    def test_two_nodes_need_both(self):
        """Quorum (§6.3): a majority of 2 is 2, so one node alone never leads."""
        cluster = self.cluster(2)
        cluster.start(1)
        # Long enough for node 1's election timeout ([T, 2T), T = 300 ms) to
        # fire and its pre-vote to go unanswered at least once.
        wait_until(lambda: (cluster.status(1) or {}).get("role") == "pre_candidate", 3.0,
                   "the lone node to notice it has no leader")

        def no_leader():
            row = cluster.status(1)
            self.assertIsNotNone(row)
            self.assertNotEqual(row["role"], "leader", "one node of two became leader")
            self.assertEqual(row["leader"], 0, row)

        observe(2 * cluster.election_ms / 1000, no_leader)
        started = time.monotonic()
        cluster.start(2)
        leader, term = cluster.wait_for_leader(timeout=AGREEMENT_DEADLINE_S)
        report(f"2 nodes: agreed on leader {leader} (term {term}) "
               f"{(time.monotonic() - started) * 1000:.0f} ms after the second started")
        self.assert_one_leader_everywhere(cluster)

    # -- one by one, in a random order --

    def start_one_by_one(self, size):
        cluster = self.cluster(size)
        seed = random.SystemRandom().randrange(1 << 32)
        order = random.Random(seed).sample(cluster.ids, size)
        report(f"{size} nodes one by one, order {order} (seed {seed})")
        started = time.monotonic()
        for node in order:
            cluster.start(node)
            # The next one starts once this one is up and has either found a
            # leader or noticed that there is none (it asks for a pre-vote).
            wait_until(lambda: (cluster.status(node) or {}).get("role") in
                       ("pre_candidate", "candidate") or (cluster.status(node) or {}).get("leader"),
                       3.0, f"node {node} to look for a leader")
        leader, term = cluster.wait_for_leader(timeout=AGREEMENT_DEADLINE_S)
        report(f"{size} nodes one by one: leader {leader} in term {term}, agreed "
               f"{(time.monotonic() - started) * 1000:.0f} ms after the first start")
        self.assert_one_leader_everywhere(cluster)

    def test_three_nodes_started_one_by_one(self):
        self.start_one_by_one(3)

    def test_five_nodes_started_one_by_one(self):
        self.start_one_by_one(5)

    # -- a late node joins an agreed cluster --

    def late_joiner(self, size):
        """Stability (§6.5): a node started well after the others agreed
        follows the existing leader; the term does not change."""
        cluster = self.cluster(size)
        late = random.Random().choice(cluster.ids)
        early = [i for i in cluster.ids if i != late]
        cluster.start(*early)
        leader, term = cluster.wait_for_leader(early, timeout=AGREEMENT_DEADLINE_S)

        def unchanged(ids):
            def check():
                result = cluster.agreement(ids)
                self.assertIsNotNone(result, harness.summarize(cluster.statuses(ids)))
                self.assertEqual(result[:2], (leader, term))
            return check

        # "Several seconds after": the healthy cluster must keep its leader
        # and term meanwhile (a healthy cluster keeps its leader indefinitely).
        observe(2.5, unchanged(early), interval=0.05)
        started = time.monotonic()
        cluster.start(late)
        joined = cluster.wait_for_leader(cluster.ids, timeout=AGREEMENT_DEADLINE_S,
                                         what=f"late node {late} to follow leader {leader}")
        report(f"{size} nodes, node {late} started late: it followed leader {leader} "
               f"after {(time.monotonic() - started) * 1000:.0f} ms")
        self.assertEqual(joined, (leader, term), "the late node changed the leader or the term")
        # Past the late node's longest election timeout (2T): it must not have
        # started an election against the healthy leader.
        observe(2 * cluster.election_ms / 1000 + 0.2, unchanged(cluster.ids), interval=0.05)
        self.assertEqual(self.assert_one_leader_everywhere(cluster), (leader, term))
        row = cluster.status(late)
        self.assertEqual(row["elections"], 0, f"the late node took part in an election: {row}")

    def test_late_node_follows_existing_leader_of_three(self):
        self.late_joiner(3)

    def test_late_node_follows_existing_leader_of_five(self):
        self.late_joiner(5)

    # -- failover --

    def test_killed_leader_is_replaced_in_a_later_term(self):
        """Failure detection (§6.4): the followers of a crashed leader elect
        a new one in a later term."""
        cluster = self.cluster(3)
        cluster.start()
        leader, term = cluster.wait_for_leader(timeout=AGREEMENT_DEADLINE_S)
        cluster.kill(leader)
        started = time.monotonic()
        survivors = [i for i in cluster.ids if i != leader]
        new_leader, new_term = cluster.wait_for_leader(survivors, timeout=AGREEMENT_DEADLINE_S)
        report(f"leader {leader} killed: node {new_leader} leads term {new_term} after "
               f"{(time.monotonic() - started) * 1000:.0f} ms")
        self.assertNotEqual(new_leader, leader)
        self.assertGreater(new_term, term)

    def test_frozen_leader_is_replaced_and_steps_down_when_it_wakes(self):
        """A leader that stops (SIGSTOP) is replaced; when it resumes it must
        follow the new leader, not lead a second time."""
        cluster = self.cluster(3)
        cluster.start()
        leader, term = cluster.wait_for_leader(timeout=AGREEMENT_DEADLINE_S)
        cluster.pause(leader)
        survivors = [i for i in cluster.ids if i != leader]
        new_leader, new_term = cluster.wait_for_leader(survivors, timeout=AGREEMENT_DEADLINE_S)
        self.assertGreater(new_term, term)
        cluster.resume(leader)
        started = time.monotonic()
        agreed = cluster.wait_for_leader(cluster.ids, timeout=AGREEMENT_DEADLINE_S,
                                         what=f"old leader {leader} to follow node {new_leader}")
        report(f"leader {leader} frozen: node {new_leader} took over in term {new_term}; the old "
               f"leader followed {(time.monotonic() - started) * 1000:.0f} ms after it woke")
        self.assertEqual(agreed, (new_leader, new_term))

    # -- equal ballots --

    def equal_seeds(self, size):
        """Every node draws the same random numbers; equal ballots must still
        give one leader (ties go to the lower node id)."""
        cluster = self.cluster(size)
        cluster.start(seed=4242)
        leader, term = cluster.wait_for_leader(timeout=AGREEMENT_DEADLINE_S)
        self.assert_one_leader_everywhere(cluster)
        ballots = {}
        pattern = re.compile(rf"ballot term={term} from=(\d+) ballot=(0x[0-9a-f]+)")
        for node in cluster.ids:
            for match in pattern.finditer(cluster.nodes[node].output()):
                ballots[int(match.group(1))] = match.group(2)
        report(f"{size} nodes with seed 4242: leader {leader} in term {term}; ballots {ballots}")
        best = max(ballots.values(), key=lambda text: int(text, 16), default=None)
        holders = sorted(node for node, ballot in ballots.items() if ballot == best)
        if len(holders) > 1:
            # The best ballot was drawn by several nodes: the lowest id wins.
            self.assertEqual(leader, holders[0], f"equal best ballots of {holders}: the lower id must win")

    def test_two_nodes_with_the_same_seed_elect_one_leader(self):
        self.equal_seeds(2)

    def test_three_nodes_with_the_same_seed_elect_one_leader(self):
        self.equal_seeds(3)


if __name__ == "__main__":
    unittest.main()
