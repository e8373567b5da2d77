"""relay-load, the load generator of bench/etcd_compare.sh: a malformed
endpoint or option is one line on stderr and exit status 2, and a short run
against a real cluster prints its figures. (The benchmark's numbers are never
asserted: docs/benchmarks.md.)"""
import json
import unittest

import harness
from harness import binary, run_program


class LoadGeneratorTest(harness.ClusterTest):

    def run_load(self, *args, timeout=30):
        result = run_program([binary("relay-load"), *args], timeout=timeout)
        self.note(f"relay-load {' '.join(args)} (exit {result.returncode})",
                  f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def test_malformed_arguments_are_one_line_and_exit_2(self):
        cases = [
            ("a relay endpoint with a stray suffix", ["--target", "relay", "--endpoints", "tcp://127.0.0.1:5551;x"],
             "5551;x"),
            ("a port out of range", ["--target", "relay", "--endpoints", "tcp://127.0.0.1:99999"], "99999"),
            ("no scheme", ["--target", "relay", "--endpoints", "127.0.0.1:5551"], "127.0.0.1:5551"),
            ("an etcd endpoint that is not http", ["--target", "etcd", "--endpoints", "tcp://127.0.0.1:2379"],
             "http://"),
            ("an unknown target", ["--target", "zookeeper", "--endpoints", "tcp://127.0.0.1:5551"], "target"),
            ("zero clients", ["--target", "relay", "--endpoints", "tcp://127.0.0.1:5551", "--clients", "0"],
             "clients"),
        ]
        for name, args, words in cases:
            with self.subTest(case=name):
                result = self.run_load(*args, timeout=5)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
                self.assertIn(words, result.stderr)
                self.assertTrue(result.stderr.startswith("relay-load: "), result.stderr)

    def test_a_short_run_against_a_cluster_reports_its_figures(self):
        cluster = self.cluster(3)
        cluster.start()
        cluster.wait_for_leader()
        endpoints = ",".join(cluster.endpoint(i) for i in cluster.ids)
        result = self.run_load("--target", "relay", "--endpoints", endpoints, "--clients", "4",
                               "--duration", "0.5", "--warmup", "0.2", "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        row = json.loads(result.stdout)
        self.assertEqual((row["system"], row["clients"]), ("relay", 4))
        self.assertGreater(row["ops"], 0)
        self.assertLessEqual(row["p50_ms"], row["p99_ms"])


if __name__ == "__main__":
    unittest.main()
