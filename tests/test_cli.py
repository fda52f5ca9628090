"""The geows command: -t, -S, --version, and the errors users see."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from geows import __version__
from geows.protocols.frames import PURE_PYTHON_ENV
from tests.draft76 import Draft76Client
from tests.geows_process import REPO, GeowsProcess, run_cli

GOOD = """\
Listen 127.0.0.1:8099
LoadModule websocket_module modules/mod_websocket.so
<IfModule mod_websocket.c>
  <Location /echo>
    SetHandler websocket-handler
    WebSocketHandler {plugin} {init}
  </Location>
</IfModule>
"""


def write(tmp_path: Path, text: str, name: str = "httpd.conf") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def config(tmp_path: Path, plugin: str = str(REPO / "plugins/echo.py"),
           init: str = "echo_init") -> Path:
    return write(tmp_path, GOOD.format(plugin=plugin, init=init))


@pytest.mark.parametrize(("pure_python", "frames"), [
    ("", "compiled (geows.protocols._frames)"),   # setup.py built it (tests/run.sh)
    ("0", "compiled (geows.protocols._frames)"),
    ("1", f"pure Python ({PURE_PYTHON_ENV} is set)")])
def test_version_says_which_frames_run(pure_python, frames):
    result = run_cli("--version", env={**os.environ, PURE_PYTHON_ENV: pure_python})
    assert result.returncode == 0
    assert result.stdout.splitlines() == [f"geows/{__version__}", f"frames: {frames}"]


def test_syntax_ok_on_shipped_config():
    result = run_cli("-t", "-f", "conf/httpd.conf")
    assert result.returncode == 0, result.stderr
    assert "Syntax OK" in result.stderr


def test_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path, """\
        Listen 127.0.0.1:8099
        <Location /echo>
          SetHandler websocket-handler
          WebSocketHandler plugins/echo.py echo_init # trailing words are arguments
        </Location>
        """)
    result = run_cli("-t", "-f", str(path))
    assert result.returncode == 1
    assert f"{path}:4:" in result.stderr
    assert "Syntax OK" not in result.stderr


def test_unclosed_section(tmp_path):
    path = write(tmp_path, "Listen 8099\n<Location /echo>\nSetHandler websocket-handler\n")
    result = run_cli("-t", "-f", str(path))
    assert result.returncode == 1
    assert f"{path}:2:" in result.stderr


@pytest.mark.parametrize("plugin_text, init, message", [
    (None, "echo_init", "no such file"),
    ("def other(): pass\n", "echo_init", "no init function 'echo_init'"),
    ("def echo_init():\n    raise KeyError('boom')\n", "echo_init", "KeyError"),
    ("def echo_init():\n    return object()\n", "echo_init", "on_message"),
    ("this is not python(\n", "echo_init", "SyntaxError"),
])
def test_broken_plugins_fail_t_with_the_handler_line(tmp_path, plugin_text, init, message):
    plugin = tmp_path / "plugin.py"
    if plugin_text is not None:
        plugin.write_text(plugin_text)
    path = config(tmp_path, str(plugin), init)
    result = run_cli("-t", "-f", str(path))
    assert result.returncode == 1
    assert f"{path}:6:" in result.stderr
    assert message in result.stderr


def test_relative_plugin_paths_resolve_against_server_root(tmp_path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "mine.py").write_text(
        "from geows.plugin import Plugin\n"
        "def mine_init():\n    return Plugin(on_message=lambda *a: None)\n")
    path = config(tmp_path, "plugins/mine.py", "mine_init")
    assert run_cli("-t", "-f", str(path), "-d", str(tmp_path)).returncode == 0
    # Relative to the repository (cwd) it does not exist.
    result = run_cli("-t", "-f", str(path))
    assert result.returncode == 1 and "no such file" in result.stderr


def test_a_plugin_imports_modules_beside_it(tmp_path):
    (tmp_path / "helper_beside.py").write_text("PREFIX = 'helped: '\n")
    (tmp_path / "mine.py").write_text(
        "import helper_beside\nfrom geows.plugin import Plugin, TEXT\n"
        "def mine_init():\n"
        "    return Plugin(on_message=lambda s, server, t, d: "
        "server.send(TEXT, helper_beside.PREFIX + d))\n")
    process = GeowsProcess(GOOD.format(plugin=tmp_path / "mine.py", init="mine_init")
                           .replace("127.0.0.1:8099", "127.0.0.1:@PORT@"))
    try:
        client = Draft76Client(process.port, "/echo")
        client.send("x")
        assert client.recv() == "helped: x"
        client.close()
    finally:
        assert process.stop() == 0


def test_show_routes_json(tmp_path):
    path = write(tmp_path, """\
        Listen 127.0.0.1:8099
        Listen [::1]:8098
        <IfModule mod_websocket.c>
          <Location /echo>
            SetHandler websocket-handler
            WebSocketHandler plugins/echo.py echo_init
          </Location>
          <LocationMatch ^/rooms/[a-z]+$>
            SetHandler websocket-handler
            WebSocketHandler plugins/echo.py echo_init
            MaxMessageSize 1024
          </LocationMatch>
        </IfModule>
        <IfModule !mod_websocket.c>
          <Location /never>
            SetHandler websocket-handler
            WebSocketHandler plugins/echo.py echo_init
          </Location>
        </IfModule>
        """)
    result = run_cli("-S", "--json", "-f", str(path))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [(item["host"], item["port"]) for item in summary["listeners"]] == [
        ("127.0.0.1", 8099), ("::1", 8098)]
    routes = [(r["location"], r["regex"], r["plugin"], r["max_message_size"], r["line"])
              for r in summary["routes"]]
    assert routes == [
        ("/echo", False, str(REPO / "plugins/echo.py"), 33554432, 4),
        ("^/rooms/[a-z]+$", True, str(REPO / "plugins/echo.py"), 1024, 8),
    ]
    text = run_cli("-S", "-f", str(path)).stdout
    assert "<Location /echo>" in text and "127.0.0.1:8099" in text


def test_define_on_the_command_line_opens_ifdefine(tmp_path):
    path = write(tmp_path, """\
        Listen 127.0.0.1:8099
        <IfDefine WEBSOCKETS>
          <Location /echo>
            SetHandler websocket-handler
            WebSocketHandler plugins/echo.py echo_init
          </Location>
        </IfDefine>
        """)
    without = json.loads(run_cli("-S", "--json", "-f", str(path)).stdout)
    with_define = json.loads(run_cli("-S", "--json", "-D", "WEBSOCKETS", "-f", str(path)).stdout)
    assert without["routes"] == []
    assert [route["location"] for route in with_define["routes"]] == ["/echo"]


def test_seed_readme_config_verbatim_but_the_plugin_line(tmp_path):
    # mod_websocket's README example, with only the WebSocketHandler line changed.
    path = write(tmp_path, f"""\
        Listen 127.0.0.1:@PORT@
        LoadModule websocket_module   /usr/lib/apache2/modules/mod_websocket.so

        <IfModule mod_websocket.c>
          <Location /echo>
            SetHandler websocket-handler
            WebSocketHandler {REPO}/plugins/echo.py echo_init
          </Location>
        </IfModule>
        """)
    process = GeowsProcess(path.read_text())
    try:
        client = Draft76Client(process.port, "/echo")
        client.send("seed")
        assert client.recv() == "seed"
        client.close()
    finally:
        assert process.stop() == 0
    assert "configured" in process.error_log


def test_python_m_and_the_console_script_agree():
    import subprocess
    import sys
    script = Path(sys.executable).parent / "geows"
    assert script.exists(), "the geows console script is installed with the package"
    result = subprocess.run([str(script), "-t", "-f", "conf/httpd.conf"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Syntax OK" in result.stderr


def test_ctrl_c_stops_cleanly():
    import signal
    import time

    from tests.geows_process import ECHO_CONFIG
    process = GeowsProcess(ECHO_CONFIG)
    client = Draft76Client(process.port, "/echo")
    started = time.monotonic()
    process.proc.send_signal(signal.SIGINT)
    assert process.proc.wait(20) == 0
    # The client never answers the closing handshake: geows waits 5 s, not forever.
    assert time.monotonic() - started < 9
    assert client.recv() is None           # the closing handshake reached the client
    assert "Traceback" not in process.error_log
    assert "shutting down" in process.error_log
    assert '"server stopping, close handshake timed out"' in process.access_log


def test_bind_failure_is_one_clear_line(tmp_path):
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        path = config(tmp_path)
        path.write_text(path.read_text().replace("8099", str(port)))
        result = run_cli("-f", str(path), timeout=30)
    assert result.returncode == 1
    assert "could not bind" in result.stderr and "Traceback" not in result.stderr
