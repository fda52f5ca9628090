"""One lab per test session: the stand-in module built, a prelude, ports and httpd's env;
for the access-control tests, a tree with a DocumentRoot, htpasswd files and their prelude."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.geows_process import missing_tool
from tests.httpd import access_lab, front_lab, harness

PRELUDE = """\
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authz_host_module {modules}/mod_authz_host.so
LoadModule headers_module {modules}/mod_headers.so
LoadModule websocket_module {standin}
User ${{GEOWS_RUN_USER}}
Group ${{GEOWS_RUN_GROUP}}
PidFile {run}/httpd.pid
ErrorLog {run}/error.log
DocumentRoot {docroot}
ServerName main.test
Listen 127.0.0.1:${{GEOWS_PORT_A}}
Listen [::1]:${{GEOWS_PORT_A}}
Listen 127.0.0.1:${{GEOWS_PORT_B}}
{uri_header}
"""


@dataclass(frozen=True)
class Lab:
    dir: Path
    standin: Path
    env: dict[str, str]  # httpd's and geows': GEOWS_PRELUDE, GEOWS_PORT_A, GEOWS_PORT_B
    ports: dict[str, int]

    @property
    def error_log(self) -> Path:
        return self.dir / "run" / "error.log"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    reason = harness.available()
    if reason:
        missing_tool(reason)
    base = tmp_path_factory.mktemp("httpd")
    standin = harness.build_standin(base)
    # httpd serves as www-data, which cannot enter pytest's private temp directories.
    docroot = Path(tempfile.mkdtemp(prefix="geows-httpd-docroot-"))
    docroot.chmod(0o755)
    ports = {"A": harness.free_port(), "B": harness.free_port()}
    prelude = base / "prelude.conf"
    prelude.write_text(PRELUDE.format(modules=harness.MODULES, standin=standin,
                                      run=base / "run", docroot=docroot,
                                      uri_header=harness.URI_HEADER))
    env = harness.httpd_env(base / "run", {**harness.RUN_AS, "GEOWS_PRELUDE": str(prelude),
                                           "GEOWS_PORT_A": str(ports["A"]),
                                           "GEOWS_PORT_B": str(ports["B"])})
    try:
        yield Lab(base, standin, env, ports)
    finally:
        shutil.rmtree(docroot, ignore_errors=True)


@pytest.fixture(scope="session")
def access(lab: Lab) -> Iterator[access_lab.AccessLab]:
    if not Path(access_lab.HTPASSWD).exists():
        missing_tool(f"{access_lab.HTPASSWD} not installed (apt-get install apache2-utils)")
    tree = access_lab.make_tree(lab.standin, lab.dir / "run", lab.env)
    try:
        yield tree
    finally:
        shutil.rmtree(tree.tree, ignore_errors=True)


@pytest.fixture(scope="session")
def fronts(request: pytest.FixtureRequest) -> Iterator[front_lab.Fronts]:
    """geows and httpd's mod_proxy on the same rules before one backend (front_lab). A
    missing httpd fails these tests everywhere: they are the proof that geows refuses what
    httpd refuses."""
    reason = harness.available()
    if reason:
        pytest.fail(reason)
    lab = request.getfixturevalue("lab")
    started = front_lab.Fronts(lab.standin, lab.env)
    try:
        yield started
    finally:
        started.close()
