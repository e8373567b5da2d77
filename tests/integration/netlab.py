"""A private network for integration tests: Linux network namespaces.

`NetLab` builds, for one test, a small switched network that only that test
uses:

    root namespace (the test: status probes, clients)
        rro<tag> 10.77.R.254 ──┐
                               │  veth pairs
    lab namespace  rrlab-<tag>: bridge br0 ── obs, n1, n2, n3 ...
                               │
    node namespace rrn<N>-<tag>: eth0 10.77.R.N   (one per node; relay-node
                                 runs in it through `ip netns exec`)

Each node has its own namespace, interface and address, so a firewall rule
in one node's namespace (`nft`) affects that node's traffic and nothing else.
The test itself stays in the root namespace and reaches every node through
its own veth into the bridge (the "observer" address 10.77.R.254), which is
why the harness's status probes and `relay-client` work unchanged.

Unique names per run: `<tag>` is random, and the subnet number R is held by
an exclusive lock file for the lab's life, so parallel runs and leftovers of
killed runs never collide. Everything is removed through the test's
`addCleanup` (processes first, then namespaces), also when the test fails.

Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN), `ip` (iproute2) and `nft`
(nftables); without them the test fails with a message saying so — a fault
test that quietly skips would look like a pass.
"""

import fcntl
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

LOCK_DIR = Path("/run/lock") if Path("/run/lock").is_dir() else Path("/tmp")
OBSERVER_HOST = 254
CUT_TABLE = "relaycut"


class NetLabError(Exception):
    """The lab could not be built (missing tools or privileges)."""


def run(args, check=True):
    """Runs one command of the lab's plumbing; raises NetLabError with its
    output when it fails and `check` is set."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=20,
                            stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise NetLabError(f"`{' '.join(map(str, args))}` failed (exit {result.returncode}): "
                          f"{(result.stderr or result.stdout).strip()}")
    return result


def missing_prerequisites():
    """A sentence saying why no lab can be built here, or None."""
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"`{tool}` is not installed (Debian package {package}; scripts/setup.sh installs it)"
    if os.geteuid() != 0:
        return ("network namespaces need root (CAP_NET_ADMIN, CAP_SYS_ADMIN); "
                f"this test runs as uid {os.geteuid()}")
    return None


class NetLab:
    """One test's private network: a bridge in a lab namespace, one namespace
    and one address per node, and a veth from the root namespace."""

    def __init__(self, test, node_ids):
        problem = missing_prerequisites()
        if problem:
            test.fail(f"cannot build the network lab: {problem}")
        self.node_ids = list(node_ids)
        self.tag = f"{random.SystemRandom().randrange(16 ** 6):06x}"
        self.lab_ns = f"rrlab-{self.tag}"
        self.observer_if = f"rro{self.tag}"
        self._namespaces = []
        self._lock = None
        self.subnet = None
        test.addCleanup(self._assert_removed)  # runs last: cleanups run in reverse order
        test.addCleanup(self.close)
        try:
            self.subnet = self._claim_subnet()
            self._build()
        except (NetLabError, OSError, subprocess.SubprocessError) as error:
            test.fail(f"cannot build the network lab (are we root with CAP_NET_ADMIN?): {error}")

    # -- addresses and names --

    def node_ns(self, node):
        return f"rrn{node}-{self.tag}"

    def address(self, node):
        return f"10.77.{self.subnet}.{node}"

    @property
    def observer_address(self):
        return f"10.77.{self.subnet}.{OBSERVER_HOST}"

    def netns_exec(self, node):
        """The command prefix that runs a program inside node's namespace."""
        return ["ip", "netns", "exec", self.node_ns(node)]

    # -- building and tearing down --

    def _claim_subnet(self):
        """Picks R for 10.77.R.0/24: not routed in the root namespace and not
        held by another live lab (an exclusive lock on a file per R)."""
        routes = run(["ip", "-4", "route", "show"], check=False).stdout
        candidates = list(range(1, 250))
        random.SystemRandom().shuffle(candidates)
        for subnet in candidates:
            if f"10.77.{subnet}." in routes:
                continue
            path = LOCK_DIR / f"relay-netlab-10.77.{subnet}.lock"
            handle = open(path, "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # The holder before us removes the file when it is done; a
                # lock on a file no longer at `path` proves nothing.
                if os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino:
                    raise OSError("lock file replaced")
            except OSError:
                handle.close()
                continue
            self._lock = (handle, path)
            return subnet
        raise NetLabError("no free 10.77.R.0/24 subnet")

    def _add_namespace(self, name):
        run(["ip", "netns", "add", name])
        self._namespaces.append(name)
        run(["ip", "-n", name, "link", "set", "lo", "up"])

    def _build(self):
        if len(self.node_ids) > 200 or any(not 1 <= n < OBSERVER_HOST for n in self.node_ids):
            raise NetLabError(f"node ids must be 1..{OBSERVER_HOST - 1}: {self.node_ids}")
        self._add_namespace(self.lab_ns)
        lab = ["ip", "-n", self.lab_ns]
        run(lab + ["link", "add", "br0", "type", "bridge"])
        run(lab + ["link", "set", "br0", "up"])
        for node in self.node_ids:
            ns = self.node_ns(node)
            self._add_namespace(ns)
            run(["ip", "link", "add", "eth0", "netns", ns, "type", "veth",
                 "peer", "name", f"n{node}", "netns", self.lab_ns])
            run(lab + ["link", "set", f"n{node}", "master", "br0", "up"])
            run(["ip", "-n", ns, "addr", "add", f"{self.address(node)}/24", "dev", "eth0"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        # The test's own way in: a veth from the root namespace into the bridge.
        run(["ip", "link", "add", self.observer_if, "type", "veth",
             "peer", "name", "obs", "netns", self.lab_ns])
        run(lab + ["link", "set", "obs", "master", "br0", "up"])
        run(["ip", "addr", "add", f"{self.observer_address}/24", "dev", self.observer_if])
        run(["ip", "link", "set", self.observer_if, "up"])

    def close(self):
        """Removes the observer veth and every namespace (their veths go with
        them); releases the subnet. The test's processes must be gone first:
        a namespace with a process in it outlives its name."""
        run(["ip", "link", "del", self.observer_if], check=False)
        for name in reversed(self._namespaces):
            run(["ip", "netns", "del", name], check=False)
        self._namespaces.clear()
        if self._lock:
            handle, path = self._lock
            path.unlink(missing_ok=True)  # still holding the lock: nobody can be using it
            handle.close()
            self._lock = None

    def _assert_removed(self):
        left = self.leftovers()
        links = run(["ip", "-o", "link", "show", self.observer_if], check=False)
        if left or links.returncode == 0:
            raise AssertionError(f"network lab {self.tag} not removed: namespaces {left}, "
                                 f"observer link present: {links.returncode == 0}")

    def leftovers(self):
        """Names of this lab's namespaces that still exist (for a test of the cleanup)."""
        listed = run(["ip", "netns", "list"], check=False).stdout
        return [line.split()[0] for line in listed.splitlines() if self.tag in line]

    # -- faults --

    def cut_incoming(self, node, keep_acks=True):
        """Node `node` stops receiving from the other nodes; what it sends still
        leaves. Traffic from the observer (the test's probes and clients) still
        reaches it, so the test can watch the cut node.

        With `keep_acks` (the default) pure TCP acknowledgements still come in:
        every message from the others is dropped, while the messages the node
        sends keep arriving. Without it every packet from the others is
        dropped; TCP then stops getting its sends acknowledged, and within a
        second or two retransmission back-off delays the node's own sends as
        well — a one-way link failure as TCP makes of it."""
        rules = [f'iifname "eth0" ip saddr {self.observer_address} accept']
        if keep_acks:
            # A pure ACK: no SYN/FIN/RST and no payload, i.e. an IP length of
            # exactly the headers (20 bytes of IP, 4 * doff of TCP).
            rules += [f'iifname "eth0" ip hdrlength 5 tcp flags & (fin | syn | rst) == 0 '
                      f'tcp doff {doff} ip length {20 + 4 * doff} accept' for doff in range(5, 16)]
        rules.append('iifname "eth0" counter drop')
        text = (f"table inet {CUT_TABLE} {{\n  chain input {{\n"
                "    type filter hook input priority filter; policy accept;\n"
                + "".join(f"    {rule}\n" for rule in rules) + "  }\n}\n")
        subprocess.run(["ip", "netns", "exec", self.node_ns(node), "nft", "-f", "-"], input=text,
                       text=True, capture_output=True, timeout=20, check=True)

    def heal(self, node):
        run(["ip", "netns", "exec", self.node_ns(node), "nft", "delete", "table", "inet", CUT_TABLE],
            check=False)

    def dropped_packets(self, node):
        """How many packets the cut in node's namespace has dropped so far."""
        listed = run(["ip", "netns", "exec", self.node_ns(node), "nft", "list", "table", "inet", CUT_TABLE],
                     check=False).stdout
        match = re.search(r"counter packets (\d+)", listed)
        return int(match.group(1)) if match else 0
