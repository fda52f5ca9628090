"""What spans the worker processes and their generations, on the real geows with two
workers: one MaxRequestWorkers for the whole server (however the kernel splits the clients,
across a reload, after a kill -9), and status counters that are totals (they never go back
after a reload or a kill -9). Issue 23's numbers: 96-98 of 100 admitted, 200 open after a
SIGHUP, WebSocketConnsAccepted 40 -> 0 after one."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import pytest

from tests.geows_process import GeowsProcess
from tests.process.test_workers import reload
from tests.test_lifecycle import RawClient
from tests.test_status import fetch

# Answers "pid" with its worker's pid, and echoes anything else.
PID_PLUGIN = '''
import os

from geows.plugin import TEXT, Plugin


def pid_init():
    def on_message(state, server, type, data):
        server.send(TEXT, str(os.getpid()) if data == "pid" else data)

    return Plugin(on_message=on_message)
'''

CONFIG = """
Listen 127.0.0.1:@PORT@
StartServers 2
MaxRequestWorkers 100
<Location /pid>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/pid.py pid_init
</Location>
<Location /geows-status>
  SetHandler geows-status
</Location>
"""

CAP = 100
TOTALS = ("ConnsAccepted", "WebSocketConnsAccepted", "WebSocketMessagesIn",
          "WebSocketMessagesOut")


@pytest.fixture
def process():
    """geows with two workers, both serving; it must stop cleanly."""
    process = GeowsProcess(CONFIG, extra_files={"pid.py": PID_PLUGIN})
    try:
        process.wait_for_log("configured -- serving", access=False)
        process.wait_for_workers(2)
        yield process
    finally:
        assert process.stop() == 0


def client(process: GeowsProcess) -> RawClient:
    return RawClient(process.port, path="/pid")


def worker_of(held: RawClient) -> int:
    held.send_text("pid")
    opcode, payload = held.recv_frame()
    assert opcode == 0x1
    return int(payload)


def hold(process: GeowsProcess, count: int, stack: contextlib.ExitStack) -> list[RawClient]:
    """`count` clients opened one after the other, each admitted (101), held open."""
    held = []
    for n in range(count):
        one = client(process)
        stack.callback(one.sock.close)
        assert one.status == 101, f"client {n + 1} of {count} got {one.status}"
        held.append(one)
    return held


def refused(process: GeowsProcess) -> bool:
    one = client(process)
    one.sock.close()
    assert one.status in (101, 503)
    return one.status == 503


def admitted_within(process: GeowsProcess, stack: contextlib.ExitStack,
                    seconds: float = 10) -> RawClient:
    """A client admitted once room frees (a closed connection's end reaches its worker a
    moment after the client's close, a dead worker's share when the master sees it die)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            one = client(process)
        except ConnectionResetError:
            # Queued on a dead worker's slot before the master saw it die and stopped the
            # slot listening: reset, as docs/reference/processes.md says.
            assert time.monotonic() < deadline
            continue
        stack.callback(one.sock.close)
        if one.status == 101:
            return one
        assert one.status == 503 and time.monotonic() < deadline, one.status
        time.sleep(0.05)


def totals(process: GeowsProcess, expected: dict[str, int], floor: dict[str, int] | None = None,
           seconds: float = 10) -> dict[str, int]:
    """?auto's totals once they read `expected` (each worker's figures reach the others
    within about two limits.STATUS_INTERVAL); on the way, none below `floor`: they never
    go back, whichever worker answers."""
    deadline = time.monotonic() + seconds
    while True:
        page = fetch(process.port, "/geows-status?auto")[1].decode()
        fields = dict(line.split(": ", 1) for line in page.splitlines()[1:]
                      if not line.startswith(("Worker:", "WebSocketLocation:")))
        read = {key: int(fields[key]) for key in TOTALS}
        for key, value in (floor or {}).items():
            assert read[key] >= value, (key, read, floor)
        # A status request is a connection accepted too: it adds its own.
        if all(read[key] == value or key == "ConnsAccepted" and read[key] >= value
               for key, value in expected.items()):
            return read
        assert time.monotonic() < deadline, (read, expected)
        time.sleep(0.2)


def test_100_sequential_clients_all_get_in_over_two_workers_and_the_101st_gets_503(process):
    with contextlib.ExitStack() as stack:
        held = hold(process, CAP, stack)
        assert refused(process)
        spread = {worker_of(one) for one in held}
        assert spread == process.workers()  # both took some: the split did not matter
        held[0].sock.close()
        admitted_within(process, stack)
        assert refused(process)
    process.wait_for_log("over MaxRequestWorkers (100 connections)")


def test_after_a_reload_the_old_generations_open_connections_count_until_they_end(process):
    with contextlib.ExitStack() as stack:
        held = hold(process, CAP, stack)
        old = process.workers()
        reload(process)
        assert refused(process) and refused(process)  # not 200 open: still 100
        for one in held[:10]:
            one.sock.close()
        for _ in range(10):
            assert worker_of(admitted_within(process, stack)) not in old
        time.sleep(0.5)
        assert refused(process)
        for one in held[10:]:
            assert worker_of(one) in old  # the old generation still serves them


def test_a_worker_killed_9_gives_its_share_back(process):
    with contextlib.ExitStack() as stack:
        held = hold(process, CAP, stack)
        by_worker = [worker_of(one) for one in held]
        assert refused(process)
        victim = by_worker[0]
        os.kill(victim, signal.SIGKILL)
        for _ in range(by_worker.count(victim)):
            admitted_within(process, stack)
        time.sleep(0.5)
        assert refused(process)


def test_the_totals_never_go_back_after_a_reload_or_a_kill_9(process):
    with contextlib.ExitStack() as stack:
        for one in hold(process, 40, stack):
            for n in range(3):
                one.send_text(f"m{n}")
                assert one.recv_frame() == (0x1, f"m{n}".encode())
            assert one.close_cleanly() == 1000
    expected = {"ConnsAccepted": 40, "WebSocketConnsAccepted": 40,
                "WebSocketMessagesIn": 120, "WebSocketMessagesOut": 120}
    before = totals(process, expected)
    old = process.workers()
    reload(process)
    deadline = time.monotonic() + 20
    while process.workers() & old:  # the old generation had nothing open: it ends
        totals(process, expected, floor=before)
        assert time.monotonic() < deadline, process.error_log
    after_reload = totals(process, expected, floor=before)
    with contextlib.ExitStack() as stack:
        held = hold(process, 20, stack)
        by_worker = [worker_of(one) for one in held]  # 20 messages in and out
        expected = {"ConnsAccepted": after_reload["ConnsAccepted"] + 20,
                    "WebSocketConnsAccepted": 60, "WebSocketMessagesIn": 140,
                    "WebSocketMessagesOut": 140}
        before_kill = totals(process, expected, floor=after_reload)
        time.sleep(2.5)  # the victim's figures reported since: a kill -9 loses none
        os.kill(by_worker[0], signal.SIGKILL)
        process.wait_for_log(f"worker pid {by_worker[0]} (generation 1) killed by "
                             "SIGKILL", access=False)
        for _ in range(15):  # as the master sees the death, and a few seconds after
            totals(process, expected, floor=before_kill)
            time.sleep(0.2)
