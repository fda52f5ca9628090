"""The migration guide's walkthrough (docs/migration.md), step by step, with Debian's
apache2 and the real geows: each step runs the configs of examples/migration/ as they are
(ports and the DocumentRoot substituted), and RFC 6455 and draft-76 clients echo on every
WebSocket location of the public port while the static page is still served.

Apache's mod_websocket is the stand-in tests/httpd/mod_websocket_standin.c, which echoes
when httpd's environment has STANDIN_ECHO=1.
"""

from __future__ import annotations

import http.client
from contextlib import ExitStack
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.draft76 import Draft76Client
from tests.geows_process import REPO, GeowsProcess, missing_tool, run_cli
from tests.httpd import harness

EXAMPLES = REPO / "examples/migration"
PAGE = "<p>the rest of the site</p>\n"

# What any httpd config has besides the site's lines (Debian's apache2.conf and
# mods-enabled/), with the stand-in as mod_websocket.
APACHE_BASE = """\
ServerName localhost
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule dir_module modules/mod_dir.so
LoadModule websocket_module {standin}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
"""


def render(name: str, *, public: int | str = "", apache: int = 0, geows: int | str = 0,
           www: Path = Path("/nonexistent")) -> str:
    """examples/migration/<name> with the guide's ports (80 public, Apache behind geows on
    8080, geows behind Apache on 8081) and DocumentRoot replaced for this run."""
    text = (EXAMPLES / name).read_text()
    for old, new in (("Listen 80\n", f"Listen 127.0.0.1:{public}\n"),
                     ("127.0.0.1:8080", f"127.0.0.1:{apache}"),
                     ("127.0.0.1:8081", f"127.0.0.1:{geows}"),
                     ("/var/www/html", str(www))):
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A directory with the stand-in built, `modules` (Debian's) and the static page."""
    reason = harness.available()
    if reason:
        missing_tool(reason)
    base = tmp_path_factory.mktemp("migration")
    base.chmod(0o755)  # httpd serves as www-data
    standin = harness.build_standin(base)
    (base / "modules").symlink_to(harness.MODULES)
    (base / "www").mkdir(mode=0o755)
    (base / "www/index.html").write_text(PAGE)
    (base / "www/index.html").chmod(0o644)
    return base, standin


class Step:
    """One step's processes: start_apache/start_geows as the step needs, stop() ends all."""

    def __init__(self, lab: tuple[Path, Path], number: int):
        self.base, self.standin = lab
        self.root = self.base / f"step{number}"
        self.root.mkdir()
        (self.root / "modules").symlink_to(harness.MODULES)
        self.www = self.base / "www"
        self.stack = ExitStack()

    def start_apache(self, text: str, port: int) -> None:
        conf = self.root / "httpd.conf"
        conf.write_text(APACHE_BASE.format(standin=self.standin, root=self.root) + text)
        env = harness.httpd_env(self.root / "run", {"STANDIN_ECHO": "1"})
        httpd = harness.Httpd(conf, self.root, env, [port], self.root / "error.log")
        self.stack.callback(httpd.stop)

    def start_geows(self, text: str) -> GeowsProcess:
        geows = GeowsProcess(text)
        self.stack.callback(geows.stop)
        return geows

    def stop(self) -> None:
        self.stack.close()


@pytest.fixture
def step(lab):
    made: list[Step] = []

    def make(number: int) -> Step:
        made.append(Step(lab, number))
        return made[-1]

    yield make
    for one in made:
        one.stop()


def echoes_rfc6455(port: int, path: str) -> None:
    with connect(f"ws://127.0.0.1:{port}{path}", open_timeout=10) as ws:
        ws.send(f"rfc6455 on {path}")
        assert ws.recv(timeout=10) == f"rfc6455 on {path}"


def echoes_draft76(port: int, path: str) -> None:
    client = Draft76Client(port, path)
    client.send(f"draft-76 on {path}")
    assert client.recv() == f"draft-76 on {path}"
    assert client.close()


def access_lines(geows: GeowsProcess, path: str) -> list[str]:
    """geows' access log lines for upgrades of path (one line per connection)."""
    return [line for line in geows.access_log.splitlines() if f'"GET {path} ' in line]


def serves_the_page(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        assert (response.status, response.read().decode()) == (200, PAGE)
    finally:
        conn.close()


def test_step1_apache_and_mod_websocket_serve_both_locations(step):
    one, public = step(1), harness.free_port()
    one.start_apache(render("step1-apache.conf", public=public, www=one.www), public)
    for path in ("/echo", "/legacy"):
        echoes_rfc6455(public, path)
        echoes_draft76(public, path)
    serves_the_page(public)


def test_step2_echo_moves_to_geows_behind_apache(step):
    two, public = step(2), harness.free_port()
    geows = two.start_geows(render("step2-geows.conf", geows="@PORT@"))
    apache = render("step2-apache.conf", public=public, geows=geows.port, www=two.www)
    two.start_apache(apache, public)
    echoes_rfc6455(public, "/echo")
    echoes_rfc6455(public, "/legacy")
    echoes_draft76(public, "/legacy")
    serves_the_page(public)
    assert "/echo" in geows.wait_for_log('"GET /echo HTTP/1.1" 101 rfc6455')
    # Apache's proxy holds draft-76's key bytes until a 101 that needs them: step 3's case.
    with pytest.raises((OSError, EOFError, ValueError)):
        Draft76Client(public, "/echo", timeout=3)


def test_step2_apache_lines_are_what_the_snippet_prints_for_step1():
    done = run_cli("--apache-snippet", "-f", str(EXAMPLES / "step1-apache.conf"), "-d",
                   str(REPO), "--proxy-form", "upgrade", "--backend", "127.0.0.1:8081")
    assert done.returncode == 0, done.stderr
    snippet = done.stdout.splitlines()
    step1 = (EXAMPLES / "step1-apache.conf").read_text().splitlines()
    added = [line for line in (EXAMPLES / "step2-apache.conf").read_text().splitlines()
             if line not in step1 and not line.startswith("#")]
    assert added and all(line in snippet for line in added), added
    geows = [line for line in (EXAMPLES / "step2-geows.conf").read_text().splitlines()
             if line.startswith(("Listen", "RemoteIP"))]
    assert all(line in snippet for line in geows), geows


def test_step3_geows_takes_the_public_port_and_forwards_the_rest(step):
    three, apache = step(3), harness.free_port()
    three.start_apache(render("step3-apache.conf", apache=apache, www=three.www),
                       apache)
    geows = three.start_geows(render("step3-geows.conf", public="@PORT@", apache=apache))
    for path in ("/echo", "/legacy"):
        echoes_rfc6455(geows.port, path)
        echoes_draft76(geows.port, path)
    serves_the_page(geows.port)
    geows.wait_for_log('"GET /echo HTTP/1.1" 101 hixie-76')
    assert not any("forwarded" in line for line in access_lines(geows, "/echo"))
    legacy = access_lines(geows, "/legacy")  # tunnelled to Apache, whose stand-in answered
    assert len(legacy) == 2 and all(f"forwarded to 127.0.0.1:{apache}: tunnel" in line
                                    for line in legacy), legacy


def test_step4_geows_serves_every_location_apache_the_rest(step):
    four, apache = step(4), harness.free_port()
    four.start_apache(render("step4-apache.conf", apache=apache, www=four.www),
                      apache)
    geows = four.start_geows(render("step4-geows.conf", public="@PORT@", apache=apache))
    for path in ("/echo", "/legacy"):
        echoes_rfc6455(geows.port, path)
        echoes_draft76(geows.port, path)
    serves_the_page(geows.port)
    geows.wait_for_log('"GET / HTTP/1.1" 200')
    assert len(access_lines(geows, "/legacy")) == 2
    for path in ("/echo", "/legacy"):
        assert not any("forwarded" in line for line in access_lines(geows, path))
    assert all(f"forwarded to 127.0.0.1:{apache}" in line for line in access_lines(geows, "/"))

