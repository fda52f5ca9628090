"""geows against the real httpd on the same files: accept/refuse, then routing.

The corpus: tests/httpd/corpus/*.conf (see its README), generated one-directive files, and
Debian's own /etc/apache2 tree as installed, with the mod_websocket stand-in loaded.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import pytest

from geows.config import Config, load_config
from geows.errors import HttpError
from geows.http import normalize_path
from tests.geows_process import missing_tool
from tests.httpd import harness

CORPUS = Path(__file__).parent / "corpus"
CORPUS_FILES = sorted(CORPUS.glob("*.conf"))
DEBIAN = Path("/etc/apache2")

UNSUPPORTED = "not served by this version of geows"


def expectation(conf: Path) -> str:
    return re.search(r"^# expect: (\w+)", conf.read_text(), re.MULTILINE)[1]


def verdict_message(name: str, verdict: harness.Verdict) -> str:
    return f"{name} {'accepts' if verdict.ok else 'refuses'}: {verdict.output}"


def assert_agree(expected: str, httpd: harness.Verdict, geows: harness.Verdict) -> None:
    both = f"{verdict_message('httpd', httpd)}\n{verdict_message('geows', geows)}"
    if expected in ("accept", "refuse", "guarded"):
        # guarded: accepted, with access rules that keep the probes from the handler
        assert httpd.ok == geows.ok == (expected != "refuse"), both
    else:
        assert expected == "unsupported", expected
        assert httpd.ok and not geows.ok and UNSUPPORTED in geows.output, both


@pytest.fixture(scope="module")
def geows_corpus_verdicts(lab) -> dict[Path, harness.Verdict]:
    verdicts = harness.geows_check_all([(conf, CORPUS, lab.env) for conf in CORPUS_FILES])
    return dict(zip(CORPUS_FILES, verdicts, strict=True))


@pytest.mark.parametrize("conf", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_accept_refuse(lab, geows_corpus_verdicts, conf):
    httpd = harness.httpd_check(conf, CORPUS, lab.env)
    assert_agree(expectation(conf), httpd, geows_corpus_verdicts[conf])


# Generated one-directive files: mod_websocket's arity, values and contexts, and the
# vhost syntax, each checked by the stand-in module inside httpd.

IN_LOCATION = [
    "WebSocketHandler plugins/any.py a_init",
    "WebSocketHandler plugins/any.py",
    "WebSocketHandler plugins/any.py a_init extra",
    'WebSocketHandler "plugins/any.py" "a_init"',
    "MaxMessageSize 1", "MaxMessageSize 0", "MaxMessageSize -5", "MaxMessageSize 10k",
    "MaxMessageSize k10", "MaxMessageSize +7", 'MaxMessageSize " 12"', "MaxMessageSize",
    "MaxMessageSize 1 2", "MaxMessageSize 99999999999999999999999",
    "SupportDraft75 On", "SupportDraft75 off", "SupportDraft75 yes", "SupportDraft75 1",
    "SupportDraft75", "SupportDraft75 On Off",
    "SetHandler websocket-handler", "SetHandler", "SetHandler a b",
]
AT_SERVER = [
    "WebSocketHandler plugins/any.py a_init", "MaxMessageSize 10", "SupportDraft75 On",
    "<VirtualHost *:80>\nWebSocketHandler plugins/any.py a_init\n</VirtualHost>",
    "<VirtualHost *:80>\nMaxMessageSize 10\n</VirtualHost>",
    "<VirtualHost 80>\n</VirtualHost>", "<VirtualHost *:0>\n</VirtualHost>",
    "<VirtualHost :80>\n</VirtualHost>", "<VirtualHost 127.0.0.1:99999>\n</VirtualHost>",
    "<VirtualHost [fe80::1%lo]:80>\n</VirtualHost>", "<VirtualHost [::1]:80 *:*>\n</VirtualHost>",
    "<VirtualHost 127.0.0.1:8a>\n</VirtualHost>", '<VirtualHost "">\n</VirtualHost>',
    "<VirtualHost *:80>\nServerName a b\n</VirtualHost>",
    "<VirtualHost *:80>\nServerAlias\n</VirtualHost>",
    "<VirtualHost *:80>\n<VirtualHost *:81>\n</VirtualHost>\n</VirtualHost>",
    "ServerAlias a.test", "ServerName a:0", "ServerName a:x", "ServerName a:80:90",
    "ServerName http://a.test", "ServerName [::1]", "ServerName *.test", "ServerName ::1",
    "<Location /a>\n<Location /b>\n</Location>\n</Location>",
    "<LocationMatch (>\n</LocationMatch>", "<Location /a /b>\n</Location>",
    "<Location>\n</Location>", "<Location ~ ^/a$>\n</Location>",
]
GENERATED = ([f"<Location /g>\n{line}\n</Location>" for line in IN_LOCATION] + AT_SERVER)


def test_generated_directive_checks(lab, tmp_path):
    files = []
    for n, body in enumerate(GENERATED):
        conf = tmp_path / f"g{n}.conf"
        conf.write_text(f"Include ${{GEOWS_PRELUDE}}\n{body}\n")
        files.append(conf)
    shutil.copytree(CORPUS / "plugins", tmp_path / "plugins")
    geows = harness.geows_check_all([(conf, tmp_path, lab.env) for conf in files])
    disagree = []
    for conf, body, ours in zip(files, GENERATED, geows, strict=True):
        httpd = harness.httpd_check(conf, tmp_path, lab.env)
        if httpd.ok != ours.ok:
            disagree.append(f"{body!r}\n  {verdict_message('httpd', httpd)}\n"
                            f"  {verdict_message('geows', ours)}")
    assert not disagree, "\n".join(disagree)


# Debian's tree, as installed, with the stand-in loaded as a module of its own.


def debian_tree(dest: Path, standin: Path, *, websocket_site: bool = False,
                port: int | None = None) -> Path:
    if not DEBIAN.is_dir():
        missing_tool(f"{DEBIAN}, Debian's httpd tree, is missing (apt-get install apache2)")
    shutil.copytree(DEBIAN, dest, symlinks=False)
    (dest / "mods-enabled/websocket.load").write_text(f"LoadModule websocket_module {standin}\n")
    if websocket_site:
        shutil.copytree(CORPUS / "plugins", dest / "plugins")
        (dest / "sites-enabled/geows.conf").write_text(
            "<Location /ws>\n  SetHandler websocket-handler\n"
            "  WebSocketHandler plugins/any.py ws_init\n</Location>\n")
    if port is not None:  # serve on loopback, with mod_headers for the route markers
        shutil.copy(dest / "mods-available/headers.load", dest / "mods-enabled/headers.load")
        with (dest / "apache2.conf").open("a") as conf:  # r->uri as requested, not "/index.html"
            conf.write(f"\n{harness.URI_HEADER}\nDirectoryIndex disabled\n")
        ports = dest / "ports.conf"
        ports.write_text(re.sub(r"^Listen 80$", f"Listen 127.0.0.1:{port}",
                                ports.read_text(), flags=re.MULTILINE))
        for site in (dest / "sites-enabled").iterdir():
            site.write_text(site.read_text().replace("*:80>", f"*:{port}>"))
    return dest / "apache2.conf"


@pytest.mark.parametrize(("websocket_site", "expected"), [(False, "accept"), (True, "guarded")])
def test_debian_tree_accept_refuse(lab, tmp_path, websocket_site, expected):
    # With a WebSocket location under Debian's `<Directory /> Require all denied`, both
    # accept: geows enforces it (tests/httpd/test_access_differential.py).
    conf = debian_tree(tmp_path / "apache2", lab.standin, websocket_site=websocket_site)
    httpd = harness.httpd_check(conf, conf.parent, lab.env)
    (geows,) = harness.geows_check_all([(conf, conf.parent, lab.env)])
    assert_agree(expected, httpd, geows)


# Routing: the real httpd serves each accepted config; geows routes the same requests.


@dataclass(frozen=True)
class Probe:
    path: str  # as sent, %-encoded
    host: str = "main.test"
    port: str = "A"
    ip: str = "127.0.0.1"


def probes_for(conf: Path, config: Config) -> list[Probe]:
    probes = []
    for line in re.findall(r"^# probe: (.*)$", conf.read_text(), re.MULTILINE):
        path, *options = line.split()
        probes.append(Probe(path, **dict(option.split("=", 1) for option in options)))
    for section in config.locations:  # the edges of every plain prefix, spelt many ways
        if not section.regex and "*" not in section.pattern:
            base = quote(section.pattern, safe="/")
            probes += [Probe(target) for target in (base, base.rstrip("/") + "/x", base + "x",
                                                    *spellings(base))]
    return list(dict.fromkeys(probes))


def spellings(base: str) -> list[str]:
    """Other targets for the path `base`: slashes doubled, dot segments, %-encoded dots and
    slashes, which httpd merges, removes, decodes or refuses."""
    stem = base.rstrip("/")
    return ["/" + base, stem + "//x", "/x/.." + base, "/x/%2e%2E" + base, stem + "/./x",
            stem + "/x/..", "/.." + base, stem + "/x%2Fy", stem + "/x%2fy/", "/x%2F.." + base]


def compare_routing(lab, monkeypatch, conf: Path, root: Path,
                    markers: dict[str, tuple[str, int]], extra: list[Probe] = (),
                    listening: tuple[str, ...] = ("A", "B"), log: Path | None = None,
                    endpoints: bool = True) -> int:
    """Request every probe from httpd; compare the path it made of the target (X-Uri), or
    its refusal, with geows', then the sections it merged (X-Route) and, with endpoints, the
    WebSocket config its handler saw with geows' for httpd's path: httpd alone is the judge.
    Where access control refuses the request, httpd never runs the handler: endpoints=False."""
    for name, value in lab.env.items():
        monkeypatch.setenv(name, value)
    config = load_config(conf, server_root=root, guard=False)
    marker_of = {(os.path.realpath(file), line): n for n, (file, line) in markers.items()}
    mismatches = []
    probes = probes_for(conf, config) + list(extra)
    with harness.running_httpd(conf, root, lab.env, [lab.ports[p] for p in listening],
                               log or lab.error_log) as httpd:
        for probe in probes:
            port = lab.ports[probe.port]
            answer = httpd.get(probe.path, probe.host, port, probe.ip)
            try:
                ours = normalize_path(probe.path)
            except HttpError as refused:
                if (answer.status, answer.routes) != (refused.status, ()):
                    mismatches.append(f"{probe}: httpd {answer.status} {answer.routes}, "
                                      f"geows refuses {refused.status}")
                continue
            if answer.uri != ours:
                mismatches.append(f"{probe}: httpd's path {answer.uri!r} ({answer.status}), "
                                  f"geows' {ours!r}")
                continue
            route = config.route(answer.uri, probe.host, port, probe.ip)
            routes = tuple(marker_of[os.path.realpath(s.file), s.line] for s in route.sections)
            endpoint = route.endpoint
            websocket = endpoint and (
                f"{endpoint.settings.plugin} {endpoint.settings.init} "
                f"{endpoint.settings.max_message_size} "
                f"{'on' if endpoint.settings.support_draft75 else 'off'}")
            if not endpoints:
                answer, websocket = replace(answer, websocket=None), None
            if (answer.routes, answer.websocket) != (routes, websocket):
                mismatches.append(f"{probe}: httpd {answer.routes} {answer.websocket!r}, "
                                  f"geows {routes} {websocket!r}")
    assert not mismatches, "\n".join(mismatches)
    return len(probes)


ROUTED = [conf for conf in CORPUS_FILES if expectation(conf) in ("accept", "guarded")]


@pytest.mark.parametrize("conf", ROUTED, ids=lambda p: p.name)
def test_corpus_routing(lab, tmp_path, monkeypatch, conf):
    root = tmp_path / "corpus"
    markers = harness.instrument(CORPUS, root)
    guarded = expectation(conf) == "guarded"
    assert compare_routing(lab, monkeypatch, root / conf.name, root, markers,
                           endpoints=not guarded) > 0


def test_debian_tree_routing(lab, tmp_path, monkeypatch):
    src = debian_tree(tmp_path / "debian", lab.standin, websocket_site=True,
                      port=lab.ports["A"]).parent
    root = tmp_path / "instrumented"
    markers = harness.instrument(src, root)
    extra = [Probe(path, host) for path in ("/ws/x", "/server-status", "/server-status/x",
                                            "/server-statusx", "/icons/x", "/")
             for host in ("localhost", "elsewhere.test")]
    assert compare_routing(lab, monkeypatch, root / "apache2.conf", root, markers, extra,
                           listening=("A",), log=lab.dir / "run/log/error.log",
                           endpoints=False)
