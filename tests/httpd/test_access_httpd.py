"""The access corpus against the real httpd alone: every file is a config httpd accepts, the
htpasswd file has every hash format, and httpd answers each `# expect:` line as written;
the random Require trees of the differential test, httpd against access_lab.decide.

These pin the behaviour the differential test (test_access_differential.py) holds geows
to, so a change of httpd or of the corpus shows here first.
"""

from __future__ import annotations

import re

import pytest

from tests.httpd import access_lab, harness
from tests.httpd.access_lab import CORPUS, CORPUS_FILES


def test_htpasswd_wrote_every_hash_format(access):
    lines = dict(line.split(":", 1)
                 for line in (access.tree / "auth/users").read_text().splitlines())
    assert sorted(lines) == sorted(access_lab.USERS)
    assert lines["u-bcrypt"].startswith("$2y$")
    assert lines["u-md5"].startswith("$apr1$")
    assert lines["u-sha1"].startswith("{SHA}")
    assert re.fullmatch(r"[./0-9A-Za-z]{13}", lines["u-crypt"])
    assert lines["u-sha256"].startswith("$5$")
    assert lines["u-sha512"].startswith("$6$")
    assert lines["u-plain"] == access_lab.PASSWORD


def test_every_file_probes_something():
    for conf in CORPUS_FILES:
        corpus = access_lab.read_corpus_file(conf)
        assert corpus.paths and corpus.expectations, conf.name


@pytest.mark.parametrize("conf", CORPUS_FILES, ids=lambda p: p.name)
def test_httpd_answers_as_expected(lab, access, conf):
    corpus = access_lab.read_corpus_file(conf)
    env = access.env_for(access.port)
    verdict = harness.httpd_check(conf, CORPUS, env)
    assert verdict.ok, verdict.output
    wrong = []
    with harness.running_httpd(conf, CORPUS, env, [access.port], lab.error_log):
        for expectation in corpus.expectations:
            reply = expectation.probe.send(access.port)
            status = 200 if reply.websocket is not None else reply.status
            if status != expectation.status:
                wrong.append(f"{expectation.probe}: expected {expectation.status}, got "
                             f"{reply.status} (X-WebSocket {reply.websocket!r})")
    assert not wrong, "\n".join(wrong)


def test_random_require_trees_as_modelled(lab, access, tmp_path):
    # The same trees as test_access_differential's (same strategy, derandomized): httpd
    # accepts most, and grants exactly where the three-valued model says "granted".
    tops = access_lab.random_trees()
    root = tmp_path
    env = access.env_for(access.port)
    accepted = []
    for n, top in enumerate(tops):
        conf = root / f"t{n}.conf"
        conf.write_text(access_lab.TREES_HEAD + access_lab.location(n, top))
        if harness.httpd_check(conf, root, env).ok:
            accepted.append(n)
    assert len(accepted) >= len(tops) // 2
    conf = root / "trees.conf"
    conf.write_text(access_lab.TREES_HEAD
                    + "".join(access_lab.location(n, tops[n]) for n in accepted))
    wrong = []
    with harness.running_httpd(conf, root, env, [access.port], lab.error_log):
        for n in accepted:
            for source in access_lab.SOURCES:
                reply = harness.handshake(access.port, f"/t{n}", source=source)
                granted = reply.websocket is not None
                model = access_lab.decide(("RequireAny", tops[n]), source)
                if granted != (model == "granted") or reply.status not in (200, 403):
                    wrong.append(f"/t{n} from {source}: httpd {reply.status}, model {model}\n"
                                 + access_lab.location(n, tops[n]))
    assert not wrong, "".join(wrong)
