"""The master's outbox for one worker: past limits.RELAY_BACKLOG a broadcast is dropped and
counted, its config and GO never are; a worker that has taken nothing for
limits.RELAY_STALL_TIMEOUT while broadcasts are dropped is ended. What a broadcast's body
carries through the master."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

from geows import limits
from geows.messages import BINARY, PING, TEXT
from geows.process.channel import Channel, Kind, broadcast_body, parse_broadcast
from geows.process.master import Worker


def stuck_worker() -> Worker:
    """A Worker whose process takes nothing: nothing writes its outbox out."""
    process = subprocess.Popen(["sleep", "30"])
    ours, theirs = socket.socketpair()
    theirs.close()
    return Worker(process, Channel(ours), b"parsed", generation=0, slot=0)


def test_past_the_bound_broadcasts_are_dropped_and_counted_and_the_config_is_not(monkeypatch,
                                                                                caplog):
    monkeypatch.setattr(limits, "RELAY_BACKLOG", 100)
    worker = stuck_worker()
    try:
        assert worker.post(Kind.CONFIG, b"c" * 150)  # an empty outbox takes anything
        assert not worker.post(Kind.BROADCAST, b"b" * 10)
        assert not worker.post(Kind.VIEW, b"{}")
        assert worker.post(Kind.GO, b"")
        assert (worker.backlog, worker.outbox.qsize()) == (150, 2)
        assert "(150 bytes waiting): 1 broadcast(s) dropped for it" in caplog.text
        assert worker.process.poll() is None  # not stalled long: it lives
    finally:
        worker.process.kill()
        worker.process.wait()


def test_a_worker_that_takes_nothing_past_the_stall_bound_is_ended(monkeypatch):
    monkeypatch.setattr(limits, "RELAY_BACKLOG", 100)
    monkeypatch.setattr(limits, "RELAY_STALL_TIMEOUT", 0.2)
    worker = stuck_worker()
    try:
        worker.post(Kind.BROADCAST, b"b" * 100)
        assert not worker.post(Kind.BROADCAST, b"b")
        assert worker.process.poll() is None
        time.sleep(0.3)
        assert not worker.post(Kind.BROADCAST, b"b")
        assert worker.process.wait(5) == -signal.SIGKILL
    finally:
        worker.process.kill()
        worker.process.wait()


def test_a_broadcast_body_carries_its_location_room_type_and_data():
    for room in (None, "red", "é" * 127 + "x"):
        for type in (TEXT, BINARY, PING):  # 256: more than a byte
            body = broadcast_body("<Location /chat>", type, "héllo", room)
            assert parse_broadcast(body) == ("<Location /chat>", type, "héllo".encode(), room)
