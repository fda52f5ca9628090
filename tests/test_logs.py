"""Logs where httpd.conf puts them, against the real geows CLI: ErrorLog at its LogLevel,
CustomLog lines (httpd's combined format, and most of mod_log_config's items checked
against what the client sent and received), formats and targets refused at -t, piped
loggers started once and shared, and rotation by configuring again."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websocket
from websockets.sync.client import connect

from geows.config import load_config
from geows.log_format import Entry, LogFormat, ServerNames, escape
from geows.runtime import log
from tests.geows_process import REPO, GeowsProcess, free_port, run_cli

ECHO = f"""
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler {REPO}/plugins/echo.py echo_init
  WebSocketOrigin http://good.example
</Location>
"""

# A piped logger: says it started (with its pid), copies its input, says when it ends.
LOGGER = """
import os
import sys

with open(sys.argv[1], "a") as out:
    out.write(f"started {os.getpid()}\\n")
    out.flush()
    for line in sys.stdin:
        out.write(line)
        out.flush()
    out.write("ended\\n")
"""


def wait_for_text(path: Path, text: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = path.read_text() if path.exists() else ""
        if text in found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in {path}:\n{found}")


def raw_request(port: int, request: bytes) -> bytes:
    """Send `request`, read the whole response (geows closes after a refusal)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        response = b""
        while more := sock.recv(65536):
            response += more
    return response


# --- ErrorLog


@pytest.mark.parametrize("level, info_written", [("info", True), ("warn", False)])
def test_error_log_goes_to_its_file_at_the_log_level(level, info_written):
    process = GeowsProcess(f"ServerRoot @DIR@\nListen 127.0.0.1:@PORT@\nErrorLog errors.log\n"
                           f"LogLevel {level}\n{ECHO}")
    errors = process.dir / "errors.log"  # relative to ServerRoot, as httpd resolves it
    raw_request(process.port, b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
    assert process.stop() == 0
    text = wait_for_text(errors, "caught a stop signal")
    assert re.search(r"^\[\w{3} \w{3} \d\d \d\d:\d\d:\d\d\.\d{6} \d{4}\] \[main:notice\] "
                     rf"\[pid {process.proc.pid}\] geows/\S+ configured", text, re.M)
    assert ("[server:info]" in text and "GET /nowhere HTTP/1.1 404" in text) == info_written
    assert process.error_log == ""  # stderr: quiet once ErrorLog is open


def test_what_the_client_sent_is_logged_escaped():
    """ap_escape_logitem's escapes (\\xhh, \\" and \\\\; the error log's leave " alone) for the
    request line and header values in the error log and the default access line: a client
    cannot write terminal escapes or forged lines into them."""
    process = GeowsProcess(f"Listen 127.0.0.1:@PORT@\nLogLevel info\n{ECHO}")
    response = raw_request(process.port, b"GET /echo/\x1b[1;31mFORGED\xff HTTP/1.1\r\n"
                                         b"Host: x\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 400")
    raw_request(process.port, b'GET /echo HTTP/1.1\r\nHost: x\r\nX-A: "a"\x1bb\r\n\r\n')
    raw_request(process.port, b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                              b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              b"Origin: http://\\evil\x85\r\n\r\n")
    assert process.stop() == 0
    escaped = "GET /echo/\\x1b[1;31mFORGED\\xff HTTP/1.1"
    assert f"{escaped} 400: request target incorrectly encoded: /echo/\\x1b" in process.error_log
    assert f'"{escaped}" 400' in process.access_log
    assert 'malformed request header value: X-A: "a"\\x1bb' in process.error_log
    assert "Origin 'http://\\\\evil\\x85' is not a WebSocketTrustedOrigin" in process.access_log
    for text in (process.error_log, process.access_log):
        assert not any(char in text for char in "\x1b\x85\xff"), text


# --- CustomLog: the real server, real clients

# Tab-separated, so that every field can be found whatever it holds.
FIELDS = ("a", "{c}a", "h", "{c}h", "A", "{local}p", "{remote}p", "p", "{bogus}p", "P",
          "{pid}P", "D", "T", "{ms}T", "{us}T", "I", "O", "S", "B", "b", ">s", "<s", "X", "k",
          "m", "U", "q", "H", "r", "u", "l", "e", "{Sec-WebSocket-Protocol}o", "{Upgrade}o",
          "{Content-Type}o", "{geows-protocol}n", "{geows-messages-in}n",
          "{geows-messages-out}n", "{geows-ending}n", "{User-Agent}i", "{X-Odd}i",
          "!101{Referer}i", "101,404{Referer}i", "{session}C", "v", "V", "{sec}t",
          "{msec_frac}t", "{begin:usec}t", "{end:usec}t", "{%Y-%m-%d %H:%M:%S}t", "R",
          "{HTTPS}x")
MANY = r"\t".join(f"%{field}" for field in FIELDS)

SERVED = r"""
Listen 127.0.0.1:@PORT@
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"" combined
CustomLog @DIR@/combined.log combined
CustomLog @DIR@/many.log "MANY"
CustomLog @DIR@/conditional.log "%r %>s" env=!nolog
<Location /echo/members>
  AuthType Basic
  AuthName "Members"
  AuthUserFile @DIR@/htpasswd
  Require valid-user
</Location>
""".replace("MANY", MANY) + ECHO


@pytest.fixture(scope="module")
def served():
    secret = base64.b64encode(hashlib.sha1(b"s3cret").digest()).decode()
    process = GeowsProcess(SERVED, extra_files={"htpasswd": f"alice:{{SHA}}{secret}\n"})
    yield process
    assert process.stop() == 0


def many_line(process: GeowsProcess, marker: str) -> dict[str, str]:
    """The many.log line whose %q holds `marker`, by field."""
    text = wait_for_text(process.dir / "many.log", marker)
    query = FIELDS.index("q")
    line = next(line for line in text.splitlines() if marker in line.split("\t")[query])
    return dict(zip(FIELDS, line.split("\t"), strict=True))


def test_a_websocket_line_tells_what_the_client_sent_and_received(served):
    began = time.time()
    with connect(f"ws://127.0.0.1:{served.port}/echo?id=ws1", origin="http://good.example",
                 subprotocols=["chat"], compression=None, proxy=None,
                 user_agent_header="geows-test/1.0",
                 additional_headers={"Referer": "http://ref.example/page",
                                     "X-Forwarded-For": "203.0.113.9",
                                     "Cookie": "theme=dark; session=abc123",
                                     "X-Odd": 'say "hi" \\ there\t\u00e9'}) as ws:
        client_port = ws.socket.getsockname()[1]
        for text in ("one", "two!"):
            ws.send(text)
            assert ws.recv() == text
        time.sleep(0.3)
        request_size = len(ws.request.serialize())
        response_size = len(ws.response.serialize())
    ended = time.time()
    line = many_line(served, "id=ws1")

    assert line["a"] == line["h"] == "203.0.113.9"  # mod_remoteip's client
    assert line["{c}a"] == line["{c}h"] == line["A"] == "127.0.0.1"
    assert (line["{local}p"], line["{remote}p"]) == (str(served.port), str(client_port))
    assert (line["p"], line["{bogus}p"]) == ("80", "bogus")  # no ServerName port: http's
    worker, = served.workers()   # the line is written by the worker that served it
    assert line["P"] == line["{pid}P"] == str(worker)
    micros = int(line["D"])
    assert 300_000 <= micros <= (ended - began) * 1_000_000
    assert line["T"] == str(micros // 1_000_000)
    assert abs(int(line["{ms}T"]) - micros // 1000) <= 1
    assert abs(int(line["{us}T"]) - micros) <= 1
    # Client frames are masked (6 bytes of header for these), the server's are not (2):
    # two messages each way, then the closing handshake (a 2-byte code).
    assert line["I"] == str(request_size + (6 + 3) + (6 + 4) + (6 + 2))
    sent_body = (2 + 3) + (2 + 4) + (2 + 2)
    assert line["B"] == line["b"] == str(sent_body)
    assert line["O"] == str(response_size + sent_body)
    assert line["S"] == str(int(line["I"]) + int(line["O"]))
    assert line[">s"] == line["<s"] == "101"
    assert (line["X"], line["k"], line["u"], line["l"], line["e"]) == ("-", "0", "-", "-", "-")
    assert (line["m"], line["U"], line["q"], line["H"]) == ("GET", "/echo", "?id=ws1",
                                                          "HTTP/1.1")
    assert line["r"] == "GET /echo?id=ws1 HTTP/1.1"
    assert (line["{Sec-WebSocket-Protocol}o"], line["{Upgrade}o"]) == ("chat", "websocket")
    assert line["{Content-Type}o"] == "-"
    assert line["{geows-protocol}n"] == "rfc6455"
    assert (line["{geows-messages-in}n"], line["{geows-messages-out}n"]) == ("2", "2")
    assert line["{geows-ending}n"] == "client closed"
    assert line["{User-Agent}i"] == "geows-test/1.0"
    assert line["{X-Odd}i"] == 'say \\"hi\\" \\\\ there\\t\\xe9'  # ap_escape_logitem's
    assert line["!101{Referer}i"] == "-"
    assert line["101,404{Referer}i"] == "http://ref.example/page"
    assert line["{session}C"] == "abc123"
    assert (line["v"], line["V"]) == (socket.gethostname(), "127.0.0.1")
    start = int(line["{begin:usec}t"])
    assert began - 1 <= start / 1e6 <= ended
    assert int(line["{end:usec}t"]) - start >= 300_000
    assert line["{sec}t"] == str(start // 1_000_000)
    assert line["{msec_frac}t"] == f"{start // 1000 % 1000:03d}"
    assert line["{%Y-%m-%d %H:%M:%S}t"] == time.strftime("%Y-%m-%d %H:%M:%S",
                                                         time.localtime(start / 1e6))
    assert (line["R"], line["{HTTPS}x"]) == ("websocket-handler", "off")


def test_a_refused_request_line_counts_its_response(served):
    request = (b'GET /nowhere?id=refused&q="x" HTTP/1.1\r\nHost: Example.COM:8080\r\n'
               b"Referer: http://from.example/\r\n\r\n")
    response = raw_request(served.port, request)
    head, _, body = response.partition(b"\r\n\r\n")
    line = many_line(served, "id=refused")
    assert line[">s"] == "404"
    assert (line["I"], line["O"], line["B"]) == (str(len(request)), str(len(response)),
                                                 str(len(body)))
    assert line["{Content-Type}o"] == "text/html; charset=iso-8859-1"
    assert line["r"] == 'GET /nowhere?id=refused&q=\\"x\\" HTTP/1.1'
    assert line["q"] == '?id=refused&q=\\"x\\"'
    assert line["V"] == "example.com"  # the Host header's name, as UseCanonicalName Off
    assert (line["!101{Referer}i"], line["101,404{Referer}i"]) == ("http://from.example/",) * 2
    assert (line["{geows-protocol}n"], line["{Upgrade}o"], line["R"]) == ("-", "-", "-")
    assert line["{geows-ending}n"] == "no WebSocket location or ProxyPass for /nowhere"


def test_an_absolute_form_host_is_the_server_name_logged(served):
    raw_request(served.port, b"GET http://Admin.Test.:99/nowhere?id=absolute HTTP/1.1\r\n"
                             b"Host: example.com\r\n\r\n")
    line = many_line(served, "id=absolute")
    assert (line["V"], line["U"]) == ("admin.test", "/nowhere")
    assert line["r"] == "GET http://Admin.Test.:99/nowhere?id=absolute HTTP/1.1"


def test_the_combined_format_with_websocket_client(served):
    headers = {"User-Agent": "wsclient/9", "Referer": "http://ref.example/x"}
    ws = websocket.create_connection(f"ws://127.0.0.1:{served.port}/echo?id=combined",
                                     origin="http://good.example", header=headers)
    ws.send("hello")
    assert ws.recv() == "hello"
    ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(f"ws://127.0.0.1:{served.port}/echo?id=evil",
                                    origin="http://evil.example", header=headers)
    assert refused.value.status_code == 403
    with pytest.raises(websocket.WebSocketBadStatusException) as unauthorized:
        websocket.create_connection(f"ws://127.0.0.1:{served.port}/echo/members?id=nobody",
                                    origin="http://good.example", header=headers)
    assert unauthorized.value.status_code == 401
    alice = base64.b64encode(b"alice:s3cret").decode()
    ws = websocket.create_connection(f"ws://127.0.0.1:{served.port}/echo/members?id=alice",
                                     origin="http://good.example",
                                     header={**headers, "Authorization": f"Basic {alice}"})
    ws.close()

    text = wait_for_text(served.dir / "combined.log", "id=alice")
    pattern = re.compile(r'(\S+) (\S+) (\S+) \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
                         r'"([^"]*)" (\d{3}) (\S+) "([^"]*)" "([^"]*)"')
    lines = {match[5].split("id=")[1].split()[0]: match
             for match in map(pattern.fullmatch, text.splitlines()) if match}
    for marker, status, user in (("combined", "101", "-"), ("evil", "403", "-"),
                                 ("nobody", "401", "-"), ("alice", "101", "alice")):
        match = lines[marker]
        assert (match[1], match[2], match[3]) == ("127.0.0.1", "-", user)
        assert match[5].startswith("GET /echo") and match[5].endswith(" HTTP/1.1")
        assert match[6] == status
        assert (match[8], match[9]) == ("http://ref.example/x", "wsclient/9")
        stamp = time.mktime(time.strptime(match[4][:20], "%d/%b/%Y:%H:%M:%S"))
        assert abs(stamp - time.time()) < 120
    assert lines["combined"][7] == str(2 + 5 + 2 + 2)  # the echo, then the close's answer
    assert int(lines["evil"][7]) > 0  # the 403's body
    assert served.access_log == ""  # CustomLogs configured: nothing on stdout


def test_each_custom_log_gets_the_line_and_a_condition_is_only_warned_about(served):
    raw_request(served.port, b"GET /echo?id=both HTTP/1.1\r\nHost: x\r\n\r\n")
    many_line(served, "id=both")
    assert "GET /echo?id=both HTTP/1.1 426" in wait_for_text(served.dir / "conditional.log",
                                                            "id=both")
    assert "GET /echo?id=both HTTP/1.1" in wait_for_text(served.dir / "combined.log",
                                                         "id=both")
    assert re.search(r"httpd\.conf:8: CustomLog env=!nolog: geows sets no environment "
                     r"variables .* every connection is logged there", served.error_log)


def test_a_virtual_host_logs_where_its_own_directives_say():
    process = GeowsProcess(f"""
Listen 127.0.0.1:@PORT@
CustomLog @DIR@/main.log "main %v %V %p %U"
<VirtualHost *:@PORT@>
  ServerName own.example:8443
  CustomLog @DIR@/own.log "own %v %V %p %U"
</VirtualHost>
<VirtualHost *:@PORT@>
  ServerName other.example
</VirtualHost>
{ECHO}""")
    for host, path in (("own.example", "/a"), ("other.example", "/b"), ("unknown.example", "/c")):
        raw_request(process.port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    assert process.stop() == 0
    # The first vhost of an address answers for names no vhost has, as in httpd.
    assert wait_for_text(process.dir / "own.log", "/c").splitlines() == [
        "own own.example own.example 8443 /a", "own own.example unknown.example 8443 /c"]
    assert (process.dir / "main.log").read_text() == "main other.example other.example 80 /b\n"


# --- Refused at -t (and at start), with FILE:LINE


@pytest.mark.parametrize("directive, message", [
    ('CustomLog @DIR@/a.log "%h %Z"', "Unrecognized LogFormat directive %Z"),
    ('LogFormat "%h %{Referer" broken', "Ran off end of LogFormat parsing args"),
    ("CustomLog @DIR@/a.log common when=always", "error in condition clause"),
    ("CustomLog @DIR@/missing/a.log common", "Cannot access directory '@DIR@/missing/' for "
                                             "log file '@DIR@/missing/a.log'"),
    ("ErrorLog @DIR@/a-file/error.log", "Cannot access directory '@DIR@/a-file/'"),
    ("TransferLog @DIR@", "could not open log file '@DIR@': Is a directory"),
    ('CustomLog "|no-such-logger -x" common', "piped logger program 'no-such-logger' not found"),
])
def test_a_bad_log_directive_is_refused_with_its_line(tmp_path, directive, message):
    (tmp_path / "a-file").write_text("")
    config = tmp_path / "httpd.conf"
    config.write_text(f"Listen 127.0.0.1:{free_port()}\n{ECHO}"
                      f"{directive.replace('@DIR@', str(tmp_path))}\n")
    line = 2 + len(ECHO.splitlines())  # after Listen and ECHO
    expected = f"{config}:{line}: {message.replace('@DIR@', str(tmp_path))}"
    for args in (("-t",), ()):
        result = run_cli(*args, "-f", str(config))
        assert result.returncode == 1, result.stderr
        assert expected in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file", "httpd.conf"]


# --- Piped loggers


def test_one_piped_logger_serves_every_directive_naming_its_command():
    command = f'"|{sys.executable} @DIR@/logger.py @DIR@/piped.log"'
    process = GeowsProcess(f"Listen 127.0.0.1:@PORT@\nLogLevel info\nErrorLog {command}\n"
                           f'CustomLog {command} "first %r %>s"\n'
                           f'CustomLog {command} "second %U"\n'
                           f'CustomLog "|$cat >> @DIR@/shell.log" "shell %>s"\n{ECHO}',
                           extra_files={"logger.py": LOGGER})
    with connect(f"ws://127.0.0.1:{process.port}/echo", origin="http://good.example",
                 proxy=None) as ws:
        ws.send("x")
        assert ws.recv() == "x"
    raw_request(process.port, b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
    assert process.stop() == 0
    piped = wait_for_text(process.dir / "piped.log", "ended")
    assert len(re.findall(r"^started \d+$", piped, re.M)) == 1
    for line in ("first GET /echo HTTP/1.1 101", "second /echo",
                 "first GET /nowhere HTTP/1.1 404", "second /nowhere"):
        assert f"\n{line}\n" in piped
    assert re.search(r"\[server:info\] \[pid \d+\] .* 404", piped)
    assert wait_for_text(process.dir / "shell.log", "shell 404").splitlines() == \
        ["shell 101", "shell 404"]
    assert process.access_log == ""


@pytest.fixture
def logging_restored(monkeypatch, tmp_path):
    """log.configure in this process: its logs and loggers closed afterwards, logging's
    handlers and levels as they were."""
    monkeypatch.delenv(log.PIPES_ENV, raising=False)  # restored when the test ends
    root, access = logging.getLogger(), logging.getLogger("geows.access")
    saved = (root.handlers[:], root.level, access.handlers[:], access.level, access.propagate)
    yield
    plain = tmp_path / "plain.conf"
    plain.write_text(f"Listen 127.0.0.1:{free_port()}\n")
    log.configure(load_config(plain))  # closes every file and logger pipe opened above
    root.handlers[:], root.level, access.handlers[:], access.level, access.propagate = saved


def test_workers_write_to_the_piped_logger_their_master_started(tmp_path):
    """The master starts each piped logger once, and every worker writes its lines there
    (through the pipe the master passed it), not to a logger of its own."""
    (tmp_path / "logger.py").write_text(LOGGER)
    piped = tmp_path / "piped.log"
    logger = f'"|{sys.executable} {tmp_path}/logger.py {piped}"'
    process = GeowsProcess(f"Listen 127.0.0.1:@PORT@\nStartServers 2\nLogLevel info\n"
                           f"ErrorLog {logger}\nCustomLog {logger} \"worker %P %r\"\n{ECHO}")
    try:
        wait_for_text(piped, "configured -- serving")
        workers = process.wait_for_workers(2)
        for n in range(200):   # until each worker has written a line (SO_REUSEPORT spreads)
            raw_request(process.port, f"GET /nowhere{n} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            if all(f"worker {pid} GET" in piped.read_text() for pid in workers):
                break
    finally:
        assert process.stop() == 0
    text = piped.read_text()
    assert all(f"worker {pid} GET /nowhere" in text for pid in workers)
    assert len(re.findall(r"^started \d+$", text, re.M)) == 1
    assert f"[main:notice] [pid {process.proc.pid}] geows/" in text
    assert process.error_log == ""   # stderr: nothing, the error log is the pipe


def test_a_reload_keeps_unchanged_loggers_starts_new_ones_and_lets_removed_ones_end(
        tmp_path, logging_restored):
    (tmp_path / "logger.py").write_text(LOGGER)

    def configure(*names: str) -> None:
        config = tmp_path / "httpd.conf"
        config.write_text(f"Listen 127.0.0.1:{free_port()}\n" + "".join(
            f'CustomLog "|{sys.executable} {tmp_path}/logger.py {tmp_path}/{name}.log" "%r"\n'
            for name in names))
        log.configure(load_config(config))

    configure("kept", "removed")
    first_fds = log.pipe_fds()
    wait_for_text(tmp_path / "kept.log", "started")
    wait_for_text(tmp_path / "removed.log", "started")
    configure("kept", "added")
    wait_for_text(tmp_path / "removed.log", "ended")  # its only writer closed its end
    wait_for_text(tmp_path / "added.log", "started")
    assert (tmp_path / "kept.log").read_text().count("started") == 1
    assert "ended" not in (tmp_path / "kept.log").read_text()
    assert first_fds[0] == log.pipe_fds()[0] and len(log.pipe_fds()) == 2
    assert sorted(json.loads(os.environ[log.PIPES_ENV])["pipes"]) == sorted(
        f"|{sys.executable} {tmp_path}/logger.py {tmp_path}/{name}.log"
        for name in ("kept", "added"))
    # A logger that died is started again by the next reload (httpd restarts it at once).
    pid = int(re.search(r"started (\d+)", (tmp_path / "kept.log").read_text())[1])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the killed logger did not die"
        time.sleep(0.05)  # dead, and not reaped yet: the reload sees it gone
    configure("kept", "added")
    while (tmp_path / "kept.log").read_text().count("started") < 2:
        assert time.monotonic() < deadline, "the dead logger was not started again"
        time.sleep(0.05)


# --- Several processes, one file


WRITER = """
import sys
import time

from geows.runtime import log
from geows.config import load_config
from geows.log_format import Entry

config = load_config(sys.argv[1])
access_logs = log.configure(config)
for n in range(int(sys.argv[3])):
    access_logs.write(Entry(client_ip="192.0.2.1", peer_ip="192.0.2.1", remote_port=n,
                     local_ip="127.0.0.1", local_port=80, began=time.time(),
                     ended=time.time(), duration=0.0, server=config.logs.names,
                     notes={"filler": sys.argv[2] * 3000}),
                      config.logs)
"""


def test_lines_of_several_processes_never_interleave(tmp_path):
    config = tmp_path / "httpd.conf"
    config.write_text(f"Listen 127.0.0.1:{free_port()}\n"
                      f'CustomLog {tmp_path}/access.log "%{{remote}}p %{{filler}}n end"\n')
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(config), letter, "500"],
                                cwd=REPO) for letter in "abcd"]
    assert [writer.wait(60) for writer in writers] == [0] * 4
    lines = (tmp_path / "access.log").read_text().splitlines()
    assert len(lines) == 2000
    assert all(re.fullmatch(r"\d+ (a{3000}|b{3000}|c{3000}|d{3000}) end", line)
               for line in lines)


# --- Rotation: configure again, and the files are opened anew


def test_configuring_again_reopens_renamed_logs(tmp_path, logging_restored):
    config_file = tmp_path / "httpd.conf"
    config_file.write_text(f"Listen 127.0.0.1:{free_port()}\nErrorLog {tmp_path}/error.log\n"
                           f'CustomLog {tmp_path}/access.log "%a %>s %{{geows-ending}}n"\n')
    config = load_config(config_file)
    errors = logging.getLogger("geows.test")

    def connection(access_logs: log.AccessLogs, ending: str) -> None:
        access_logs.write(Entry(client_ip="192.0.2.1", peer_ip="192.0.2.1", remote_port=5000,
                                local_ip="127.0.0.1", local_port=80, began=time.time(),
                                ended=time.time(), duration=0.0, server=config.logs.names,
                                status=101, notes={"geows-ending": ending}), config.logs)

    access_logs = log.configure(config)
    errors.error("before")
    connection(access_logs, "before")
    for name in ("error.log", "access.log"):
        (tmp_path / name).rename(tmp_path / f"{name}.1")
    errors.error("renamed")  # still the old file, as in httpd until it reopens
    connection(access_logs, "renamed")
    access_logs = log.configure(config)
    errors.error("after")
    connection(access_logs, "after")
    assert (tmp_path / "access.log.1").read_text() == \
        "192.0.2.1 101 before\n192.0.2.1 101 renamed\n"
    assert (tmp_path / "access.log").read_text() == "192.0.2.1 101 after\n"
    old = (tmp_path / "error.log.1").read_text()
    assert "[test:error]" in old and "before" in old and "renamed" in old
    assert "after" not in old
    assert (tmp_path / "error.log").read_text().endswith(f"[pid {os.getpid()}] after\n")


def test_a_failed_reload_keeps_the_logs_open(tmp_path, logging_restored):
    config_file = tmp_path / "httpd.conf"
    config_file.write_text(f"Listen 127.0.0.1:{free_port()}\nErrorLog {tmp_path}/error.log\n")
    log.configure(load_config(config_file))
    config_file.write_text(f"Listen 127.0.0.1:{free_port()}\nErrorLog {tmp_path}/error.log\n"
                           f"CustomLog {tmp_path}/gone/access.log common\n")
    with pytest.raises(Exception, match=r"httpd\.conf:3: Cannot access directory"):
        log.configure(load_config(config_file))
    logging.getLogger("geows.test").error("still here")
    assert (tmp_path / "error.log").read_text().endswith("still here\n")


# --- The format language and the directives, read


def entry(**facts) -> Entry:
    return Entry(**{"client_ip": "192.0.2.7", "peer_ip": "10.0.0.1", "remote_port": 4000,
                    "local_ip": "127.0.0.1", "local_port": 8080, "began": 1_700_000_000.25,
                    "ended": 1_700_000_002.5, "duration": 2.25,
                    "server": ServerNames("ws.example", 8443), **facts})


def test_format_items_as_httpd_renders_them():
    line = LogFormat.parse(r"%% %a %{c}a %p %{canonical}p %T %{ms}T %{zz}T %b %B %u %>s "
                           r'%200{X}i %!200{X}i %{X}o %k %X "%R"\t\n\\ \q')
    assert line.render(entry()) == '% 192.0.2.7 10.0.0.1 8443 8443 2 2250 zz - - - - - - - 0 - '\
                                   '"-"\t\n\\ \\q'
    assert LogFormat.parse("%u|%b|%B").render(entry(user="", body_bytes=0)) == '""|-|0'
    assert LogFormat.parse("%{sec}t %{msec}t %{usec_frac}t %{end:sec}t").render(entry()) == \
        "1700000000 1700000000250 250000 1700000002"
    assert re.fullmatch(r"\[\d\d/Nov/2023:\d\d:\d\d:\d\d [+-]\d{4}\]",
                        LogFormat.parse("%{begin}t").render(entry()))
    assert LogFormat.parse("%{msecfoo}t").render(entry()) == "msecfoo"  # strftime's text
    assert LogFormat.parse("%e %f %l %L %^ti %^to %^FB %{x}n").render(entry()) == "- " * 7 + "-"
    assert escape('a"b\\c\x01\x7f\u00e9') == 'a\\"b\\\\c\\x01\\x7f\\xe9'  # bytes as received
    assert escape("\u20ac") == "\\xe2\\x82\\xac"  # text of geows' own, in UTF-8


def test_every_error_log_message_is_escaped_where_it_is_written():
    """As httpd's log_error_core escapes every message: ESC, BEL, a C1 byte, a newline
    and a backslash in any argument (what a client sent, wherever a call site quotes
    it), and in an exception's text; a traceback keeps its lines."""
    record = logging.LogRecord("geows.forward", logging.ERROR, __file__, 1, "[client %s] %s",
                               ("127.0.0.1:1", 'x\x1b[2J\x07\x9b"\\\nFORGED'), None)
    try:
        raise ValueError("bad \x1b[31m\x85value")
    except ValueError:
        record.exc_info = sys.exc_info()
    text = log.ErrorLogFormatter(stamp=False).format(record)
    first, *traceback = text.split("\n")
    assert first == (f"[forward:error] [pid {os.getpid()}] [client 127.0.0.1:1] "
                     'x\\x1b[2J\\x07\\x9b"\\\\\\nFORGED')
    assert traceback[0] == "Traceback (most recent call last):"
    assert traceback[-1] == "ValueError: bad \\x1b[31m\\x85value"


def test_log_formats_are_resolved_after_the_whole_config(tmp_path):
    (tmp_path / "logs").mkdir()
    config_file = tmp_path / "httpd.conf"
    config_file.write_text(f"""
Listen 127.0.0.1:{free_port()}
TransferLog logs/transfer.log
CustomLog logs/named.log later
GlobalLog logs/global.log "%v global"
LogFormat "%h default"
LogFormat "%h later" later
ServerRoot {tmp_path}
<VirtualHost *:80>
  ServerName own.example:8081
  CustomLog logs/own.log later
  LogFormat "%h own-later" later
  ErrorLog logs/vhost-error.log
</VirtualHost>
<VirtualHost *:80>
  ServerName inherits.example
</VirtualHost>
""")
    config = load_config(config_file)
    main = [(a.target.where, a.format.text) for a in config.logs.access_logs]
    assert main == [(f"{tmp_path}/logs/transfer.log", "%h default"),
                    (f"{tmp_path}/logs/named.log", "%h later"),
                    (f"{tmp_path}/logs/global.log", "%v global")]
    own, inherits = config.virtual_hosts
    assert [(a.target.where, a.format.text) for a in own.logs.access_logs] == [
        (f"{tmp_path}/logs/own.log", "%h own-later"), (f"{tmp_path}/logs/global.log",
                                                       "%v global")]
    assert own.logs.names == ServerNames("own.example", 8081)
    assert inherits.logs.access_logs == config.logs.access_logs
    assert inherits.logs.names.name == "inherits.example"
    assert config.error_log is None


def test_a_vhost_error_log_elsewhere_is_warned_about(tmp_path):
    config = tmp_path / "httpd.conf"
    config.write_text(f"Listen 127.0.0.1:{free_port()}\nErrorLog {tmp_path}/error.log\n"
                      f"<VirtualHost *:80>\n  ErrorLog {tmp_path}/error.log\n</VirtualHost>\n"
                      f"<VirtualHost *:80>\n  ErrorLog {tmp_path}/other.log\n</VirtualHost>\n")
    result = run_cli("-t", "-f", str(config))
    assert result.returncode == 0, result.stderr
    assert f"{config}:4:" not in result.stderr  # the main server's file: nothing to say
    assert f"{config}:7: ErrorLog in <VirtualHost>: geows writes every error line to the " \
           f"main server's error log ({tmp_path}/error.log)" in result.stderr
