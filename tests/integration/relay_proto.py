"""A Relay-Raft protocol client in Python, written from docs/protocol.md.

It is deliberately independent of the C++ code: it builds and reads frames
with the `msgpack` package from the tables in docs/protocol.md (and
src/proto/codec.cpp, which is authoritative), so the integration tests that
use it also show that a client can be written in another language from the
documentation alone.

A frame is one msgpack array [version, type, field1, field2, ...]. Nested
structs (the request inside `relay`, the reply inside `relay_reply`, the
entries of `append`) are a nested array of their own fields, without version
and type.

Protocol version 2: a client_request names an operation (`op`) of the
replicated state machine; a client_reply carries the log `index` it was
applied at (or the read index) and the operation's result (`found`, `value`,
`position`, `values`).

    conn = Connection(context, endpoint)
    conn.put("k1", "v1")                      # the client_reply as a dict
    conn.get("k1")["value"]                   # b"v1"
    conn.request(op="cas", key="k1", expected="v1", value="v2")["found"]   # True: swapped
    conn.append("hello")["position"]          # its stream position
    conn.read(1, count=10)["values"]          # [b"hello", ...]

`Client` does the same over several nodes, retrying like relay-client.
"""

import itertools
import os
import random
import time

import msgpack
import zmq

VERSION = 2

# Message type codes and the fields of each, in wire order (docs/protocol.md,
# "Message reference").
MESSAGES = {
    1: ("pre_vote", ("term", "from", "last_log_term", "last_log_index")),
    2: ("pre_vote_grant", ("term", "from", "to")),
    3: ("ballot", ("term", "from", "ballot", "last_log_term", "last_log_index")),
    4: ("vote", ("term", "from", "candidate")),
    5: ("heartbeat", ("term", "from", "role", "leader")),
    10: ("client_request", ("client_id", "request_id", "timeout_ms", "op", "key", "value", "expected",
                            "from", "count")),
    11: ("client_reply", ("client_id", "request_id", "status", "received_by", "relayed_by",
                          "answered_by", "term", "index", "leader_hint", "message", "found", "value",
                          "position", "values")),
    12: ("status_request", ("request_id",)),
    13: ("status_reply", ("request_id", "id", "role", "term", "leader", "voted_for", "elections",
                          "leader_changes", "leaderless_ms", "heartbeat_age_ms", "requests",
                          "relayed", "executed", "pending", "last_index", "commit_index",
                          "applied_index")),
    20: ("relay", ("from", "relay_id", "remaining_ms", "request")),
    21: ("relay_reply", ("relay_id", "reply")),
    22: ("append", ("term", "leader", "prev_index", "prev_term", "commit_index", "round", "entries")),
    23: ("append_reply", ("term", "from", "ok", "last_index", "round")),
    24: ("snapshot", ("term", "leader", "last_index", "last_term", "offset", "done", "chunk")),
    25: ("snapshot_reply", ("term", "from", "last_index", "next_offset")),
    30: ("tap", ("node", "seq", "time_us", "kind", "channel", "peer", "size", "text")),
}
TYPE = {name: code for code, (name, _) in MESSAGES.items()}

# Structs that appear only nested: a log entry inside `append`.
STRUCTS = {
    "entry": ("index", "term", "op", "client_id", "request_id", "key", "value", "expected"),
}
# Fields that hold a nested struct, and fields that hold a list of them.
NESTED = {"request": "client_request", "reply": "client_reply"}
NESTED_LISTS = {"entries": "entry"}

# What each kind of field must be when it arrives.
TEXT_FIELDS = {"client_id", "kind", "channel", "text", "key"}         # str (bin accepted too)
BYTES_FIELDS = {"message", "value", "expected", "chunk"}              # bin (str accepted too)
FLAG_FIELDS = {"found", "ok", "done"}                                 # 0 or 1, shown as bool
BYTES_LIST_FIELDS = {"values"}                                        # array of bin

ROLES = {0: "follower", 1: "pre_candidate", 2: "candidate", 3: "leader"}
ROLE = {name: code for code, name in ROLES.items()}

STATUSES = {0: "ok", 1: "not_leader", 2: "unavailable", 3: "timeout", 4: "overloaded",
            5: "bad_request", 6: "unknown"}
STATUS = {name: code for code, name in STATUSES.items()}
RETRYABLE = {"not_leader", "unavailable", "timeout", "overloaded", "unknown"}

# Operations of client_request (docs/protocol.md, "Operations"); noop is
# written by a new leader and never sent by clients.
OPS = {0: "noop", 1: "append", 2: "put", 3: "get", 4: "del", 5: "cas", 6: "read"}
OP = {name: code for code, name in OPS.items()}
OP["delete"] = OP["del"]
READS = {"get", "read"}


class ProtocolError(Exception):
    """A frame from a node that does not follow docs/protocol.md."""


def pack(value):
    """msgpack with bytes as bin and str as str, as the protocol asks."""
    return msgpack.packb(value, use_bin_type=True)


def encode(type_name, *fields):
    """The body of one message: [VERSION, type, fields...]."""
    return pack([VERSION, TYPE[type_name], *fields])


def _bytes(value):
    if value is None:
        return b""
    return value.encode() if isinstance(value, str) else bytes(value)


def request_fields(client_id, request_id, timeout_ms=0, op="append", key="", value=b"", expected=b"",
                   from_=0, count=0):
    """The nine client_request fields in wire order (also what a `relay`
    carries as its nested `request`). Strings become UTF-8; `key` goes as
    str (bytes stay bin, which a node accepts too), values as bin."""
    code = OP[op] if isinstance(op, str) else int(op)
    return [client_id, request_id, timeout_ms, code, key, _bytes(value), _bytes(expected), from_, count]


def client_request(client_id, request_id, timeout_ms=0, message=None, *, op=None, key="", value=None,
                   expected=b"", from_=0, count=0):
    """A client_request body. The version-1 form client_request(id, rid,
    timeout, message) still works: it appends `message` to the stream.
    Otherwise name the operation: op="put", key=..., value=... (see OPS)."""
    if message is not None:
        if value is not None:
            raise ValueError("give message (an append) or value, not both")
        value = message
    if op is None:
        op = "append"
    return encode("client_request",
                  *request_fields(client_id, request_id, timeout_ms, op, key, value, expected, from_, count))


def status_request(request_id):
    return encode("status_request", request_id)


def heartbeat(term, sender, role, leader):
    return encode("heartbeat", term, sender, ROLE[role] if isinstance(role, str) else role, leader)


def _check_uint(type_name, name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"{type_name}: field {name} must be an unsigned integer, got {value!r}")


def _field(type_name, name, value):
    """One decoded field: nested structs as dicts, bin as bytes, flags as bool, codes as names."""
    if name in NESTED:
        if not isinstance(value, (list, tuple)):
            raise ProtocolError(f"{type_name}: field {name} must be an array")
        return _fields(NESTED[name], MESSAGES[TYPE[NESTED[name]]][1], value)
    if name in NESTED_LISTS:
        if not isinstance(value, (list, tuple)):
            raise ProtocolError(f"{type_name}: field {name} must be an array")
        struct = NESTED_LISTS[name]
        return [_fields(struct, STRUCTS[struct], item) if isinstance(item, (list, tuple))
                else _fail(f"{type_name}: {name} must hold arrays") for item in value]
    if name in TEXT_FIELDS:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "surrogateescape")
        if not isinstance(value, str):
            raise ProtocolError(f"{type_name}: field {name} must be a str, got {value!r}")
        return value
    if name in BYTES_FIELDS:
        if not isinstance(value, (bytes, str)):
            raise ProtocolError(f"{type_name}: field {name} must be bin or str, got {value!r}")
        return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    if name in BYTES_LIST_FIELDS:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, (bytes, str)) for v in value):
            raise ProtocolError(f"{type_name}: field {name} must be an array of bin, got {value!r}")
        return [v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v for v in value]
    _check_uint(type_name, name, value)
    if name in FLAG_FIELDS:
        if value > 1:
            raise ProtocolError(f"{type_name}: field {name} must be 0 or 1, got {value!r}")
        return bool(value)
    return value


def _fail(text):
    raise ProtocolError(text)


def _fields(type_name, names, values):
    if len(values) != len(names):
        raise ProtocolError(f"{type_name}: expected {len(names)} fields, got {len(values)}")
    out = {name: _field(type_name, name, value) for name, value in zip(names, values)}
    if "status" in out:
        out["status"] = STATUSES.get(out["status"], out["status"])
    if "role" in out:
        out["role"] = ROLES.get(out["role"], out["role"])
    if "op" in out:
        out["op"] = OPS.get(out["op"], out["op"])
    return out


def decode(body):
    """Reads one body into a dict with 'type' and the named fields; raises
    ProtocolError for anything that is not a version-2 message."""
    try:
        value = msgpack.unpackb(body, raw=False, unicode_errors="surrogateescape")
    except Exception as error:  # msgpack raises several unrelated types
        raise ProtocolError(f"not msgpack: {error}") from error
    if not isinstance(value, list) or len(value) < 2:
        raise ProtocolError(f"not an envelope: {value!r}")
    version, code, *rest = value
    if version != VERSION:
        raise ProtocolError(f"version {version!r}")
    if code not in MESSAGES:
        raise ProtocolError(f"unknown type {code!r}")
    name, names = MESSAGES[code]
    message = _fields(name, names, rest)
    message["type"] = name
    return message


_client_ids = itertools.count(1)


def new_client_id(prefix="py"):
    return f"{prefix}-{os.getpid()}-{next(_client_ids)}"


class Connection:
    """One DEALER or REQ socket to one node's client endpoint.

    request() and the helpers after it (put, get, delete, cas, append, send_message,
    read) wait for the client_reply to their (client_id, request_id); without a
    client_id they use the connection's own and the next request id."""

    def __init__(self, context, endpoint, kind="dealer", routing_id=None, client_id=None):
        self.kind = kind
        self.client_id = client_id or new_client_id("conn")
        self._request_ids = itertools.count(1)
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
        """Sends one raw body (or a list of frames); see request() for a whole call."""
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

    def request(self, client_id=None, request_id=None, message=None, timeout_ms=0, wait_s=None, *,
                op=None, key="", value=None, expected=b"", from_=0, count=0):
        """A client_request; waits for its client_reply (by client and request
        id) and returns it as a dict, or None if none came by `wait_s`
        (default: the request's deadline and a second more).

        request(op="put", key="k", value="v") uses this connection's client id;
        the version-1 form request(client_id, request_id, b"message", timeout_ms=...)
        still works and appends the message."""
        client_id = client_id if client_id is not None else self.client_id
        request_id = request_id if request_id is not None else next(self._request_ids)
        wait_s = wait_s if wait_s is not None else (timeout_ms or 2000) / 1000 + 1.0
        body = client_request(client_id, request_id, timeout_ms, message, op=op, key=key, value=value,
                              expected=expected, from_=from_, count=count)
        return self.call(body, wait_s,
                         match=lambda r: r["type"] == "client_reply" and r["client_id"] == client_id
                         and r["request_id"] == request_id)

    def put(self, key, value, **kw):
        return self.request(op="put", key=key, value=value, **kw)

    def get(self, key, **kw):
        return self.request(op="get", key=key, **kw)

    def delete(self, key, **kw):
        return self.request(op="del", key=key, **kw)

    def cas(self, key, expected, value, **kw):
        return self.request(op="cas", key=key, expected=expected, value=value, **kw)

    def append(self, message, **kw):
        return self.request(op="append", value=message, **kw)

    send_message = append

    def read(self, from_, count=0, **kw):
        return self.request(op="read", from_=from_, count=count, **kw)

    def status(self, request_id, wait_s):
        return self.call(status_request(request_id), wait_s,
                         match=lambda r: r["type"] == "status_reply" and r["request_id"] == request_id)


class Client:
    """A client of a whole cluster, like relay-client: each request goes to a
    random node; no answer, or a retryable status, sends the same request
    (same client_id and request_id) to another random node until the deadline.
    Returns the last reply (None if no node answered at all).

        client = Client(context, [endpoint1, endpoint2, endpoint3])
        client.put("k", "v")["index"]
        client.send("hello")["position"]
    """

    def __init__(self, context, endpoints, client_id=None, timeout_ms=2000, attempts=4, seed=None):
        self.client_id = client_id or new_client_id("client")
        self.timeout_ms = timeout_ms
        self.attempts = max(1, attempts)
        self.random = random.Random(seed)
        self._endpoints = list(endpoints)
        self._context = context
        self._connections = {}
        self._request_ids = itertools.count(1)
        self.last_tried = []  # the endpoints of the last request's attempts

    def close(self):
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _connection(self, endpoint):
        if endpoint not in self._connections:
            self._connections[endpoint] = Connection(self._context, endpoint, client_id=self.client_id)
        return self._connections[endpoint]

    def request(self, op, **fields):
        request_id = next(self._request_ids)
        deadline = time.monotonic() + self.timeout_ms / 1000
        share_s = self.timeout_ms / 1000 / self.attempts
        reply = None
        previous = None
        self.last_tried = []
        for _ in range(self.attempts):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            choices = [e for e in self._endpoints if e != previous] or self._endpoints
            endpoint = previous = self.random.choice(choices)
            self.last_tried.append(endpoint)
            attempt_s = max(min(share_s, left), 0.02)
            connection = self._connection(endpoint)
            answer = connection.request(self.client_id, request_id, timeout_ms=int(attempt_s * 1000),
                                        wait_s=attempt_s + 0.05, op=op, **fields)
            if answer is None:
                # Whatever is still queued for a node that does not answer must
                # not reach it later: drop the socket with it.
                connection.close()
                del self._connections[endpoint]
                continue
            reply = answer
            if reply["status"] not in RETRYABLE:
                break
            time.sleep(0.01)
        return reply

    def put(self, key, value):
        return self.request("put", key=key, value=value)

    def get(self, key):
        return self.request("get", key=key)

    def delete(self, key):
        return self.request("del", key=key)

    def cas(self, key, expected, value):
        return self.request("cas", key=key, expected=expected, value=value)

    def append(self, message):
        return self.request("append", value=message)

    send = append

    def read(self, from_, count=0):
        return self.request("read", from_=from_, count=count)
