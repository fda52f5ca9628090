"""The migration guide's walkthrough (docs/migration.md), step by step, with Debian's
apache2 and the real geows: each step runs the configs of examples/migration/ as they are
(ports and the DocumentRoot substituted), and RFC 6455 and draft-76 clients echo on every
WebSocket location of the public port while the static page is still served. Step 1 to
2 and back, and 2 to 3, are also made as the guide makes them: Apache's graceful reloads,
with WebSockets open.

Apache's mod_websocket is the stand-in tests/httpd/mod_websocket_standin.c, which echoes
when httpd's environment has STANDIN_ECHO=1.
"""

from __future__ import annotations

import http.client
import os
import signal
import time
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

    def __init__(self, lab: tuple[Path, Path], name: int | str):
        self.base, self.standin = lab
        self.root = self.base / f"step{name}"
        self.root.mkdir()
        (self.root / "modules").symlink_to(harness.MODULES)
        self.www = self.base / "www"
        self.stack = ExitStack()

    def start_apache(self, text: str, port: int, *, one_process: bool = True) -> harness.Httpd:
        """httpd on `text`; with one_process=False, its parent and children, as a graceful
        reload (`reload_apache`) needs them."""
        conf = self.root / "httpd.conf"
        conf.write_text(APACHE_BASE.format(standin=self.standin, root=self.root) + text)
        env = harness.httpd_env(self.root / "run", {"STANDIN_ECHO": "1"})
        httpd = harness.Httpd(conf, self.root, env, [port], self.root / "error.log",
                              one_process=one_process)
        self.stack.callback(httpd.stop)
        return httpd

    def reload_apache(self, httpd: harness.Httpd, text: str) -> None:
        """`apachectl graceful` onto `text`: SIGUSR1 to httpd's parent, which rereads its
        config and lets the children of the old one finish their connections."""
        (self.root / "httpd.conf").write_text(
            APACHE_BASE.format(standin=self.standin, root=self.root) + text)
        httpd.proc.send_signal(signal.SIGUSR1)

    def start_geows(self, text: str) -> GeowsProcess:
        geows = GeowsProcess(text)
        self.stack.callback(geows.stop)
        return geows

    def start_geows_on(self, text: str, port: int) -> None:
        """geows on `text`, which names its port itself (the one Apache gave up)."""
        conf = self.root / "geows.conf"
        conf.write_text(text)
        geows = harness.Geows(conf, REPO, os.environ, [port], self.root / "geows-error.log")
        self.stack.callback(geows.stop)
        geows.wait()

    def stop(self) -> None:
        self.stack.close()


@pytest.fixture
def step(lab):
    made: list[Step] = []

    def make(name: int | str) -> Step:
        made.append(Step(lab, name))
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


def answered_by(port: int, path: str) -> str:
    """Who answers a new RFC 6455 connection to path, which must echo: "mod_websocket" (the
    stand-in's 101 says X-WebSocket) or "geows"."""
    with connect(f"ws://127.0.0.1:{port}{path}", open_timeout=10) as ws:
        ws.send("who")
        assert ws.recv(timeout=10) == "who"
        return "mod_websocket" if "X-WebSocket" in ws.response.headers else "geows"


def until_answered_by(port: int, path: str, server: str) -> int:
    """New connections to path, each echoing (none refused), until `server` answers one,
    20 s at most; how many it took."""
    deadline = time.monotonic() + 20
    tries = 1
    while answered_by(port, path) != server:
        assert time.monotonic() < deadline, f"{path} not answered by {server} after {tries}"
        tries += 1
        time.sleep(0.05)
    return tries


def echoes_on(ws, text: str) -> None:
    ws.send(text)
    assert ws.recv(timeout=10) == text


def test_a_location_moves_and_moves_back_by_graceful_reloads_keeping_every_connection(step):
    """The guide's "without downtime": step 1 to step 2 by `apachectl graceful`, and the
    rollback, while WebSockets stay open. Each open one keeps echoing where it started, no
    new connection is refused, and new ones reach the location's new place."""
    two, public = step("2-by-reloads"), harness.free_port()
    apache = two.start_apache(render("step1-apache.conf", public=public, www=two.www),
                              public, one_process=False)
    assert answered_by(public, "/echo") == "mod_websocket"
    with connect(f"ws://127.0.0.1:{public}/echo", open_timeout=10) as on_apache:
        echoes_on(on_apache, "before the move")
        geows = two.start_geows(render("step2-geows.conf", geows="@PORT@"))
        two.reload_apache(apache, render("step2-apache.conf", public=public,
                                         geows=geows.port, www=two.www))
        until_answered_by(public, "/echo", "geows")
        echoes_on(on_apache, "after the move")  # still the old child's, with mod_websocket
        echoes_rfc6455(public, "/legacy")
        serves_the_page(public)

        with connect(f"ws://127.0.0.1:{public}/echo", open_timeout=10) as on_geows:
            echoes_on(on_geows, "before the rollback")
            two.reload_apache(apache, render("step1-apache.conf", public=public, www=two.www))
            until_answered_by(public, "/echo", "mod_websocket")
            echoes_on(on_geows, "after the rollback")  # through the old child's proxy
            echoes_on(on_apache, "after the rollback")
    geows.wait_for_log('"GET /echo HTTP/1.1" 101 rfc6455')
    serves_the_page(public)


def until(condition, what: str) -> None:
    """Until condition() holds, 20 s at most."""
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_step2_to_step3_apache_frees_the_public_port_keeping_its_connections(step):
    """The guide's step 3 move: `apachectl graceful` onto step 3's config moves Apache to
    its loopback port and frees the public one, while a WebSocket Apache's mod_websocket
    serves stays open; geows then binds the public port and serves as step 3 says."""
    three, public, apache_port = step("3-by-reloads"), harness.free_port(), harness.free_port()
    behind = three.start_geows(render("step2-geows.conf", geows="@PORT@"))
    apache = three.start_apache(render("step2-apache.conf", public=public, geows=behind.port,
                                       www=three.www), public, one_process=False)
    with connect(f"ws://127.0.0.1:{public}/legacy", open_timeout=10) as on_apache:
        echoes_on(on_apache, "before the move")
        three.reload_apache(apache, render("step3-apache.conf", apache=apache_port,
                                           www=three.www))
        until(lambda: not harness.listening(public), "Apache kept the public port")
        three.start_geows_on(render("step3-geows.conf", public=public, apache=apache_port),
                             public)
        echoes_on(on_apache, "after the move")  # the old child's, though its port is gone
        assert answered_by(public, "/echo") == "geows"
        assert answered_by(public, "/legacy") == "mod_websocket"  # through geows' tunnel
        echoes_draft76(public, "/legacy")
        serves_the_page(public)


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

