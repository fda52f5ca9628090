"""geows on the public port in front of Debian's apache2: its own WebSocket locations for
draft-76 and RFC 6455 clients, every other request forwarded by `ProxyPass` to Apache,
answered byte for byte as Apache alone answers (but for the Date header)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from geows.config.paths import ProxyPass
from geows.errors import HttpError
from geows.proxy_http import RequestStream
from tests.draft76 import Draft76Client
from tests.geows_process import ECHO_CONFIG, GeowsProcess, missing_tool, run_cli
from tests.httpd import harness
from tests.test_third_party_clients import CLIENTS

BIG = 10 * 1024 * 1024

APACHE = """\
LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule alias_module {modules}/mod_alias.so
LoadModule dir_module {modules}/mod_dir.so
LoadModule cgi_module {modules}/mod_cgi.so
LoadModule headers_module {modules}/mod_headers.so
LoadModule proxy_module {modules}/mod_proxy.so
LoadModule proxy_http_module {modules}/mod_proxy_http.so
LoadModule proxy_wstunnel_module {modules}/mod_proxy_wstunnel.so
User www-data
Group www-data
PidFile {dir}/httpd.pid
ErrorLog {dir}/error.log
LogFormat "%{{X-Forwarded-For}}i \\"%r\\" %{{Host}}i" forwarded
CustomLog {dir}/access.log forwarded
ServerName apache.test
Listen 127.0.0.1:{port}
DocumentRoot {dir}/www
ScriptAlias /cgi/ {dir}/cgi/
<Location /xff>
  Header always echo ^X-Forwarded-For$
</Location>
ProxyPass /wsapp ws://127.0.0.1:{echo}/echo
"""

# The request body's SHA-256, from a CGI that reads it all.
CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' "$(sha256sum | cut -c1-64)"
"""


FRONT = """
Listen 127.0.0.1:@PORT@
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</Location>
<Location /guarded>
  Require ip 10.0.0.0/8
</Location>
ProxyPass /d76 http://127.0.0.1:{echo}/echo
ProxyPass /private !
ProxyPass /down http://127.0.0.1:{closed}/
ProxyPass / http://127.0.0.1:{apache}/
"""


@pytest.fixture(scope="module")
def lab():
    reason = harness.available()
    if reason:
        missing_tool(reason)
    echo = GeowsProcess(ECHO_CONFIG)  # a draft-76 and RFC 6455 backend for Apache and geows
    base = Path(tempfile.mkdtemp(prefix="geows-in-front-"))
    base.chmod(0o755)  # httpd serves as www-data
    for name in ("www", "cgi"):
        (base / name).mkdir(mode=0o755)
    (base / "www/index.html").write_text("<p>hello from apache</p>\n")
    (base / "www/guarded").mkdir(mode=0o755)   # geows denies /guarded: Apache never should
    (base / "www/guarded/secret.html").write_text("SECRET\n")
    (base / "www/big.bin").write_bytes(bytes(range(256)) * (BIG // 256))
    (base / "cgi/count").write_text(CGI)
    for path in base.rglob("*"):
        path.chmod(0o755)
        # httpd gives a file changed within the last second a weak ETag: not now, not later.
        os.utime(path, (1e9, 1e9))
    port = harness.free_port()
    conf = base / "httpd.conf"
    conf.write_text(APACHE.format(modules=harness.MODULES, dir=base, port=port,
                                  echo=echo.port))
    apache = harness.Httpd(conf, base, harness.httpd_env(base / "run"), [port],
                           base / "error.log")
    front = GeowsProcess(FRONT.format(echo=echo.port, closed=harness.free_port(),
                                      apache=port))
    try:
        yield front, port, base
    finally:
        front.stop()
        apache.stop()
        echo.stop()
        shutil.rmtree(base, ignore_errors=True)


def read_response(sock: socket.socket, buffer: bytearray) -> bytes:
    """One response's bytes from sock (framed by Content-Length or chunked), the rest
    left in buffer."""
    while b"\r\n\r\n" not in buffer:
        buffer += receive(sock)
    end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:end]).lower()
    if b"transfer-encoding: chunked" in head:
        while b"\r\n0\r\n\r\n" not in buffer[end - 2:]:
            buffer += receive(sock)
        end = buffer.index(b"\r\n0\r\n\r\n", end - 2) + 7
    else:
        length = re.search(rb"content-length: *(\d+)", head)
        end += int(length[1]) if length else 0
        while len(buffer) < end:
            buffer += receive(sock)
    response = bytes(buffer[:end])
    del buffer[:end]
    return response


def receive(sock: socket.socket) -> bytes:
    data = sock.recv(1 << 20)
    if not data:
        raise EOFError("closed before a complete response")
    return data


def exchange(port: int, requests: list[bytes], pipelined: bool = False) -> list[bytes]:
    """Send the requests on one connection (in one write when pipelined) and return each
    response, Date headers removed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        buffer = bytearray()
        responses = []
        if pipelined:
            sock.sendall(b"".join(requests))
        for request in requests:
            if not pipelined:
                sock.sendall(request)
            responses.append(read_response(sock, buffer))
    return [re.sub(rb"\r\nDate: [^\r]*", b"", response) for response in responses]


def get(path: str, *extra: str) -> bytes:
    return "\r\n".join([f"GET {path} HTTP/1.1", "Host: apache.test", *extra, "", ""]).encode()


def same_as_apache(lab, requests: list[bytes], pipelined: bool = False) -> list[bytes]:
    front, apache_port, _ = lab
    direct = exchange(apache_port, requests, pipelined)
    through = exchange(front.port, requests, pipelined)
    assert through == direct
    return through


def test_draft76_clients_on_geows_own_location(lab):
    front = lab[0]
    client = Draft76Client(front.port, "/echo")
    client.send("hello")
    assert client.recv() == "hello"
    assert client.close()
    for name, command in CLIENTS.items():
        result = subprocess.run([*command, f"ws://127.0.0.1:{front.port}/echo", "5"],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, (name, result.stderr)
        assert result.stdout.splitlines() == [f"msg-{i}" for i in range(5)]


def test_keep_alive_gets_as_apache_answers(lab):
    responses = same_as_apache(lab, [get("/"), get("/index.html"), get("/missing"),
                                     get("/big.bin", "Connection: close")])
    assert responses[0].startswith(b"HTTP/1.1 200 OK")
    assert responses[2].startswith(b"HTTP/1.1 404 Not Found")
    assert responses[3].endswith(bytes(range(256)) * 4)
    assert len(responses[3]) > BIG


def test_pipelined_requests_in_one_write(lab):
    responses = same_as_apache(lab, [get("/index.html"), get("/big.bin"), get("/missing"),
                                     get("/index.html", "Connection: close")], pipelined=True)
    assert [r.split(b"\r\n", 1)[0] for r in responses] == [
        b"HTTP/1.1 200 OK", b"HTTP/1.1 200 OK", b"HTTP/1.1 404 Not Found", b"HTTP/1.1 200 OK"]


def test_bodies_content_length_and_chunked(lab):
    body = hashlib.sha256(b"seed").digest() * (BIG // 32)
    post = (b"POST /cgi/count HTTP/1.1\r\nHost: apache.test\r\nContent-Type: x/y\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body
    chunked = (b"POST /cgi/count HTTP/1.1\r\nHost: apache.test\r\nTransfer-Encoding: chunked"
               b"\r\n\r\n5;ext=1\r\nhello\r\n1A\r\n" + b"z" * 26 + b"\r\n0\r\nX-Trailer: 1\r\n\r\n")
    static = b"POST /index.html HTTP/1.1\r\nHost: apache.test\r\nContent-Length: 3\r\n\r\nabc"
    front, apache_port, _ = lab
    requests = [post, chunked, static, get("/", "Connection: close")]
    direct = exchange(apache_port, requests)
    through = exchange(front.port, requests)
    # Apache frames a CGI's answer with Content-Length or chunked depending on how fast the
    # script ends: compare what the CGI says, then the rest byte for byte.
    digests = [hashlib.sha256(body), hashlib.sha256(b"hello" + b"z" * 26)]
    for answers in (direct, through):
        for answer, digest in zip(answers[:2], digests, strict=True):
            assert answer.startswith(b"HTTP/1.1 200 OK")
            assert digest.hexdigest().encode() + b"\n" in answer
    assert through[2:] == direct[2:]
    assert through[2].startswith(b"HTTP/1.1 200")  # the default handler ignores the body


def test_x_forwarded_for_reaches_apache(lab):
    front, _, base = lab
    first, second = exchange(front.port, [get("/xff"), get("/xff", "X-Forwarded-For: 10.1.2.3",
                                                           "Connection: close")])
    assert b"\r\nX-Forwarded-For: 127.0.0.1\r\n" in first
    assert b"\r\nX-Forwarded-For: 10.1.2.3, 127.0.0.1\r\n" in second
    assert '127.0.0.1 "GET /xff HTTP/1.1"' in (base / "access.log").read_text()
    front.wait_for_log(f"forwarded to 127.0.0.1:{lab[1]}")


def test_rfc6455_upgrade_to_a_location_apache_serves(lab):
    with connect(f"ws://127.0.0.1:{lab[0].port}/wsapp", open_timeout=10) as ws:
        ws.send("through geows and apache")
        assert ws.recv(timeout=10) == "through geows and apache"


def test_draft76_upgrade_forwarded_with_its_key_bytes_at_once(lab):
    client = Draft76Client(lab[0].port, "/d76")  # ProxyPass /d76 -> the echo's /echo
    client.send("key3 passed on")
    assert client.recv() == "key3 passed on"
    assert client.close()


def test_excluded_and_unreachable(lab):
    front = lab[0]
    assert exchange(front.port, [get("/private/x")])[0].startswith(b"HTTP/1.1 404")
    assert exchange(front.port, [get("/down/x")])[0].startswith(b"HTTP/1.1 502 Bad Gateway")
    front.wait_for_log("cannot reach the ProxyPass backend", access=False)


def test_access_rules_guard_forwarded_requests_too(lab):
    """Whom httpd (in front) would refuse, geows refuses before forwarding: the first
    request of a connection is answered 403, and so is a later one, in its place among
    the others, as httpd answers it; then the connection goes on. One for another backend
    or an excluded path ends it unanswered and unforwarded after the earlier ones (the
    client asks again anew)."""
    front, _, base = lab
    assert exchange(front.port, [get("/guarded/x")])[0].startswith(b"HTTP/1.1 403")
    for later, answer in (("/guarded/y", b"HTTP/1.1 403"), ("/private/z", None),
                          ("/echo", None)):
        with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
            sock.sendall(get("/index.html") + get(later) + get("/", "Connection: close"))
            buffer = bytearray()
            assert read_response(sock, buffer).startswith(b"HTTP/1.1 200")
            if answer is not None:
                assert read_response(sock, buffer).startswith(answer)
                assert read_response(sock, buffer).startswith(b"HTTP/1.1 200")
            with pytest.raises(EOFError):
                read_response(sock, buffer)
    assert "/guarded" not in (base / "access.log").read_text()
    assert "/private" not in (base / "access.log").read_text()


@pytest.mark.parametrize(("rules", "words"), [
    ("<Location /api>\n  Require ldap-group cn=staff\n</Location>\n", "ldap-group"),
    ("<Proxy http://127.0.0.1:9/*>\n  Require ip 10.0.0.0/8\n</Proxy>\n", "<Proxy> section"),
])
def test_what_geows_cannot_enforce_on_a_forwarded_path_refuses_start(tmp_path, rules, words):
    conf = tmp_path / "front.conf"
    conf.write_text(f"Listen 127.0.0.1:8099\n{rules}ProxyPass / http://127.0.0.1:9/\n")
    done = run_cli("-t", "-f", str(conf))
    assert done.returncode == 1 and words in done.stderr, done.stderr
    conf.write_text(f"Listen 127.0.0.1:8099\n{rules}")   # nothing forwarded: nothing guarded
    assert run_cli("-t", "-f", str(conf)).returncode == 0


# Upgrades: a tunnel only after the backend's 101 for what was asked (issue 21, row 1).
# httpd 2.4.71's mod_proxy front with the same rules, tried by hand: 200 then 403 for both
# variants of row 1, the secret never forwarded; a 101 whose Upgrade differs from the
# client's is a 502 ("Unexpected Upgrade: foo (expecting websocket)").

class Upgrader:
    """A backend that answers any request with a 101 naming `Upgrade: foo`, then echoes
    what comes after it; `received` holds what each connection got."""

    READY = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n"
             b"foo/1 ready\n")
    ECHO = True   # False: close once READY is sent

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytearray] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            self.received.append(bytearray())
            threading.Thread(target=self._answer, args=(conn, self.received[-1]),
                             daemon=True).start()

    def _answer(self, conn: socket.socket, got: bytearray) -> None:
        with conn:
            conn.settimeout(10)
            try:
                while b"\r\n\r\n" not in got:
                    data = conn.recv(65536)
                    if not data:
                        return
                    got += data
                conn.sendall(self.READY)
                while self.ECHO and (data := conn.recv(65536)):
                    got += data
                    conn.sendall(data)
            except OSError:
                pass  # geows closed it

    def close(self) -> None:
        self.sock.close()


UPGRADES_FRONT = """
Listen 127.0.0.1:@PORT@
CustomLog @DIR@/relayed.log "%{{remote}}p %>s %I %O %{{geows-ending}}n"
<Location /guarded>
  Require ip 10.0.0.0/8
</Location>
<Location /k>
  Require all denied
</Location>
<Location /members>
  AuthType Basic
  AuthName "Members only"
  AuthBasicProvider file
  AuthUserFile @DIR@/htpasswd
  Require valid-user
</Location>
ProxyPass /foo http://127.0.0.1:{upgrader}/foo upgrade=foo
ProxyPass /switcher http://127.0.0.1:{upgrader}/switcher
ProxyPass / http://127.0.0.1:{apache}/
"""


@pytest.fixture(scope="module")
def upgrades(lab):
    """geows in front of the lab's Apache and of an Upgrader, its access log a CustomLog
    with the figures of each forwarded connection."""
    htpasswd = shutil.which("htpasswd")
    if htpasswd is None:  # tests/run.sh installs apache2-utils: missing, it is a failure
        pytest.fail("htpasswd (apache2-utils) is missing")
    upgrader = Upgrader()
    front = GeowsProcess(UPGRADES_FRONT.format(upgrader=upgrader.port, apache=lab[1]))
    subprocess.run([htpasswd, "-cbB", str(front.dir / "htpasswd"), "ann", "s3cret"],
                   check=True, capture_output=True)
    try:
        yield front, upgrader
    finally:
        front.stop()
        upgrader.close()


def relayed_line(front: GeowsProcess, client_port: int) -> str:
    """The CustomLog's line for the connection from `client_port` (it leads each line: the
    line of an earlier test's connection may still be on its way)."""
    port = f"{client_port} "
    deadline = time.monotonic() + 10
    log = front.dir / "relayed.log"
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        for line in lines:
            if line.startswith(port):
                return line.removeprefix(port)
        time.sleep(0.05)
    raise AssertionError(f"no line for port {port}in {log}:\n{front.error_log}")


def until_closed(sock: socket.socket) -> bytes:
    data = bytearray()
    while more := sock.recv(65536):
        data += more
    return bytes(data)


def without_date(response: bytes) -> bytes:
    return re.sub(rb"\r\nDate: [^\r]*", b"", response)


WEBSOCKET_UPGRADE = ("Connection: Upgrade", "Upgrade: websocket",
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13")


@pytest.mark.parametrize("asked", [("Connection: Upgrade", "Upgrade: foo"), WEBSOCKET_UPGRADE],
                         ids=["foo", "websocket"])
def test_an_upgrade_the_backend_declines_leaves_http_and_the_next_request_is_checked(
        lab, upgrades, asked):
    """Row 1: an upgrade request for a static file Apache serves (it answers 200, no 101),
    then a pipelined request for a path geows denies, then one it forwards: 200, then 403
    as httpd answers it, in its place, then 200 on the same connection; the backend never
    sees the second request."""
    front = upgrades[0]
    _, apache_port, base = lab
    first, secret = get("/index.html", *asked), get("/guarded/secret.html")
    third = get("/index.html", "Connection: close")
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
        client_port = sock.getsockname()[1]
        sock.sendall(first + secret + third)
        buffer = bytearray()
        answers = [read_response(sock, buffer) for _ in range(3)]
        assert buffer == b"" and until_closed(sock) == b""
    assert without_date(answers[0]) == exchange(apache_port, [first])[0]
    assert answers[1].startswith(b"HTTP/1.1 403 Forbidden\r\n") and b"SECRET" not in answers[1]
    assert b"\r\nConnection: close\r\n" not in answers[1]
    assert without_date(answers[2]) == exchange(apache_port, [third])[0]
    assert "/guarded" not in (base / "access.log").read_text()
    front.wait_for_log("client denied by server configuration: /var/www/html/guarded/"
                       "secret.html", access=False)
    line = relayed_line(front, client_port)
    assert line == (f"200 {len(first + secret + third)} {len(b''.join(answers))} "
                    f"forwarded to 127.0.0.1:{apache_port}: backend closed")


def test_a_later_request_the_rules_refuse_gets_their_answer_after_the_earlier_ones(
        lab, upgrades):
    """As httpd answers it: 401 with the realm to authenticate in, once the earlier
    requests are answered, the request never forwarded; then the connection goes on."""
    front = upgrades[0]
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
        sock.sendall(get("/index.html") + get("/missing") + get("/members/x")
                     + get("/", "Connection: close"))
        buffer = bytearray()
        answers = [read_response(sock, buffer) for _ in range(4)]
        assert buffer == b"" and until_closed(sock) == b""
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [
        b"HTTP/1.1 200 OK", b"HTTP/1.1 404 Not Found", b"HTTP/1.1 401 Unauthorized",
        b"HTTP/1.1 200 OK"]
    assert b'\r\nWWW-Authenticate: Basic realm="Members only"\r\n' in answers[2]
    assert "/members" not in (lab[2] / "access.log").read_text()


def test_requests_held_behind_an_upgrade_go_on_once_it_is_answered(lab, upgrades):
    requests = [get("/index.html", "Connection: Upgrade", "Upgrade: foo"), get("/missing"),
                get("/index.html", "Connection: close")]
    through = exchange(upgrades[0].port, requests, pipelined=True)
    assert through == exchange(lab[1], requests, pipelined=True)
    assert [r.split(b"\r\n", 1)[0] for r in through] == [
        b"HTTP/1.1 200 OK", b"HTTP/1.1 404 Not Found", b"HTTP/1.1 200 OK"]


@pytest.mark.parametrize(("asked", "expecting"), [
    (WEBSOCKET_UPGRADE, "websocket"),                       # asked, but not what came
    (("Connection: Upgrade", "Upgrade: foo"), "n/a"),      # not allowed on that line
])
def test_a_101_for_what_was_not_asked_or_allowed_opens_no_tunnel(upgrades, asked, expecting):
    front, upgrader = upgrades
    connections = len(upgrader.received)
    first = get("/switcher/x", *asked)
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
        client_port = sock.getsockname()[1]
        sock.sendall(first + get("/switcher/y"))
        answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert answer.count(b"HTTP/1.1") == 1 and b"foo/1" not in answer
    # The Upgrader got the first head, and nothing that followed it.
    assert bytes(upgrader.received[connections]) == \
        first[:-2] + b"X-Forwarded-For: 127.0.0.1\r\n\r\n"
    front.wait_for_log(f"Unexpected Upgrade: foo (expecting {expecting})", access=False)
    assert relayed_line(front, client_port) == (
        f"502 {len(first) + len(get('/switcher/y'))} {len(answer)} forwarded to "
        f"127.0.0.1:{upgrader.port}: Unexpected Upgrade: foo (expecting {expecting})")


def test_the_upgrade_parameter_tunnels_its_protocol_both_ways(upgrades):
    """`upgrade=foo`: the Upgrader's 101 for foo opens a tunnel; what the client sent
    early, and then a request line, are bytes of the new protocol, as in httpd."""
    front, upgrader = upgrades
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
        client_port = sock.getsockname()[1]
        sock.sendall(get("/foo/x", "Connection: Upgrade", "Upgrade: foo") + b"early\n")
        expected = Upgrader.READY + b"early\n"
        assert receive_exactly(sock, len(expected)) == expected
        sock.sendall(get("/guarded/secret.html"))
        assert receive_exactly(sock, len(get("/guarded/secret.html"))) == \
            get("/guarded/secret.html")
    line = relayed_line(front, client_port)
    assert line.startswith("101 ") and line.endswith(
        f"forwarded to 127.0.0.1:{upgrader.port}: tunnel, client closed")


DRAFT76_UPGRADE = ("Connection: Upgrade", "Upgrade: WebSocket", "Origin: http://apache.test",
                   "Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5",
                   "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00")


class KeyReader(Upgrader):
    """A backend that answers a draft-76 handshake 200 and then reads its 8 key bytes as
    a request of its own, as Apache does (`GET /k\\r\\n` is an HTTP/0.9 one), answering
    that too; then it echoes what more comes."""

    READY = (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
             b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nanswer to key3")


def test_after_draft76_key_bytes_any_other_answer_ends_the_connection(tmp_path):
    """The 200 goes to the client; nothing held after key3 is parsed or forwarded, and
    nothing more the backend sends goes back: its answer to the key bytes would otherwise
    be taken for the answer to the client's next request."""
    backend = KeyReader()
    front = GeowsProcess(f"Listen 127.0.0.1:@PORT@\n"
                         f"ProxyPass / http://127.0.0.1:{backend.port}/\n")
    try:
        handshake = get("/d76", *DRAFT76_UPGRADE)
        with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
            sock.sendall(handshake + b"GET /k\r\n" + get("/next", "Connection: close"))
            got = until_closed(sock)
        assert got == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        assert bytes(backend.received[0]) == \
            handshake[:-2] + b"X-Forwarded-For: 127.0.0.1\r\n\r\nGET /k\r\n"
        front.wait_for_log("stopped: the backend answered a draft-76 handshake without a "
                           "101, its 8 key bytes sent on unannounced")
    finally:
        front.stop()
        backend.close()


class Closer(Upgrader):
    """A backend that answers a request's head with `sent`, then closes the connection."""

    ECHO = False

    def __init__(self, sent: bytes):
        self.READY = sent
        super().__init__()


@pytest.mark.parametrize(("sent", "answered", "reason"), [
    (b"", b"HTTP/1.1 502 Bad Gateway\r\n",
     "the backend closed its connection before answering"),
    (b"HTTP/1.1 200 OK\r\nX: 1\r\n", b"HTTP/1.1 502 Bad Gateway\r\n",
     "the backend closed its connection in the middle of a response head"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", None, "backend closed"),
])
def test_a_backend_that_closes_gets_httpds_answer(sent, answered, reason):
    """As Debian's apache2 answers: 502 where the backend closes owing the first answer or
    in the middle of a head (AH01102, AH01106); after an answer, the client's connection
    closes with no more (the pipelined /b unanswered), for the client to ask again."""
    backend = Closer(sent)
    front = GeowsProcess(f"Listen 127.0.0.1:@PORT@\n"
                         f"ProxyPass / http://127.0.0.1:{backend.port}/\n")
    try:
        with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
            sock.sendall(get("/a") + get("/b"))
            got = until_closed(sock)
        if answered is None:
            assert got == sent
        else:
            assert got.startswith(answered) and got.endswith(b"</html>\n")
            assert got.count(b"HTTP/1.1 ") == 1
        front.wait_for_log(reason)
    finally:
        front.stop()
        backend.close()


def test_draft76_key_bytes_apache_reads_never_bring_its_answer_back(lab, upgrades):
    """Apache answers a draft-76 handshake for a file 200, then reads the key bytes
    `GET /k\\r\\n` as an HTTP/0.9 request of its own, for a path geows denies: httpd's
    front would read them as the client's next request, checked by its rules; geows
    cannot once the backend has them. Its answer never reaches the client, and the
    connection ends after the 200."""
    front = upgrades[0]
    _, apache_port, base = lab
    secret = base / "www/k"
    secret.write_text("K, DENIED BY GEOWS\n")
    secret.chmod(0o644)
    assert answer(front.port, "GET /k HTTP/1.1", "Host: apache.test").startswith(
        b"HTTP/1.1 403 Forbidden\r\n")
    handshake = get("/index.html", *DRAFT76_UPGRADE)
    later = get("/index.html", "Connection: close")
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
        client_port = sock.getsockname()[1]
        sock.sendall(handshake + b"GET /k\r\n" + later)
        got = until_closed(sock)
    assert without_date(got) == exchange(apache_port, [handshake])[0]
    assert b"DENIED BY GEOWS" not in got
    assert relayed_line(front, client_port) == (
        f"200 {len(handshake) + 8 + len(later)} {len(got)} forwarded to "
        f"127.0.0.1:{apache_port}: stopped: the backend answered a draft-76 handshake "
        "without a 101, its 8 key bytes sent on unannounced")


def test_what_a_client_sent_reaches_the_error_log_escaped(lab):
    """ESC, BEL and C1 bytes (CSI, NEL) in later requests of a forwarded connection, which
    geows answers itself, and in an Upgrade value quoted by a 502's reason: the error log
    has them as \\xhh, as httpd's log_error_core escapes every message."""
    upgrader = Upgrader()
    front = GeowsProcess(f"Listen 127.0.0.1:@PORT@\nLogLevel info\n"
                         f"ProxyPass /any http://127.0.0.1:{upgrader.port}/ upgrade=ANY\n"
                         f"ProxyPass / http://127.0.0.1:{lab[1]}/\n")
    try:
        for later in ("GET /\x1b[31mX\x07\x9b HTTP/1.1\r\nHost: a\r\n\r\n",
                      "GET / HTTP/1.1\r\nHost: a\r\nX-Note: a\x1bb\x85c\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
                sock.sendall(get("/index.html") + later.encode("latin-1"))
                assert until_closed(sock).count(b"HTTP/1.1 ") == 2
        upgrade = get("/any/x", "Connection: Upgrade", "Upgrade: foo\x9b31m\x85")  # UTF-8
        with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
            sock.sendall(upgrade)
            assert until_closed(sock).startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
        front.wait_for_log("(expecting foo\\xc2\\x9b31m\\xc2\\x85)", access=False)
        logged = front.stderr_path.read_bytes()
        assert b"with 400: request target incorrectly encoded: /\\x1b[31mX\\x07\\x9b" in logged
        assert b"malformed request header value: X-Note: a\\x1bb\\x85c" in logged
        for raw in (b"\x1b", b"\x07", b"\x85", b"\x9b"):
            assert raw not in logged, raw
    finally:
        front.stop()
        upgrader.close()


LIMITS = """LimitRequestLine 300
LimitRequestFields 5
LimitRequestFieldSize 200
ProxyPass / http://127.0.0.1:{apache}/
"""

# httpd's own mod_proxy front with the same limits: the oracle. It keeps no backend
# connection open, which would hold the lab's one-process Apache (-X) from geows'.
HTTPD_FRONT = """LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule env_module {modules}/mod_env.so
LoadModule proxy_module {modules}/mod_proxy.so
LoadModule proxy_http_module {modules}/mod_proxy_http.so
User www-data
Group www-data
PidFile {dir}/front.pid
ErrorLog {dir}/front-error.log
ServerName front.test
Listen 127.0.0.1:{port}
SetEnv proxy-nokeepalive 1
"""


def test_later_requests_get_the_limits_the_first_gets(tmp_path, lab):
    """LimitRequestLine, LimitRequestFields and LimitRequestFieldSize hold for every
    request of a forwarded connection, as in httpd's front: 414 for a second request's
    line over its limit, 400 for too many fields or one too long, and the end."""
    apache_port = lab[1]
    tmp_path.chmod(0o755)
    port = harness.free_port()
    conf = tmp_path / "front.conf"
    conf.write_text(HTTPD_FRONT.format(modules=harness.MODULES, dir=tmp_path, port=port)
                    + LIMITS.format(apache=apache_port))
    httpd = harness.Httpd(conf, tmp_path, harness.httpd_env(tmp_path / "run"), [port],
                          tmp_path / "front-error.log")
    front = GeowsProcess("Listen 127.0.0.1:@PORT@\n" + LIMITS.format(apache=apache_port))
    try:
        for later, status in ((get("/" + "x" * 400), b"414"),
                              (get("/index.html", *(f"X-{n}: 1" for n in range(5))), b"400"),
                              (get("/index.html", "X-Big: " + "a" * 200), b"400")):
            statuses = {}
            for name, where in (("httpd", port), ("geows", front.port)):
                with socket.create_connection(("127.0.0.1", where), timeout=10) as sock:
                    sock.sendall(get("/index.html") + later)
                    statuses[name] = re.findall(rb"HTTP/1\.1 (\d{3}) ", until_closed(sock))
            assert statuses == {"httpd": [b"200", status], "geows": [b"200", status]}, later
    finally:
        front.stop()
        httpd.stop()


# forward.relay itself, in a process of its own as a worker runs it (gevent's sockets), with
# an `admit` that raises what no rule raises: a bug of geows' on a later request.
RELAY_WITH_A_BUG = """
from gevent import monkey
monkey.patch_all()
import json, logging, socket, sys
from geows.runtime import forward
from geows.config.paths import ProxyPass
from geows.config.vhosts import RequestLimits
from geows.http import RequestParser

logging.basicConfig()
def admit(later):
    raise RuntimeError("a bug on " + later.target)
head = sys.stdin.buffer.read()
client, ours = socket.socketpair()
entry = ProxyPass(prefix="/", backend=("127.0.0.1", int(sys.argv[1])), backend_path="/",
                  file="t.conf", line=1)
relayed = forward.relay(ours, RequestParser().feed(head), entry, "127.0.0.1", "test", admit,
                        secure=False, request_limits=RequestLimits())
ours.close()
got = bytearray()
while more := client.recv(65536):
    got += more
print(json.dumps({"answer": got.decode("latin-1"), "ending": relayed.ending}))
"""


def test_a_bug_on_a_later_request_loses_no_earlier_answer(lab):
    """The earlier request, which came in one piece with the later one, still goes to
    Apache and its answer to the client; the bug is logged with its traceback, and the
    connection ends after that answer."""
    _, apache_port, _ = lab
    first = get("/index.html")
    done = subprocess.run([sys.executable, "-c", RELAY_WITH_A_BUG, str(apache_port)],
                          input=first + get("/later"), capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    result = json.loads(done.stdout)
    assert without_date(result["answer"].encode("latin-1")) == exchange(apache_port, [first])[0]
    assert result["ending"] == f"forwarded to 127.0.0.1:{apache_port}: internal error"
    errors = done.stderr.decode()
    assert "the ProxyPass backend" in errors and ": internal error\n" in errors
    assert "RuntimeError: a bug on /later" in errors


def test_websockets_through_proxypass_carry_messages_both_ways(lab):
    front = lab[0]
    with connect(f"ws://127.0.0.1:{front.port}/wsapp", open_timeout=10, max_size=None) as ws:
        for message in ("one", bytes(range(256)) * 400, "three"):
            ws.send(message)
            assert ws.recv(timeout=10) == message
        assert ws.ping().wait(10)
    client = Draft76Client(front.port, "/d76", key3_later=True)
    for text in ("a", "b" * 10_000, "c"):
        client.send(text)
        assert client.recv() == text
    assert client.close()
    front.wait_for_log(f"forwarded to 127.0.0.1:{lab[1]}: tunnel,")


def receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        data += receive(sock)
    return bytes(data)


# What an attacker would send (issue 21), each answered as httpd 2.4.71 answers it in front
# of the same Apache with the same rules (mod_proxy, ProxyPass; checked once by hand).

HOSTILE = """
Listen 127.0.0.1:@PORT@
LogLevel info
<Location /private>
  Require all denied
</Location>
<LocationMatch "/chat$">
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</LocationMatch>
<Location /admin>
  Require all denied
</Location>
<VirtualHost *:@PORT@>
  ServerName public.test
  ProxyPass /docs http://127.0.0.1:{apache}/public/
  ProxyPass / http://127.0.0.1:{apache}/
</VirtualHost>
<VirtualHost *:@PORT@>
  ServerName admin.test
  <Location />
    Require all denied
  </Location>
  ProxyPass / http://127.0.0.1:{apache}/
</VirtualHost>
"""

@pytest.fixture(scope="module")
def hostile(lab):
    """geows in front of the lab's Apache, which has no rules: geows holds them. Apache
    has its own /docs/, which no ProxyPass line exposes."""
    _, apache_port, base = lab
    for path, text in (("public/index.html", "public index\n"),
                       ("private/secret.html", "SECRET\n"), ("adminonly.html", "ADMIN ONLY\n"),
                       ("docs/index.html", "the backend's own docs\n")):
        (base / "www" / path).parent.mkdir(mode=0o755, exist_ok=True)
        (base / "www" / path).write_text(text)
        (base / "www" / path).chmod(0o644)
    front = GeowsProcess(HOSTILE.format(apache=apache_port))
    try:
        yield front, base / "access.log"
    finally:
        front.stop()


def answer(port: int, *lines: str) -> bytes:
    """Send a head made of `lines` (latin-1, CRLF, Connection: close) and read the whole
    answer."""
    raw = "\r\n".join([*lines, "Connection: close", "", ""]).encode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        response = b""
        while more := sock.recv(65536):
            response += more
    return response


def backend_saw(access_log: Path, marker: str) -> list[str]:
    """The lines of Apache's access log holding `marker` (Apache logs a request just after
    answering it: wait a moment for it)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        lines = [line for line in access_log.read_text().splitlines() if marker in line]
        if lines:
            return lines
        time.sleep(0.05)
    return []


def test_a_double_slash_is_a_path_not_a_host(hostile):
    """httpd: 403 for both (MergeSlashes On: <Location /private> and /admin match)."""
    front, access_log = hostile
    response = answer(front.port, "GET //private/secret.html?id=slashes HTTP/1.1",
                      "Host: public.test")
    assert response.startswith(b"HTTP/1.1 403") and b"SECRET" not in response
    assert harness.handshake(front.port, "//admin/chat", host="public.test").status == 403
    # /chat$ is geows' own WebSocket location:
    assert harness.handshake(front.port, "/x/chat", host="public.test").status == 101
    assert not backend_saw(access_log, "id=slashes")


def test_an_absolute_form_host_picks_the_vhost(hostile):
    """RFC 9112 3.2.2: httpd answers 403 (admin.test's <Location />), whatever Host says;
    what it lets through reaches the backend in origin-form with the host that chose."""
    front, access_log = hostile
    assert answer(front.port, "GET http://admin.test/adminonly.html?id=abs1 HTTP/1.1",
                  "Host: public.test").startswith(b"HTTP/1.1 403")
    assert answer(front.port, "GET HTTP://ADMIN.TEST:80/adminonly.html?id=abs2 HTTP/1.0"
                  ).startswith(b"HTTP/1.1 403")
    assert not backend_saw(access_log, "id=abs")
    response = answer(front.port, "GET http://public.test/adminonly.html?id=abs3 HTTP/1.1",
                      "Host: admin.test")
    assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"ADMIN ONLY\n")
    assert backend_saw(access_log, "id=abs3")[0].endswith(
        '"GET /adminonly.html?id=abs3 HTTP/1.1" public.test')


def test_the_decoded_path_is_matched_and_forwarded(hostile):
    """httpd matches ProxyPass /docs on the decoded path and sends the backend the path it
    maps to, re-encoded (ap_proxy_canonenc), never the raw target."""
    front, access_log = hostile
    response = answer(front.port, "GET /%64ocs/index.html?id=decoded HTTP/1.1",
                      "Host: public.test")
    assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"public index\n")
    assert backend_saw(access_log, "id=decoded")[0].endswith(
        '"GET /public//index.html?id=decoded HTTP/1.1" public.test')
    answer(front.port, "GET /%64ocs/a;b%3b%25%20c@d~$\xe9?id=encoded HTTP/1.1",
           "Host: public.test")
    assert '"GET /public//a;b;%25%20c@d~$%E9?id=encoded HTTP/1.1"' in backend_saw(
        access_log, "id=encoded")[0]


def test_odd_forms_get_httpds_answers(hostile):
    """OPTIONS * is answered by httpd itself (200, no body, no rule applies); CONNECT's
    host picks the vhost and its path is "/"; other schemes are 400."""
    front, access_log = hostile
    response = answer(front.port, "OPTIONS * HTTP/1.1", "Host: admin.test")
    assert response.startswith(b"HTTP/1.1 200") and b"\r\nContent-Length: 0\r\n" in response
    assert response.endswith(b"\r\n\r\n")
    assert answer(front.port, "CONNECT admin.test:443 HTTP/1.1",
                  "Host: public.test").startswith(b"HTTP/1.1 403")
    assert answer(front.port, "CONNECT public.test:443 HTTP/1.1",
                  "Host: public.test").startswith(b"HTTP/1.1 400")  # Apache's answer
    assert backend_saw(access_log, '"CONNECT / HTTP/1.1"')
    for target in ("ftp://admin.test/x", "*", "http://u:p@public.test/", "/a#b"):
        assert answer(front.port, f"GET {target} HTTP/1.1",
                      "Host: public.test").startswith(b"HTTP/1.1 400"), target


def test_a_content_length_that_is_not_ascii_digits_is_400(hostile):
    """'\xb2' is a digit to str.isdigit() but not to int(): httpd answers 400."""
    front, access_log = hostile
    assert answer(front.port, "POST /public/index.html?id=length HTTP/1.1",
                  "Host: public.test", "Content-Length: \xb2").startswith(b"HTTP/1.1 400")
    assert harness.handshake(front.port, "/x/chat", host="public.test",
                             headers=("Content-Length: \xb2",)).status == 400
    assert not backend_saw(access_log, "id=length")
    front.wait_for_log("invalid Content-Length: \\xb2", access=False)


def test_control_bytes_and_bare_crs_are_400(hostile):
    """httpd: 400 for a control byte in the target or a field, and a CR anywhere but
    before LF; draft-76 never echoes one into Sec-WebSocket-Location."""
    front, access_log = hostile
    assert answer(front.port, "GET /private/\x1b[1;31mFORGED HTTP/1.1",
                  "Host: public.test").startswith(b"HTTP/1.1 400")
    assert answer(front.port, "GET /public/index.html?id=cr HTTP/1.1", "Host: public.test",
                  "X-A: a\rb").startswith(b"HTTP/1.1 400")
    response = answer(front.port, "GET /x/chat HTTP/1.1", "Host: public.test\rX",
                      "Upgrade: WebSocket", "Connection: Upgrade",
                      "Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5",
                      "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00")
    assert response.startswith(b"HTTP/1.1 400") and b"Location" not in response
    assert not backend_saw(access_log, "id=cr")
    log = front.wait_for_log("FORGED", access=True)
    assert "\x1b" not in log and '"GET /private/\\x1b[1;31mFORGED HTTP/1.1" 400' in log
    log = front.wait_for_log("FORGED", access=False)
    assert "\x1b" not in log and "GET /private/\\x1b[1;31mFORGED HTTP/1.1 400" in log
    front.wait_for_log("malformed request header value: X-A: a\\rb", access=False)


@pytest.mark.parametrize("size", [b"-5", b"+5", b" 5", b"0x5", b"0_5"])
def test_a_chunk_size_httpd_refuses_is_400_and_the_worker_serves_on(hostile, size):
    """Python's int(size, 16) takes these, and -5 sent the worker into an endless loop:
    every client of it waited. httpd answers 400 (parse_chunk_size); so does geows, in
    the backend's place, and its one worker answers the next client."""
    front, access_log = hostile
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as attacker:
        attacker.sendall(b"POST /public/index.html?id=chunk HTTP/1.1\r\nHost: public.test\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n" + size
                         + b"\r\n12345\r\n0\r\n\r\n" + b"GET /private/secret.html HTTP/1.1"
                         b"\r\nHost: public.test\r\n\r\n")
        reply = until_closed(attacker)
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n") and reply.count(b"HTTP/1.1") == 1
    response = answer(front.port, "GET /public/index.html HTTP/1.1", "Host: public.test")
    assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"public index\n")


def test_the_head_forwarded_is_made_from_the_parse():
    stream = RequestStream(ENTRY, "192.0.2.1")
    out = stream.feed(b"GET http://h.test/%61pp/x%20y?q=%20 HTTP/1.1\r\nHost: other\r\n"
                      b"X-Folded: a\r\n  b\r\nhost: again\r\n\r\n"
                      b"GET http://h.test:8080//app HTTP/1.0\r\n\r\n")
    assert out == (b"GET /v2/x%20y?q=%20 HTTP/1.1\r\nHost: h.test\r\nX-Folded: a b\r\n"
                   b"X-Forwarded-For: 192.0.2.1\r\n\r\n"
                   b"GET /v2 HTTP/1.0\r\nHost: h.test:8080\r\n"
                   b"X-Forwarded-For: 192.0.2.1\r\n\r\n")
    # Transfer-Encoding overrides Content-Length, which httpd then drops (RFC 9112 6.3),
    # and closes the connection after the request: mod_proxy_http tells its backend so.
    out = RequestStream(ENTRY, "192.0.2.1").feed(
        b"POST /app HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked"
        b"\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n")
    assert out == (b"POST /v2 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                   b"Connection: close\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n0\r\n\r\n")
    # HTTP/2.0 and any HTTP/d.d above 1.1 are read as HTTP/1.1, and sent on as mod_proxy_http
    # sends every request.
    out = RequestStream(ENTRY, "192.0.2.1").feed(b"GET /app HTTP/2.0\r\nHost: h\r\n\r\n")
    assert out == b"GET /v2 HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n"


# RequestStream, sans-I/O: what goes to the backend for the client's bytes, however split.

ENTRY = ProxyPass(prefix="/app", backend=("b", 80), backend_path="/v2", file="f.conf", line=1)


def stream_bytes(raw: bytes, step: int) -> tuple[bytes, RequestStream]:
    stream = RequestStream(ENTRY, "192.0.2.1")
    return b"".join(stream.feed(raw[i:i + step]) for i in range(0, len(raw), step)), stream


@pytest.mark.parametrize("step", [1, 7, 1 << 20])
def test_request_stream_frames_bodies_and_rewrites_heads(step):
    raw = (b"POST /app/x?q=/app HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n"
           b"PUT /other HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nGET "
           b"GET /app HTTP/1.0\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n"
           b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n"
           b"KEY3BYTE")
    out, stream = stream_bytes(raw, step)
    assert out == (
        b"POST /v2/x?q=/app HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
        b"X-Forwarded-For: 192.0.2.1\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n"
        b"PUT /other HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nX-Forwarded-For: 192.0.2.1"
        b"\r\n\r\nGET "
        b"GET /v2 HTTP/1.0\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n"
        b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
        b"X-Forwarded-For: 192.0.2.1\r\n\r\n")
    assert [r.method for r in stream.requests] == ["POST", "PUT", "GET", "GET"]
    # What follows the upgrade request waits for the backend's answer; a 101 sends it raw.
    assert stream.holding and not stream.tunnel
    stream.answered(switched=True)
    assert stream.tunnel
    assert stream.feed(b"GET / HTTP/1.1\r\n\r\n") == b"KEY3BYTEGET / HTTP/1.1\r\n\r\n"


@pytest.mark.parametrize("raw", [
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \xb2\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /app HTTP/1.0\nX-Forwarded-For: 10.0.0.1\n\n",   # bare LF: Strict refuses it
    b"GET //private/x HTTP/1.1\r\n\r\n",                    # HTTP/1.1 without Host
])
def test_request_stream_stops_at_what_it_cannot_frame(raw):
    stream = RequestStream(ENTRY, "192.0.2.1")
    first = b"GET /app/ok HTTP/1.1\r\nHost: h\r\n\r\n"
    # What came before the bad request still goes on, to be answered; nothing after it.
    assert stream.feed(first + raw).startswith(b"GET /v2/ok HTTP/1.1\r\n")
    assert stream.stopped is not None and [a.status for a in stream.answers] == [400]
    assert stream.answers[0].last
    assert stream.feed(b"GET /app/more HTTP/1.1\r\n\r\n") == b""


def test_request_stream_answers_a_later_request_admit_refuses_in_its_place():
    """As httpd answers it: in its place among the others; its body, framed as any, is
    skipped (here a body that hides a request), and the connection goes on, unless the
    answer is one after which httpd closes it."""
    def admit(request):
        if request.path.startswith("/app/b"):
            raise HttpError(403, f"no {request.path}")
    stream = RequestStream(ENTRY, "192.0.2.1", admit)
    hidden = b"GET /app/c HTTP/1.1\r\nHost: h\r\n\r\n"
    out = stream.feed(b"GET /app/a HTTP/1.1\r\nHost: h\r\n\r\n"
                      b"POST /app/b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      + b"%x\r\n" % len(hidden) + hidden + b"\r\n0\r\n\r\n"
                      b"GET /app/d HTTP/1.1\r\nHost: h\r\n\r\n"
                      b"GET /app/b2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                      b"GET /app/e HTTP/1.1\r\nHost: h\r\n\r\n")
    assert [r.path for r in stream.requests] == ["/app/a", "/app/d"]
    assert out.count(b"GET ") == 2 and b"/v2/c" not in out and b"POST" not in out
    assert [(a.after, a.status, a.reason, a.last) for a in stream.answers] == [
        (1, 403, "no /app/b", False), (2, 403, "no /app/b2", True)]
    assert b"\r\nConnection: close\r\n" not in stream.answers[0].data
    assert b"\r\nConnection: close\r\n" in stream.answers[1].data
    assert stream.stopped == "no /app/b2"
