"""geows.plugin.c_runtime in this process: the httpd runtime started on a config (its main
server and each <VirtualHost> as server_recs), a connection's request_rec read by C (a
library built here from tests/c_plugins/request_report.h, as a plugin reads it), ap_log_*
lines at their level, the refusal of a plugin before it is loaded, and a crash said on
the fd given, in a child forked from this process."""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from geows.config import Config, load_config
from geows.http import RequestParser
from geows.log_format import ServerNames
from geows.plugin import c_runtime
from geows.plugin.api import WebSocketServer
from geows.plugin.c_loader import load_c_plugin
from geows.plugin.c_runtime import BUILD_HINT, Request, refusal, server_for
from geows.plugin.elf import dynamic_needs
from tests.c_bridge.conftest import CACHE, build, built_once
from tests.test_c_plugins import TEST_SOURCES
from tests.test_httpd_runtime import HTTPD_CFLAGS

# What a plugin reads from its request_rec (request_report.h), and an ap_log_rerror line
# at a given level, as functions of a library of their own.
READER = """
#include "request_report.h"
#include "http_log.h"

const char *geows_test_report(request_rec *r)
{
    return request_report(r);
}

const char *geows_test_server(request_rec *r)
{
    server_rec *s = r->server;
    return apr_psprintf(r->pool, "%s:%u admin=%s defined=%s:%u virtual=%d level=%d timeout=%"
                        APR_TIME_T_FMT, s->server_hostname, s->port, s->server_admin,
                        s->defn_name, s->defn_line_number, s->is_virtual, s->log.level,
                        s->timeout);
}

int geows_test_cleaned;

static apr_status_t cleaned(void *data)
{
    (void)data;
    geows_test_cleaned++;
    return APR_SUCCESS;
}

/* Counts in geows_test_cleaned when r's pool is destroyed. */
void geows_test_watch(request_rec *r)
{
    apr_pool_cleanup_register(r->pool, NULL, cleaned, apr_pool_cleanup_null);
}

void geows_test_log(request_rec *r, int level, const char *text)
{
    ap_log_rerror(APLOG_MARK, level, 0, r, "%s", text);
}
"""

# Imports httpd's and APR's names that no library defines, and one of neither.
WANTING = """
extern int apr_geows_test_1(void), ap_geows_test_2(void), apu_geows_test_3(void);
extern int ap_geows_test_4(void), ap_geows_test_5(void), ap_geows_test_6(void);
int wanting(void)
{
    return apr_geows_test_1() + ap_geows_test_2() + apu_geows_test_3() + ap_geows_test_4()
        + ap_geows_test_5() + ap_geows_test_6();
}
"""
# Three and four of httpd's names, and one of APR's that the linker lists before httpd's.
WANTING_3 = ("extern int ap_geows_test_1(void), ap_geows_test_2(void), ap_geows_test_3(void);\n"
             "int wanting(void) { return ap_geows_test_1() + ap_geows_test_2()"
             " + ap_geows_test_3(); }\n")
WANTING_4 = ("extern int ap_geows_test_1(void), ap_geows_test_2(void), ap_geows_test_3(void);\n"
             "extern int ap_geows_test_4(void);\n"
             "int wanting(void) { return ap_geows_test_1() + ap_geows_test_2()"
             " + ap_geows_test_3() + ap_geows_test_4(); }\n")
APR_FIRST = ("extern int apr_geows_order_1(void), ap_geows_order_1(void);\n"
             "int f(void) { return apr_geows_order_1() + ap_geows_order_1(); }\n")
WANTING_APR = ("extern int apr_geows_test_1(void);\n"
               "int wanting(void) { return apr_geows_test_1(); }\n")
WANTING_OTHER = ("extern int geows_test_other(void);\n"
                 "int wanting(void) { return geows_test_other(); }\n")

CONFIG = """\
Listen 127.0.0.1:8080
ServerName main.test:8080
LogLevel info
<Location /crash>
  SetHandler websocket-handler
  WebSocketHandler crash.so crash_init
</Location>
<Location /other>
  SetHandler websocket-handler
  WebSocketHandler crash.so crash_init
</Location>
<Location /plain>
  SetHandler websocket-handler
  WebSocketHandler plain.py plain_init
</Location>
<VirtualHost *:8080>
  ServerName v.test
</VirtualHost>
<VirtualHost *:8080>
  ServerName w.test:81
</VirtualHost>
<VirtualHost *:8080>
  ServerName v.test
</VirtualHost>
"""


@pytest.fixture(scope="module")
def libraries(c_build: Path) -> Path:
    sources = CACHE / "c-runtime-sources"
    sources.mkdir(parents=True, exist_ok=True)
    texts = {"reader": READER, "wanting": WANTING, "wanting_apr": WANTING_APR,
             "wanting_other": WANTING_OTHER, "wanting_3": WANTING_3, "wanting_4": WANTING_4,
             "apr_first": APR_FIRST}
    for name, text in texts.items():
        if not (sources / f"{name}.c").exists() or (sources / f"{name}.c").read_text() != text:
            (sources / f"{name}.c").write_text(text)
    flags = {"reader": [*HTTPD_CFLAGS, f"-I{TEST_SOURCES}"]}
    return built_once("c-runtime", {
        **{name: (sources / f"{name}.c", flags.get(name, [])) for name in texts},
        "crash": (TEST_SOURCES / "crash.c", [])})


def config_in(directory: Path, text: str = CONFIG) -> Config:
    (directory / "httpd.conf").write_text(text)
    return load_config("httpd.conf", server_root=directory)


@pytest.fixture
def fresh_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runtime as a new process has it: not started, no servers (the library, once
    loaded, stays: starting it again makes new server_recs in new pools)."""
    monkeypatch.setattr(c_runtime, "_library", None)
    monkeypatch.setattr(c_runtime, "_servers", {})
    monkeypatch.setattr(c_runtime, "_section_vectors", {})


@pytest.fixture
def started(fresh_runtime: None, libraries: Path) -> Iterator[Config]:
    config = config_in(libraries)
    c_runtime.start(config)
    yield config


def test_built_is_the_extension_setup_py_made(c_build: Path) -> None:
    path = c_runtime.built()
    assert path is not None and path in c_runtime.RUNTIME_FILES and path.exists()
    assert path.name.startswith("_httpd_runtime.")


def test_start_makes_a_server_rec_for_the_main_server_and_each_vhost(
        fresh_runtime: None, libraries: Path) -> None:
    config = config_in(libraries)
    assert c_runtime.loaded() is None
    c_runtime.start(config)
    library = c_runtime.loaded()
    assert library is not None and library._name == str(c_runtime.built())
    main = ctypes.c_void_p.in_dll(library, "ap_server_conf").value
    assert server_for(None) == main
    assert server_for(ServerNames("main.test", 8080)) == main
    vhosts = [server_for(vhost.logs.names) for vhost in config.virtual_hosts]
    assert len({main, *vhosts}) == 3 and vhosts[0] == vhosts[2]   # one server_rec by names
    assert server_for(ServerNames("unknown.test")) == main
    c_runtime.start(config_in(libraries, "Listen 8081\nServerName again.test\n"))  # once
    assert c_runtime.loaded() is library and server_for(None) == main
    assert server_for(ServerNames("again.test")) == main
    assert len(c_runtime._servers) == 3


def handle(head: bytes, *, user: str | None = None, local: tuple[str, int] | None = None,
           names: ServerNames | None = None, secure: bool = False) -> WebSocketServer:
    """A connection's handle as the server makes it, for Request alone: no channel (a
    request_rec is made without sending anything)."""
    request = RequestParser(secure=secure).feed(head)
    assert request is not None
    return WebSocketServer(request, ("127.0.0.9", 50123), (), None,  # type: ignore[arg-type]
                           user, local_addr=local, server_names=names, secure=secure)


def report(libraries: Path, address: int) -> dict[str, str]:
    reader = ctypes.CDLL(str(libraries / "reader.so"))
    reader.geows_test_report.argtypes = [ctypes.c_void_p]
    reader.geows_test_report.restype = ctypes.c_char_p
    line = reader.geows_test_report(address).decode("utf-8", "surrogateescape")
    # values hold spaces ("the_request=GET / HTTP/1.1"): split before each " name="
    pairs, name = {}, None
    for word in line.split(" "):
        key, equals, value = word.partition("=")
        if equals and key.isidentifier():
            pairs[key] = value
            name = key
        else:
            pairs[name] += " " + word
    return pairs


def test_a_request_rec_says_what_the_handshake_said(started: Config, libraries: Path) -> None:
    vhost = started.virtual_hosts[1].logs.names  # w.test:81
    request = Request()
    address = request.get(handle(
        b"GET /sub%20dir?a=1&b=%41 HTTP/1.1\r\nHost: w.test\r\nX-Probe: probed\r\n"
        b"X-Other: \xe9t\xe9\r\n\r\n", user="ann", local=("127.0.0.2", 8080), names=vhost,
        secure=True))
    said = report(libraries, address)
    assert said == {
        "method": "GET", "number": "0", "protocol": "HTTP/1.1", "proto_num": "1001",
        "the_request": "GET /sub%20dir?a=1&b=%41 HTTP/1.1", "uri": "/sub dir",
        "unparsed_uri": "/sub%20dir?a=1&b=%41", "args": "a=1&b=%41", "hostname": "w.test",
        "path": "/sub dir", "query": "a=1&b=%41", "parsed_host": "NULL", "parsed_port": "NULL",
        "user": "ann", "auth_type": "Basic", "probe": "probed", "headers": "3",
        "client": "127.0.0.9:50123", "local": "127.0.0.2:8080", "server": "w.test:81",
        "port": "81", "url": "https://w.test:81/sub dir", "scheme": "https", "time": "recent",
        "pools": "nested"}
    assert request.get(handle(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")) == address  # once
    request.destroy()
    assert request.address is None
    request.destroy()  # nothing left to destroy


def server_said(libraries: Path, names: ServerNames | None) -> str:
    reader = ctypes.CDLL(str(libraries / "reader.so"))
    reader.geows_test_server.argtypes = [ctypes.c_void_p]
    reader.geows_test_server.restype = ctypes.c_char_p
    request = Request()
    try:
        return reader.geows_test_server(request.get(handle(
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", names=names))).decode()
    finally:
        request.destroy()


def test_each_server_rec_says_where_it_was_defined(started: Config, libraries: Path) -> None:
    conf = libraries / "httpd.conf"
    assert server_said(libraries, None) == (
        f"main.test:8080 admin=[no address given] defined={conf}:0 virtual=0 level=6 timeout=0")
    assert server_said(libraries, started.virtual_hosts[1].logs.names) == (
        f"w.test:81 admin=[no address given] defined={conf}:19 virtual=1 level=6 timeout=0")


def test_a_server_name_without_a_port_is_port_0(fresh_runtime: None, libraries: Path) -> None:
    c_runtime.start(config_in(libraries, "Listen 8080\nServerName plain.test\n"))
    assert server_said(libraries, None).startswith("plain.test:0 admin=")
    root = ctypes.c_char_p.in_dll(c_runtime.loaded(), "ap_server_root").value
    assert root == str(libraries).encode()   # ServerRoot


def test_destroy_destroys_the_requests_pools(started: Config, libraries: Path) -> None:
    reader = ctypes.CDLL(str(libraries / "reader.so"))
    reader.geows_test_watch.argtypes = [ctypes.c_void_p]
    cleaned = ctypes.c_int.in_dll(reader, "geows_test_cleaned")
    before = cleaned.value
    request = Request()
    reader.geows_test_watch(request.get(handle(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")))
    assert cleaned.value == before
    request.destroy()
    assert cleaned.value == before + 1


def test_a_path_that_is_not_utf8_reaches_c_as_its_bytes(started: Config,
                                                       libraries: Path) -> None:
    request = Request()
    said = report(libraries, request.get(handle(b"GET /caf%FF HTTP/1.1\r\nHost: x\r\n\r\n")))
    assert said["uri"] == "/caf\udcff"   # the byte 0xFF, read back with surrogateescape
    request.destroy()


def test_built_is_none_where_setup_py_built_nothing(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setattr(c_runtime, "RUNTIME_FILES", [tmp_path / "_httpd_runtime.so"])
    assert c_runtime.built() is None


def test_a_request_rec_without_query_host_user_or_local_address(
        started: Config, libraries: Path) -> None:
    request = Request()
    said = report(libraries, request.get(handle(b"GET /plain HTTP/1.0\r\n\r\n")))
    assert (said["args"], said["query"], said["hostname"], said["user"]) == ("NULL",) * 4
    assert said["local"] == "0.0.0.0:0"
    assert (said["server"], said["scheme"], said["headers"]) == ("main.test:8080", "http", "0")
    assert said["the_request"] == "GET /plain HTTP/1.0" and said["proto_num"] == "1000"
    request.destroy()
    other = Request()
    said = report(libraries, other.get(handle(b"GET /v HTTP/1.1\r\nHost: v.test\r\n\r\n",
                                              names=started.virtual_hosts[0].logs.names)))
    assert (said["server"], said["port"], said["hostname"]) == ("v.test:8080", "8080", "v.test")
    other.destroy()


def test_the_request_time_is_when_the_handshake_came(started: Config, libraries: Path) -> None:
    request = Request()
    request._began -= 120  # a handshake two minutes old: no longer "recent" (60 s)
    said = report(libraries, request.get(handle(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")))
    assert said["time"] == "wrong"
    request.destroy()


def test_without_the_runtime_request_says_how_to_build_it(fresh_runtime: None) -> None:
    request = Request()
    with pytest.raises(OSError) as refused:
        request.get(handle(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert str(refused.value) == ("request() needs geows' httpd runtime, which is not "
                                  f"built: {BUILD_HINT}")
    assert request.address is None
    request.destroy()


# httpd's APLOG_* level: the level's name in Python's logging (geows.config.logs).
LEVELS = {0: "CRITICAL", 1: "CRITICAL", 2: "CRITICAL", 3: "ERROR", 4: "WARNING", 5: "NOTICE",
          6: "INFO", 7: "DEBUG", 8: "TRACE", 15: "TRACE"}


def test_ap_log_lines_reach_python_logging_at_their_level(
        fresh_runtime: None, libraries: Path, caplog: pytest.LogCaptureFixture) -> None:
    c_runtime.start(config_in(libraries, CONFIG.replace("LogLevel info", "LogLevel trace8")))
    reader = ctypes.CDLL(str(libraries / "reader.so"))
    reader.geows_test_log.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p]
    request = Request()
    address = request.get(handle(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
    caplog.set_level(1)
    for level in LEVELS:
        reader.geows_test_log(address, level, f"level {level} \xe9 \\".encode() + b"\xff")
    request.destroy()
    # UTF-8 decoded, other bytes escaped
    said = {record.getMessage().rpartition("] ")[2]: record for record in caplog.records}
    for level, name in LEVELS.items():
        record = said[f"level {level} \xe9 \\\\xff"]
        assert (record.levelname, record.name) == (name, "geows."), level
        assert "[client 127.0.0.9:50123] level" in record.getMessage()


def test_a_log_line_below_loglevel_is_not_said(started: Config, libraries: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    reader = ctypes.CDLL(str(libraries / "reader.so"))
    reader.geows_test_log.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p]
    request = Request()
    address = request.get(handle(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
    caplog.set_level(logging.DEBUG)
    reader.geows_test_log(address, 7, b"a debug line")   # LogLevel info
    reader.geows_test_log(address, 6, b"an info line")
    request.destroy()
    messages = [record.getMessage().rpartition("] ")[2] for record in caplog.records]
    assert "an info line" in messages and "a debug line" not in messages


def test_refusal_says_which_symbol_nothing_provides(started: Config, c_build: Path,
                                                    libraries: Path, tmp_path: Path) -> None:
    assert refusal(str(c_build / "echo.so")) is None
    assert refusal(str(c_build / "request_rec.so")) is None  # the runtime provides it all
    assert refusal(str(tmp_path / "absent.so")) is None      # dlopen says why
    (tmp_path / "junk.so").write_bytes(b"not a shared object\n")
    assert refusal(str(tmp_path / "junk.so")) is None
    assert refusal(str(c_build / "missing_ap.so")) == (
        "undefined symbol: ap_rwrite (geows' httpd runtime does not provide it: "
        "docs/reference/c-plugins.md lists what it does)")
    assert refusal(str(c_build / "undefined.so")) == (
        "undefined symbol: geows_test_undefined (no library it loads provides it)")
    assert refusal(str(libraries / "wanting_other.so")) == (
        "undefined symbol: geows_test_other (no library it loads provides it)")
    # httpd's own ap_* first, in the library's order, then APR's
    symbols = dynamic_needs((libraries / "wanting.so").read_bytes()).symbols
    first = next(name for name in symbols if name.startswith("ap_"))
    assert refusal(str(libraries / "wanting.so")) == (
        f"undefined symbol: {first} (geows' httpd runtime does not provide it: "
        "docs/reference/c-plugins.md lists what it does)")
    assert refusal(str(libraries / "wanting_apr.so")) == (
        "undefined symbol: apr_geows_test_1 (geows' httpd runtime does not provide it: "
        "docs/reference/c-plugins.md lists what it does)")
    assert dynamic_needs((libraries / "apr_first.so").read_bytes()).symbols[0].startswith(
        "apr_")
    assert refusal(str(libraries / "apr_first.so")).startswith(
        "undefined symbol: ap_geows_order_1 ")


def test_the_libraries_a_library_names_provide_symbols_too(started: Config,
                                                          tmp_path: Path) -> None:
    (tmp_path / "gone.c").write_text("int gone(void) { return 1; }\n")
    (tmp_path / "user.c").write_text("extern int gone(void), geows_test_x(void);\n"
                                     "int user(void) { return gone() + geows_test_x(); }\n")
    # NEEDED "libgone.so", which the loader cannot find (no rpath, not on its path)
    build(tmp_path, {"libgone": (tmp_path / "gone.c", [])})
    build(tmp_path, {"lost": (tmp_path / "user.c", [f"-L{tmp_path}", "-lgone"])})
    assert refusal(str(tmp_path / "lost.so")) is None   # dlopen will name it
    # NEEDED by its path: loaded (lazily: it needs a function nothing defines, which only a
    # call would look up), and it provides gone()
    absolute = tmp_path / "libfound.so"
    (tmp_path / "found.c").write_text("extern int geows_test_lazy(void);\n"
                                      "int gone(void) { return geows_test_lazy(); }\n")
    build(tmp_path, {"libfound": (tmp_path / "found.c", [f"-Wl,-soname,{absolute}"])})
    build(tmp_path, {"user": (tmp_path / "user.c", [str(absolute)])})
    assert dynamic_needs((tmp_path / "user.so").read_bytes()).libraries[0] == str(absolute)
    assert refusal(str(tmp_path / "user.so")) == (
        "undefined symbol: geows_test_x (no library it loads provides it)")


def test_without_the_runtime_a_library_needing_it_is_told_how_to_build_it(
        fresh_runtime: None, libraries: Path, c_build: Path) -> None:
    symbols = dynamic_needs((libraries / "wanting.so").read_bytes()).symbols
    wanted = sorted((name for name in symbols if name.startswith(("ap_", "apr_", "apu_"))),
                    key=lambda name: not name.startswith("ap_"))
    assert [name[:3] for name in wanted] == ["ap_"] * 4 + ["apr", "apu"] or \
        [name[:3] for name in wanted] == ["ap_"] * 4 + ["apu", "apr"]
    assert refusal(str(libraries / "wanting.so")) == (
        f"it needs geows' httpd runtime ({', '.join(wanted[:3])} and 3 more), which is not "
        f"built: {BUILD_HINT}")
    assert refusal(str(libraries / "wanting_apr.so")) == (
        f"it needs geows' httpd runtime (apr_geows_test_1), which is not built: {BUILD_HINT}")
    for count, more in ((3, ""), (4, " and 1 more")):
        symbols = dynamic_needs((libraries / f"wanting_{count}.so").read_bytes()).symbols
        assert refusal(str(libraries / f"wanting_{count}.so")) == (
            f"it needs geows' httpd runtime ({', '.join(symbols[:3])}{more}), which is not "
            f"built: {BUILD_HINT}")
    assert refusal(str(libraries / "wanting_other.so")) == (
        "undefined symbol: geows_test_other (no library it loads provides it)")


def read_until_closed(fd: int, seconds: float) -> str:
    """What a child writes on the pipe until it ends (all its ends closed)."""
    data, deadline = b"", time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"the child did not end: {data!r}"
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                return data.decode()
            data += chunk


def crashed_child(pipe: tuple[int, int], action: Callable[[], None]) -> tuple[str, int]:
    """Fork; the child runs `action`, which must crash it (the runtime reports on the
    pipe's write end); what it said there, and the signal it died of."""
    read_fd, write_fd = pipe
    pid = os.fork()
    if pid == 0:  # the child: crash, or end saying it did not
        try:
            os.close(read_fd)
            action()
        finally:
            os._exit(3)
    os.close(write_fd)
    try:
        said = read_until_closed(read_fd, 20)
    finally:
        os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status), (status, said)
    return said, os.WTERMSIG(status)


@pytest.fixture
def crash_pipe(fresh_runtime: None) -> Iterator[tuple[int, int]]:
    """A pipe for crash reports; then this process's crash lines go to stderr, as pytest's
    faulthandler would have said them (the runtime's handler replaced it)."""
    pipe = os.pipe()
    yield pipe
    library = c_runtime.loaded()
    if library is not None:
        library.geows_crash_report_to(2, 0, b"the test process ends")


def crash(library: Path) -> Callable[[], None]:
    return lambda: ctypes.CDLL(str(library)).crash_write(None)


def test_a_crash_in_a_plugin_is_said_on_the_fd_given(crash_pipe: tuple[int, int],
                                                     libraries: Path) -> None:
    config = config_in(libraries)
    c_runtime.report_crashes(config, crash_pipe[1], "the child ends")
    assert c_runtime.loaded() is not None   # started: the config has C plugins
    said, signum = crashed_child(crash_pipe, crash(libraries / "crash.so"))
    assert signum == signal.SIGSEGV
    assert "] [plugin:crit] [pid " in said
    path, conf = libraries / "crash.so", libraries / "httpd.conf"
    assert f"C plugin {path} crashed (SIGSEGV at address 0x0) in crash_write+0x" in said
    assert (f"serving <Location /crash> ({conf}:6), <Location /other> ({conf}:10): the "
            "child ends") in said, said


def test_a_crash_in_an_init_function_is_said_at_its_websockethandler_line(
        crash_pipe: tuple[int, int], libraries: Path) -> None:
    config = config_in(libraries, CONFIG.replace("crash.so crash_init\n</Location>\n<Location "
                                                 "/other>", "crash.so crash_at_init\n"
                                                 "</Location>\n<Location /other>"))
    c_runtime.report_crashes(config, crash_pipe[1], "the child ends")
    load_c_plugin(config.locations[1].websocket)   # crash_init, which returns
    settings = config.locations[0].websocket
    said, signum = crashed_child(crash_pipe, lambda: load_c_plugin(settings))
    assert signum == signal.SIGSEGV
    assert (f"{libraries / 'httpd.conf'}:6: WebSocketHandler: crash_at_init() in "
            f"{libraries / 'crash.so'} crashed (SIGSEGV at address 0x0) in crash_write+0x"
            ) in said, said


def test_once_an_init_function_returned_a_crash_is_the_plugins(crash_pipe: tuple[int, int],
                                                               libraries: Path) -> None:
    config = config_in(libraries)
    c_runtime.report_crashes(config, crash_pipe[1], "the child ends")
    load_c_plugin(config.locations[0].websocket)  # crash_init returns
    said, _ = crashed_child(crash_pipe, crash(libraries / "crash.so"))
    assert f"C plugin {libraries / 'crash.so'} crashed (SIGSEGV" in said, said
    assert "WebSocketHandler" not in said


def test_without_c_plugins_report_crashes_starts_nothing(fresh_runtime: None,
                                                         libraries: Path) -> None:
    config = config_in(libraries, "Listen 8080\n<Location /plain>\n  SetHandler "
                       "websocket-handler\n  WebSocketHandler plain.py plain_init\n"
                       "</Location>\n")
    c_runtime.report_crashes(config, 2, "never said")
    assert c_runtime.loaded() is None
    c_runtime.crash_loading("nothing to name")  # without the runtime: nothing happens
