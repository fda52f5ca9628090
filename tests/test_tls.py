"""TLS from the config, as mod_ssl serves it: SNI picks the vhost's certificate, draft-76
says wss://, SSLProtocol holds, and what Python's ssl cannot honour is refused at -t."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests import draft76
from tests.geows_process import GeowsProcess, free_port, join_all, missing_tool, run_cli
from tests.test_fairness import (
    FLOOD_BYTES_AT_LEAST,
    FLOOD_SECONDS,
    PROBE_INTERVAL,
    WAIT_LIMIT,
)
from tests.test_rfc6455_server import masked

NAMES = ("a.test", "b.test")

CONFIG = """
LoadModule ssl_module modules/mod_ssl.so
Listen 127.0.0.1:@PORT@ https
Listen 127.0.0.1:@PORT13@
RequestReadTimeout header=2
<IfModule mod_ssl.c>
  SSLProtocol all -SSLv3 -TLSv1 -TLSv1.1
  SSLCipherSuite HIGH:!aNULL
  SSLHonorCipherOrder on
  SSLSessionCache shmcb:/nowhere(512000)
  <VirtualHost *:@PORT@>
    ServerName a.test
    SSLEngine on
    SSLCertificateFile @CERTS@/a.test.pem
    SSLCertificateKeyFile @CERTS@/a.test.key
  </VirtualHost>
  <VirtualHost *:@PORT@>
    ServerName b.test
    SSLEngine on
    SSLCertificateFile @CERTS@/b.test.pem
    SSLCertificateKeyFile @CERTS@/b.test.key
    SSLCertificateChainFile @CERTS@/ca.pem
  </VirtualHost>
  <VirtualHost *:@PORT13@>
    ServerName a.test
    SSLEngine on
    SSLProtocol TLSv1.3
    SSLCertificateFile @CERTS@/a.test.pem
    SSLCertificateKeyFile @CERTS@/a.test.key
  </VirtualHost>
</IfModule>
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</Location>
"""


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    """A test CA and a certificate for each of NAMES (in its subjectAltName), with EC keys:
    quick to make."""
    if shutil.which("openssl") is None:
        missing_tool("openssl is not installed (apt-get install openssl)")
    path = tmp_path_factory.mktemp("certs")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=geows test CA", cwd=path)
    for name in NAMES:
        (path / f"{name}.ext").write_text(f"subjectAltName=DNS:{name}\n")
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}", cwd=path)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                "-out", f"{name}.pem", cwd=path)
    return path


@pytest.fixture(scope="module")
def geows(certs):
    port13 = free_port()
    process = GeowsProcess(CONFIG.replace("@CERTS@", str(certs))
                           .replace("@PORT13@", str(port13)))
    process.port13 = port13
    yield process
    assert process.stop() == 0


def client_context(certs: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    return context


def common_name(sock: ssl.SSLSocket) -> str:
    subject = dict(pair[0] for pair in sock.getpeercert()["subject"])
    return subject["commonName"]


@pytest.mark.parametrize("name", NAMES)
def test_sni_picks_the_vhosts_certificate_and_echoes(geows, certs, name):
    with connect(f"wss://127.0.0.1:{geows.port}/echo", ssl=client_context(certs),
                 server_hostname=name, open_timeout=10) as ws:
        assert common_name(ws.socket) == name
        ws.send("over TLS")
        assert ws.recv(timeout=10) == "over TLS"


def test_without_sni_the_default_vhosts_certificate(geows, certs):
    context = client_context(certs)
    context.check_hostname = False
    with socket.create_connection(("127.0.0.1", geows.port), timeout=10) as raw, \
            context.wrap_socket(raw) as sock:
        assert common_name(sock) == "a.test"


def test_draft76_over_tls_says_wss(geows, certs, monkeypatch):
    plain_connect = socket.create_connection

    def tls_connect(address, timeout):
        return client_context(certs).wrap_socket(plain_connect(address, timeout),
                                                 server_hostname="b.test")

    monkeypatch.setattr(draft76.socket, "create_connection", tls_connect)
    client = draft76.Draft76Client(geows.port, "/echo", host="127.0.0.1",
                                   origin=f"https://127.0.0.1:{geows.port}")  # a wss page's
    assert client.header("Sec-WebSocket-Location") == f"wss://127.0.0.1:{geows.port}/echo"
    client.send("hixie")
    assert client.recv() == "hixie"
    assert client.close()


def test_a_tls_flood_does_not_stall_another_clients_echo(geows, certs):
    """A TLS connection's reader cannot wait on its socket for its turn (decrypted bytes may
    wait in the SSL object, which the poll cannot see): it gives way before each read and
    between parses. While one TLS client floods empty Pongs, another's echo is answered
    within a second each time (tests/test_fairness.py's limit), and the flood is read."""
    context = client_context(certs)
    raw = socket.create_connection(("127.0.0.1", geows.port), timeout=10)
    flooder = context.wrap_socket(raw, server_hostname="a.test")
    flooder.sendall(b"GET /echo HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    b"Sec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += flooder.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    block = masked(0xA, b"") * (65536 // 6)
    sent = [0]

    def flood() -> None:
        deadline = time.monotonic() + FLOOD_SECONDS
        while time.monotonic() < deadline:
            flooder.sendall(block)  # bounded by the socket's timeout
            sent[0] += len(block)

    waits = []
    with flooder, connect(f"wss://127.0.0.1:{geows.port}/echo", ssl=context,
                          server_hostname="b.test", open_timeout=10) as ws:
        thread = threading.Thread(target=flood, daemon=True)
        thread.start()
        stop = time.monotonic() + FLOOD_SECONDS - PROBE_INTERVAL
        while time.monotonic() < stop:
            started = time.monotonic()
            ws.send("are you there")
            assert ws.recv(timeout=30) == "are you there"
            waits.append(time.monotonic() - started)
            time.sleep(PROBE_INTERVAL)
        join_all([thread], FLOOD_SECONDS + 30)
    assert sent[0] >= FLOOD_BYTES_AT_LEAST
    assert len(waits) >= 10
    assert max(waits) < WAIT_LIMIT, sorted(waits)[-5:]


def test_ssl_protocol_refuses_an_older_client(geows, certs):
    context = client_context(certs)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", geows.port13), timeout=10) as raw:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname="a.test")
    with socket.create_connection(("127.0.0.1", geows.port13), timeout=10) as raw, \
            client_context(certs).wrap_socket(raw, server_hostname="a.test") as sock:
        assert sock.version() == "TLSv1.3"


def test_plain_text_to_the_tls_port_gets_nothing(geows):
    with socket.create_connection(("127.0.0.1", geows.port), timeout=10) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: a.test\r\n\r\n")
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:
            answer = b""
    assert b"HTTP/" not in answer


def test_a_stalled_tls_handshake_is_dropped_within_the_header_budget(geows):
    with socket.create_connection(("127.0.0.1", geows.port), timeout=10) as sock:
        started = time.monotonic()
        try:
            assert sock.recv(1) == b""
        except ConnectionResetError:
            pass
        assert time.monotonic() - started < 5  # RequestReadTimeout header=2
    geows.wait_for_log("TLS handshake failed")


REFUSED = {
    "SSLProtocol all +SSLv3": "SSLv3 is insecure",
    "SSLProtocol all -TLSv9": "Illegal protocol '-TLSv9'",
    "SSLCipherSuite NOTACIPHER": "OpenSSL matches no cipher",
    "SSLCipherSuite TLSv1.3 TLS_AES_128_GCM_SHA256": "cannot set TLS 1.3 cipher suites",
    "SSLEngine optional": "SSLEngine optional",
    "SSLCompression on": "TLS compression",
    "SSLInsecureRenegotiation on": "insecure renegotiation",
    "SSLCertificateKeyFile @CERTS@/b.test.key": "cannot load",
    "SSLCertificateFile @CERTS@/missing.pem": "does not exist",
}


@pytest.mark.parametrize("line", REFUSED)
def test_t_refuses_what_pythons_ssl_cannot_honour(certs, tmp_path, line):
    conf = tmp_path / "httpd.conf"
    conf.write_text(f"""LoadModule ssl_module m.so
Listen 127.0.0.1:{free_port()}
SSLEngine on
SSLCertificateFile {certs}/a.test.pem
{line.replace("@CERTS@", str(certs))}
""")
    result = run_cli("-t", "-f", str(conf))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{conf}:5: ")
    assert REFUSED[line] in result.stderr


def test_t_wants_the_key_and_takes_it_server_root_relative(certs, tmp_path):
    conf = tmp_path / "httpd.conf"
    text = f"LoadModule ssl_module m.so\nListen 127.0.0.1:{free_port()}\nSSLEngine on\n" \
        "SSLCertificateFile a.test.pem\n"
    conf.write_text(text)
    result = run_cli("-t", "-f", str(conf), "-d", str(certs))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{conf}:4: cannot load {certs}/a.test.pem: ")
    conf.write_text(text + "SSLCertificateKeyFile a.test.key\n")
    result = run_cli("-t", "-f", str(conf), "-d", str(certs))
    assert (result.returncode, result.stderr) == (0, "Syntax OK\n")
