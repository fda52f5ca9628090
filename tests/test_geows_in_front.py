"""geows on the public port in front of Debian's apache2: its own WebSocket locations for
draft-76 and RFC 6455 clients, every other request forwarded by `ProxyPass` to Apache,
answered byte for byte as Apache alone answers (but for the Date header)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from geows.config.paths import ProxyPass
from geows.errors import HttpError
from geows.forward import RequestStream
from tests.draft76 import Draft76Client
from tests.geows_process import ECHO_CONFIG, GeowsProcess, in_ci, run_cli
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
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    echo = GeowsProcess(ECHO_CONFIG)  # a draft-76 and RFC 6455 backend for Apache and geows
    base = Path(tempfile.mkdtemp(prefix="geows-in-front-"))
    base.chmod(0o755)  # httpd serves as www-data
    for name in ("www", "cgi"):
        (base / name).mkdir(mode=0o755)
    (base / "www/index.html").write_text("<p>hello from apache</p>\n")
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
    request of a connection is answered 403; a later one ends the connection unforwarded,
    as does one for another backend or an excluded path."""
    front, _, base = lab
    assert exchange(front.port, [get("/guarded/x")])[0].startswith(b"HTTP/1.1 403")
    for later in ("/guarded/y", "/private/z", "/echo"):
        with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
            sock.sendall(get("/index.html") + get(later))
            buffer = bytearray()
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


def test_the_head_forwarded_is_made_from_the_parse():
    stream = RequestStream(ENTRY, "192.0.2.1")
    out = stream.feed(b"GET http://h.test/%61pp/x%20y?q=%20 HTTP/1.1\r\nHost: other\r\n"
                      b"X-Folded: a\r\n  b\r\nhost: again\r\n\r\n"
                      b"GET http://h.test:8080//app HTTP/1.0\r\n\r\n")
    assert out == (b"GET /v2/x%20y?q=%20 HTTP/1.1\r\nHost: h.test\r\nX-Folded: a b\r\n"
                   b"X-Forwarded-For: 192.0.2.1\r\n\r\n"
                   b"GET /v2 HTTP/1.0\r\nHost: h.test:8080\r\n"
                   b"X-Forwarded-For: 192.0.2.1\r\n\r\n")
    # Transfer-Encoding overrides Content-Length, which httpd then drops (RFC 9112 6.3).
    out = RequestStream(ENTRY, "192.0.2.1").feed(
        b"POST /app HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked"
        b"\r\n\r\n0\r\n\r\n")
    assert out == (b"POST /v2 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                   b"X-Forwarded-For: 192.0.2.1\r\n\r\n0\r\n\r\n")


# RequestStream, sans-I/O: what goes to the backend for the client's bytes, however split.

ENTRY = ProxyPass("/app", ("b", 80), "/v2", "f.conf", 1)


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
        b"X-Forwarded-For: 192.0.2.1\r\n\r\nKEY3BYTE")
    assert [r.method for r in stream.requests] == ["POST", "PUT", "GET", "GET"]
    assert stream.tunnel
    assert stream.feed(b"GET / HTTP/1.1\r\n\r\n") == b"GET / HTTP/1.1\r\n\r\n"  # raw now


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
    assert stream.stopped is not None and stream.stopped.status == 400
    assert stream.feed(b"GET /app/more HTTP/1.1\r\n\r\n") == b""


def test_request_stream_stops_at_a_later_request_admit_refuses():
    def admit(request):
        raise HttpError(403, f"no {request.path}")
    stream = RequestStream(ENTRY, "192.0.2.1", admit)
    out = stream.feed(b"GET /app/a HTTP/1.1\r\nHost: h\r\n\r\n"
                      b"GET /app/b HTTP/1.1\r\nHost: h\r\n\r\n")
    assert out.count(b"GET ") == 1 and stream.stopped.reason == "no /app/b"
