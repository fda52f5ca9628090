"""The status page (SetHandler geows-status) of the running server: exact counts per location
and protocol while clients are connected and after they left, the ?auto text and the HTML
page, HEAD and 405, and access rules applied as they are to WebSocket locations."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import time

import pytest
import websocket  # websocket-client
from websockets.sync.client import connect

from tests.draft76 import Draft76Client
from tests.geows_process import GeowsProcess, run_cli

# The regex location's name holds '<' and '&', which the HTML page must escape.
CONFIG = """
Listen 127.0.0.1:@PORT@
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</Location>
<LocationMatch "^/a<b&c">
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</LocationMatch>
<Location /geows-status>
  SetHandler geows-status
  Require local
</Location>
<Location /geows-status/off>
  SetHandler None
</Location>
<Location /office-status>
  SetHandler geows-status
  Require ip 10.0.0.1
</Location>
<Location /members-status>
  SetHandler geows-status
  AuthType Basic
  AuthName "Status"
  AuthBasicProvider file
  AuthUserFile @DIR@/htpasswd
  Require valid-user
</Location>
"""

ECHO = "<Location /echo>"
REGEX = "<LocationMatch ^/a<b&c>"
REGEX_PATH = "/a%3Cb&c"   # decoded: /a<b&c


@pytest.fixture
def geows():
    # {SHA}: one of the hashes htpasswd writes (-s), made here without the tool.
    sha = base64.b64encode(hashlib.sha1(b"s3cret").digest()).decode()
    process = GeowsProcess(CONFIG, extra_files={"htpasswd": f"ann:{{SHA}}{sha}\n"})
    yield process
    assert process.stop() == 0


def fetch(port: int, path: str, method: str = "GET",
          headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


def auto(port: int) -> tuple[dict[str, str], list[str]]:
    """The ?auto text: its single keys, and its WebSocketLocation lines' values."""
    response, body = fetch(port, "/geows-status?auto")
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/plain; charset=utf-8"
    lines = body.decode().splitlines()
    assert lines[0] == f"127.0.0.1:{port}"   # mod_status' first line: the server's name
    pairs = [line.split(": ", 1) for line in lines[1:]]
    locations = [value for key, value in pairs if key == "WebSocketLocation"]
    return {key: value for key, value in pairs if key != "WebSocketLocation"}, locations


def wait_for_auto(port: int, key: str, value: str) -> tuple[dict[str, str], list[str]]:
    """?auto once `key` reads `value`: a connection's end reaches the server a moment after
    the client's close returns."""
    deadline = time.monotonic() + 5
    while True:
        fields, locations = auto(port)
        if fields[key] == value or time.monotonic() > deadline:
            return fields, locations
        time.sleep(0.05)


def echo(send, recv, count: int) -> None:
    for n in range(count):
        send(f"m{n}")
        assert recv() == f"m{n}"


def test_counts_are_exact_per_location_and_protocol_and_survive_the_close(geows):
    port = geows.port
    before, locations = auto(port)
    assert locations == [f"0 0 0 0 - {ECHO}", f"0 0 0 0 - {REGEX}"]
    assert before["WebSocketConns"] == "0" and before["WebSocketConnsAccepted"] == "0"

    with contextlib.ExitStack() as clients:
        # websockets offers permessage-deflate, websocket-client does not.
        deflate = clients.enter_context(connect(f"ws://127.0.0.1:{port}/echo"))
        plain = websocket.create_connection(f"ws://127.0.0.1:{port}/echo", timeout=10)
        clients.callback(plain.close)
        draft76 = Draft76Client(port, REGEX_PATH)
        clients.callback(draft76.close)
        regex_deflate = clients.enter_context(connect(f"ws://127.0.0.1:{port}{REGEX_PATH}"))
        echo(deflate.send, deflate.recv, 3)
        echo(plain.send, plain.recv, 2)
        echo(draft76.send, draft76.recv, 4)
        echo(regex_deflate.send, regex_deflate.recv, 1)

        fields, locations = auto(port)
        assert locations == [   # open, accepted, in, out, protocol, location; protocols sorted
            f"1 1 2 2 rfc6455 {ECHO}",
            f"1 1 3 3 rfc6455+permessage-deflate {ECHO}",
            f"1 1 4 4 hixie-76 {REGEX}",
            f"1 1 1 1 rfc6455+permessage-deflate {REGEX}"]
        assert (fields["WebSocketConns"], fields["WebSocketConnsAccepted"],
                fields["WebSocketMessagesIn"], fields["WebSocketMessagesOut"]) == (
            "4", "4", "10", "10")
        assert fields["ConnsTotal"] == "5"   # the four, and this request
        # The four, the previous status request and this one.
        assert int(fields["ConnsAccepted"]) == int(before["ConnsAccepted"]) + 5
        assert fields["ServerVersion"].startswith("geows/")
        assert (fields["Processes"], fields["Stopping"]) == ("1", "0")
        assert fields["ParentServerMPMGeneration"] == "0"
        assert int(fields["ServerUptimeSeconds"]) >= 0 and fields["ServerUptime"]
        worker, = geows.workers()
        assert fields["Worker"].startswith(f"{worker} 0 5 {fields['ConnsAccepted']} ")
        assert fields["Worker"].endswith(" serving")

    fields, locations = wait_for_auto(port, "WebSocketConns", "0")
    assert locations == [
        f"0 1 2 2 rfc6455 {ECHO}",
        f"0 1 3 3 rfc6455+permessage-deflate {ECHO}",
        f"0 1 4 4 hixie-76 {REGEX}",
        f"0 1 1 1 rfc6455+permessage-deflate {REGEX}"]
    assert (fields["WebSocketConns"], fields["WebSocketConnsAccepted"],
            fields["WebSocketMessagesIn"], fields["WebSocketMessagesOut"]) == ("0", "4", "10", "10")
    assert fields["ConnsTotal"] == "1"

    # A later connection adds to the totals of the ended ones.
    with connect(f"ws://127.0.0.1:{port}/echo") as again:
        echo(again.send, again.recv, 2)
    fields, locations = wait_for_auto(port, "WebSocketConnsAccepted", "5")
    assert locations[1] == f"0 2 5 5 rfc6455+permessage-deflate {ECHO}"
    assert fields["WebSocketConns"] == "0"


def test_the_html_page_shows_the_counts_and_escapes_the_names(geows):
    with connect(f"ws://127.0.0.1:{geows.port}{REGEX_PATH}", compression=None) as ws:
        echo(ws.send, ws.recv, 3)
        response, body = fetch(geows.port, "/geows-status")
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert "no-cache" in response.getheader("Cache-Control")
    assert response.getheader("Connection") == "close"
    assert int(response.getheader("Content-Length")) == len(body)
    page = body.decode()
    assert page.startswith("<!DOCTYPE html>")
    assert f"<h1>geows Status for 127.0.0.1:{geows.port}</h1>" in page
    assert ("<tr><td>&lt;LocationMatch ^/a&lt;b&amp;c&gt;</td><td>rfc6455</td>"
            "<td>1</td><td>1</td><td>3</td><td>3</td></tr>") in page
    assert "<tr><td>&lt;Location /echo&gt;</td><td>-</td><td>0</td>" in page
    assert "<tr><th>Total</th><th></th><th>1</th><th>1</th><th>3</th><th>3</th></tr>" in page
    worker, = geows.workers()
    assert f"<tr><td>{worker}</td><td>0</td><td>serving</td>" in page
    assert "<LocationMatch" not in page and "^/a<b" not in page


def test_head_answers_the_head_alone_and_other_methods_405(geows):
    response, body = fetch(geows.port, "/geows-status", "HEAD")
    assert response.status == 200 and body == b""
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert int(response.getheader("Content-Length")) > 0
    assert "no-cache" in response.getheader("Cache-Control")
    for method in ("POST", "PUT", "OPTIONS"):
        response, _ = fetch(geows.port, "/geows-status", method)
        assert response.status == 405
        assert response.getheader("Allow") == "GET, HEAD"
    geows.wait_for_log('"POST /geows-status HTTP/1.1" 405')


def test_access_rules_apply_as_on_websocket_locations(geows):
    port = geows.port
    assert fetch(port, "/office-status")[0].status == 403   # Require ip 10.0.0.1
    assert fetch(port, "/office-status?auto")[0].status == 403
    assert fetch(port, "/office-status", "HEAD")[0].status == 403
    assert fetch(port, "/office-status", "POST")[0].status == 403   # access before method
    geows.wait_for_log("AH01630: client denied by server configuration:", access=False)
    refused, _ = fetch(port, "/members-status")
    assert refused.status == 401
    assert refused.getheader("WWW-Authenticate") == 'Basic realm="Status"'
    wrong = {"Authorization": "Basic " + base64.b64encode(b"ann:guess").decode()}
    assert fetch(port, "/members-status", headers=wrong)[0].status == 401
    right = {"Authorization": "Basic " + base64.b64encode(b"ann:s3cret").decode()}
    response, body = fetch(port, "/members-status?auto", headers=right)
    assert response.status == 200 and b"\nWebSocketConns: 0\n" in body
    assert fetch(port, "/geows-status")[0].status == 200   # Require local
    assert fetch(port, "/geows-status/off")[0].status == 404   # SetHandler None resets


def test_show_and_test_report_the_status_page(tmp_path):
    conf = tmp_path / "httpd.conf"
    conf.write_text(CONFIG.replace("@PORT@", "8099").replace("@DIR@", str(tmp_path)))
    shown = run_cli("-S", "-f", str(conf))
    assert shown.returncode == 0, shown.stderr
    assert f"Status pages:\n  <Location /geows-status> ({conf}:11)\n" in shown.stdout
    summary = json.loads(run_cli("-S", "--json", "-f", str(conf)).stdout)
    assert [page["location"] for page in summary["status_pages"]] == [
        "/geows-status", "/office-status", "/members-status"]
    assert [route["location"] for route in summary["routes"]] == ["/echo", "^/a<b&c"]
    tested = run_cli("-t", "-f", str(conf))
    assert (tested.returncode, tested.stderr) == (0, "Syntax OK\n")
    conf.write_text("Listen 127.0.0.1:8099\nSetHandler geows-status\n")
    refused = run_cli("-t", "-f", str(conf))
    assert refused.returncode == 1
    assert refused.stderr == (f"{conf}:2: SetHandler geows-status outside <Location> is not "
                              "served by this version of geows\n")


def test_every_worker_is_counted_on_the_page_whichever_worker_answers():
    """With two workers, the page sums both, however the kernel spread the clients: each
    worker passes its figures to the master every limits.STATUS_INTERVAL."""
    process = GeowsProcess("StartServers 2\n" + CONFIG,
                           extra_files={"htpasswd": "ann:{SHA}x\n"})
    try:
        process.wait_for_log("configured -- serving", access=False)
        with contextlib.ExitStack() as clients:
            sockets = [clients.enter_context(connect(f"ws://127.0.0.1:{process.port}/echo"))
                       for _ in range(20)]
            for client in sockets:
                echo(client.send, client.recv, 2)
            deadline = time.monotonic() + 10
            while True:   # one answer: the figures of whichever worker gave it
                page = fetch(process.port, "/geows-status?auto")[1].decode()
                fields = dict(line.split(": ", 1) for line in page.splitlines()[1:])
                workers = {int(line.split()[1]) for line in page.splitlines()
                           if line.startswith("Worker: ")}
                if fields["WebSocketConns"] == "20" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert fields["Processes"] == "2"
            assert workers == process.workers()
            # SO_REUSEPORT spread the 20 (all on one worker: 1 chance in 2**19), so the
            # sums hold another worker's figures whichever answered.
            assert all(int(line.split()[3]) > 0 for line in page.splitlines()
                       if line.startswith("Worker: "))
            assert (fields["WebSocketConns"], fields["WebSocketMessagesIn"],
                    fields["WebSocketMessagesOut"]) == ("20", "40", "40")
    finally:
        assert process.stop() == 0
