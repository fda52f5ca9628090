"""However a connection ends, on_disconnect runs exactly once for it and
nothing of it stays behind: after 10,000 connections ended every way there is,
the server's open descriptors, live greenlets and plugin states are back at
their baseline. (A greenlet stuck on a dead connection holds its descriptor;
this test fails then.) Shutdown ends the rest the same way."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time

from tests.draft76 import Draft76Client
from tests.geows_process import GeowsProcess

CYCLES = 10_000

CONFIG = """
Listen 127.0.0.1:@PORT@
<Location /life>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/lifecycle.py lifecycle_init
</Location>
"""

LIFECYCLE = '''
import gc
import json
import os
import sys

from gevent import monkey
from greenlet import greenlet

from geows.plugin import TEXT, Plugin, run_in_thread
from geows.runtime.handshake import Handshake
from geows.runtime.session import Session

live = {}
counts = {"connects": 0, "disconnects": 0, "twice": 0, "held": 0}
c_sleep = monkey.get_original("time", "sleep")   # a call that holds its thread


def hold():
    c_sleep(12)   # past SHUTDOWN_TIMEOUT (10 s): the stop kills the greenlet waiting on it
    counts["held"] += 1


def stats():
    return {
        "greenlets": sum(1 for o in gc.get_objects()
                         if isinstance(o, greenlet) and not o.dead),
        "fds": len(os.listdir("/proc/self/fd")),
        "connections": sum(1 for o in gc.get_objects() if isinstance(o, (Handshake, Session))),
        "live_states": len(live),
        **counts,
    }


def lifecycle_init():
    def on_connect(server):
        if server.request.query == "refuse":
            return None
        if server.request.query == "raise":
            raise RuntimeError("on_connect failed on purpose")
        if server.request.query == "stats":
            return "stats"   # the test's probe: not counted
        counts["connects"] += 1
        state = {"ended": False}
        live[id(state)] = state
        return state

    def on_message(state, server, type, data):
        if data == "close":
            server.close()
        elif data == "raise":
            raise RuntimeError("on_message failed on purpose")
        elif data == "hold":
            run_in_thread(hold)
        elif state == "stats":
            server.send(TEXT, json.dumps(stats()))
        else:
            server.send(type, data)

    def on_disconnect(state, server):
        if state == "stats":
            return
        if state["ended"]:
            counts["twice"] += 1
        state["ended"] = True
        del live[id(state)]
        counts["disconnects"] += 1

    def destroy():
        print("destroy: " + json.dumps(stats()), file=sys.stderr, flush=True)

    return Plugin(on_connect=on_connect, on_message=on_message,
                  on_disconnect=on_disconnect, destroy=destroy)
'''


def frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (RFC 6455 5.2), short payloads only."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


class RawClient:
    """Just enough RFC 6455 to end connections in every way, fast."""

    def __init__(self, port: int, query: str = "", linger_reset: bool = False,
                 path: str = "/life", version: int = 13):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if linger_reset:  # close() then sends RST instead of FIN
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(f"GET {path}{'?' + query if query else ''} HTTP/1.1\r\nHost: h\r\n"
                          "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n\r\n"
                          .encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        self.status = int(head.split()[1])

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buffer += data

    def recv_frame(self) -> tuple[int, bytes]:
        while len(self.buffer) < 2:
            self._fill()
        length = self.buffer[1] & 0x7F
        header = 2
        if length == 126:
            while len(self.buffer) < 4:
                self._fill()
            length, header = struct.unpack(">H", self.buffer[2:4])[0], 4
        while len(self.buffer) < header + length:
            self._fill()
        opcode, payload = self.buffer[0] & 0x0F, self.buffer[header:header + length]
        self.buffer = self.buffer[header + length:]
        return opcode, payload

    def send_text(self, text: str) -> None:
        self.sock.sendall(frame(0x1, text.encode()))

    def close_cleanly(self) -> int:
        """Close with 1000; the code of the server's close frame (1005: none, RFC 6455
        7.1.5)."""
        self.sock.sendall(frame(0x8, struct.pack(">H", 1000)))
        opcode, payload = self.recv_frame()
        self.sock.close()
        assert opcode == 0x8
        return struct.unpack(">H", payload[:2])[0] if payload else 1005

    def answer_close(self) -> int:
        """Wait for the server's close frame, then answer it with 1000; the code of the
        server's frame (1005: none). Answering first would race the server's own close:
        the server echoes a client's close that it reads before its plugin closes."""
        opcode, payload = self.recv_frame()
        self.sock.sendall(frame(0x8, struct.pack(">H", 1000)))
        self.sock.close()
        assert opcode == 0x8
        return struct.unpack(">H", payload[:2])[0] if payload else 1005


def end_one(port: int, way: int) -> None:
    if way == 0:      # draft-76, closing handshake
        client = Draft76Client(port, "/life")
        client.send("x")
        assert client.recv() == "x"
        assert client.close()
    elif way == 1:    # RFC 6455, closing handshake
        client = RawClient(port)
        client.send_text("x")
        assert client.recv_frame() == (0x1, b"x")
        assert client.close_cleanly() == 1000
    elif way == 2:    # draft-76, dropped without a closing handshake
        Draft76Client(port, "/life").sock.close()
    elif way == 3:    # RFC 6455, reset by the peer mid-message
        client = RawClient(port, linger_reset=True)
        client.sock.sendall(frame(0x1, b"partial")[:5])
        client.sock.close()
    elif way == 4:    # the plugin closes (no code, as mod_websocket's close()); the client answers
        client = RawClient(port)
        client.send_text("close")
        assert client.answer_close() == 1005
    elif way == 5:    # the plugin closes; the client vanishes without answering
        client = RawClient(port)
        client.send_text("close")
        client.sock.close()
    elif way == 6:    # the plugin raises: 1011
        client = RawClient(port)
        client.send_text("raise")
        assert client.recv_frame() == (0x8, struct.pack(">H", 1011))
        client.sock.close()
    elif way == 7:    # on_connect refuses: 403
        assert RawClient(port, "refuse").status == 403
    elif way == 8:    # on_connect raises: 500
        assert RawClient(port, "raise").status == 500
    elif way == 9:    # draft-76 accepted by on_connect, gone before its 8 key bytes
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /life HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Key1: 1 2\r\n"
                         b"Sec-WebSocket-Key2: 3 4\r\n\r\n")
    else:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            if way == 10:    # no such location: 404
                sock.sendall(b"GET /nowhere HTTP/1.1\r\nHost: h\r\n\r\n")
                assert sock.recv(4096).startswith(b"HTTP/1.1 404")
            elif way == 11:  # not HTTP at all
                sock.sendall(b"\x16\x03\x01\xff" * 100)
            elif way == 12:  # half a head, then gone
                sock.sendall(b"GET /life HTTP/1.1\r\nUpgrade: websocket\r\n")
            # way 13: connect and leave at once


WAYS = 14
ACCEPTED_WAYS = {0, 1, 2, 3, 4, 5, 6, 9}   # those on_connect accepts
SETTLING = ("greenlets", "fds", "connections", "live_states")


def server_stats(port: int) -> dict:
    client = RawClient(port, "stats")
    client.send_text("stats")
    opcode, payload = client.recv_frame()
    client.close_cleanly()
    return json.loads(payload)


def settled_stats(port: int, baseline: dict, timeout: float = 20) -> dict:
    """The stats once the connections just ended have finished ending."""
    deadline = time.monotonic() + timeout
    while True:
        stats = server_stats(port)
        settled = all(stats[k] <= baseline[k] for k in SETTLING)
        if settled or time.monotonic() > deadline:
            return stats
        time.sleep(0.2)


def test_10000_connections_ended_every_way_leave_nothing_behind():
    process = GeowsProcess(CONFIG, extra_files={"lifecycle.py": LIFECYCLE})
    try:
        for way in range(WAYS):   # warm up lazy imports and first-use allocations
            end_one(process.port, way)
        baseline = settled_stats(process.port, dict.fromkeys(SETTLING, 0), timeout=2)
        started = time.monotonic()
        for n in range(CYCLES):
            end_one(process.port, n % WAYS)
        elapsed = time.monotonic() - started
        after = settled_stats(process.port, baseline)
        print(f"{CYCLES} cycles in {elapsed:.1f} s; baseline {baseline}; after {after}")
        for key in SETTLING:
            assert after[key] == baseline[key], key
        assert after["twice"] == 0
        accepted = sum(n % WAYS in ACCEPTED_WAYS for n in range(CYCLES))
        assert after["connects"] - baseline["connects"] == accepted
        assert after["disconnects"] - baseline["disconnects"] == accepted
        unexpected = [line for line in process.error_log.splitlines()
                      if "Error" in line and "failed on purpose" not in line]
        assert unexpected == []
    finally:
        assert process.stop() == 0


def test_shutdown_ends_every_open_connection_once():
    process = GeowsProcess(CONFIG, extra_files={"lifecycle.py": LIFECYCLE})
    try:
        rfc = [RawClient(process.port) for _ in range(50)]
        draft = [Draft76Client(process.port, "/life") for _ in range(50)]
        for client in rfc:
            client.send_text("x")
            assert client.recv_frame() == (0x1, b"x")
    finally:
        assert process.stop() == 0
    for client in rfc:
        assert client.recv_frame() == (0x8, struct.pack(">H", 1001))   # going away
    for client in draft:
        assert client.recv() is None
    destroyed = json.loads(process.error_log.split("destroy: ")[1].splitlines()[0])
    assert destroyed["connects"] == destroyed["disconnects"] == 100
    assert destroyed["live_states"] == 0 and destroyed["twice"] == 0


def test_destroy_waits_for_plugin_calls_still_running_in_threads():
    """A C plugin's destroy() frees what its calls use: the stop waits (a bounded time)
    for calls still running in run_in_thread's threads after their greenlets ended."""
    process = GeowsProcess(CONFIG, extra_files={"lifecycle.py": LIFECYCLE})
    try:
        client = RawClient(process.port)
        client.send_text("hold")
        time.sleep(0.5)
    finally:
        assert process.stop(timeout=40) == 0
    destroyed = json.loads(process.error_log.split("destroy: ")[1].splitlines()[0])
    assert destroyed["held"] == 1
