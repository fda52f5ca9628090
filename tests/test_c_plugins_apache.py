"""The test plugins that speak only websocket_plugin.h, run by geows and by Apache 2.4 with
the stand-in mod_websocket (tests/httpd/mod_websocket_standin.c, STANDIN_PLUGINS=1), asked
the same questions by the same clients:

- early.c: a pusher whose thread sends while on_connect runs has every tick delivered
  right after the 101, in order, on both. It is early_thread_init, written as the module
  requires: under mod_websocket, send() takes the connection's lock, which on_connect's
  caller holds, so a send from on_connect's own thread (early_init's "on_connect") or an
  on_connect that waits for its thread's sends or joins it (early_init's refusal) waits
  forever there. geows delivers the first and drops the thread's sends on a refusal
  (tests/test_early_sends.py): behaviours the module has no answer to compare with.
- crash.c: a SIGSEGV in a callback, or in a thread of the plugin's own, ends the process
  serving that connection and no other: its connections end, the other process' answer
  on, and a new process takes its place and serves; each one's error log says so
  (httpd's AH00052 line, geows' naming the plugin, tests/test_c_plugin_faults.py).
- test_plugins.c's gate and pusher, apr_increment.c (on APR's threads and r->pool): the
  same refusals, subprotocol, counters and resets on both.
- rooms.c: geows' rooms extension (geows_join, geows_leave, geows_broadcast_room) has no
  counterpart in mod_websocket, whose WebSocketServer ends before the extension's
  functions, so the stand-in does not implement it and cannot. What applies is the
  header's promise: the plugin built against it loads and runs unchanged under the
  module, sees the extension absent (GEOWS_OFFERS), and every extension call answers 0
  there, sending nothing and crashing nothing; the calls that do not reach the extension
  ("module", "bad") answer the same on both.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.geows_process import GeowsProcess, missing_tool
from tests.httpd import harness
from tests.process.test_workers import ask, clients_on_every_worker, serving
from tests.test_c_plugins import (
    CC,
    CFLAGS,
    TEST_SOURCES,
    build_httpd_runtime,
    numbers,
    status_of,
    url,
)
from tests.test_httpd_runtime import HTTPD_CFLAGS
from tests.test_plugin_modules import GeowsLike

LOCATIONS = """
<Location /early-thread>
  SetHandler websocket-handler
  WebSocketHandler early.so early_thread_init
</Location>
<Location /crash>
  SetHandler websocket-handler
  WebSocketHandler crash.so crash_init
</Location>
<Location /rooms>
  SetHandler websocket-handler
  WebSocketHandler rooms.so rooms_init
</Location>
<Location /gate>
  SetHandler websocket-handler
  WebSocketHandler test_plugins.so gate_init
</Location>
<Location /pusher>
  SetHandler websocket-handler
  WebSocketHandler test_plugins.so pusher_init
</Location>
<Location /increment>
  SetHandler websocket-handler
  WebSocketHandler apr_increment.so apr_increment_init
</Location>
"""

# Each plugin and what it is built with beyond CFLAGS: apr_increment.c with httpd's and
# APR's headers and libapr-1, as a plugin for the module was.
BUILDS = {"early": [], "crash": [], "rooms": [], "test_plugins": [],
          "apr_increment": [*HTTPD_CFLAGS, "-lapr-1"]}

GEOWS_CONFIG = "Listen 127.0.0.1:@PORT@\nStartServers 2\n" + LOCATIONS

# Two children of 25 threads each, and no more: one that dies is replaced at once (the
# spare threads fall below MinSpareThreads).
APACHE_CONFIG = """LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule websocket_module {standin}
ServerName plugins.test
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
User www-data
Group www-data
Listen 127.0.0.1:{port}
StartServers 2
ServerLimit 2
ThreadsPerChild 25
MinSpareThreads 25
MaxSpareThreads 75
MaxRequestWorkers 50
""" + LOCATIONS


@pytest.fixture(scope="module")
def plugins() -> Iterator[Path]:
    """The plugins and the stand-in, built where httpd's children (www-data) can read them."""
    if CC is None:
        missing_tool("no C compiler, cc (apt-get install gcc libc6-dev)")
    reason = harness.available()
    if reason:
        missing_tool(reason)
    build_httpd_runtime()  # geows' crash handler is the runtime's
    out = Path(tempfile.mkdtemp(prefix="geows-c-apache-"))
    try:
        out.chmod(0o755)
        for name, flags in BUILDS.items():
            build = subprocess.run([CC, *CFLAGS, "-o", str(out / f"{name}.so"),
                                    str(TEST_SOURCES / f"{name}.c"), *flags],
                                   capture_output=True, text=True, timeout=60)
            assert build.returncode == 0, f"cc {name}.c failed:\n{build.stderr}"
        (out / "standin").mkdir()
        yield out
    finally:
        shutil.rmtree(out)


@pytest.fixture(scope="module")
def geows(plugins: Path) -> Iterator[GeowsProcess]:
    server = GeowsProcess(GEOWS_CONFIG, server_root=plugins)
    try:
        serving(server)
        yield server
    finally:
        assert server.stop() == 0


@pytest.fixture(scope="module")
def apache(plugins: Path) -> Iterator[harness.Httpd]:
    port = harness.free_port()
    config = plugins / "httpd.conf"
    config.write_text(APACHE_CONFIG.format(modules=harness.MODULES, root=plugins, port=port,
                                           standin=harness.build_standin(plugins / "standin")))
    env = harness.httpd_env(plugins / "run", {"STANDIN_PLUGINS": "1"})
    with harness.running_httpd(config, plugins, env, [port], plugins / "error.log",
                               one_process=False) as httpd:
        processes(httpd.children, 2)
        yield httpd


def processes(listed: Callable[[], set[int]], count: int, gone: int | None = None,
              timeout: float = 20) -> set[int]:
    """The server's `count` serving processes, once there are that many and `gone` is not
    among them (at most `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while len(now := listed()) != count or gone in now:
        assert time.monotonic() < deadline, f"processes {sorted(now)}, not {count} without {gone}"
        time.sleep(0.05)
    return now


def early_ticks(server: GeowsLike) -> list[str]:
    """What a client of the pusher gets first, then the echo of its own message."""
    with connect(url(server, "/early-thread"), open_timeout=10) as ws:
        got = [ws.recv(timeout=10) for _ in range(5)]
        ws.send("after")
        got.append(ws.recv(timeout=10))
    return got


def test_a_pushers_ticks_sent_during_on_connect_come_right_after_the_101_in_order(
        geows: GeowsProcess, apache: harness.Httpd) -> None:
    expected = [*(f"tick {n}" for n in range(5)), "after"]
    for _ in range(5):  # either process of each
        assert early_ticks(geows) == expected
        assert early_ticks(GeowsLike(apache.ports[0])) == expected


def gate_answers(server: GeowsLike) -> list[int | str]:
    """The gate's status without its header and with a wrong one, then its echo."""
    answers: list[int | str] = [status_of(server, "/gate"),
                                status_of(server, "/gate", additional_headers={"X-Let-In": "no"})]
    with connect(url(server, "/gate"), open_timeout=10,
                 additional_headers={"X-Let-In": "yes"}) as ws:
        ws.send("let in")
        answers.append(ws.recv(timeout=10))
    return answers


def pushed(server: GeowsLike, path: str, subprotocols: list[str] | None = None
           ) -> tuple[str | None, list[int], list[int]]:
    """A pusher's subprotocol, its first five counters, and six from its reset's 0 on."""
    with connect(url(server, path), open_timeout=10, subprotocols=subprotocols) as ws:
        first = numbers(ws, 5)
        ws.send("reset\n")
        for _ in range(100):  # the counters already on their way, up to the reset's 0
            if numbers(ws, 1) == [0]:
                return ws.subprotocol, first, [0, *numbers(ws, 5)]
    raise AssertionError(f"{path}: no 0 in the 100 counters after the reset")


def test_the_gate_and_the_pushers_answer_the_same(geows: GeowsProcess,
                                                  apache: harness.Httpd) -> None:
    servers = (geows, GeowsLike(apache.ports[0]))
    assert [gate_answers(server) for server in servers] == [[403, 403, "let in"]] * 2
    for path, subprotocols in (("/pusher", None),
                               ("/increment", ["other", "dumb-increment-protocol"])):
        for server in servers:
            subprotocol, first, after = pushed(server, path, subprotocols)
            assert subprotocol == (subprotocols and "dumb-increment-protocol"), (path, server)
            assert first == list(range(5)), (path, server)
            assert after == list(range(6)), (path, server, after)
    # the dumb increment refuses a client that does not offer its subprotocol
    assert [status_of(server, "/increment") for server in servers] == [403, 403]


def crash_one_process(server: GeowsLike, listed: Callable[[], set[int]], command: str) -> int:
    """Crash the process serving one connection with `command`: every connection of that
    process ends, the other's answer on, and a new process takes its place and serves.
    The crashed process' pid."""
    by_process = clients_on_every_worker(server, 2, path="/crash")
    victim, survivor = sorted(by_process)
    try:
        by_process[victim][0].send(command)
        for client in by_process[victim]:
            with pytest.raises(ConnectionClosed):
                client.recv(timeout=10)
        for client in by_process[survivor]:
            assert ask(client, "pid") == str(survivor)
            assert ask(client, "still here") == "still here"
    finally:
        for clients in by_process.values():
            for client in clients:
                client.close()
    replacement = (processes(listed, 2, gone=victim) - {survivor}).pop()
    for _ in range(200):  # until a connection lands on the new process
        with connect(url(server, "/crash"), open_timeout=10) as ws:
            if ask(ws, "pid") == str(replacement):
                assert ask(ws, "echo") == "echo"
                return victim
    raise AssertionError(f"no connection reached the new process {replacement}")


@pytest.mark.parametrize("command", ["segv", "thread"])
def test_a_crash_ends_its_own_process_alone_and_a_new_one_serves(
        geows: GeowsProcess, apache: harness.Httpd, plugins: Path, command: str) -> None:
    victim = crash_one_process(GeowsLike(apache.ports[0]), apache.children, command)
    log = apache.log.read_text()
    assert re.search(rf"AH00052: child pid {victim} exit signal Segmentation fault \(11\)",
                     log), log
    victim = crash_one_process(geows, geows.workers, command)
    geows.wait_for_log(f"worker pid {victim} (generation 0) killed by SIGSEGV; starting a "
                       "new one", access=False)
    assert f"C plugin {plugins / 'crash.so'} crashed (SIGSEGV at address 0x0) in " \
           "crash_write+0x" in geows.error_log


# Commands, each followed by "pid" so that whatever it sent (or nothing) is read up to the
# pid's answer. "to red ..." from a member of red, "all ..." to the whole location: under
# geows the sender gets its own broadcast back.
ROOM_COMMANDS = ["size", "module", "bad", "join red", "to red hi", "all everyone",
                 "leave red", "to red again"]
GEOWS_ROOMS = [["size=104 join=1 leave=1 broadcast=1"], ["module 0 0 0"],
               ["bad 0 0 0 0 0 0 0"], ["join red 1"], ["hi"], ["everyone"], ["leave red 1"],
               []]
# sizeof(WebSocketServer) is 80 on LP64: the module's struct, no extension
MODULE_ROOMS = [["size=80 join=0 leave=0 broadcast=0"], ["module 0 0 0"],
                ["bad 0 0 0 0 0 0 0"], ["join red 0"], [], [], ["leave red 0"], []]


def rooms_transcript(server: GeowsLike) -> list[list[str]]:
    """What each of ROOM_COMMANDS got back."""
    transcript = []
    with connect(url(server, "/rooms"), open_timeout=10) as ws:
        pid = ask(ws, "pid")
        for command in ROOM_COMMANDS:
            ws.send(command)
            ws.send("pid")
            got = []
            while (message := ws.recv(timeout=10)) != pid:
                got.append(message)
            transcript.append(got)
    return transcript


def test_the_rooms_extension_is_seen_absent_under_the_module_and_refused_harmlessly(
        geows: GeowsProcess, apache: harness.Httpd) -> None:
    # "module" and "bad" reach no extension: the same answers on both
    assert rooms_transcript(geows) == GEOWS_ROOMS
    crashes = apache.log.read_text().count("AH00052")  # the crash tests'
    assert rooms_transcript(GeowsLike(apache.ports[0])) == MODULE_ROOMS
    assert apache.log.read_text().count("AH00052") == crashes  # no child crashed on them
