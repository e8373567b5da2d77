"""A Relay-Raft protocol client in Python, written from docs/protocol.md.

It is deliberately independent of the C++ code: it builds and reads frames
with the `msgpack` package from the tables in docs/protocol.md (and
src/proto/codec.cpp, which is authoritative), so the integration tests that
use it also show that a client can be written in another language from the
documentation alone.

A frame is one msgpack array [version, type, field1, field2, ...]. Nested
structs (the request inside `relay`, the reply inside `relay_reply`) are a
nested array of their own fields, without version and type.
"""

import itertools
import os
import time

import msgpack
import zmq

VERSION = 1

# Message type codes and the fields of each, in wire order (docs/protocol.md,
# "Message reference").
MESSAGES = {
    1: ("pre_vote", ("term", "from")),
    2: ("pre_vote_grant", ("term", "from", "to")),
    3: ("ballot", ("term", "from", "ballot")),
    4: ("vote", ("term", "from", "candidate")),
    5: ("heartbeat", ("term", "from", "role", "leader")),
    10: ("client_request", ("client_id", "request_id", "timeout_ms", "message")),
    11: ("client_reply", ("client_id", "request_id", "status", "received_by", "relayed_by",
                          "answered_by", "term", "seq", "leader_hint", "message")),
    12: ("status_request", ("request_id",)),
    13: ("status_reply", ("request_id", "id", "role", "term", "leader", "voted_for", "elections",
                          "leader_changes", "leaderless_ms", "heartbeat_age_ms", "requests",
                          "relayed", "executed", "pending")),
    20: ("relay", ("from", "relay_id", "remaining_ms", "request")),
    21: ("relay_reply", ("relay_id", "reply")),
    30: ("tap", ("node", "seq", "time_us", "kind", "channel", "peer", "size", "text")),
}
TYPE = {name: code for code, (name, _) in MESSAGES.items()}
NESTED = {"request": "client_request", "reply": "client_reply"}

ROLES = {0: "follower", 1: "pre_candidate", 2: "candidate", 3: "leader"}
ROLE = {name: code for code, name in ROLES.items()}

STATUSES = {0: "ok", 1: "not_leader", 2: "unavailable", 3: "timeout", 4: "overloaded",
            5: "bad_request", 6: "unknown"}
STATUS = {name: code for code, name in STATUSES.items()}
RETRYABLE = {"not_leader", "unavailable", "timeout", "overloaded", "unknown"}


class ProtocolError(Exception):
    """A frame from a node that does not follow docs/protocol.md."""


def pack(value):
    """msgpack with bytes as bin and str as str, as the protocol asks."""
    return msgpack.packb(value, use_bin_type=True)


def encode(type_name, *fields):
    """The body of one message: [1, type, fields...]."""
    return pack([VERSION, TYPE[type_name], *fields])


def client_request(client_id, request_id, timeout_ms=0, message=b""):
    if isinstance(message, str):
        message = message.encode()
    return encode("client_request", client_id, request_id, timeout_ms, message)


def status_request(request_id):
    return encode("status_request", request_id)


def heartbeat(term, sender, role, leader):
    return encode("heartbeat", term, sender, ROLE[role] if isinstance(role, str) else role, leader)


def _fields(type_name, values):
    names = MESSAGES[TYPE[type_name]][1]
    if len(values) != len(names):
        raise ProtocolError(f"{type_name}: expected {len(names)} fields, got {len(values)}")
    out = {}
    for name, value in zip(names, values):
        if name in NESTED:
            if not isinstance(value, (list, tuple)):
                raise ProtocolError(f"{type_name}: field {name} must be an array")
            value = _fields(NESTED[name], value)
        elif name in ("client_id", "kind", "channel", "text"):
            if not isinstance(value, str):
                raise ProtocolError(f"{type_name}: field {name} must be a str, got {value!r}")
        elif name == "message":
            if not isinstance(value, (bytes, str)):
                raise ProtocolError(f"{type_name}: field {name} must be bin or str")
            if isinstance(value, str):
                value = value.encode()
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ProtocolError(f"{type_name}: field {name} must be an unsigned integer, got {value!r}")
        out[name] = value
    if "status" in out:
        out["status"] = STATUSES.get(out["status"], out["status"])
    if type_name in ("status_reply", "heartbeat") and "role" in out:
        out["role"] = ROLES.get(out["role"], out["role"])
    return out


def decode(body):
    """Reads one body into a dict with 'type' and the named fields; raises
    ProtocolError for anything that is not a version-1 message."""
    try:
        value = msgpack.unpackb(body, raw=False)
    except Exception as error:  # msgpack raises several unrelated types
        raise ProtocolError(f"not msgpack: {error}") from error
    if not isinstance(value, list) or len(value) < 2:
        raise ProtocolError(f"not an envelope: {value!r}")
    version, code, *rest = value
    if version != VERSION:
        raise ProtocolError(f"version {version!r}")
    if code not in MESSAGES:
        raise ProtocolError(f"unknown type {code!r}")
    name = MESSAGES[code][0]
    message = _fields(name, rest)
    message["type"] = name
    return message


_client_ids = itertools.count(1)


def new_client_id(prefix="py"):
    return f"{prefix}-{os.getpid()}-{next(_client_ids)}"


class Connection:
    """One DEALER or REQ socket to one node's client endpoint."""

    def __init__(self, context, endpoint, kind="dealer", routing_id=None):
        self.kind = kind
        self.socket = context.socket(zmq.REQ if kind == "req" else zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        if routing_id is not None:
            self.socket.setsockopt(zmq.ROUTING_ID, routing_id)
        self.socket.connect(endpoint)

    def close(self):
        self.socket.close(linger=0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, body):
        if isinstance(body, (list, tuple)):
            self.socket.send_multipart(body)
        else:
            self.socket.send(body)

    def recv_frames(self, timeout_s):
        """The next whole message as a list of frames, or None at the deadline."""
        if self.socket.poll(int(timeout_s * 1000), zmq.POLLIN) == 0:
            return None
        return self.socket.recv_multipart()

    def recv(self, timeout_s):
        """The next message, decoded (a one-frame body), or None at the deadline."""
        frames = self.recv_frames(timeout_s)
        if frames is None:
            return None
        if len(frames) != 1:
            raise ProtocolError(f"expected one frame, got {len(frames)}: {frames!r}")
        return decode(frames[0])

    def call(self, body, timeout_s, match=None):
        """Sends one body and waits for the reply `match` accepts (default:
        any); replies that do not match (late answers to earlier requests)
        are skipped. Returns the decoded reply or None at the deadline."""
        self.send(body)
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            reply = self.recv(left)
            if reply is None:
                return None
            if match is None or match(reply):
                return reply

    def request(self, client_id, request_id, message=b"", timeout_ms=0, wait_s=None):
        """A client_request; waits for its client_reply (by client and request id)."""
        wait_s = wait_s if wait_s is not None else (timeout_ms or 2000) / 1000 + 1.0
        return self.call(client_request(client_id, request_id, timeout_ms, message), wait_s,
                         match=lambda r: r["type"] == "client_reply" and r["client_id"] == client_id
                         and r["request_id"] == request_id)

    def status(self, request_id, wait_s):
        return self.call(status_request(request_id), wait_s,
                         match=lambda r: r["type"] == "status_reply" and r["request_id"] == request_id)
