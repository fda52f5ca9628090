"""A C plugin's faults. One that crashes (SIGSEGV, in a callback or in a thread of its
own) takes down its own worker only: the other worker's connections go on, the master
starts a new worker in its place, and the error log names the plugin's file, the
function and the locations it serves (the httpd runtime's signal handler); under -X the
one process ends, saying the same. One whose init returns NULL, or a struct of the wrong
size or version, is refused at its WebSocketHandler line at start, with workers and
under -X, as at -t (tests/test_c_plugins.py); one whose init crashes is said at that line
too. Built here with cc, run by the real CLI."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.geows_process import GeowsProcess, free_port, missing_tool, run_cli
from tests.process.test_workers import ask, clients_on_every_worker
from tests.test_c_plugins import CC, CFLAGS, TEST_SOURCES, build_httpd_runtime, url

CONFIG = """
Listen 127.0.0.1:@PORT@
StartServers 2
ErrorLog @DIR@/error_log
<Location /crash>
  SetHandler websocket-handler
  WebSocketHandler crash.so crash_init
</Location>
<Location /other>
  SetHandler websocket-handler
  WebSocketHandler crash.so crash_init
</Location>
"""

KILLED = "killed by SIGSEGV; starting a new one"  # the master's line


@pytest.fixture(scope="module")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if CC is None:
        missing_tool("no C compiler, cc (apt-get install gcc libc6-dev)")
    build_httpd_runtime()  # the crash handler is the runtime's
    out = tmp_path_factory.mktemp("crash")
    for name in ("crash", "test_plugins"):
        build = subprocess.run([CC, *CFLAGS, "-o", str(out / f"{name}.so"),
                                str(TEST_SOURCES / f"{name}.c")],
                               capture_output=True, text=True, timeout=60)
        assert build.returncode == 0, f"cc {name}.c failed:\n{build.stderr}"
    return out


@pytest.fixture
def geows(plugins: Path) -> Iterator[GeowsProcess]:
    server = GeowsProcess(CONFIG, server_root=plugins)
    try:
        yield server
    finally:
        assert server.stop() == 0


def error_log(server: GeowsProcess) -> str:
    return (server.dir / "error_log").read_text()


def wait_for(server: GeowsProcess, text: str, count: int = 1, timeout: float = 20) -> str:
    """The ErrorLog once it holds `text` `count` times (at most `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while (log := error_log(server)).count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} not logged {count} time(s):\n{log}"
        time.sleep(0.05)
    return log


def crash_worker(server: GeowsProcess, plugins: Path, command: str, crashes: int) -> None:
    """Crash one worker with `command`: its connections end, the other's go on, the error
    log says whose code it was, and the master has two workers again, the new one serving."""
    by_worker = clients_on_every_worker(server, 2, path="/crash")
    victim, survivor = sorted(by_worker)
    try:
        by_worker[victim][0].send(command)
        for client in by_worker[victim]:  # every connection of that worker ends
            with pytest.raises(ConnectionClosed):
                client.recv(timeout=10)
        log = wait_for(server, f"worker pid {victim} (generation 0) {KILLED}")
        line = next(line for line in log.splitlines() if f"[pid {victim}]" in line
                    and "crashed" in line)
        assert line.startswith("[") and "] [plugin:crit] " in line
        assert f" C plugin {plugins / 'crash.so'} crashed (SIGSEGV at address 0x0)" \
            " in crash_write+0x" in line, line
        assert "(crash.so+0x" in line
        # each location by its WebSocketHandler line
        assert f"serving <Location /crash> ({server.config}:7), <Location /other> " \
               f"({server.config}:11): the worker process ends, and the master starts " \
               "another" in line, line
        assert log.count(" crashed (SIGSEGV") == crashes
        for client in by_worker[survivor]:  # the other worker's clients were not touched
            assert ask(client, "pid") == str(survivor)
        deadline = time.monotonic() + 20
        while victim in (workers := server.workers()) or len(workers) != 2:
            assert time.monotonic() < deadline, f"not replaced: {workers}\n{log}"
            time.sleep(0.05)
        replacement = (workers - {survivor}).pop()
        for _ in range(200):  # until a connection lands on the new worker
            with connect(url(server, "/other"), open_timeout=10) as ws:
                if ask(ws, "pid") == str(replacement):
                    break
        else:
            raise AssertionError(f"no connection reached the new worker {replacement}")
    finally:
        for clients in by_worker.values():
            for client in clients:
                client.close()


def test_a_crash_in_a_callback_takes_down_its_worker_alone(geows: GeowsProcess,
                                                          plugins: Path) -> None:
    wait_for(geows, "configured -- serving")
    geows.wait_for_workers(2)
    crash_worker(geows, plugins, "segv", crashes=1)


def test_a_crash_in_the_plugins_own_thread_is_named_too(geows: GeowsProcess,
                                                        plugins: Path) -> None:
    wait_for(geows, "configured -- serving")
    geows.wait_for_workers(2)
    crash_worker(geows, plugins, "thread", crashes=1)
    crash_worker(geows, plugins, "segv", crashes=2)  # and the new worker reports its own


def test_under_x_the_one_process_ends_saying_why(plugins: Path) -> None:
    server = GeowsProcess(CONFIG.replace("ErrorLog @DIR@/error_log\n", ""),
                          server_root=plugins, extra_args=("-X",))
    try:
        with connect(url(server, "/crash"), open_timeout=10) as ws:
            ws.send("segv")
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
        assert server.proc.wait(timeout=20) == -signal.SIGSEGV
    finally:
        server.stop()
    assert f"C plugin {plugins / 'crash.so'} crashed (SIGSEGV at address 0x0) in " \
           "crash_write+0x" in server.error_log
    assert "geows -X ends: one process, no master to start another" in server.error_log


REFUSED = {"null_init": "null_init() in @SO@ returned NULL",
           "version_init": "version_init() in @SO@ returned a plugin with version 3 (expected 0)",
           "small_init": "small_init() in @SO@ returned a plugin of size 16 (expected at least "
                         "40)"}


@pytest.mark.parametrize("one_process", [False, True], ids=["workers", "-X"])
@pytest.mark.parametrize("init", REFUSED)
def test_a_bad_plugin_struct_is_refused_at_start_at_its_line(plugins: Path, init: str,
                                                             one_process: bool) -> None:
    config = plugins / f"start-{init}.conf"
    config.write_text(f"Listen 127.0.0.1:{free_port()}\nStartServers 2\n<Location /x>\n"
                      f"  SetHandler websocket-handler\n  WebSocketHandler test_plugins.so "
                      f"{init}\n</Location>\n")
    result = run_cli(*(("-X",) if one_process else ()), "-f", str(config), "-d", str(plugins))
    assert result.returncode == 1
    reason = REFUSED[init].replace("@SO@", str(plugins / "test_plugins.so"))
    assert f"{config}:5: WebSocketHandler: {reason}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [("-t",), (), ("-X",)], ids=["-t", "workers", "-X"])
def test_an_init_function_that_crashes_is_said_at_its_line(plugins: Path,
                                                           args: tuple[str, ...]) -> None:
    config = plugins / "crash-at-init.conf"
    config.write_text(f"Listen 127.0.0.1:{free_port()}\nStartServers 2\n<Location /x>\n"
                      "  SetHandler websocket-handler\n  WebSocketHandler crash.so crash_at_init\n"
                      "</Location>\n")
    result = run_cli(*args, "-f", str(config), "-d", str(plugins))
    # with workers the master ends (1) once its first worker died before it was ready
    assert result.returncode == (1 if args == () else -signal.SIGSEGV), result.stderr
    assert "] [plugin:crit] [pid " in result.stderr
    assert f"{config}:5: WebSocketHandler: crash_at_init() in {plugins / 'crash.so'} crashed " \
           "(SIGSEGV at address 0x0) in crash_write+0x" in result.stderr, result.stderr
    assert "(crash.so+0x" in result.stderr and ": the process ends" in result.stderr
    if not args:  # and the master says how its worker ended
        assert "killed by SIGSEGV before it was ready" in result.stderr
