"""The examples the documentation shows, run: every `apache` block of docs/ passes
`geows -t` (with the files it names made: a certificate, a password file, the plugins, a
plugin module), the landing page's 30-second plugin answers in capitals, and the C how-to's
build line makes a plugin geows serves.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.docs_site import LANDING
from tests.geows_process import REPO, GeowsProcess, missing_tool, run_cli
from tests.test_c_plugins import CFLAGS, TEST_SOURCES, build_httpd_runtime
from tests.test_httpd_runtime import HTTPD_CFLAGS

DOCS = REPO / "docs"
BLOCKS = [(path, number, block) for path in sorted({*DOCS.rglob("*.md"), LANDING})
          for number, block in enumerate(re.findall(r"^```apache\n(.*?)^```$",
                                                    path.read_text(), re.M | re.S))]


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        missing_tool(f"{name} is missing (apt-get install {package})")
    return found


def python_block(page: Path, first_line: str) -> str:
    """The page's ```python block that starts with `first_line`."""
    for block in re.findall(r"^```python\n(.*?)^```$", page.read_text(), re.M | re.S):
        if block.startswith(first_line):
            return block
    raise AssertionError(f"{page}: no python block starting {first_line!r}")


def c_how_to_build(root: Path) -> None:
    """docs/howto/c-plugin.md's cc line, run as written in `root`, on a copy of echo.c."""
    tool("cc", "gcc libc6-dev")
    (root / "plugins/c").mkdir(parents=True)
    shutil.copy(REPO / "plugins/c/websocket_plugin.h", root / "plugins/c")
    shutil.copy(REPO / "plugins/c/echo.c", root / "myplugin.c")
    line = re.search(r"^cc .*myplugin\.c$", (DOCS / "howto/c-plugin.md").read_text(), re.M)[0]
    built = subprocess.run(line.split(), cwd=root, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr


def tcp_bridge_module(root: Path) -> None:
    """modules/mod_tcp_bridge.so in `root`: the plugin module docs/reference/c-plugins.md
    loads, built from tests/c_plugins/ as apxs builds a module (APR from the runtime)."""
    build_httpd_runtime()
    (root / "modules").mkdir()
    built = subprocess.run([tool("cc", "gcc libc6-dev"), *CFLAGS, *HTTPD_CFLAGS, "-o",
                            str(root / "modules/mod_tcp_bridge.so"),
                            str(TEST_SOURCES / "mod_tcp_bridge.c")],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr


def server_root(root: Path) -> dict[str, str]:
    """What the blocks name, made in `root`; the absolute paths to put in their place."""
    c_how_to_build(root)
    (root / "plugins/c/echo.so").symlink_to(root / "myplugin.so")  # echo.c, built
    for plugin in (REPO / "plugins").glob("*.py"):
        (root / "plugins" / plugin.name).symlink_to(plugin)
    (root / "plugins/shout.py").write_text(python_block(LANDING, "# plugins/shout.py"))
    (root / "logs").mkdir()
    htpasswd = subprocess.run([tool("htpasswd", "apache2-utils"), "-B", "-b", "-c",
                               str(root / "htpasswd"), "alice", "secret"],
                              capture_output=True, text=True, timeout=60)
    assert htpasswd.returncode == 0, htpasswd.stderr
    made = subprocess.run([tool("openssl", "openssl"), "req", "-x509", "-newkey", "rsa:2048",
                           "-nodes", "-days", "2", "-subj", "/CN=ws.example.com",
                           "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem")],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return {"/etc/geows/htpasswd": str(root / "htpasswd"),
            "/etc/ssl/certs/ws.example.com.pem": str(root / "cert.pem"),
            "/etc/ssl/private/ws.example.com.key": str(root / "key.pem"),
            "/etc/ssl/certs/chain.pem": str(root / "cert.pem")}


def answer(config: str, root: Path, path: str, message: str) -> str:
    """What geows, serving `config` from `root`, answers `message` sent to `path`."""
    geows = GeowsProcess(config, server_root=root)
    try:
        with connect(f"ws://127.0.0.1:{geows.port}{path}", open_timeout=10) as websocket:
            websocket.send(message)
            return websocket.recv(timeout=10)
    finally:
        assert geows.stop() == 0


@pytest.mark.parametrize(("page", "number", "block"), BLOCKS,
                         ids=[f"{path.relative_to(REPO)}-{number}" for path, number, _ in BLOCKS])
def test_each_config_the_pages_show_passes_geows_t(tmp_path, page, number, block):
    for old, new in server_root(tmp_path).items():
        block = block.replace(old, new)
    if "modules/mod_tcp_bridge.so" in block:
        tcp_bridge_module(tmp_path)
    if not re.search(r"^Listen ", block, re.M):  # a part of a config: the rest of one
        block = "Listen 127.0.0.1:8080\n" + block
    (tmp_path / "httpd.conf").write_text(block)
    checked = run_cli("-t", "-f", str(tmp_path / "httpd.conf"), "-d", str(tmp_path),
                      cwd=tmp_path)
    assert checked.returncode == 0 and "Syntax OK" in checked.stderr, \
        f"{page}, apache block {number}:\n{block}\n{checked.stderr}"


def test_the_landing_pages_example_answers_in_capitals(tmp_path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins/shout.py").write_text(python_block(LANDING, "# plugins/shout.py"))
    config = re.search(r"^```apache\n(Listen .*?)^```$", LANDING.read_text(), re.M | re.S)[1]
    assert answer(config.replace(":8080", ":@PORT@"), tmp_path, "/shout", "hello") == "HELLO"


def test_the_c_how_to_builds_a_plugin_geows_serves(tmp_path):
    c_how_to_build(tmp_path)
    block = re.search(r"^```apache\n(.*?)^```$", (DOCS / "howto/c-plugin.md").read_text(),
                      re.M | re.S)[1]
    config = "Listen 127.0.0.1:@PORT@\n" + block
    assert answer(config, tmp_path, "/myplugin", "from C") == "from C"
