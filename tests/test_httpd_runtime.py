"""geows' httpd runtime for C plugins (geows/plugin/httpd_runtime): plugins written
against httpd's headers, built here with cc, get a real request_rec from request(),
APR from Debian's libapr-1 (their threads, pools and mutexes), and the ap_* functions,
their log lines in the ErrorLog at their level with the client; a plugin needing an
ap_* function the runtime lacks is refused at its line; and ten thousand connections
leave the worker's fds and memory as they were (their pools destroyed)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from geows import limits
from geows.plugin.c_runtime import built
from geows.plugin.elf import dynamic_needs
from tests.geows_process import REPO, GeowsProcess, missing_tool, run_cli
from tests.httpd import harness
from tests.test_c_plugins import (
    CC,
    CFLAGS,
    TEST_SOURCES,
    build_httpd_runtime,
    numbers,
    status_of,
    url,
)
from tests.test_tls import certs, client_context  # noqa: F401 (certs: its fixture)

# httpd's and APR's headers where Debian puts them (apache2-dev, libapr1-dev), and the
# macros apr-1-config gives a build.
HTTPD_CFLAGS = ["-I/usr/include/apache2", "-I/usr/include/apr-1.0", "-DLINUX", "-D_REENTRANT",
                "-D_GNU_SOURCE"]

# Each plugin and the libraries it is linked with: request_rec.so with none, as apxs
# builds a module (APR comes from the runtime, loaded RTLD_GLOBAL first).
PLUGINS = {"apr_increment": ["-lapr-1"], "request_rec": [], "missing_ap": [],
           "ap_battery_plugin": [], "mod_ws_settings": [], "mod_tcp_bridge": [],
           "mod_old_version": []}

CONFIG = """
Listen 127.0.0.1:@PORT@
StartServers 1
LogLevel info
<Location /increment>
  SetHandler websocket-handler
  WebSocketHandler apr_increment.so apr_increment_init
</Location>
<Location /report>
  SetHandler websocket-handler
  WebSocketHandler request_rec.so request_rec_init
</Location>
<Location /battery>
  SetHandler websocket-handler
  WebSocketHandler ap_battery_plugin.so ap_battery_init
</Location>
<Location /private>
  SetHandler websocket-handler
  WebSocketHandler request_rec.so request_rec_init
  AuthType Basic
  AuthName private
  AuthUserFile @DIR@/htpasswd
  Require valid-user
</Location>
"""


@pytest.fixture(scope="module")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if CC is None:
        missing_tool("no C compiler, cc (apt-get install gcc libc6-dev)")
    build_httpd_runtime()
    out = tmp_path_factory.mktemp("httpd-plugins")
    for name, libraries in PLUGINS.items():
        build = subprocess.run([CC, *CFLAGS, *HTTPD_CFLAGS, "-o", str(out / f"{name}.so"),
                                str(TEST_SOURCES / f"{name}.c"), *libraries],
                               capture_output=True, text=True, timeout=60)
        assert build.returncode == 0, f"cc {name}.c failed:\n{build.stderr}"
    return out


@pytest.fixture(scope="module")
def geows(plugins: Path) -> Iterator[GeowsProcess]:
    htpasswd = shutil.which("htpasswd")
    if htpasswd is None:
        missing_tool("htpasswd is missing (apt-get install apache2-utils)")
    server = GeowsProcess(CONFIG.replace("@DIR@", str(plugins)), server_root=plugins)
    subprocess.run([htpasswd, "-cbB", str(plugins / "htpasswd"), "ann", "s3cret"], check=True,
                   capture_output=True, timeout=30)
    yield server
    assert server.stop() == 0
    assert "Traceback" not in server.error_log


def test_a_dumb_increment_on_apr_threads_and_r_pool(geows: GeowsProcess) -> None:
    assert status_of(geows, "/increment") == 403  # no subprotocol: refused by the plugin
    with connect(url(geows, "/increment"),
                 subprotocols=["other", "dumb-increment-protocol"]) as ws:
        assert ws.subprotocol == "dumb-increment-protocol"
        assert numbers(ws, 10) == list(range(10))  # the first tick, sent in on_connect
        ws.send("reset\n")
        seen = numbers(ws, 8)
        restart = seen.index(0)  # a tick or two may have been on the way
        assert seen[restart:] == list(range(len(seen) - restart))


def test_a_plugin_reads_its_handshake_from_request_rec(geows: GeowsProcess) -> None:
    token = base64.b64encode(b"ann:s3cret").decode()
    with connect(url(geows, "/private/sub%20dir?a=1&b=%41"),
                 additional_headers={"X-Probe": "probed", "Authorization": f"Basic {token}"},
                 ) as ws:
        ws.send("report")
        report = dict(item.split("=", 1) for item in
                      re.split(r" (?=\w+=)", ws.recv(timeout=5)))
        client_port = ws.socket.getsockname()[1]
    assert report == {
        "method": "GET", "number": "0", "protocol": "HTTP/1.1", "proto_num": "1001",
        "the_request": "GET /private/sub%20dir?a=1&b=%41 HTTP/1.1",
        "uri": "/private/sub dir", "unparsed_uri": "/private/sub%20dir?a=1&b=%41",
        "args": "a=1&b=%41", "hostname": "127.0.0.1", "path": "/private/sub dir",
        "query": "a=1&b=%41", "parsed_host": "NULL", "parsed_port": str(geows.port),
        "user": "ann", "auth_type": "Basic", "probe": "probed",
        "headers": report["headers"], "same": "yes",
        "client": f"127.0.0.1:{client_port}", "local": f"127.0.0.1:{geows.port}",
        "server": report["server"], "port": str(geows.port),
        "url": f"http://127.0.0.1:{geows.port}/private/sub dir", "scheme": "http",
        "time": "recent", "pools": "nested"}
    assert int(report["headers"]) >= 7  # Host, Upgrade, Connection, Sec-WebSocket-*...
    assert report["server"].endswith(":0")  # ServerName sets no port
    with connect(url(geows, "/report")) as ws:  # no query, no user
        ws.send("report")
        answer = ws.recv(timeout=5)
    assert " args=NULL " in answer and " user=NULL " in answer and " probe=NULL " in answer


def test_ap_log_rerror_lines_reach_the_error_log_at_their_level(geows: GeowsProcess) -> None:
    with connect(url(geows, "/report?logged")) as ws:
        ws.send("warn")
        assert ws.recv(timeout=5) == "warned"
        client = f"127.0.0.1:{ws.socket.getsockname()[1]}"
    log = geows.wait_for_log(f"[client {client}] request_rec: warned /report", access=False)
    pid = re.escape(f"[pid {next(iter(geows.workers()))}]")
    assert re.search(rf"^\[[^]]+\] \[:info\] {pid} \[client {client}\] "
                     rf"request_rec: GET /report\?logged HTTP/1\.1 from NULL$", log, re.M), log
    assert re.search(rf"^\[[^]]+\] \[:warn\] {pid} \(2\)No such file or "
                     rf"directory: \[client {client}\] request_rec: warned /report$",
                     log, re.M), log
    assert "a debug line" not in log  # LogLevel info
    assert re.search(rf"^\[[^]]+\] \[plugin:info\] {pid} ap_hook_child_init\(\) recorded: "
                     rf"geows runs no httpd hook$", log, re.M), log
    assert "child_init ran" not in log


def test_r_server_is_the_virtual_host_answering(plugins: Path) -> None:
    server = GeowsProcess("""
        Listen 127.0.0.1:@PORT@
        ServerName main.test
        <VirtualHost 127.0.0.1:@PORT@>
          ServerName a.test
        </VirtualHost>
        <VirtualHost 127.0.0.1:@PORT@>
          ServerName b.test:8080
        </VirtualHost>
        <Location /report>
          SetHandler websocket-handler
          WebSocketHandler request_rec.so request_rec_init
        </Location>
        """, server_root=plugins)
    try:
        answers = {}
        for host in ("a.test", "b.test", "B.TEST:9", "unknown.test"):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            # the URL's host and port are the Host header's; the socket says where it goes
            with connect(f"ws://{host}/report", sock=sock) as ws:
                ws.send("report")
                answers[host] = dict(item.split("=", 1) for item in
                                     re.split(r" (?=\w+=)", ws.recv(timeout=5)))
    finally:
        assert server.stop() == 0
    seen = {host: (answer["server"], answer["hostname"], answer["port"], answer["url"])
            for host, answer in answers.items()}
    assert seen == {
        "a.test": ("a.test:0", "a.test", "80", "http://a.test/report"),
        "b.test": ("b.test:8080", "b.test", "8080", "http://b.test:8080/report"),
        "B.TEST:9": ("b.test:8080", "b.test", "9", "http://b.test:9/report"),
        "unknown.test": ("a.test:0", "unknown.test", "80", "http://unknown.test/report")}


def test_over_tls_the_scheme_is_https(plugins: Path, certs: Path) -> None:  # noqa: F811
    server = GeowsProcess(f"""
        LoadModule ssl_module modules/mod_ssl.so
        Listen 127.0.0.1:@PORT@ https
        <VirtualHost *:@PORT@>
          ServerName a.test
          SSLEngine on
          SSLCertificateFile {certs}/a.test.pem
          SSLCertificateKeyFile {certs}/a.test.key
        </VirtualHost>
        <Location /report>
          SetHandler websocket-handler
          WebSocketHandler request_rec.so request_rec_init
        </Location>
        """, server_root=plugins)
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        # no port in the Host: the scheme's, 443
        with connect("wss://a.test/report", sock=sock, ssl=client_context(certs),
                     server_hostname="a.test") as ws:
            ws.send("report")
            report = ws.recv(timeout=5)
    finally:
        assert server.stop() == 0
    assert " port=443 url=https://a.test/report " in report, report


def test_at_loglevel_debug_a_line_names_its_source(plugins: Path) -> None:
    server = GeowsProcess("Listen 127.0.0.1:@PORT@\nLogLevel debug\n<Location /report>\n"
                          "  SetHandler websocket-handler\n"
                          "  WebSocketHandler request_rec.so request_rec_init\n</Location>\n",
                          server_root=plugins)
    try:
        with connect(url(server, "/report")) as ws:
            client = f"127.0.0.1:{ws.socket.getsockname()[1]}"
        log = server.wait_for_log("request_rec: a debug line", access=False)
    finally:
        assert server.stop() == 0
    # httpd's file(line): the file without its directories (cc was given a full path)
    assert re.search(rf"\[:debug\] \[pid \d+\] request_rec\.c\(\d+\): \[client {client}\] "
                     rf"request_rec: a debug line$", log, re.M), log


def test_a_plugin_needing_an_ap_function_the_runtime_lacks_is_refused(plugins: Path) -> None:
    config = plugins / "missing.conf"
    config.write_text("Listen 127.0.0.1:80\n<Location /x>\n  SetHandler websocket-handler\n"
                      "  WebSocketHandler missing_ap.so missing_ap_init\n</Location>\n")
    so = plugins / "missing_ap.so"
    refusal = (f"{config}:4: WebSocketHandler: cannot load C plugin {so}: undefined symbol: "
               "ap_rwrite (geows' httpd runtime does not provide it")
    checked = run_cli("-t", "-f", str(config), "-d", str(plugins))
    assert checked.returncode == 1
    assert checked.stderr.startswith(refusal), checked.stderr
    started = run_cli("-f", str(config), "-d", str(plugins), "-X")
    assert started.returncode != 0
    assert refusal in started.stderr, started.stderr


BATTERY_CONFIG = """
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule ap_battery_module {module}
ServerName battery.test
Listen 127.0.0.1:1
PidFile {run}/httpd.pid
ErrorLog {run}/error.log
"""


def test_the_runtime_answers_as_httpd_does(geows: GeowsProcess, plugins: Path) -> None:
    """The same calls (tests/c_plugins/ap_battery.h) run by httpd, in a module's
    test_config hook under `apache2 -t`, and by the runtime, in a plugin: the same
    answers, line by line."""
    reason = harness.available()
    if reason:
        missing_tool(reason)
    module_dir = plugins / "httpd-battery"
    module_dir.mkdir(exist_ok=True)
    for name in ("mod_ap_battery.c", "ap_battery.h"):
        shutil.copy(TEST_SOURCES / name, module_dir / name)
    built = subprocess.run([harness.APXS, "-c", "-Wc,-Wall", "-o", "mod_ap_battery.so",
                            "mod_ap_battery.c"], cwd=module_dir, capture_output=True,
                           text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    config = module_dir / "battery.conf"
    config.write_text(BATTERY_CONFIG.format(modules=harness.MODULES, run=module_dir,
                                            module=module_dir / ".libs/mod_ap_battery.so"))
    checked = subprocess.run([harness.APACHE2, "-t", "-d", str(module_dir), "-f", str(config)],
                             env=harness.httpd_env(module_dir), capture_output=True,
                             timeout=60)
    assert checked.returncode == 0, checked.stderr
    httpd = checked.stderr.split(b"BATTERY-BEGIN\n")[1].split(b"BATTERY-END\n")[0]
    with connect(url(geows, "/battery")) as ws:
        ws.send("battery")
        runtime = ws.recv(timeout=5)
    root = str(plugins).encode()  # the one answer that differs: each one's ServerRoot
    assert runtime.replace(root, b"ROOT").split(b"\n") == \
        httpd.replace(str(module_dir).encode(), b"ROOT").split(b"\n")


REPORT_CONFIG = """
{modules}
ServerName report.test
Listen 127.0.0.1:{port}
{server_lines}
<Location /private>
  {handler}
  AuthType Basic
  AuthName private
  AuthUserFile {www}/htpasswd
  Require valid-user
</Location>
"""

HTTPD_MODULES = """
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule authn_file_module {modules}/mod_authn_file.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule auth_basic_module {modules}/mod_auth_basic.so
LoadModule request_report_module {module}
"""

# One handshake, byte for byte the same to both servers.
REPORT_HEAD = ("GET /private/sub%20dir?a=1&b=%41 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               "X-Probe: probed\r\nAuthorization: Basic YW5uOnMzY3JldA==\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """A response's head, and what came after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def httpd_report(port: int) -> tuple[str, int]:
    """httpd's module answers the handshake with its report, as a body; and the client's
    port."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(REPORT_HEAD.format(port=port).encode())
        head, body = read_head(sock)
        assert head.startswith(b"HTTP/1.1 200 "), head
        length = int(re.search(rb"\r\nContent-Length: (\d+)", head)[1])
        while len(body) < length:
            body += sock.recv(65536)
        return body.decode("latin-1"), sock.getsockname()[1]


def geows_report(port: int) -> tuple[str, int]:
    """The plugin's report of the same handshake, asked for in a masked frame."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(REPORT_HEAD.format(port=port).encode())
        head, frame = read_head(sock)
        assert head.startswith(b"HTTP/1.1 101 "), head
        mask = os.urandom(4)
        sock.sendall(b"\x81\x86" + mask + bytes(b ^ mask[n % 4] for n, b in enumerate(b"report")))
        while len(frame) < 4 or len(frame) < 4 + int.from_bytes(frame[2:4], "big"):
            frame += sock.recv(65536)
        assert frame[:2] == b"\x81\x7e", frame[:2]  # a text frame of 126 to 65535 bytes
        return frame[4:4 + int.from_bytes(frame[2:4], "big")].decode(), sock.getsockname()[1]


def test_a_plugin_reads_from_request_rec_what_httpd_gives_a_module(plugins: Path) -> None:
    """The same handshake to httpd, where a module's handler reports its request_rec
    (tests/c_plugins/request_report.h), and to geows, where the plugin reports its own:
    the same report, but for each one's ports."""
    reason = harness.available()
    if reason:
        missing_tool(reason)
    htpasswd = shutil.which("htpasswd")
    if htpasswd is None:
        missing_tool("htpasswd is missing (apt-get install apache2-utils)")
    www = Path(tempfile.mkdtemp(prefix="geows-httpdrt-"))  # httpd's children are www-data
    try:
        www.chmod(0o755)
        for name in ("mod_request_report.c", "request_report.h"):
            shutil.copy(TEST_SOURCES / name, www / name)
        built_module = subprocess.run([harness.APXS, "-c", "-o", "mod_request_report.so",
                                       "mod_request_report.c"], cwd=www, capture_output=True,
                                      text=True, timeout=120)
        assert built_module.returncode == 0, built_module.stderr
        subprocess.run([htpasswd, "-cbB", str(www / "htpasswd"), "ann", "s3cret"], check=True,
                       capture_output=True, timeout=30)
        (www / "htpasswd").chmod(0o644)
        httpd_port = harness.free_port()
        httpd_conf = www / "httpd.conf"
        httpd_conf.write_text(REPORT_CONFIG.format(
            modules=HTTPD_MODULES.format(modules=harness.MODULES,
                                         module=www / ".libs/mod_request_report.so"),
            port=httpd_port, www=www, handler="SetHandler request-report",
            server_lines=f"User www-data\nGroup www-data\nPidFile {www}/httpd.pid\n"
                         f"ErrorLog {www}/error.log"))
        with harness.running_httpd(httpd_conf, www, harness.httpd_env(www), [httpd_port],
                                   www / "error.log"):
            httpd, httpd_client = httpd_report(httpd_port)
        server = GeowsProcess(REPORT_CONFIG.format(
            modules="", port="@PORT@", www=www, server_lines="",
            handler="SetHandler websocket-handler\n"
                    "  WebSocketHandler request_rec.so request_rec_init"), server_root=plugins)
        try:
            runtime, geows_client = geows_report(server.port)
        finally:
            assert server.stop() == 0
    finally:
        shutil.rmtree(www)
    runtime = runtime.removesuffix(" same=yes")
    for report, port, client in ((httpd, httpd_port, httpd_client),
                                 (runtime, server.port, geows_client)):
        assert f":{port} " in report and f":{client} " in report
    assert runtime.replace(str(server.port), "PORT").replace(str(geows_client), "CLIENT") == \
        httpd.replace(str(httpd_port), "PORT").replace(str(httpd_client), "CLIENT")


def test_without_the_runtime_a_plugin_that_needs_it_is_refused_saying_how_to_build_it(
        plugins: Path, tmp_path: Path) -> None:
    """geows installed where the headers were missing: its package without the runtime."""
    shutil.copytree(REPO / "geows", tmp_path / "geows",
                    ignore=shutil.ignore_patterns("_httpd_runtime*", "__pycache__"))
    config = tmp_path / "needs.conf"
    config.write_text("Listen 127.0.0.1:80\n<Location /x>\n  SetHandler websocket-handler\n"
                      "  WebSocketHandler request_rec.so request_rec_init\n</Location>\n")
    checked = run_cli("-t", "-f", str(config), "-d", str(plugins), cwd=tmp_path)
    assert checked.returncode == 1
    assert checked.stderr.startswith(
        f"{config}:4: WebSocketHandler: cannot load C plugin {plugins / 'request_rec.so'}: "
        "it needs geows' httpd runtime (ap_"), checked.stderr
    assert re.search(r"\(ap_\w+, ap_\w+, ap_\w+ and \d+ more\)", checked.stderr)
    assert ("which is not built: apt-get install apache2-dev libapr1-dev libaprutil1-dev, "
            "then reinstall geows (pip install .) to build it") in checked.stderr


def test_a_librarys_needs_are_read_as_binutils_reads_them(plugins: Path) -> None:
    """elf.dynamic_needs against nm (undefined, not weak) and readelf (NEEDED)."""
    nm, readelf = shutil.which("nm"), shutil.which("readelf")
    if nm is None or readelf is None:
        missing_tool("nm or readelf is missing (apt-get install binutils)")
    for library in (plugins / "request_rec.so", plugins / "apr_increment.so", built(),
                    Path("/usr/lib/x86_64-linux-gnu/libaprutil-1.so.0")):
        needs = dynamic_needs(library.read_bytes())
        listed = subprocess.run([nm, "-D", "--undefined-only", str(library)],
                                capture_output=True, text=True, timeout=30, check=True)
        undefined = {line.split()[-1].split("@")[0] for line in listed.stdout.splitlines()
                     if line.split()[0] == "U"}
        assert set(needs.symbols) == undefined and len(needs.symbols) == len(undefined)
        dynamic = subprocess.run([readelf, "-d", str(library)], capture_output=True, text=True,
                                 timeout=30, check=True)
        assert list(needs.libraries) == re.findall(r"\(NEEDED\).*\[(.+)\]", dynamic.stdout)
    assert {"ap_log_rerror_", "ap_get_server_port", "apr_palloc"} <= set(
        dynamic_needs((plugins / "request_rec.so").read_bytes()).symbols)
    truncated = (plugins / "request_rec.so").read_bytes()[:4096]
    for junk in (b"", b"\x7fELF" + b"\0" * 60, b"not an ELF file at all" * 4, truncated):
        with pytest.raises(ValueError):
            dynamic_needs(junk)


def worker_state(pid: int) -> tuple[int, int, int]:
    """The worker's open fds, its RSS in KiB and its threads."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    threads = re.search(r"^Threads:\s+(\d+)", status, re.M)
    return len(os.listdir(f"/proc/{pid}/fd")), int(rss[1]), int(threads[1])


# Each connection's handshake, byte for byte: /increment's asks for the pusher's subprotocol.
HANDSHAKE = ("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n{protocol}\r\n")
CLOSE = b"\x88\x80\x00\x00\x00\x00"  # a masked close frame, no code


def connections(port: int, count: int, batch: int = 100) -> None:
    """`count` connections opened and closed, `batch` at a time: one in ten to /increment,
    whose pusher's first tick is read, the rest to /report. Raw sockets: a client library's
    own work per connection would take minutes for ten thousand."""
    for start in range(0, count, batch):
        opened = []
        try:
            for n in range(start, min(start + batch, count)):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                opened.append(sock)
                pusher = n % 10 == 0
                sock.sendall(HANDSHAKE.format(
                    path="/increment" if pusher else "/report",
                    protocol="Sec-WebSocket-Protocol: dumb-increment-protocol\r\n"
                    if pusher else "").encode())
            for n, sock in enumerate(opened, start):
                head, frame = read_head(sock)
                assert head.startswith(b"HTTP/1.1 101 "), head
                while n % 10 == 0 and len(frame) < 2:  # the first tick, sent in on_connect
                    chunk = sock.recv(4096)
                    assert chunk, "closed before the first tick"
                    frame += chunk
                sock.sendall(CLOSE)
        finally:
            for sock in opened:
                sock.close()


def test_ten_thousand_connections_leave_fds_threads_and_memory_at_baseline(
        geows: GeowsProcess) -> None:
    """Each /report connection takes 64 KiB from r->pool, each /increment one starts an APR
    thread in it: 10,000 of them kept would hold 640 MB and as many fds or threads.
    fds and threads come back to the baseline exactly: the plugin-call pool's threads (as
    many as calls ran at once) end once idle for limits.PLUGIN_THREAD_IDLE_TIMEOUT, and the
    1,000 pushers are joined. RSS may stay 8 MiB above it: Python's and glibc's allocators
    keep freed memory in their arenas, their high-water mark moving with how many
    connections were open at once; that is 0.8 KiB a connection, where one /report pool
    kept is 64 KiB."""
    pid = next(iter(geows.workers()))
    connections(geows.port, 1000)  # the pools and allocators at their working size
    time.sleep(0.5)
    fds, rss, threads = worker_state(pid)
    started = time.monotonic()
    connections(geows.port, 10_000)
    took = time.monotonic() - started
    deadline = time.monotonic() + limits.PLUGIN_THREAD_IDLE_TIMEOUT + 10
    while ((now := worker_state(pid))[0] > fds or now[2] > threads) \
            and time.monotonic() < deadline:
        time.sleep(0.2)  # the last sockets closed, the pushers joined, idle threads ended
    assert now[0] <= fds, f"fds {fds} -> {now[0]}"
    assert now[2] <= threads, f"threads {threads} -> {now[2]}"
    assert now[1] - rss < 8 * 1024, f"RSS {rss} KiB -> {now[1]} KiB"
    assert took < 60, f"10,000 connections took {took:.0f} s: the suite's budget is 60"
