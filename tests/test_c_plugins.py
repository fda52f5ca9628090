"""C plugins built for mod_websocket, loaded unchanged through ctypes: the
shipped examples (plugins/c) and the test plugins (tests/c_plugins), compiled
with cc for the run and served by the real geows to real clients; geows' extension of
the header (rooms, broadcasts, lost ranges) from C."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
from websockets.exceptions import ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect

from geows import limits
from geows.access.control import AccessControl
from geows.config import load_config
from geows.plugin.c_runtime import built
from geows.plugin.loading import load_plugins
from geows.runtime.log import AccessLogs
from geows.runtime.server import Server
from tests.draft76 import Draft76Client
from tests.geows_process import REPO, GeowsProcess, free_port, missing_tool, run_cli
from tests.process.test_workers import ask, clients_on_every_worker, serving
from tests.test_rooms import until_ends

CC = shutil.which("cc")


@pytest.fixture(autouse=True, scope="module")
def compiler() -> None:
    if CC is None:
        missing_tool("no C compiler, cc (apt-get install gcc libc6-dev)")

SHIPPED = REPO / "plugins" / "c"
TEST_SOURCES = Path(__file__).parent / "c_plugins"
CFLAGS = ["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", f"-I{SHIPPED}"]

# Relative plugin paths: they resolve against ServerRoot, the build directory.
CONFIG = """
Listen 127.0.0.1:@PORT@
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler echo.so echo_init
</Location>
<Location /echo-again>
  SetHandler websocket-handler
  WebSocketHandler echo.so echo_init
</Location>
<Location /gate>
  SetHandler websocket-handler
  WebSocketHandler test_plugins.so gate_init
</Location>
<Location /api>
  SetHandler websocket-handler
  WebSocketHandler test_plugins.so api_init
</Location>
<Location /pusher>
  SetHandler websocket-handler
  WebSocketHandler test_plugins.so pusher_init
</Location>
<Location /dumb-increment>
  SetHandler websocket-handler
  WebSocketHandler dumb_increment.so dumb_increment_init
</Location>
<Location /chat>
  SetHandler websocket-handler
  WebSocketHandler chat.so chat_init
</Location>
"""


def build_httpd_runtime() -> None:
    """geows' httpd runtime built in place, as `pip install -e .` builds it (setup.py)."""
    build = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
    if built() is None:  # an optional extension: setup.py only warns when it fails
        missing_tool("geows' httpd runtime did not build (apt-get install apache2-dev "
                     f"libapr1-dev libaprutil1-dev):\n{build.stdout}{build.stderr}")


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """geows' httpd runtime, and every plugin compiled at once, into one directory."""
    if CC is None:
        pytest.fail("no C compiler (cc): CI must have one to test C plugins")
    build_httpd_runtime()
    out = tmp_path_factory.mktemp("c-plugins")
    sources = [SHIPPED / "echo.c", SHIPPED / "dumb_increment.c", SHIPPED / "chat.c",
               TEST_SOURCES / "test_plugins.c", TEST_SOURCES / "undefined.c",
               TEST_SOURCES / "rooms.c"]
    builds = [(source, subprocess.Popen([CC, *CFLAGS, "-o", str(out / f"{source.stem}.so"),
                                         str(source)], stderr=subprocess.PIPE, text=True))
              for source in sources]
    for source, build in builds:
        _, errors = build.communicate(timeout=60)
        assert build.returncode == 0, f"cc {source.name} failed:\n{errors}"
    (out / "junk.so").write_text("not a shared object\n")
    return out


@pytest.fixture(scope="module")
def geows(build_dir: Path) -> Iterator[GeowsProcess]:
    server = GeowsProcess(CONFIG, server_root=build_dir)
    yield server
    server.stop()


def url(server: GeowsProcess, path: str) -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


def status_of(server: GeowsProcess, path: str, **options) -> int:
    """101 if the handshake succeeds, else the HTTP status of the refusal."""
    try:
        with connect(url(server, path), **options):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def numbers(ws, count: int) -> list[int]:
    """The next `count` counters a pusher sends."""
    return [int(ws.recv(timeout=5)) for _ in range(count)]


def test_echo_c_over_rfc6455_and_draft76(geows: GeowsProcess) -> None:
    for path in ("/echo", "/echo-again"):  # one .so named by two lines
        with connect(url(geows, path)) as ws:
            ws.send("héllo, wörld")
            assert ws.recv(timeout=5) == "héllo, wörld"
            ws.send(bytes(range(256)))
            assert ws.recv(timeout=5) == bytes(range(256))
            ws.send("")
            assert ws.recv(timeout=5) == ""
    client = Draft76Client(geows.port, "/echo")
    client.send("héllo")
    assert client.recv() == "héllo"
    # Draft-76 carries no binary to plugins: the 0x80 frame is skipped, echo goes on.
    client.sock.sendall(b"\x80\x03abc")
    client.send("after binary")
    assert client.recv() == "after binary"
    assert client.close()


def test_on_connect_refuses_by_header(geows: GeowsProcess) -> None:
    assert status_of(geows, "/gate") == 403
    assert status_of(geows, "/gate", additional_headers={"X-Let-In": "no"}) == 403
    with connect(url(geows, "/gate"), additional_headers={"X-Let-In": "yes"}) as ws:
        ws.send("in")
        assert ws.recv(timeout=5) == "in"


def test_headers_and_subprotocols_through_the_api(geows: GeowsProcess) -> None:
    with connect(url(geows, "/api"), additional_headers={"X-Echo-Me": "hello there"},
                 subprotocols=["first", "second", "third"]) as ws:
        headers = ws.response.headers
        assert headers["X-Echoed"] == "hello there"
        assert headers.get_all("X-Replaced") == ["second"]
        assert headers["X-Early-Send"] == "5"  # held, and sent right after the 101
        assert "X-Bad" not in headers and "X-Injected" not in headers
        assert ws.subprotocol == "second"
        assert ws.recv(timeout=5) == "early"
        ws.send("report")
        assert ws.recv(timeout=5) == ("count=3 0=first 1=second past-end=NULL absent=NULL "
                                      "request=set stable=yes size=104 version=1 nul=yes")
    log = geows.error_log
    assert "header_set('X-Bad') refused" in log
    assert "did not offer subprotocol 'never-offered'" in log


def test_api_misuse_is_logged_and_harms_no_one(geows: GeowsProcess, build_dir: Path) -> None:
    with connect(url(geows, "/api")) as ws, connect(url(geows, "/echo")) as bystander:
        ws.send("misuse")
        assert ws.recv(timeout=5) == "survived 0 0 0 NULL"
        ws.send("still open")
        assert ws.recv(timeout=5) == "still open"
        bystander.send("fine")
        assert bystander.recv(timeout=5) == "fine"
    for message in ("send() with unknown message type 7", "send() of TEXT that is not UTF-8",
                    "send() with a NULL buffer of size 5", "header_get() with a NULL key",
                    "header_set() with a NULL key or value",
                    "header_set('X-Too-Late') refused: the handshake is already answered",
                    "protocol_set() refused: the handshake is already answered"):
        log = geows.wait_for_log(message, access=False)
    assert f"C plugin {build_dir / 'test_plugins.so'} [client 127.0.0.1:" in log
    assert "Traceback" not in log


def test_misuse_from_many_threads_at_once_is_logged(geows: GeowsProcess) -> None:
    # Logging's locks are gevent's: OS threads contending for them once stalled.
    with connect(url(geows, "/api")) as ws:
        ws.send("noise")
        assert [ws.recv(timeout=5) for _ in range(5)] == ["done"] * 4 + ["quiet"]
    deadline = time.monotonic() + 5
    while geows.error_log.count("send() with unknown message type 7") < 400:
        assert time.monotonic() < deadline, "the misuse was not all logged"
        time.sleep(0.05)


def test_close_from_the_plugin(geows: GeowsProcess) -> None:
    with connect(url(geows, "/api")) as ws:
        ws.send("close")
        with pytest.raises(ConnectionClosedOK) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 1005   # mod_websocket's close(): no code


def test_pusher_thread_counts_resets_and_is_joined(geows: GeowsProcess) -> None:
    with connect(url(geows, "/pusher")) as ws:
        assert numbers(ws, 10) == list(range(10))
        ws.send("reset\n")
        seen = numbers(ws, 6)
        restart = seen.index(0)  # a tick or two may have been on the way
        assert seen[restart:] == list(range(len(seen) - restart))
    for n in range(50):
        with connect(url(geows, "/pusher")) as ws:
            if n % 2:
                ws.recv(timeout=5)
        if n % 10 == 0:  # and some that vanish without a closing handshake
            sock = socket.create_connection(("127.0.0.1", geows.port))
            sock.sendall(b"GET /pusher HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 101")
            sock.close()
    with connect(url(geows, "/pusher")) as ws:
        deadline = time.monotonic() + 10
        while True:  # only this connection's thread is left once on_disconnect joined the rest
            ws.send("count")
            replies = [ws.recv(timeout=5) for _ in range(3)]
            if "threads=1" in replies or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert "threads=1" in replies
    assert "Traceback" not in geows.error_log
    assert status_of(geows, "/echo") == 101


def test_shipped_dumb_increment(geows: GeowsProcess) -> None:
    assert status_of(geows, "/dumb-increment") == 403
    with connect(url(geows, "/dumb-increment"),
                 subprotocols=["other", "dumb-increment-protocol"]) as ws:
        assert ws.subprotocol == "dumb-increment-protocol"
        assert numbers(ws, 5) == list(range(5))
        ws.send("reset\n")
        seen = numbers(ws, 5)
        assert 0 in seen and seen[seen.index(0):] == list(range(len(seen) - seen.index(0)))


def test_shipped_chat(geows: GeowsProcess) -> None:
    with connect(url(geows, "/chat")) as alice, connect(url(geows, "/chat")) as bob:
        alice.send("alice: hi")
        assert alice.recv(timeout=5) == bob.recv(timeout=5) == "alice: hi"
        bob.send("bob: hello")
        assert alice.recv(timeout=5) == bob.recv(timeout=5) == "bob: hello"
    with connect(url(geows, "/chat")) as carol:  # the others left the room
        carol.send("anyone?")
        assert carol.recv(timeout=5) == "anyone?"


def test_shutdown_destroys_each_plugin_once(build_dir: Path) -> None:
    server = GeowsProcess("""
        Listen 127.0.0.1:@PORT@
        <Location /a>
          SetHandler websocket-handler
          WebSocketHandler test_plugins.so api_init
        </Location>
        <Location /b>
          SetHandler websocket-handler
          WebSocketHandler test_plugins.so api_init
        </Location>
        <Location /pusher>
          SetHandler websocket-handler
          WebSocketHandler test_plugins.so pusher_init
        </Location>
        """, server_root=build_dir)
    try:
        with connect(url(server, "/pusher")) as ws:
            ws.recv(timeout=5)  # a pusher thread is running when the server stops
            assert server.stop() == 0
    finally:
        server.stop()
    log = server.error_log
    assert log.count("api plugin destroyed") == 1  # one plugin struct behind two lines
    assert "pusher plugin destroyed, threads=0" in log  # on_disconnect came first
    assert "Traceback" not in log


REFUSALS = {
    "null": ("test_plugins.so null_init", "null_init() in @SO@ returned NULL"),
    "version": ("test_plugins.so version_init",
                "version_init() in @SO@ returned a plugin with version 3 (expected 0)"),
    "size": ("test_plugins.so small_init",
             "small_init() in @SO@ returned a plugin of size 16 (expected at least 40)"),
    "on_message": ("test_plugins.so no_message_init",
                   "no_message_init() in @SO@ returned a plugin without on_message"),
    "symbol": ("test_plugins.so no_such_init",
               "C plugin @SO@ has no init function 'no_such_init'"),
    "undefined": ("undefined.so undefined_init",
                  "cannot load C plugin @SO@: undefined symbol: geows_test_undefined"),
    "not elf": ("junk.so junk_init", "cannot load C plugin @SO@: "),
    "missing": ("missing.so missing_init", "cannot load C plugin @SO@: "),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_geows_t_refuses_bad_plugins(build_dir: Path, case: str) -> None:
    handler, reason = REFUSALS[case]
    config = build_dir / f"refuse-{case.replace(' ', '-')}.conf"
    config.write_text("Listen 127.0.0.1:80\n<Location /x>\n  SetHandler websocket-handler\n"
                      f"  WebSocketHandler {handler}\n</Location>\n")
    result = run_cli("-t", "-f", str(config), "-d", str(build_dir))
    assert result.returncode == 1
    so = build_dir / handler.split()[0]
    assert result.stderr.startswith(f"{config}:4: WebSocketHandler: "
                                    + reason.replace("@SO@", str(so))), result.stderr


ROOMS_CONFIG = """
Listen 127.0.0.1:@PORT@
StartServers 2
<Location /rooms>
  SetHandler websocket-handler
  WebSocketHandler rooms.so rooms_init
</Location>
"""


@pytest.fixture(scope="module")
def rooms_geows(build_dir: Path) -> Iterator[GeowsProcess]:
    server = GeowsProcess(ROOMS_CONFIG, server_root=build_dir)
    try:
        serving(server)
        yield server
    finally:
        assert server.stop() == 0


def test_c_rooms_reach_their_members_on_both_workers_and_no_one_else(
        rooms_geows: GeowsProcess) -> None:
    by_worker = clients_on_every_worker(rooms_geows, 2, path="/rooms")
    members = [clients[0] for clients in by_worker.values()]  # one on each worker
    leaver = list(by_worker.values())[0][1]
    outsiders = [client for clients in by_worker.values() for client in clients[1:]]
    for client in [*members, leaver]:
        assert ask(client, "join red") == "join red 1"
    assert ask(leaver, "leave red") == "leave red 1"
    assert ask(leaver, "leave red") == "leave red 1"  # no member: nothing happens
    everyone = [*members, *outsiders]
    for n, sender in enumerate(everyone):
        sender.send(f"to red r{n} from C")
        sender.send(f"to blue nobody's {n}")
        sender.send(f"all end{n}")
    for client in members:
        assert sorted(until_ends(client, len(everyone))) == sorted(
            f"r{n} from C" for n in range(len(everyone)))
    for client in outsiders:  # the leaver among them
        assert until_ends(client, len(everyone)) == []
    for client in everyone:
        client.close()


def test_c_sees_the_extension_and_its_misuse_is_refused_and_logged(
        rooms_geows: GeowsProcess) -> None:
    with connect(url(rooms_geows, "/rooms")) as ws:
        ws.send("size")
        assert ws.recv(timeout=5) == "size=104 join=1 leave=1 broadcast=1"
        ws.send("module")  # under mod_websocket: no extension, nothing joined or sent
        assert ws.recv(timeout=5) == "module 0 0 0"
        ws.send("bad")
        assert ws.recv(timeout=5) == "bad 0 0 0 0 0 0 0"
        ws.send("join still-open")
        assert ws.recv(timeout=5) == "join still-open 1"
    for message in ("join(b'') refused: a room's name cannot be empty",
                    "join(b'" + "x" * 80 + "') refused: a room's name is at most 255 bytes",
                    "join() with a NULL room", "refused: 'utf-8' codec can't decode byte 0xff",
                    "leave() with a NULL room", "broadcast() with unknown message type 7",
                    "broadcast(b'') refused: a room's name cannot be empty"):
        log = rooms_geows.wait_for_log(message, access=False)
    assert "Traceback" not in log


def test_a_library_exporting_geows_on_broadcast_gap_is_told_of_lost_ranges(
        build_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """In this process, as a worker's link calls it: rooms.so exports the function,
    test_plugins.so does not (and does not get rooms.so's, loaded before it globally)."""
    config_file = build_dir / "gaps.conf"
    config_file.write_text(
        f"Listen 127.0.0.1:{free_port()}\n<Location /rooms>\n  SetHandler websocket-handler\n"
        "  WebSocketHandler rooms.so rooms_init\n</Location>\n<Location /api>\n"
        "  SetHandler websocket-handler\n  WebSocketHandler test_plugins.so api_init\n"
        "</Location>\n")
    config = load_config(str(config_file), server_root=build_dir)
    server = Server(config, load_plugins(config), AccessControl(config),
                    access_logs=AccessLogs())
    server.report_gap("<Location /rooms>", 3, 7)
    server.report_gap("<Location /api>", 1, 1)
    server.report_gap("<Location /rooms>", 2**64 - 2, 2**64 - 1)
    said = ""
    deadline = time.monotonic() + 5
    while said.count("rooms.c: ") < 2:
        assert time.monotonic() < deadline, said
        gevent.sleep(0.05)
        said += capfd.readouterr().err
    assert said.count("rooms.c: ") == 2
    assert "rooms.c: <Location /rooms> lost 3 to 7\n" in said
    assert f"rooms.c: <Location /rooms> lost {2**64 - 2} to {2**64 - 1}\n" in said
    gevent.sleep(0.2)  # /api's would have come by now
    assert "rooms.c: <Location /api>" not in said + capfd.readouterr().err


def test_the_headers_room_name_limit_is_geows_own() -> None:
    header = (SHIPPED / "websocket_plugin.h").read_text()
    assert f"#define GEOWS_ROOM_NAME_MAX {limits.ROOM_NAME_MAX}\n" in header


@pytest.mark.parametrize("standard", ["c89", "c99", "c11"])
def test_the_header_with_its_extension_compiles_as_strict_c(standard: str) -> None:
    """mod_websocket's plugins compile unchanged, whatever C they were written in: the
    extension's inline functions and types included."""
    build = subprocess.run([CC, f"-std={standard}", "-pedantic", "-Wall", "-Wextra", "-Werror",
                            "-fsyntax-only", f"-I{SHIPPED}", str(SHIPPED / "echo.c")],
                           capture_output=True, text=True, timeout=60)
    assert build.returncode == 0, f"cc -std={standard}:\n{build.stderr}"
