"""Access control, geows against the real httpd: the same config, the same handshakes, the
same refusals.

For every config of tests/httpd/access_corpus, httpd (with the mod_websocket stand-in) and
geows serve it side by side, each on its own port, and get the same WebSocket upgrade GETs
from 127.0.0.1, 127.0.0.2 and ::1, with and without credentials and X-Forwarded-For (see
access_lab.CorpusFile.matrix). Where httpd refuses (401, 403, 500...), geows must answer
the same status, and a 401 the same WWW-Authenticate; where httpd's WebSocket handler
runs, geows must answer 101. Then random Require trees, httpd against geows the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.httpd import access_lab, harness
from tests.httpd.access_lab import CORPUS, CORPUS_FILES, TREES_HEAD, Probe, location


def expected_from_geows(reply: harness.Reply) -> tuple[int, str | None]:
    """What geows must answer for httpd's reply: 101 where the handler ran, else the same."""
    if reply.websocket is not None:
        return 101, None
    return reply.status, reply.www_authenticate


def compare(conf: Path, root: Path, access, lab, probes: list[Probe], log: Path) -> list[str]:
    """Serve conf with httpd and geows at once; return a line per probe they disagree on."""
    httpd_port, geows_port = access.port, harness.free_dual_port()
    geows = harness.Geows(conf, root, access.env_for(geows_port), [geows_port], log)
    try:
        with harness.running_httpd(conf, root, access.env_for(httpd_port), [httpd_port],
                                   lab.error_log):
            geows.wait()
            disagree = []
            for probe in probes:
                want = expected_from_geows(probe.send(httpd_port))
                reply = probe.send(geows_port)
                got = (reply.status, reply.www_authenticate)
                if got != want:
                    disagree.append(f"{probe}: httpd wants {want}, geows {got}")
    finally:
        geows.stop()
    return disagree


@pytest.mark.parametrize("conf", CORPUS_FILES, ids=lambda p: p.name)
def test_geows_refuses_whom_httpd_refuses(lab, access, tmp_path, conf):
    probes = access_lab.read_corpus_file(conf).matrix()
    disagree = compare(conf, CORPUS, access, lab, probes, tmp_path / "geows.log")
    assert not disagree, f"{len(disagree)} of {len(probes)} differ:\n" + "\n".join(disagree)


# Random Require trees: one <Location /tN> each in one config, every tree httpd accepts
# served by both; the trees httpd refuses must be refused by `geows -t` too.


def test_random_require_trees(lab, access, tmp_path):
    tops = access_lab.random_trees()
    root = tmp_path
    (root / "plugins").mkdir()
    (root / "plugins/ws.py").write_text((CORPUS / "plugins/ws.py").read_text())
    accepted, refused = [], []
    for n, top in enumerate(tops):
        conf = root / f"t{n}.conf"
        conf.write_text(TREES_HEAD + location(n, top))
        verdict = harness.httpd_check(conf, root, access.env_for(access.port))
        (accepted if verdict.ok else refused).append(n)
    assert len(accepted) >= len(tops) // 2, "".join(location(n, top) for n, top in enumerate(tops))
    geows_verdicts = harness.geows_check_all(
        [(root / f"t{n}.conf", root, access.env_for(access.port)) for n in refused])
    wrongly_accepted = [location(n, tops[n]) for n, verdict in zip(refused, geows_verdicts,
                                                                   strict=True) if verdict.ok]
    assert not wrongly_accepted, "httpd -t refuses, geows -t accepts:\n" + "".join(
        wrongly_accepted)
    conf = root / "trees.conf"
    conf.write_text(TREES_HEAD + "".join(location(n, tops[n]) for n in accepted))
    probes = [Probe(f"/t{n}", source=source) for n in accepted for source in access_lab.SOURCES]
    disagree = compare(conf, root, access, lab, probes, root / "geows.log")
    assert not disagree, "\n".join(disagree) + "\n" + conf.read_text()


# What geows cannot enforce: httpd serves each of these, and `geows -t` refuses it at the
# line that holds the rule, rather than serve the location open.
UNENFORCEABLE = {
    "forward-dns": ("  Require forward-dns localhost\n", "forward-dns"),
    "expr": ("  Require expr %{REMOTE_ADDR} == '127.0.0.1'\n", "expr"),
    "env": ("  Order deny,allow\n  Deny from all\n  Allow from env=GEOWS_NEVER_SET\n", "env"),
    "if": ("  <If \"%{REMOTE_ADDR} == '127.0.0.2'\">\n    Require all denied\n  </If>\n",
           "cannot evaluate"),
}


@pytest.mark.parametrize("name", UNENFORCEABLE)
def test_what_geows_cannot_enforce_is_refused_at_its_line(access, tmp_path, name):
    body, reason = UNENFORCEABLE[name]
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins/ws.py").write_text((CORPUS / "plugins/ws.py").read_text())
    conf = tmp_path / f"{name}.conf"
    conf.write_text(TREES_HEAD + "<Location /ws>\n" + body + "</Location>\n")
    env = access.env_for(access.port)
    assert harness.httpd_check(conf, tmp_path, env).ok
    [verdict] = harness.geows_check_all([(conf, tmp_path, env)])
    assert not verdict.ok
    assert reason in verdict.output, verdict.output
    first = TREES_HEAD.count("\n") + 1   # the <Location /ws> line
    block = range(first, first + body.count("\n") + 2)
    assert any(f"{conf}:{n}:" in verdict.output for n in block), verdict.output
