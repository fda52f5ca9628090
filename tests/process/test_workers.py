"""Worker processes and their master, driven by real signals on the real process:
graceful stop, reload with a changed and with a broken config while clients stay
connected, kill -9 of one worker, graceful-stop, broadcasts across workers, PidFile,
User/Group, and the one-process mode."""

from __future__ import annotations

import grp
import json
import os
import pwd
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.sync.client import connect

from tests.draft76 import Draft76Client
from tests.geows_process import ECHO_CONFIG, REPO, GeowsProcess, free_port
from tests.test_lifecycle import LIFECYCLE, RawClient

# A plugin that tells which worker (and user) serves it, and says which version it is.
WHO = '''
import os
import sys
import tempfile

from geows.plugin import TEXT, Plugin

VERSION = "@VERSION@"


def who_init():
    def on_message(state, server, type, data):
        if data == "pid":
            server.send(TEXT, str(os.getpid()))
        elif data == "ids":
            server.send(TEXT, f"{os.getuid()}:{os.getgid()}")
        elif data.startswith("all "):
            server.broadcast(TEXT, data[4:])
        else:
            server.send(TEXT, VERSION + data)

    def on_disconnect(state, server):
        print(f"disconnect {VERSION} {os.getpid()}", file=sys.stderr, flush=True)

    return Plugin(on_message=on_message, on_disconnect=on_disconnect)
'''

CONFIG = """
Listen 127.0.0.1:@PORT@
StartServers 2
<Location /who>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/@PLUGIN@ who_init
</Location>
"""


def who_process(extra: str = "", plugin: str = "v1.py") -> GeowsProcess:
    return GeowsProcess(CONFIG.replace("@PLUGIN@", plugin) + extra, extra_files={
        "v1.py": WHO.replace("@VERSION@", "v1:"),
        "v2.py": WHO.replace("@VERSION@", "v2:"),
        "broken.py": "def who_init(:\n"})


def serving(process: GeowsProcess, workers: int = 2) -> set[int]:
    """Once every worker serves (the master says so): their pids."""
    process.wait_for_log("configured -- serving", access=False)
    return process.wait_for_workers(workers)


def open_client(process: GeowsProcess, path: str = "/who"):
    return connect(f"ws://127.0.0.1:{process.port}{path}", open_timeout=10, legacy=True)


def ask(client, text: str) -> str:
    client.send(text)
    return client.recv(timeout=5)


def clients_on_every_worker(process: GeowsProcess, workers: int, most: int = 200,
                            path: str = "/who"):
    """Connect until each worker serves at least two; {pid: [clients]}. The plugin at
    `path` answers "pid" with its worker's."""
    by_worker = defaultdict(list)
    for _ in range(most):
        client = open_client(process, path)
        by_worker[int(ask(client, "pid"))].append(client)
        if len(by_worker) == workers and all(len(c) >= 2 for c in by_worker.values()):
            return by_worker
    raise AssertionError(f"{most} connections reached only {sorted(by_worker)}")


def reload(process: GeowsProcess, signum: int = signal.SIGHUP, notice: str = "serving on"):
    before = process.error_log.count(notice)
    process.proc.send_signal(signum)
    deadline = time.monotonic() + 20
    while process.error_log.count(notice) == before:
        assert time.monotonic() < deadline, process.error_log
        time.sleep(0.05)


def test_stop_closes_100_clients_of_both_protocols_across_workers_and_exits_0():
    process = GeowsProcess(CONFIG.replace("@DIR@/@PLUGIN@ who_init", "@DIR@/life.py "
                                          "lifecycle_init").replace("/who", "/life"),
                           extra_files={"life.py": LIFECYCLE})
    try:
        serving(process)
        rfc = [RawClient(process.port) for _ in range(50)]
        draft = [Draft76Client(process.port, "/life") for _ in range(50)]
        for client in rfc:
            client.send_text("x")
            assert client.recv_frame() == (0x1, b"x")
        for client in draft:
            client.send("y")
            assert client.recv() == "y"
    finally:
        started = time.monotonic()
        assert process.stop() == 0
    assert time.monotonic() - started < 10
    for client in rfc:
        assert client.recv_frame() == (0x8, struct.pack(">H", 1001))   # going away
    for client in draft:
        assert client.recv() is None   # 0xFF 0x00, then the end
    destroyed = [json.loads(line.split("destroy: ")[1])
                 for line in process.error_log.splitlines() if "destroy: " in line]
    assert len(destroyed) == 2, process.error_log   # each worker destroyed its plugin
    assert sum(d["connects"] for d in destroyed) == 100
    assert sum(d["disconnects"] for d in destroyed) == 100
    assert all(d["live_states"] == 0 and d["twice"] == 0 for d in destroyed)


def test_reload_serves_new_connections_with_the_new_config_and_keeps_open_ones():
    process = who_process()
    try:
        old_workers = serving(process)
        old = [open_client(process) for _ in range(10)]
        assert {ask(client, "x") for client in old} == {"v1:x"}
        process.config.write_text(process.config.read_text().replace("v1.py", "v2.py"))
        reload(process)
        new = open_client(process)
        assert ask(new, "x") == "v2:x"
        assert int(ask(new, "pid")) not in old_workers
        assert {ask(client, "y") for client in old} == {"v1:y"}   # kept their config
        assert old_workers <= process.workers()   # finishing, not gone
        for client in old:
            client.close()
        new_workers = process.wait_for_workers(2)   # the old generation left with them
        assert not new_workers & old_workers
        assert process.error_log.count("disconnect v1:") == 10
        assert ask(new, "z") == "v2:z"
    finally:
        assert process.stop() == 0


@pytest.mark.parametrize("broken, message", [
    ("Listen 127.0.0.1 nonsense here\n", "httpd.conf:8: Listen takes 1-2 arguments"),
    ("<Location /x>\n", "httpd.conf:8: <Location /x> was not closed"),
    ("", "broken.py"),   # the plugin does not load: the new workers say so, with its file
])
def test_a_broken_reload_is_refused_with_its_line_and_the_old_config_keeps_serving(
        broken, message):
    process = who_process()
    try:
        workers = serving(process)
        client = open_client(process)
        assert ask(client, "x") == "v1:x"
        text = process.config.read_text() + broken
        process.config.write_text(text if broken else text.replace("v1.py", "broken.py"))
        reload(process, signal.SIGUSR1, notice="reload refused")
        refusal = [line for line in process.error_log.splitlines() if "reload refused" in line]
        assert message in refusal[0] and "generation 0 keeps serving" in refusal[0]
        assert ask(client, "y") == "v1:y"
        assert ask(open_client(process), "z") == "v1:z"
        assert process.wait_for_workers(2) == workers   # the refused ones have left
    finally:
        assert process.stop() == 0


def test_a_reload_reopens_logs_rotated_away(tmp_path: Path):
    """logrotate's way: rename the files, reload; the master and the new workers write to
    new files of the old names."""
    errors, access = tmp_path / "error.log", tmp_path / "access.log"
    process = who_process(f'LogLevel info\nErrorLog {errors}\nCustomLog {access} "%P %r %>s"\n')

    def wait_for(path: Path, text: str) -> None:
        deadline = time.monotonic() + 20
        while not (path.exists() and text in path.read_text()):
            assert time.monotonic() < deadline, f"{text!r} not in {path}"
            time.sleep(0.05)
    try:
        wait_for(errors, "configured -- serving")
        with open_client(process) as client:
            assert ask(client, "x") == "v1:x"
        wait_for(access, "GET /who HTTP/1.1 101")
        errors.rename(tmp_path / "error.log.1")
        access.rename(tmp_path / "access.log.1")
        process.proc.send_signal(signal.SIGHUP)
        wait_for(errors, "generation 1 serving")
        with open_client(process) as client:
            assert ask(client, "y") == "v1:y"
        wait_for(access, "GET /who HTTP/1.1 101")
    finally:
        assert process.stop() == 0
    assert "generation 1 serving" not in (tmp_path / "error.log.1").read_text()
    assert "[main:" not in process.error_log   # stderr: only the plugin's own prints


def test_kill_9_of_one_worker_drops_its_clients_only_and_a_new_worker_takes_its_place():
    process = who_process()
    try:
        serving(process)
        by_worker = clients_on_every_worker(process, 2)
        victim, survivor = sorted(by_worker)
        os.kill(victim, signal.SIGKILL)
        for client in by_worker[victim]:
            with pytest.raises(ConnectionClosedError) as ended:
                ask(client, "x")
            assert ended.value.rcvd is None   # no close frame: the process died
        for client in by_worker[survivor]:
            assert ask(client, "x") == "v1:x"
        workers = process.wait_for_workers(2)
        assert victim not in workers and survivor in workers
        replacement = (workers - {survivor}).pop()
        process.wait_for_log(f"worker pid {victim} (generation 0) killed by SIGKILL; "
                             "starting a new one", access=False)
        # Its slot takes connections once it serves (the other worker has them meanwhile).
        process.wait_for_log(f"worker pid {replacement} (generation 0) serves slot",
                             access=False)
        seen = {int(ask(open_client(process), "pid"))
                for _ in range(60)}
        assert replacement in seen
    finally:
        assert process.stop() == 0


def test_a_broadcast_reaches_every_connection_of_the_location_in_every_worker():
    process = who_process()
    try:
        serving(process)
        by_worker = clients_on_every_worker(process, 2)
        clients = [client for group in by_worker.values() for client in group]
        for n in range(100):
            clients[n % len(clients)].send(f"all m{n}")
        for client in clients:
            # From one sender, in its order; across senders, each one's order holds.
            got = [client.recv(timeout=5) for _ in range(100)]
            assert sorted(got) == sorted(f"m{n}" for n in range(100))
            for sender in range(len(clients)):
                mine = [m for m in got if int(m[1:]) % len(clients) == sender]
                assert mine == sorted(mine, key=lambda m: int(m[1:]))
    finally:
        assert process.stop() == 0


def test_graceful_stop_lets_open_connections_go_on_for_graceful_shutdown_timeout():
    process = who_process("GracefulShutdownTimeout 2\n")
    try:
        serving(process)
        client = open_client(process)
        assert ask(client, "x") == "v1:x"
        started = time.monotonic()
        process.proc.send_signal(signal.SIGWINCH)
        process.wait_for_log("caught SIGWINCH", access=False)
        time.sleep(0.5)
        assert ask(client, "y") == "v1:y"   # still served
        with pytest.raises(OSError):   # no longer accepting
            connect(f"ws://127.0.0.1:{process.port}/who", open_timeout=2)
        with pytest.raises(ConnectionClosedOK) as ended:
            client.recv(timeout=10)
        assert ended.value.rcvd.code == 1001
        assert 1.8 < time.monotonic() - started < 6
        assert process.proc.wait(10) == 0
    finally:
        process.stop()


def test_a_graceful_stop_sent_while_the_workers_start_is_not_lost(tmp_path: Path):
    """SIGWINCH's default is to be ignored: a worker still loading its plugin when the
    master passes it on would miss it and serve on; the master tells it again."""
    (tmp_path / "slow.py").write_text(
        "import time\nfrom geows.plugin import Plugin\n\n\ndef slow_init():\n"
        "    time.sleep(2)\n    return Plugin(on_message=lambda *args: None)\n")
    config = tmp_path / "httpd.conf"
    config.write_text(f"Listen 127.0.0.1:{free_port()}\nStartServers 2\n<Location /slow>\n"
                      f"  SetHandler websocket-handler\n"
                      f"  WebSocketHandler {tmp_path}/slow.py slow_init\n</Location>\n")
    master = subprocess.Popen([sys.executable, "-m", "geows", "-f", str(config)], cwd=REPO,
                              stderr=subprocess.PIPE, text=True)
    time.sleep(1)   # the workers are in slow_init
    master.send_signal(signal.SIGWINCH)
    assert master.wait(20) == 0
    assert "caught SIGWINCH" in master.stderr.read()


def test_pid_file_is_written_removed_guards_a_second_start_and_serves_dash_k(tmp_path: Path):
    pid_file = tmp_path / "geows.pid"
    process = who_process(f"PidFile {pid_file}\n")

    def geows(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "geows", "-f", str(process.config), *args],
                              cwd=REPO, capture_output=True, text=True, timeout=60)
    try:
        old_workers = serving(process)
        assert pid_file.read_text() == f"{process.proc.pid}\n"
        assert "Address already in use" in geows().stderr
        elsewhere = process.dir / "elsewhere.conf"   # another port, the same PidFile
        elsewhere.write_text(process.config.read_text().replace(str(process.port),
                                                                str(free_port())))
        again = subprocess.run([sys.executable, "-m", "geows", "-f", str(elsewhere)], cwd=REPO,
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 1
        assert f"names geows pid {process.proc.pid}, still running" in again.stderr
        assert geows("-k", "graceful").returncode == 0
        process.wait_for_log("generation 1 serving", access=False)
        assert not process.wait_for_workers(2) & old_workers
        pid_file.write_text("1\n")   # as Apache would, starting on a config both read
        assert geows("-k", "stop").returncode == 1   # pid 1 is not geows
        process.proc.send_signal(signal.SIGTERM)
        assert process.proc.wait(20) == 0
        assert pid_file.read_text() == "1\n"   # not this master's: left alone
        pid_file.unlink()
    finally:
        process.stop()
    assert not pid_file.exists()
    stopped = geows("-k", "stop")
    assert stopped.returncode == 1 and "not running" in stopped.stderr


def test_a_pid_file_of_another_running_program_is_left_alone(tmp_path: Path):
    """Apache's PidFile, on a config geows shares with a running Apache: geows serves,
    does not overwrite it, and -k refuses to signal the program it names."""
    pid_file = tmp_path / "httpd.pid"
    apache = subprocess.Popen(["sleep", "60"])   # stands for the running httpd
    pid_file.write_text(f"{apache.pid}\n")
    process = who_process(f"PidFile {pid_file}\n")
    try:
        serving(process)
        assert pid_file.read_text() == f"{apache.pid}\n"
        assert f"names pid {apache.pid} (sleep), still running: not overwriting" \
            in process.error_log
        refused = subprocess.run([sys.executable, "-m", "geows", "-f", str(process.config),
                                  "-k", "stop"], cwd=REPO, capture_output=True, text=True,
                                 timeout=60)
        assert refused.returncode == 1 and "which is not geows" in refused.stderr
        assert apache.poll() is None
    finally:
        assert process.stop() == 0
        apache.kill()
    assert pid_file.read_text() == f"{apache.pid}\n"


# Not as root: `unshare --user --map-root-user` gives a root that can map only the caller's
# own uid, so setgid/setuid to nobody fail (EINVAL) there too.
@pytest.mark.skipif(os.geteuid() != 0, reason="switching the workers to User nobody needs "
                    "root (a user namespace maps only this user's uid, not nobody's)")
def test_workers_run_as_user_and_group_after_binding_as_root():
    """Where nobody can read this Python (a pyenv under /root, as on the test machines), the
    workers refuse to serve as nobody rather than fail at their next import; elsewhere
    they serve as nobody while the master stays root."""
    nobody = pwd.getpwnam("nobody")
    group = "nogroup" if _group_exists("nogroup") else "nobody"
    readable = subprocess.run(["test", "-r", os.path.dirname(os.__file__)],
                              user="nobody").returncode == 0
    plugins = Path(tempfile.mkdtemp(prefix="geows-who-"))
    plugins.chmod(0o755)   # the workers load the plugin as nobody
    (plugins / "who.py").write_text(WHO.replace("@VERSION@", ""))
    config = CONFIG.replace("@DIR@/@PLUGIN@", f"{plugins}/who.py") \
        + f"User nobody\nGroup {group}\n"
    if not readable:
        with pytest.raises(RuntimeError) as refused:
            GeowsProcess(config)
        assert f"User nobody cannot read {os.path.dirname(os.__file__)}" in str(refused.value)
        return
    process = GeowsProcess(config)
    try:
        serving(process)
        uid, gid = map(int, ask(open_client(process), "ids").split(":"))
        assert uid == nobody.pw_uid and gid == _gid(group)
        assert "run as root" not in process.error_log
        status = Path(f"/proc/{process.proc.pid}/status").read_text()
        assert "\nUid:\t0\t" in status   # the master stays root, as httpd's parent does
    finally:
        assert process.stop() == 0


def test_one_process_mode_serves_without_workers():
    process = GeowsProcess(ECHO_CONFIG, extra_args=["-X"])
    try:
        client = open_client(process, "/echo")
        assert ask(client, "hi") == "hi"
        assert process.workers() == set()
    finally:
        assert process.stop() == 0
    assert "in one process" in process.error_log


def test_workers_stop_when_the_master_is_killed():
    process = who_process()
    try:
        workers = serving(process)
        os.kill(process.proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{pid}").exists() and _state(pid) != "Z" for pid in workers):
            assert time.monotonic() < deadline, "workers outlived their master"
            time.sleep(0.1)
    finally:
        process.stop()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def _gid(name: str) -> int:
    return grp.getgrnam(name).gr_gid
