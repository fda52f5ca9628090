"""WebSocketPing against the real geows CLI: a silent client is pinged after the interval
and, if nothing at all answers within the timeout, its connection fails (no close frame)
and ends as any other; clients that answer, or keep talking, stay; without the directive
nothing is ever sent unasked; draft-76 connections get TCP keepalive instead."""

from __future__ import annotations

import json
import logging
import re
import select
import subprocess
import time
from logging.handlers import BufferingHandler

import pytest
from websockets.sync.client import connect

from tests.draft76 import Draft76Client
from tests.geows_process import GeowsProcess, run_cli
from tests.test_lifecycle import RawClient, frame

CONFIG = """
Listen 127.0.0.1:@PORT@
<Location /ping>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/liveness.py liveness_init
  WebSocketPing 0.5 1
</Location>
<Location /slow>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/liveness.py liveness_init
  WebSocketPing 60
</Location>
<Location /quiet>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/liveness.py liveness_init
</Location>
<Location /off>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/liveness.py liveness_init
  WebSocketPing Off
</Location>
"""

# Echo, and: "block N" holds the connection's reader N seconds before answering (a plugin
# call that takes long); "stats" answers what a leak would grow.
LIVENESS = '''
import gc
import json
import sys

import gevent

from geows.plugin import TEXT, Plugin
from geows.runtime.handshake import Handshake
from geows.runtime.session import Session


def liveness_init():
    def on_connect(server):
        return server.request.query or "-"

    def on_message(state, server, type, data):
        if type == TEXT and data.startswith("block "):
            gevent.sleep(float(data[6:]))
        if type == TEXT and data == "stats":
            data = json.dumps({
                "watchers": gevent.get_hub().loop.activecnt,
                "connections": sum(isinstance(o, (Handshake, Session)) for o in gc.get_objects())})
        server.send(type, data)

    def on_disconnect(state, server):
        print(f"on_disconnect {state}", file=sys.stderr, flush=True)

    return Plugin(on_connect=on_connect, on_message=on_message, on_disconnect=on_disconnect)
'''

PING, PONG, TEXT = 0x9, 0xA, 0x1
INTERVAL, TIMEOUT = 0.5, 1.0
FAILED = '"no answer to a ping within 1s"'


@pytest.fixture(scope="module")
def geows():
    process = GeowsProcess(CONFIG, extra_files={"liveness.py": LIVENESS})
    yield process
    assert process.stop() == 0


def access_line(process: GeowsProcess, id: str) -> str:
    """The access line of the connection opened with ?id, once it is logged."""
    process.wait_for_log(f"?id={id} ")
    return next(line for line in process.access_log.splitlines() if f"?id={id} " in line)


@pytest.mark.parametrize("version", [13, 8])  # RFC 6455, and hybi-08 which frames as it does
def test_a_silent_client_is_pinged_then_failed_without_a_close_frame(geows, version):
    id = f"silent{version}"
    client = RawClient(geows.port, f"id={id}", path="/ping", version=version)
    opened = time.monotonic()
    assert client.recv_frame() == (PING, b"")
    pinged = time.monotonic() - opened
    with pytest.raises(EOFError):  # the TCP connection ends; a close frame would be read
        client.recv_frame()
    failed = time.monotonic() - opened
    assert INTERVAL - 0.1 < pinged < INTERVAL + 1
    assert INTERVAL + TIMEOUT - 0.1 < failed < INTERVAL + TIMEOUT + 2
    assert access_line(geows, id).endswith(FAILED)
    # The access line is written after on_disconnect returned.
    assert geows.error_log.count(f"on_disconnect id={id}\n") == 1


def test_a_client_that_answers_pings_stays_open(geows):
    logger = logging.getLogger("test_ping.websockets")  # the client logs every frame at debug
    logger.setLevel(logging.DEBUG)
    logger.addHandler(frames := BufferingHandler(capacity=10_000))
    # ping_interval=None: the client never pings itself, so it only answers the server's.
    with connect(f"ws://127.0.0.1:{geows.port}/ping?id=answers", ping_interval=None,
                 logger=logger) as ws:
        time.sleep(4 * INTERVAL)  # past interval + timeout: it answered
        ws.send("still here")
        assert ws.recv(timeout=5) == "still here"
    lines = [record.getMessage() for record in frames.buffer]
    assert sum(line.startswith("< PING") for line in lines) >= 2, lines
    assert sum(line.startswith("> PONG") for line in lines) >= 2, lines
    assert access_line(geows, "answers").endswith('"client closed"')


def test_a_client_that_keeps_talking_but_never_pongs_stays_open(geows):
    client = RawClient(geows.port, "id=talks", path="/ping")
    client.sock.sendall(frame(PONG, b"unasked"))  # goes nowhere: not a message
    client.send_text("first")
    assert next_message(client) == (TEXT, b"first")
    for n in range(10):  # 2 s: pings unanswered would have failed it at 1.5 s
        client.send_text(f"message {n}")
        assert next_message(client) == (TEXT, f"message {n}".encode())
        time.sleep(0.2)
    assert client.close_cleanly() == 1000
    assert access_line(geows, "talks").endswith('"client closed"')


def test_a_client_held_up_by_a_plugin_call_is_not_failed(geows):
    """Bytes waiting unread in the socket are an answer: the reader was busy, not the
    client silent."""
    client = RawClient(geows.port, "id=held", path="/ping")
    client.send_text("block 2")  # past interval + timeout
    for n in range(8):
        time.sleep(0.2)
        client.send_text(f"waiting {n}")
    assert next_message(client) == (TEXT, b"block 2")
    for n in range(8):
        assert next_message(client) == (TEXT, f"waiting {n}".encode())
    assert client.close_cleanly() == 1000
    assert access_line(geows, "held").endswith('"client closed"')


def next_message(client: RawClient) -> tuple[int, bytes]:
    """The next frame that is not a ping (left unanswered)."""
    while (received := client.recv_frame())[0] == PING:
        pass
    return received


def test_nothing_is_sent_unasked_without_the_directive_or_with_off(geows):
    quiet = RawClient(geows.port, "id=quiet", path="/quiet")
    off = RawClient(geows.port, "id=off", path="/off")
    # Long enough that a client of /ping would have been pinged, and failed.
    readable, _, _ = select.select([quiet.sock, off.sock], [], [], INTERVAL + TIMEOUT)
    assert readable == []
    for client in (quiet, off):
        client.send_text("x")
        assert client.recv_frame() == (TEXT, b"x")
        assert client.close_cleanly() == 1000


def keepalive_timer(server_port: int, client_port: int) -> str | None:
    """The kernel's timer on the server's end of a connection, as `ss -o` shows it:
    "keepalive,842ms,0" (kind, time left, probes sent), or None."""
    out = subprocess.run(["ss", "-tnoH", "state", "established", f"( sport = :{server_port} "
                          f"and dport = :{client_port} )"], capture_output=True, text=True,
                         check=True).stdout
    timer = re.search(r"timer:\(([^)]*)\)", out)
    return timer[1] if timer else None


def test_draft76_gets_tcp_keepalive_instead(geows):
    pinged = Draft76Client(geows.port, "/ping")
    quiet = Draft76Client(geows.port, "/quiet")
    time.sleep(INTERVAL + TIMEOUT)  # the kernel probes: answered by the client's kernel
    timer = keepalive_timer(geows.port, pinged.sock.getsockname()[1])
    assert timer is not None and timer.startswith("keepalive,"), timer
    left = timer.split(",")[1]
    # TCP_KEEPIDLE is the interval, rounded up to whole seconds: 1 s.
    assert left.endswith("ms") or left in ("1sec", "1.000sec"), timer
    assert keepalive_timer(geows.port, quiet.sock.getsockname()[1]) is None
    pinged.send("x")
    assert pinged.recv() == "x"  # no frame was ever sent unasked, and it is still open
    assert pinged.close() and quiet.close()


def test_pinged_connections_leave_no_timer_behind(geows):
    stats = RawClient(geows.port, "id=stats", path="/quiet")
    baseline = server_stats(stats)
    silent = [RawClient(geows.port, f"id=leak-silent{n}", path="/ping") for n in range(20)]
    for n in range(20):  # ended by the client, cleanly or dropped, a ping timer running
        client = RawClient(geows.port, f"id=leak-closed{n}", path="/slow")
        client.send_text("x")
        assert next_message(client) == (TEXT, b"x")
        if n % 2:
            client.sock.close()
        else:
            assert client.close_cleanly() == 1000
    for n, client in enumerate(silent):
        assert access_line(geows, f"leak-silent{n}").endswith(FAILED)
        client.sock.close()
    deadline = time.monotonic() + 10
    while (after := server_stats(stats)) != baseline and time.monotonic() < deadline:
        time.sleep(0.1)
    assert after == baseline
    assert stats.close_cleanly() == 1000


def server_stats(client: RawClient) -> dict:
    client.send_text("stats")
    return json.loads(client.recv_frame()[1])


@pytest.mark.parametrize(("arguments", "message"), [
    ("-1", "WebSocketPing interval '-1': expected a number of seconds greater than 0"),
    ("10 soon", "WebSocketPing timeout 'soon': expected a number of seconds greater than 0"),
])  # every refusal: tests/config/test_config_limits.py
def test_nonsense_is_refused_by_syntax_check(tmp_path, arguments, message):
    path = tmp_path / "httpd.conf"
    path.write_text("Listen 127.0.0.1:8099\n<Location /echo>\n"
                    "  SetHandler websocket-handler\n"
                    "  WebSocketHandler plugins/echo.py echo_init\n"
                    f"  WebSocketPing {arguments}\n</Location>\n")
    result = run_cli("-t", "-f", str(path))
    assert result.returncode == 1
    assert f"{path}:5: {message}" in result.stderr
    assert "Syntax OK" not in result.stderr
