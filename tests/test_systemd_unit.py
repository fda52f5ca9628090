"""conf/systemd/geows.service, as systemd would run it: `systemd-analyze verify` accepts it,
and its ExecStartPre, ExecStart, ExecReload and KillSignal, run as written (the install
paths replaced by this checkout's), start geows, reload it and stop it cleanly, while geows
tells the socket $NOTIFY_SOCKET names what Type=notify waits for: READY=1 once a worker
serves, the new generation after a reload, STOPPING=1.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from websockets.sync.client import connect

from tests.geows_process import REPO, free_port, missing_tool

UNIT = REPO / "conf/systemd/geows.service"
GEOWS, CONFIG = "/opt/geows/.venv/bin/geows", "/etc/geows/httpd.conf"


def unit_for(config: Path) -> str:
    """The unit with geows run from this checkout and `config` as its config."""
    return UNIT.read_text().replace(GEOWS, f"{sys.executable} -m geows").replace(
        CONFIG, str(config))


def service(text: str) -> dict[str, list[str]]:
    """The [Service] section's settings, each key's values in order (ExecReload twice)."""
    values: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


def echoes(port: int) -> bool:
    try:
        with connect(f"ws://127.0.0.1:{port}/echo", open_timeout=2) as ws:
            ws.send("unit")
            return ws.recv(timeout=2) == "unit"
    except (OSError, TimeoutError):
        return False


def test_the_unit_starts_reloads_and_stops_geows(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        missing_tool("systemd-analyze (apt-get install systemd) is missing")
    port = free_port()
    config = tmp_path / "httpd.conf"
    config.write_text(f"ServerRoot {REPO}\nListen 127.0.0.1:{port}\nLogLevel info\n"
                      f"ErrorLog {tmp_path}/error.log\nPidFile {tmp_path}/geows.pid\n"
                      "<Location /echo>\n  SetHandler websocket-handler\n"
                      "  WebSocketHandler plugins/echo.py echo_init\n</Location>\n")
    text = unit_for(config)
    (tmp_path / "geows.service").write_text(text)
    verified = subprocess.run([analyze, "verify", str(tmp_path / "geows.service")],
                              capture_output=True, text=True, timeout=60)
    assert (verified.returncode, verified.stderr) == (0, ""), verified.stderr

    settings = service(text)
    assert settings["Type"] == ["notify"] and settings["KillMode"] == ["mixed"]
    # systemd's end of sd_notify(3)
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(str(tmp_path / "notify"))
    systemd.settimeout(30)
    # systemd runs services from /, with this checkout's geows importable
    env = {**os.environ, "PYTHONPATH": str(REPO), "NOTIFY_SOCKET": str(tmp_path / "notify")}
    run = dict(cwd="/", env=env, capture_output=True, text=True, timeout=60)
    checked = subprocess.run(shlex.split(settings["ExecStartPre"][0]), **run)
    assert checked.returncode == 0 and "Syntax OK" in checked.stderr, checked.stderr

    master = subprocess.Popen(shlex.split(settings["ExecStart"][0]), cwd="/", env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    serving = f"generation {{}} serving on 127.0.0.1:{port}"
    try:
        ready = systemd.recv(4096).decode()
        # READY=1 means served: the first client after it is answered
        assert ready == f"READY=1\nSTATUS={serving.format(0)}" and echoes(port), ready

        for command in settings["ExecReload"]:
            argv = shlex.split(command.replace("$MAINPID", str(master.pid)))
            assert subprocess.run(argv, **run).returncode == 0, command
        assert systemd.recv(4096).decode() == f"STATUS={serving.format(1)}"
        assert echoes(port)

        master.send_signal(getattr(signal, settings["KillSignal"][0]))
        assert systemd.recv(4096).decode() == "STOPPING=1"
        assert master.wait(float(settings["TimeoutStopSec"][0])) == 0
    finally:
        systemd.close()
        if master.poll() is None:
            master.kill()
            master.wait(10)
