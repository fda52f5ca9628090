"""The process that serves sets Python's garbage collector for thousands of connections
(limits.GC_YOUNG_OBJECTS): its young generation collected after that many objects, and what
its start made frozen out of every collection; and a connection that ends leaves no garbage
that only a collection would free. Asked of the real CLI, a worker and -X's one process
alike, by a plugin that reports what it sees."""

from __future__ import annotations

import time

import pytest
from websockets.sync.client import connect

from geows import limits
from tests.draft76 import Draft76Client
from tests.geows_process import GeowsProcess
from tests.test_rfc6455_server import masked, raw_handshake, read_close_code

REPORT = '''
import gc
from geows.plugin import Plugin, TEXT

def report_init():
    def on_message(state, server, type, data):
        if data == "collect":  # how many unreachable objects a full collection finds
            server.send(TEXT, str(gc.collect()))
        else:
            server.send(TEXT, f"{gc.get_threshold()[0]} {gc.get_freeze_count()}")
    return Plugin(on_message=on_message)
'''

CONFIG = """
Listen 127.0.0.1:@PORT@
<Location /report>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/report.py report_init
</Location>
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</Location>
"""


@pytest.mark.parametrize("arguments", [(), ("-X",)], ids=["worker", "-X"])
def test_the_serving_process_collects_young_objects_late_and_froze_its_start(arguments):
    process = GeowsProcess(CONFIG, extra_files={"report.py": REPORT}, extra_args=arguments)
    try:
        with connect(f"ws://127.0.0.1:{process.port}/report", open_timeout=10) as ws:
            ws.send("?")
            threshold, frozen = map(int, str(ws.recv(timeout=10)).split())
    finally:
        assert process.stop() == 0
    assert threshold == limits.GC_YOUNG_OBJECTS
    assert frozen > 10_000   # the modules, the config and the plugins it loaded


EACH = 20  # connections of each kind


def _connections_of_every_kind(port: int) -> int:
    """Open, use and end EACH connections of each kind; returns how many in all."""
    for _ in range(EACH):
        for compression in ("deflate", None):  # permessage-deflate, or the short path
            with connect(f"ws://127.0.0.1:{port}/echo", compression=compression,
                         open_timeout=10) as ws:
                ws.send("hello")
                assert ws.recv(timeout=10) == "hello"
        client = Draft76Client(port, "/echo")
        client.send("hello")
        assert client.recv() == "hello"
        assert client.close()
        with raw_handshake(port) as dropped:  # gone without a close frame
            dropped.sendall(masked(0x1, b"hello"))
            assert dropped.recv(64).endswith(b"hello")
        with raw_handshake(port) as refused:  # closed by the server: a protocol error
            refused.sendall(masked(0x3, b"x"))
            assert read_close_code(refused) == 1002
    return 5 * EACH


def test_an_ended_connection_leaves_nothing_for_the_collector():
    """Reference counting frees a connection as it ends, whatever its protocol and however
    it ends: collections are seldom (limits.GC_YOUNG_OBJECTS), and what waits for one stays
    in the worker's memory meanwhile. Before, each RFC 6455 connection left 13 to 15
    objects in reference cycles (websockets' engines, held by their own parsers' generators
    and the inflater's callback), with its zlib contexts: 1,500 connections made one after
    the other grew the worker's RSS by 56 MB at 50,000 young objects, 1.3 MB at Python's
    700; none now."""
    process = GeowsProcess(CONFIG, extra_files={"report.py": REPORT})
    try:
        with connect(f"ws://127.0.0.1:{process.port}/report", open_timeout=10) as ws:
            ws.send("collect")
            ws.recv(timeout=10)  # what the start left, if anything
            ended = _connections_of_every_kind(process.port)
            deadline = time.monotonic() + 10
            while process.access_log.count("GET /echo") < ended \
                    and time.monotonic() < deadline:
                time.sleep(0.05)  # each logged as its greenlet ends
            assert process.access_log.count("GET /echo") == ended
            ws.send("collect")
            assert int(ws.recv(timeout=10)) == 0
    finally:
        assert process.stop() == 0
