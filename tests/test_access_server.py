"""Access control in the running server: refusals answered before the plugin runs,
logged as httpd logs them, counted in the access log; a forwarded client address that
the config trusts reaches the rules, the logs and the plugin. (Which status for which
request is proven against the real httpd in tests/httpd/test_access_differential.py.)"""

from __future__ import annotations

import base64
import shutil
import subprocess

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.geows_process import GeowsProcess, missing_tool, run_cli
from tests.httpd.harness import handshake

CONFIG = """
Listen 127.0.0.1:@PORT@
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
<Location /who>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/who.py who_init
</Location>
<Location /who/members>
  AuthType Basic
  AuthName "Members only"
  AuthBasicProvider file
  AuthUserFile @DIR@/htpasswd
  Require valid-user
</Location>
<Location /who/office>
  Require ip 10.0.0.0/8
</Location>
<LocationMatch "/chat$">
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</LocationMatch>
<Location /admin>
  Require all denied
</Location>
"""

WHO = '''
from geows.plugin import TEXT, Plugin

calls = []


def who_init():
    def on_connect(server):
        calls.append(server.request.path)
        return True

    def on_message(state, server, type, data):
        server.send(TEXT, f"{server.remote_addr[0]} {','.join(calls)} {server.user}")
    return Plugin(on_connect=on_connect, on_message=on_message)
'''


@pytest.fixture(scope="module")
def geows(tmp_path_factory):
    htpasswd = shutil.which("htpasswd")
    if htpasswd is None:
        missing_tool("htpasswd is missing (apt-get install apache2-utils)")
    process = GeowsProcess(CONFIG, extra_files={"who.py": WHO})
    subprocess.run([htpasswd, "-cbB", str(process.dir / "htpasswd"), "ann", "s3cret"],
                   check=True, capture_output=True)
    yield process
    assert process.stop() == 0


def url(geows, path: str) -> str:
    return f"ws://127.0.0.1:{geows.port}{path}"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_a_missing_credential_is_401_with_the_realm_and_the_plugin_never_runs(geows):
    with pytest.raises(InvalidStatus) as refused:
        connect(url(geows, "/who/members"))
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["WWW-Authenticate"] == 'Basic realm="Members only"'
    with pytest.raises(InvalidStatus) as wrong:
        connect(url(geows, "/who/members"), additional_headers=basic("ann", "guess"))
    assert wrong.value.response.status_code == 401
    geows.wait_for_log("AH01617: user ann: authentication failure for \"/who/members\": "
                       "Password Mismatch", access=False)
    with connect(url(geows, "/who/members"), additional_headers=basic("ann", "s3cret")) as ws:
        ws.send("who")
        assert ws.recv() == "127.0.0.1 /who/members ann"   # on_connect ran for this one
    geows.wait_for_log('"GET /who/members HTTP/1.1" 401 -')


def test_a_refused_address_is_403_and_logged_as_httpd_does(geows):
    with pytest.raises(InvalidStatus) as refused:
        connect(url(geows, "/who/office"))
    assert refused.value.response.status_code == 403
    log = geows.wait_for_log("AH01630: client denied by server configuration:", access=False)
    assert "[client 127.0.0.1:" in log.split("AH01630")[0].splitlines()[-1]
    geows.wait_for_log('"GET /who/office HTTP/1.1" 403 -')


def test_a_trusted_proxy_forwards_the_client_to_the_rules_the_logs_and_the_plugin(geows):
    with connect(url(geows, "/who/office"),
                 additional_headers={"X-Forwarded-For": "203.0.113.7, 10.1.2.3"}) as ws:
        ws.send("who")
        assert ws.recv().startswith("10.1.2.3 ")
    log = geows.wait_for_log('"GET /who/office HTTP/1.1" 101')
    line = next(line for line in log.splitlines() if "/who/office HTTP/1.1\" 101" in line)
    assert line.startswith("10.1.2.3:")


@pytest.mark.parametrize("path", ["/admin/chat", "//admin/chat", "///admin//chat",
                                  "/x/../admin/chat", "/%61dmin/chat"])
def test_the_rules_see_the_path_httpd_matches(geows, path):
    """<Location /admin> applies however the path is spelt (leading slashes are a path,
    not a host; slashes merged, dots removed, %61 decoded): httpd answers 403."""
    assert handshake(geows.port, path, host="h").status == 403
    assert handshake(geows.port, "/x/chat", host="h").status == 101


def test_an_unenforceable_rule_on_a_served_path_refuses_start(tmp_path):
    conf = tmp_path / "httpd.conf"
    conf.write_text("Listen 127.0.0.1:8099\n<Location /echo>\n  SetHandler websocket-handler\n"
                    "  WebSocketHandler plugins/echo.py echo_init\n</Location>\n"
                    "<Location />\n  Require ldap-group cn=staff\n</Location>\n"
                    "<Location /elsewhere>\n  Require expr true\n</Location>\n")
    done = run_cli("-t", "-f", str(conf))
    assert done.returncode == 1
    assert done.stderr.startswith(f"{conf}:7: Require ldap-group:"), done.stderr
    conf.write_text(conf.read_text().replace("Require ldap-group cn=staff", "Require local"))
    assert run_cli("-t", "-f", str(conf)).returncode == 0   # /elsewhere guards no WebSocket
