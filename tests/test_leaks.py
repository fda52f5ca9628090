"""However a client ends a connection, its greenlet ends and its socket is
released: after 2,000 connections ended every way a client can end them, the
server's open descriptors are back to where they started. (A greenlet stuck on
a dead connection would hold its descriptor; this test fails then.)"""

from __future__ import annotations

import os
import socket
import time

from websockets.sync.client import connect

from tests.draft76 import Draft76Client
from tests.geows_process import ECHO_CONFIG, GeowsProcess


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def end_one(port: int, way: int) -> None:
    if way == 0:    # clean draft-76 close
        client = Draft76Client(port, "/echo")
        client.send("x")
        client.recv()
        client.close()
    elif way == 1:  # clean RFC 6455 close
        with connect(f"ws://127.0.0.1:{port}/echo") as ws:
            ws.send("x")
            ws.recv()
    elif way == 2:  # open, then drop without a closing handshake
        client = Draft76Client(port, "/echo")
        client.sock.close()
    else:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            if way == 3:    # a 404
                sock.sendall(b"GET /nowhere HTTP/1.1\r\nHost: h\r\n\r\n")
                sock.recv(4096)
            elif way == 4:  # garbage
                sock.sendall(b"\x16\x03\x01\xff" * 100)
            elif way == 5:  # half a handshake, then gone
                sock.sendall(b"GET /echo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n")
            # way 6: connect and leave at once


def test_descriptors_return_to_baseline_after_2000_connections():
    process = GeowsProcess(ECHO_CONFIG)
    try:
        end_one(process.port, 0)  # warm up lazy imports and first-use allocations
        time.sleep(0.5)
        baseline = open_fds(process.proc.pid)
        for n in range(2000):
            end_one(process.port, n % 7)
        deadline = time.monotonic() + 15
        while open_fds(process.proc.pid) > baseline and time.monotonic() < deadline:
            time.sleep(0.2)
        assert open_fds(process.proc.pid) == baseline
        assert "Traceback" not in process.error_log
    finally:
        assert process.stop() == 0
