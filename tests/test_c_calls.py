"""Where a C plugin's callbacks run (geows.plugin.c_calls), through the real CLI: a
library that imports nothing that can wait is called on the event loop, as a Python
plugin is, through geows.plugin._c_inline; one that can wait (a sleep, its own mutex) is
called in threads and holds only its own connection, as under Apache; an inline call
that held the loop anyway sends its plugin to threads."""

from __future__ import annotations

import importlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from geows import limits
from tests.geows_process import GeowsProcess
from tests.test_blocking_plugins import round_trip_all
from tests.test_c_plugins import CC, CFLAGS, SHIPPED, TEST_SOURCES, build_httpd_runtime, url

CONFIG = """
Listen 127.0.0.1:@PORT@
LogLevel info
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler echo.so echo_init
</Location>
<Location /sleeper>
  SetHandler websocket-handler
  WebSocketHandler sleeper.so sleeper_init
</Location>
<Location /waiter>
  SetHandler websocket-handler
  WebSocketHandler waiter.so waiter_init
</Location>
<Location /spinner>
  SetHandler websocket-handler
  WebSocketHandler spinner.so spinner_init
</Location>
"""


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """geows' C parts built in place (setup.py), and the plugins, into one directory."""
    if CC is None:
        pytest.fail("no C compiler (cc): CI must have one to test C plugins")
    build_httpd_runtime()  # setup.py builds geows.plugin._c_inline with it
    importlib.import_module("geows.plugin._c_inline")  # ImportError: the fast path is missing
    out = tmp_path_factory.mktemp("c-calls")
    for source in (SHIPPED / "echo.c", TEST_SOURCES / "sleeper.c", TEST_SOURCES / "waiter.c",
                   TEST_SOURCES / "spinner.c"):
        build = subprocess.run([CC, *CFLAGS, "-o", str(out / f"{source.stem}.so"),
                                str(source)], capture_output=True, text=True, timeout=60)
        assert build.returncode == 0, f"cc {source.name} failed:\n{build.stderr}"
    return out


@pytest.fixture(scope="module")
def geows(build_dir: Path) -> Iterator[GeowsProcess]:
    server = GeowsProcess(CONFIG, server_root=build_dir)
    yield server
    server.stop()


def test_each_library_is_called_where_its_imports_allow(geows: GeowsProcess) -> None:
    log = geows.wait_for_log("waiter.so: callbacks in threads", access=False)
    assert "echo.so: callbacks on the event loop (it imports nothing that waits)" in log
    assert "spinner.so: callbacks on the event loop" in log
    assert "sleeper.so: callbacks in threads (it imports usleep, which may wait)" in log
    assert "waiter.so: callbacks in threads (it imports pthread_" in log


def test_the_inline_echo_answers_text_and_binary(geows: GeowsProcess) -> None:
    with connect(url(geows, "/echo")) as ws:
        for message in ("héllo", b"\x00\xffbinary", "", "x" * 100_000):
            ws.send(message)
            assert ws.recv(timeout=5) == message


def test_200_connections_to_a_plugin_sleeping_1_s_per_message_answer_within_2_s(
        geows: GeowsProcess) -> None:
    elapsed, answers = round_trip_all(geows.port, "/sleeper", 200, "hi")
    print(f"200 x (usleep 1 s in C): {elapsed:.2f} s")
    assert answers == ["hi"] * 200
    assert elapsed < 2.0   # serially: 200 s


def test_a_plugin_waiting_on_its_own_mutex_holds_only_its_connection(
        geows: GeowsProcess) -> None:
    with connect(url(geows, "/waiter")) as waiting, connect(url(geows, "/waiter")) as other:
        waiting.send("wait")   # waits in pthread_cond_wait until "release"
        elapsed, answers = round_trip_all(geows.port, "/waiter", 200, "ping")
        print(f"200 x echo while one call waits on the plugin's mutex: {elapsed:.2f} s")
        assert answers == ["ping"] * 200
        assert elapsed < 2.0
        with pytest.raises(TimeoutError):
            waiting.recv(timeout=0.2)
        other.send("release")
        assert other.recv(timeout=5) == "release"
        assert waiting.recv(timeout=5) == "released"


def test_text_that_is_not_utf8_from_an_inline_call_is_refused_and_logged(
        geows: GeowsProcess) -> None:
    with connect(url(geows, "/spinner")) as ws:
        ws.send("bad")
        assert ws.recv(timeout=5) == "bad"   # the refused message never went out
        ws.send("after")
        assert ws.recv(timeout=5) == "after"
    geows.wait_for_log("send() of TEXT that is not UTF-8", access=False)


def echo_time(ws, message: str) -> float:
    started = time.monotonic()
    ws.send(message)
    assert ws.recv(timeout=5) == message
    return time.monotonic() - started


def test_an_inline_call_that_holds_the_loop_sends_its_plugin_to_threads(
        geows: GeowsProcess) -> None:
    assert limits.C_INLINE_HOLD < 0.3   # spinner.c computes for 0.3 s of CPU
    with connect(url(geows, "/spinner")) as spinning, connect(url(geows, "/echo")) as other:
        spinning.send("spin")   # inline: the event loop is held while it computes
        time.sleep(0.05)
        held = echo_time(other, "during the first")
        assert spinning.recv(timeout=5) == "spin"
        geows.wait_for_log("spinner.so held the event loop for 0.3", access=False)
        assert "callbacks run in threads from now on" in geows.error_log
        spinning.send("spin")   # in a thread now: the loop turns meanwhile
        time.sleep(0.05)
        free = echo_time(other, "during the second")
        assert spinning.recv(timeout=5) == "spin"
    print(f"an echo during the inline spin: {held:.3f} s, during the threaded one: {free:.3f} s")
    assert held > 0.25   # the 0.3 s of CPU, less the 0.05 s before the echo was sent
    assert free < 0.2
