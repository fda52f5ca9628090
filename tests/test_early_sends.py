"""What a plugin sends while on_connect runs (from on_connect itself, a greenlet or an OS
thread it started, a C plugin's pthread) reaches the client right after the 101, in
order, as mod_websocket's plugins' threads waited on the connection's lock across
on_connect; nothing of it goes out when on_connect refuses, and the error log says so.
Served by the real geows CLI, with two workers, to real clients."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

from tests.draft76 import Draft76Client
from tests.geows_process import GeowsProcess, missing_tool
from tests.process.test_workers import serving
from tests.test_c_plugins import CC, CFLAGS, TEST_SOURCES, status_of, url

CONFIG = """
Listen 127.0.0.1:@PORT@
StartServers 2
LogLevel info
<Location /early>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/early.py early_init
</Location>
<Location /early-c>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/early_c.so early_init
</Location>
"""

# on_connect sends, starts a greenlet and an OS thread that send at once, and returns
# only once both have sent all theirs: every message is sent before the 101. The query
# says how it ends: "refuse" (None: 403), "close" (the thread closes once both have sent:
# nothing sent after a close goes out).
EARLY = '''
import threading
import time

from gevent import monkey

from geows.plugin import TEXT, Plugin

start_os_thread = monkey.get_original("_thread", "start_new_thread")
os_sleep = monkey.get_original("time", "sleep")


def early_init():
    def on_connect(server):
        ending = server.request.query
        server.send(TEXT, "on_connect")
        done = []

        def os_thread():
            for n in range(5):
                server.send(TEXT, f"thread {n}")
            if ending == "close":  # once the greenlet has sent all its own
                deadline = time.monotonic() + 5
                while "greenlet" not in done and time.monotonic() < deadline:
                    os_sleep(0.01)
                server.close()
            done.append("thread")

        def greenlet():
            for n in range(3):
                server.send(TEXT, f"greenlet {n}")
            done.append("greenlet")

        start_os_thread(os_thread, ())
        threading.Thread(target=greenlet).start()  # monkeypatched: a greenlet
        deadline = time.monotonic() + 5
        while len(done) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # yields: the greenlet runs, the thread's sends are taken
        time.sleep(0.1)
        return None if ending == "refuse" else "accepted"

    def on_message(state, server, type, data):
        server.send(TEXT, "echo " + data)

    return Plugin(on_connect=on_connect, on_message=on_message)
'''

HELD = "not sent: the connection ended first"


@pytest.fixture(scope="module")
def geows(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeowsProcess]:
    if CC is None:
        missing_tool("no C compiler, cc (apt-get install gcc libc6-dev)")
    out = tmp_path_factory.mktemp("early")
    (out / "early.py").write_text(EARLY)
    build = subprocess.run([CC, *CFLAGS, "-o", str(out / "early_c.so"),
                            str(TEST_SOURCES / "early.c")],
                           capture_output=True, text=True, timeout=60)
    assert build.returncode == 0, f"cc early.c failed:\n{build.stderr}"
    server = GeowsProcess(CONFIG.replace("@DIR@", str(out)))
    try:
        serving(server)
        yield server
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.error_log


def by_sender(messages: list[str]) -> dict[str, list[str]]:
    """Each sender's messages, in the order they came."""
    senders: dict[str, list[str]] = {}
    for message in messages:
        senders.setdefault(message.split()[0], []).append(message)
    return senders


EXPECTED = {"on_connect": ["on_connect"], "thread": [f"thread {n}" for n in range(5)],
            "greenlet": [f"greenlet {n}" for n in range(3)]}


def test_python_sends_during_on_connect_come_right_after_the_101_in_order(
        geows: GeowsProcess) -> None:
    for _ in range(10):  # on both workers
        with connect(url(geows, "/early")) as ws:
            first = [ws.recv(timeout=5) for _ in range(9)]
            assert first[0] == "on_connect"  # sent before the others began
            assert by_sender(first) == EXPECTED
            ws.send("after")
            assert ws.recv(timeout=5) == "echo after"


def test_over_draft76_they_come_after_the_101_and_its_challenge(geows: GeowsProcess) -> None:
    client = Draft76Client(geows.port, "/early")
    first = [client.recv() for _ in range(9)]
    assert by_sender(first) == EXPECTED
    client.send("after")
    assert client.recv() == "echo after"
    client.close()


def test_a_close_during_on_connect_comes_after_what_was_sent_before_it(
        geows: GeowsProcess) -> None:
    with connect(url(geows, "/early?close")) as ws:
        first = [ws.recv(timeout=5) for _ in range(9)]
        assert by_sender(first) == EXPECTED
        with pytest.raises(ConnectionClosedOK) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 1005  # mod_websocket's close(): no code


def test_a_refused_connection_gets_none_of_it_and_the_log_says_so(
        geows: GeowsProcess) -> None:
    assert status_of(geows, "/early?refuse") == 403
    geows.wait_for_log(HELD, access=False)
    assert "9 message(s) the plugin sent before the handshake was answered" in \
        geows.error_log


def test_a_c_plugins_pthread_sending_during_on_connect_has_every_tick_delivered(
        geows: GeowsProcess) -> None:
    for _ in range(10):
        with connect(url(geows, "/early-c")) as ws:
            assert [ws.recv(timeout=5) for _ in range(6)] == \
                ["on_connect", *(f"tick {n}" for n in range(5))]
            ws.send("after")
            assert ws.recv(timeout=5) == "after"



def test_a_c_plugin_refusing_after_its_thread_sent_sends_none_of_it(geows: GeowsProcess) -> None:
    assert status_of(geows, "/early-c", additional_headers={"X-Refuse": "yes"}) == 403
    geows.wait_for_log("6 message(s) the plugin sent before the handshake was answered",
                       access=False)
    with connect(url(geows, "/early-c")) as ws:  # and the next connection has all its own
        assert ws.recv(timeout=5) == "on_connect"
