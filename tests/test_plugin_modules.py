"""Plugin modules: a LoadModule whose file a WebSocketHandler also names is loaded as httpd
loads a module, its directives evaluated where they stand (context checks, argument kinds,
its handlers' messages as -t errors at FILE:LINE), its per-directory configs merged along
the <Location>s that apply and read from r in on_connect, its server configs merged per
vhost, its post_config and child_init hooks run (tests/c_plugins/mod_ws_settings.c); a TCP bridge
on apr_socket_* configured by its directive (tests/c_plugins/mod_tcp_bridge.c). Each also
under apache2 with the stand-in mod_websocket running the same plugin: the same answers."""

from __future__ import annotations

import re
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.geows_process import GeowsProcess, missing_tool, run_cli
from tests.httpd import harness
from tests.test_c_plugins import TEST_SOURCES, status_of, url
from tests.test_httpd_runtime import plugins  # noqa: F401 (its fixture: builds the module)

# Two <Location>s that both apply to /nested/inner, merged in file order; vhost.test's
# banner over the main server's, plain.test's the main server's.
CONFIG = """
LoadModule ws_settings_module mod_ws_settings.so
Listen 127.0.0.1:@PORT@
StartServers 1
LogLevel info
SettingsBanner main-banner
<Location /nested>
  SetHandler websocket-handler
  WebSocketHandler mod_ws_settings.so ws_settings_init
  SettingsGreeting hello
  SettingsLoud On
  SettingsLimit 5
  SettingsTag a b
</Location>
<Location /nested/inner>
  SettingsGreeting "hi there"
  SettingsLimit 7
  SettingsTag c
</Location>
<Location /closed>
  SetHandler websocket-handler
  WebSocketHandler mod_ws_settings.so ws_settings_init
  SettingsLimit 0
</Location>
<VirtualHost *:@PORT@>
  ServerName vhost.test
  SettingsBanner vhost-banner
  <Location /v>
    SetHandler websocket-handler
    WebSocketHandler mod_ws_settings.so ws_settings_init
    SettingsLoud Off
  </Location>
</VirtualHost>
<VirtualHost *:@PORT@>
  ServerName plain.test
  <Location /p>
    SetHandler websocket-handler
    WebSocketHandler mod_ws_settings.so ws_settings_init
  </Location>
</VirtualHost>
"""


@pytest.fixture(scope="module")
def geows(plugins: Path) -> Iterator[GeowsProcess]:  # noqa: F811
    server = GeowsProcess(CONFIG, server_root=plugins)
    yield server
    assert server.stop() == 0
    assert "Traceback" not in server.error_log


def report(server: GeowsProcess, path: str, host: str | None = None) -> str:
    """The plugin's answer at `path`, with `host` as the Host (the address stays 127.0.0.1)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    target = f"ws://{host}{path}" if host else url(server, path)
    with connect(target, sock=sock, open_timeout=10) as ws:
        ws.send("report")
        answer = ws.recv(timeout=5)
    assert isinstance(answer, str)
    return answer


def test_two_nested_locations_merge_in_file_order(geows: GeowsProcess) -> None:
    # a Host no vhost names: the first <VirtualHost> of the address answers, as in httpd
    assert report(geows, "/nested/inner") == (
        "greeting=hi there loud=1 limit=7 tags=a,b,c banner=vhost-banner "
        "post_config=1 child_init=1")
    assert report(geows, "/nested", f"plain.test:{geows.port}") == (
        "greeting=hello loud=1 limit=5 tags=a,b banner=main-banner post_config=1 child_init=1")


def test_a_vhost_merges_its_server_config_over_the_main_servers(geows: GeowsProcess) -> None:
    assert report(geows, "/v", f"vhost.test:{geows.port}") == (
        "greeting=(unset) loud=0 limit=-1 tags=(none) banner=vhost-banner "
        "post_config=1 child_init=1")
    assert report(geows, "/p", f"plain.test:{geows.port}") == (
        "greeting=(unset) loud=-1 limit=-1 tags=(none) banner=main-banner "
        "post_config=1 child_init=1")


def test_on_connect_reads_r_and_refuses_by_its_directive(geows: GeowsProcess) -> None:
    assert status_of(geows, "/closed") == 403
    with connect(url(geows, "/nested/inner?x")) as ws:
        client = f"127.0.0.1:{ws.socket.getsockname()[1]}"
    pid = re.escape(f"[pid {next(iter(geows.workers()))}]")
    log = geows.wait_for_log(f"[client {client}] settings for /nested/inner", access=False)
    assert re.search(rf"^\[[^]]+\] \[ws_settings:notice\] {pid} \[client {client}\] "
                     r"settings for /nested/inner: greeting=hi there loud=1 limit=7 ",
                     log, re.M), log


# Each config error as httpd words it, at the directive's line; `apache2 -t` says the same.
REFUSALS = [
    ("SettingsBanner x", "<Location /x>", "SettingsBanner not allowed in <Location> context"),
    ("SettingsGreeting x", "", "SettingsGreeting not allowed here"),
    ("SettingsGreeting", "<Location /x>",
     "SettingsGreeting takes one argument, the greeting to answer with"),
    ("SettingsLoud maybe", "<Location /x>", "SettingsLoud must be On or Off"),
    ("SettingsLimit many", "<Location /x>",
     "Invalid value for directive SettingsLimit, expected integer"),
    ("SettingsLimit -2", "<Location /x>", "SettingsLimit must be zero or more, not -2"),
    ("SettingsTag", "<Location /x>",
     "SettingsTag requires at least one argument, one or more tags"),
    ("SettingsNoSuch 1", "<Location /x>",
     "Invalid command 'SettingsNoSuch', perhaps misspelled or defined by a module not "
     "included in the server configuration"),
]


# The same file for both: httpd needs an MPM, the stand-in mod_websocket and its files.
REFUSED_CONFIG = """LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule websocket_module {standin}
LoadModule ws_settings_module mod_ws_settings.so
ServerName refused.test
PidFile {root}/refused.pid
ErrorLog {root}/refused-error.log
Listen 127.0.0.1:80
<Location /ws>
  SetHandler websocket-handler
  WebSocketHandler mod_ws_settings.so ws_settings_init
</Location>
"""
REFUSED_LINE = REFUSED_CONFIG.count("\n") + 1  # the first line after it


@pytest.fixture(scope="module")
def standin(plugins: Path) -> Path:  # noqa: F811
    reason = harness.available()
    if reason:
        missing_tool(reason)
    out = plugins / "standin"
    out.mkdir(exist_ok=True)
    return harness.build_standin(out)


@pytest.mark.parametrize(("directive", "section", "message"), REFUSALS)
def test_a_directive_httpd_refuses_is_a_t_error_at_its_line_as_httpd_words_it(
        plugins: Path, standin: Path, directive: str, section: str,  # noqa: F811
        message: str) -> None:
    config = plugins / "refused.conf"
    text = REFUSED_CONFIG.format(modules=harness.MODULES, standin=standin, root=plugins)
    text += f"{section}\n  {directive}\n</Location>\n" if section else f"{directive}\n"
    config.write_text(text)
    line = REFUSED_LINE + 1 if section else REFUSED_LINE
    checked = run_cli("-t", "-f", str(config), "-d", str(plugins))
    assert checked.returncode == 1, checked.stderr
    assert checked.stderr.strip().endswith(f"{config}:{line}: {message}"), checked.stderr
    httpd = harness.httpd_check(config, plugins, harness.httpd_env(plugins / "run"))
    assert not httpd.ok
    assert f"Syntax error on line {line} of {config}:\n{message}" in httpd.output, httpd.output


def test_the_directives_httpd_accepts_geows_accepts(plugins: Path,  # noqa: F811
                                                    standin: Path) -> None:
    config = plugins / "accepted.conf"
    text = REFUSED_CONFIG.format(modules=harness.MODULES, standin=standin, root=plugins)
    config.write_text(text + CONFIG.split("SettingsBanner main-banner")[1]
                      .replace("@PORT@", "80"))
    httpd = harness.httpd_check(config, plugins, harness.httpd_env(plugins / "run"))
    assert httpd.ok, httpd.output
    checked = run_cli("-t", "-f", str(config), "-d", str(plugins))
    assert checked.returncode == 0, checked.stderr


def test_a_loadmodule_no_websockethandler_names_is_never_loaded(
        plugins: Path) -> None:  # noqa: F811
    config = plugins / "other.conf"
    (plugins / "libphp.so").write_text("no shared object: loading it would fail\n")
    config.write_text("LoadModule php_module libphp.so\n"
                      "LoadModule ws_settings_module mod_ws_settings.so\n"
                      "Listen 127.0.0.1:80\nphp_value x 1\nSettingsBanner b\n")
    checked = run_cli("-t", "-f", str(config), "-d", str(plugins))
    # neither loaded: no WebSocketHandler names them, so SettingsBanner is unknown too
    assert checked.returncode == 0, checked.stderr
    assert "SettingsBanner is a directive of no module geows knows" in checked.stderr
    assert "php_value is a directive of no module geows knows" in checked.stderr


# The same paths and Hosts as above, asked of each server.
ASKED = [("/nested/inner", None), ("/nested", "plain.test"), ("/v", "vhost.test"),
         ("/p", "plain.test")]


def test_apache_with_the_stand_in_gives_the_same_answers(
        geows: GeowsProcess, plugins: Path, standin: Path) -> None:  # noqa: F811
    port = harness.free_port()
    config = plugins / "apache.conf"
    prelude = REFUSED_CONFIG.format(modules=harness.MODULES, standin=standin, root=plugins)
    # httpd's children run as www-data (geows' workers keep the user they start as)
    config.write_text(prelude.replace("Listen 127.0.0.1:80\n", "User www-data\nGroup www-data\n")
                      + CONFIG.split("StartServers 1\n")[1].replace("@PORT@", str(port))
                      .replace("LogLevel info", f"Listen 127.0.0.1:{port}\nLogLevel info"))
    env = harness.httpd_env(plugins / "run", {"STANDIN_PLUGINS": "1"})
    with harness.running_httpd(config, plugins, env, [port], plugins / "refused-error.log"):
        apache = GeowsLike(port)
        for path, host in ASKED:
            expected = report(geows, path, host and f"{host}:{geows.port}")
            assert report(apache, path, host and f"{host}:{port}") == expected, (path, host)
        assert status_of(apache, "/closed") == 403
    log = (plugins / "refused-error.log").read_text()
    assert re.search(r"\[ws_settings:notice\] \[pid \d+(:tid \d+)?\] \[client 127\.0\.0\.1:\d+\] "
                     r"settings for /nested/inner: greeting=hi there loud=1 limit=7 ", log), log


class GeowsLike:
    """A server on a port, as report() and status_of() ask one."""

    def __init__(self, port: int):
        self.port = port


# A TCP bridge (tests/c_plugins/mod_tcp_bridge.c) to a backend the test runs.
BRIDGE_CONFIG = """
LoadModule tcp_bridge_module mod_tcp_bridge.so
Listen 127.0.0.1:@PORT@
StartServers 1
LogLevel info
<Location /bridge>
  SetHandler websocket-handler
  WebSocketHandler mod_tcp_bridge.so tcp_bridge_init
  TcpBridgeBackend 127.0.0.1:{backend}
</Location>
<Location /nowhere>
  SetHandler websocket-handler
  WebSocketHandler mod_tcp_bridge.so tcp_bridge_init
</Location>
"""


class _Backend(socketserver.BaseRequestHandler):
    """Answers each read with what it saw; closes after "bye"."""

    def handle(self) -> None:
        self.request.settimeout(10)
        while data := self.request.recv(4096):
            self.request.sendall(b"backend saw " + data)
            if data == b"bye":
                return


@pytest.fixture(scope="module")
def backend() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Backend)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(10)
    assert not thread.is_alive()


def bridged(port: int) -> list[bytes | str]:
    """What the client gets through the bridge for two messages, then its "bye"."""
    answers: list[bytes | str] = []
    with connect(f"ws://127.0.0.1:{port}/bridge", open_timeout=10) as ws:
        for message in ("hello", b"\x00binary\xff", "bye"):
            ws.send(message)
            answers.append(ws.recv(timeout=5))
        with pytest.raises(ConnectionClosed):  # the backend closed: so does the bridge
            ws.recv(timeout=5)
    return answers


BRIDGED = [b"backend saw hello", b"backend saw \x00binary\xff", b"backend saw bye"]


def test_a_tcp_bridge_on_apr_sockets_configured_by_its_directive(
        plugins: Path, backend: int) -> None:  # noqa: F811
    server = GeowsProcess(BRIDGE_CONFIG.format(backend=backend), server_root=plugins)
    try:
        assert bridged(server.port) == BRIDGED
        assert bridged(server.port) == BRIDGED  # a second connection: a socket of its own
        assert status_of(server, "/nowhere") == 403
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.error_log
    assert re.search(r"\[tcp_bridge:info\] .* tcp bridge: /bridge to 127\.0\.0\.1:\d+$",
                     server.error_log, re.M), server.error_log


def test_apache_bridges_the_same(plugins: Path, backend: int,  # noqa: F811
                                 standin: Path) -> None:
    port = harness.free_port()
    config = plugins / "bridge.conf"
    config.write_text(
        REFUSED_CONFIG.format(modules=harness.MODULES, standin=standin, root=plugins)
        .replace("LoadModule ws_settings_module mod_ws_settings.so\n", "")
        .replace("Listen 127.0.0.1:80\n", "User www-data\nGroup www-data\n")
        .replace("refused-error.log", "bridge-error.log")
        + BRIDGE_CONFIG.format(backend=backend).replace("@PORT@", str(port)))
    env = harness.httpd_env(plugins / "run", {"STANDIN_PLUGINS": "1"})
    with harness.running_httpd(config, plugins, env, [port], plugins / "bridge-error.log"):
        assert bridged(port) == BRIDGED
        assert status_of(GeowsLike(port), "/nowhere") == 403


def test_a_backend_that_is_not_host_port_is_a_t_error(plugins: Path) -> None:  # noqa: F811
    config = plugins / "bridge-refused.conf"
    config.write_text(BRIDGE_CONFIG.format(backend=1).replace("127.0.0.1:1", "nohost")
                      .replace("@PORT@", "80"))
    checked = run_cli("-t", "-f", str(config), "-d", str(plugins))
    assert checked.returncode == 1
    assert checked.stderr.strip().endswith(
        f"{config}:9: TcpBridgeBackend: 'nohost' is not host:port"), checked.stderr


def test_a_module_built_for_another_httpd_is_refused_at_its_loadmodule_as_httpd_does(
        plugins: Path, standin: Path) -> None:  # noqa: F811
    config = plugins / "old.conf"
    config.write_text(REFUSED_CONFIG.format(modules=harness.MODULES, standin=standin,
                                            root=plugins)
                      .replace("ws_settings_module mod_ws_settings.so",
                               "old_version_module mod_old_version.so")
                      .replace("mod_ws_settings.so ws_settings_init",
                               "mod_old_version.so old_version_init"))
    message = (f'Module "{TEST_SOURCES / "mod_old_version.c"}" is not compatible with this '
               "version of Apache (found 20051115, need 20120211). Please contact the vendor "
               "for the correct version.")
    checked = run_cli("-t", "-f", str(config), "-d", str(plugins))
    assert checked.returncode == 1
    assert checked.stderr.strip().endswith(f"{config}:4: {message}"), checked.stderr
    httpd = harness.httpd_check(config, plugins, harness.httpd_env(plugins / "run"))
    assert not httpd.ok
    # LoadModule runs while httpd reads the file: its error is on one line
    assert f"Syntax error on line 4 of {config}: {message}" in httpd.output, httpd.output


def test_beside_another_unknown_module_an_unknown_directive_is_a_warning_unless_websocket(
        plugins: Path) -> None:  # noqa: F811
    (plugins / "libphp.so").write_text("no shared object: loading it would fail\n")
    base = ("LoadModule php_module libphp.so\n"
            "LoadModule ws_settings_module mod_ws_settings.so\nListen 127.0.0.1:80\n"
            "<Location /ws>\n  SetHandler websocket-handler\n"
            "  WebSocketHandler mod_ws_settings.so ws_settings_init\n  {line}\n</Location>\n")
    config = plugins / "beside.conf"
    config.write_text(base.format(line="php_value x 1"))
    checked = run_cli("-t", "-f", str(config), "-d", str(plugins))
    assert checked.returncode == 0, checked.stderr
    assert (f"{config}:7: php_value is a directive of no module geows knows: accepted, as it "
            "may be one of php_module") in checked.stderr
    config.write_text(base.format(line="WebSocketOrginCheck Same"))
    checked = run_cli("-t", "-f", str(config), "-d", str(plugins))
    assert checked.returncode == 1
    assert checked.stderr.strip().endswith(
        f"{config}:7: Invalid command 'WebSocketOrginCheck', perhaps misspelled or defined by "
        "a module not included in the server configuration"), checked.stderr
