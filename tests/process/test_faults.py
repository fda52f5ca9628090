"""Operations under faults (issue 23), on real processes: a replacement worker runs its
generation's config and plugin text whatever the files on disk say since; a slot whose worker
cannot start is logged with why, retried later and later, and takes no connection meanwhile;
a worker that stops draining its channel loses broadcasts, not clients; a refused reload names
the Listen that cannot bind."""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed

from geows import limits
from tests.geows_process import GeowsProcess, join_all, run_cli
from tests.process.test_workers import ask, clients_on_every_worker, open_client, reload, serving
from tests.test_status import fetch

# A plugin whose init fails while a file named `down` sits beside it (a database that is
# down: only workers started then fail), and that spins in pure Python when asked.
FAULTY = '''
import os
import time

from geows.plugin import TEXT, Plugin


def faulty_init():
    if os.path.exists(os.path.join(os.path.dirname(__file__), "down")):
        raise RuntimeError("the database is down")

    def on_message(state, server, type, data):
        if data == "pid":
            server.send(TEXT, str(os.getpid()))
        elif data.startswith("spin "):
            end = time.monotonic() + float(data[5:])
            while time.monotonic() < end:
                pass
            server.send(TEXT, "spun")
        elif data.startswith("all "):
            server.broadcast(TEXT, data[4:])
        else:
            server.send(TEXT, "v1:" + data)

    return Plugin(on_message=on_message)
'''

CONFIG = """
Listen 127.0.0.1:@PORT@
StartServers 2
<Location /who>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/faulty.py faulty_init
</Location>
<Location /geows-status>
  SetHandler geows-status
</Location>
PidFile @DIR@/geows.pid
"""
WEBSOCKET_HANDLER_LINE = 6  # in CONFIG as written to httpd.conf (it starts with a newline)
CLIENTS = 30


def faulty_process() -> GeowsProcess:
    return GeowsProcess(CONFIG, extra_files={"faulty.py": FAULTY})


def kill_one_worker(process: GeowsProcess) -> tuple[int, int]:
    """kill -9 one of the two workers; (victim, survivor)."""
    victim, survivor = sorted(serving(process))
    os.kill(victim, signal.SIGKILL)
    return victim, survivor


def answered_by(process: GeowsProcess, count: int) -> list[int]:
    """`count` new clients, one after the other, each asking for its worker's pid; each must be
    answered within a few seconds or refused at once: none may hang."""
    pids = []
    for _ in range(count):
        started = time.monotonic()
        with open_client(process) as client:
            pids.append(int(ask(client, "pid")))
        assert time.monotonic() - started < 5, "a client waited for a worker"
    return pids


@pytest.mark.parametrize("edit", ["config", "plugin"])
def test_a_replacement_runs_its_generations_config_whatever_was_edited_since(edit):
    process = faulty_process()
    try:
        serving(process)
        if edit == "config":
            process.config.write_text(process.config.read_text() + "NoSuchDirective on\n")
        else:
            (process.dir / "faulty.py").write_text("def faulty_init(:\n")
        reload(process, notice="reload refused")
        victim, survivor = kill_one_worker(process)
        replacement = process.wait_for_log("serves slot", access=False)
        replacement = int(re.search(r"worker pid (\d+) \(generation 0\) serves slot",
                                    replacement).group(1))
        pids = answered_by(process, CLIENTS)
        assert set(pids) <= {survivor, replacement} and replacement in pids
        with open_client(process) as client:  # the plugin's text as the generation began
            assert ask(client, "x") == "v1:x"
        assert "could not start" not in process.error_log
    finally:
        assert process.stop() == 0


def test_a_slot_that_cannot_start_is_logged_backed_off_and_takes_no_connection():
    process = faulty_process()
    try:
        serving(process)
        (process.dir / "down").write_text("")
        killed = time.monotonic()
        victim, survivor = kill_one_worker(process)
        reason = (f"could not start: {process.config}:{WEBSOCKET_HANDLER_LINE}: WebSocketHandler: "
                  f"faulty_init() in {process.dir / 'faulty.py'} raised RuntimeError: the "
                  "database is down; starting a new one in ")
        process.wait_for_log(reason, access=False)
        # Its slot listens no more: every new client goes to the other worker at once.
        assert answered_by(process, CLIENTS) == [survivor] * CLIENTS
        empty = r"^EmptySlot: 0 [01] \d+ \d+ could not start: .*the database is down$"
        deadline = time.monotonic() + 3 * limits.STATUS_INTERVAL
        while not re.search(empty, page := fetch(process.port, "/geows-status?auto")[1].decode(),
                            re.M):
            assert time.monotonic() < deadline, page
            time.sleep(0.1)
        # geows -t shows it too (and fails, as the plugin's init does now).
        test = run_cli("-t", "-f", str(process.config))
        assert test.returncode == 1
        assert re.search(rf"^geows pid {process.proc.pid}, generation 0: slot [01] has no worker "
                         r"since .* could not start: .*the database is down$", test.stderr,
                         re.M), test.stderr
        (process.dir / "down").unlink()
        assert run_cli("-t", "-f", str(process.config)).returncode == 0  # -t alone: fine
        (process.dir / "down").write_text("")
        time.sleep(max(0.0, killed + 12 - time.monotonic()))
        # 1, 2, 4, 8 s apart: 4 or 5 tries in 12 s (once a second, there were 12 or more).
        tries = process.error_log.count(reason)
        assert 3 <= tries <= 5, process.error_log
        assert "in 8 s" in process.error_log
    finally:
        assert process.stop() == 0


def test_a_stalled_worker_loses_broadcasts_not_clients_and_the_master_stays_bounded():
    process = faulty_process()
    try:
        serving(process)
        by_worker = clients_on_every_worker(process, 2)
        stalled, sender_pid = sorted(by_worker)
        received = {id(client): 0 for group in by_worker.values() for client in group}
        closed = []

        def read(client) -> None:
            try:
                while True:
                    client.recv(timeout=30)
                    received[id(client)] += 1
            except TimeoutError:
                pass
            except ConnectionClosed as exc:
                closed.append(exc)

        readers = [threading.Thread(target=read, args=(client,), daemon=True)
                   for group in by_worker.values() for client in group]
        spinner = by_worker[stalled][0]
        sender = by_worker[sender_pid][0]
        spinner.send("spin 12")  # its worker holds the CPU for 12 s: it reads no channel
        for reader in readers:
            reader.start()
        master_rss = rss(process.proc.pid)
        peak = master_rss
        payload = "all " + "x" * 65_536
        start = time.monotonic()
        for n in range(1_500):  # 150 a second for 10 s: 94 MiB, past RELAY_BACKLOG
            sender.send(payload)
            time.sleep(max(0.0, start + (n + 1) / 150 - time.monotonic()))
            if n % 50 == 0:
                peak = max(peak, rss(process.proc.pid))
        assert stalled in process.workers(), "the stalled worker was ended"
        log = process.wait_for_log("broadcast(s) dropped for it", access=False, timeout=20)
        dropped = sum(map(int, re.findall(r"waiting\): (\d+) broadcast\(s\) dropped", log)))
        assert dropped > 0
        assert peak - master_rss < limits.RELAY_BACKLOG + 48 * 2**20, (peak, master_rss)
        deadline = time.monotonic() + 5 * limits.STATUS_INTERVAL  # the views that were dropped
        while int(re.search(r"^RelayDropped: (\d+)$", page := fetch(
                process.port, "/geows-status?auto")[1].decode(), re.M).group(1)) == 0:
            assert time.monotonic() < deadline, page
            time.sleep(0.1)
        time.sleep(3)  # the stall is over: what was kept is delivered
        assert closed == [], closed
        assert all(received[id(client)] > 1 for client in by_worker[stalled]), received
        assert stalled in process.workers()
        assert "ending it" not in process.error_log
        assert "caught up with its channel" in process.error_log
    finally:
        assert process.stop() == 0
    join_all(readers, 40)


def rss(pid: int) -> int:
    """Resident memory, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def test_a_reload_refused_on_a_taken_port_names_the_listen_and_the_address():
    process = faulty_process()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            serving(process)
            text = process.config.read_text()
            process.config.write_text(text + f"Listen 127.0.0.1:{port}\n")
            line = len(text.splitlines()) + 1
            reload(process, notice="reload refused")
            assert (f"reload refused, generation 0 keeps serving: {process.config}:{line}: "
                    f"Listen 127.0.0.1:{port}: Address already in use") in process.error_log
        finally:
            assert process.stop() == 0
